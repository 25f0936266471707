"""Shared tiny UniPic fixtures (built once per test session, on CPU)."""

from __future__ import annotations

import pytest
import torch

from unipic.tiny import build_tiny_model


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Run the tiny models on one thread: their ops are microseconds long, so OpenMP's
    barriers cost more than the work, and thrash (100x slower) when the cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model():
    """A tiny random UniPic in eval mode. Tests must not modify it."""
    return build_tiny_model(seed=0)


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory, tiny_model):
    from unipic.checkpoint import save_pretrained

    return save_pretrained(tiny_model, tmp_path_factory.mktemp("unipic") / "tiny")

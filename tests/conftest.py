"""Shared fixtures: one in-process Ray per test session, tiny models built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Ray 2.60 turns token authentication on by default; say so explicitly (the job-submit test
# starts its own head with the same mode).
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole session (startup costs ~5 s): always a fresh instance (never a
    cluster another session left behind), its logs in its session folder."""
    import ray

    from reward_models.ray_session import ensure_ray

    ensure_ray("local", num_cpus=2)
    yield ray


@pytest.fixture(scope="session")
def tiny_vl(tmp_path_factory) -> Path:
    """A tiny random Qwen2.5-VL checkpoint folder (real processor, safetensors)."""
    from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl

    return build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny_vl"), TinyVLConfig(max_pixels=64 * 64))


@pytest.fixture(scope="session")
def spread_vqa(tmp_path_factory, tiny_vl) -> str:
    """A tiny VQAScore judge whose P("Yes") spreads over [0, 1] (see tests/judges.py)."""
    from .judges import make_spread_judge

    return str(make_spread_judge(tiny_vl, tmp_path_factory.mktemp("spread_vqa")))

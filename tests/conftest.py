"""Shared fixtures: one in-process Ray per test session, tiny models built once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
# Ray 2.60 turns token authentication on by default; say so explicitly (the job-submit test
# starts its own head with the same mode).
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole session (startup costs ~5 s)."""
    import ray

    if not ray.is_initialized():
        paths = [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        # address="local" always starts a fresh instance, even when another session left a
        # /tmp/ray/ray_current_cluster behind.
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
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

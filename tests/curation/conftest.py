from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def judges(tmp_path_factory, spread_vqa) -> dict[str, str]:
    """Judge folders for job tests, built by the real builders so the job runs the real
    scorers; VQAScore uses the spread judge so thresholds split rows."""
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.img_reward import build_tiny_img_reward

    root = tmp_path_factory.mktemp("judges")
    img = build_tiny_img_reward(root / "img_reward")
    edit = build_tiny_edit_reward(root / "edit_reward")
    vqa = spread_vqa
    return {"img_reward": str(img), "edit_reward": str(edit), "vqa": str(vqa)}


def job_config(input_paths, output: Path, judges: dict[str, str], **over):
    from curation.config import ScoreJobConfig

    cfg = ScoreJobConfig()
    cfg.input.paths = [str(p) for p in input_paths]
    cfg.output.path = str(output)
    for stage, model in judges.items():  # one checkpoint per registered judge (curation/judges.py)
        st = getattr(cfg, stage)
        st.model = model
        st.batch_size = 8
        st.max_pixels = 64 * 64
    cfg.input.rows_per_partition = over.pop("rows_per_partition", 16)
    for key, value in over.items():
        cfg.set(key.replace("__", "."), value)
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ray_session, spread_vqa):
    """Two real runs of the job for the audit tests (see `audit_runs.real_runs`)."""
    from .audit_runs import real_runs

    return real_runs(tmp_path_factory, spread_vqa)


@pytest.fixture(scope="module")
def view(runs):
    """An audit view over both runs."""
    from curation.audits.view import AuditView

    with AuditView([runs["a"], runs["b"]]) as v:
        yield v

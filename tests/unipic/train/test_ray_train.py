"""Ray Train: two CPU workers (DDP over gloo) equal one worker on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unipic.train.checkpoints import complete_checkpoints, read_state
from unipic.train.loop import TrainConfig, run_local, run_ray
from unipic.train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[3]


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow  # ~75 s on a busy 2-core machine (two Ray Train runs)
@pytest.mark.timeout(600)
def test_two_workers_equal_one_worker(ray_session, tmp_path, world_folder, world_shards, und_parquet):
    """Same seed, same global batch (8 t2i + 8 understanding rows per step), MAR dropout off:
    the losses logged by a 2-worker Ray Train run equal a 1-process run's at every step, and
    so do the final weights; checkpoints land in <output>/checkpoints through Ray storage, and
    the entry point under RAY_ADDRESS (as in `ray job submit`) resumes from the last one."""
    common = dict(stage="ct", data=[str(world_shards)], understanding=[str(und_parquet)], init_from=str(world_folder),
                  max_steps=4, batch_size=8, lr=1e-3, image_size=48, checkpoint_every=2, keep_checkpoints=2,
                  progress=False, threads=1, dropout=0.0)
    one = tmp_path / "one"
    run_local(TrainConfig(output=str(one), **common))
    two = tmp_path / "two"
    result = run_ray(TrainConfig(output=str(two), **common), num_workers=2)
    assert result.error is None

    a, b = read_metrics(one), read_metrics(two)
    assert [m["step"] for m in b] == [1, 2, 3, 4]
    for x, y in zip(a, b):
        for key in ("loss", "loss_t2i", "loss_und", "grad_norm"):
            assert y[key] == pytest.approx(x[key], rel=1e-4, abs=1e-6), (x["step"], key, x[key], y[key])
    # Weights: gradients agree to float rounding (all-reduce sums in another order), which
    # AdamW (eps 1e-15) can turn into up to ~lr-sized steps on parameters whose gradient is
    # ~0; so the bound is on the mean change and, loosely, the largest.
    wa, wb = _weights(one / "final" / "model"), _weights(two / "final" / "model")
    diffs = torch.cat([(wa[k] - wb[k]).abs().flatten() for k in wa])
    assert float(diffs.mean()) < 1e-6 and float(diffs.max()) < 1e-3, (float(diffs.mean()), float(diffs.max()))

    found = complete_checkpoints(two / "checkpoints")
    assert [p.name for p in found] == ["step_00000002", "step_00000004"]
    assert read_state(found[-1])["world_size"] == 2
    # What `ray job submit -- python pipelines/train_unipic.py ...` does: the entry point runs
    # with RAY_ADDRESS set and no --ray, so it goes to that cluster (here this session's); the
    # same command again finds Ray's checkpoint, resumes at step 4 and trains nothing.
    (two / "run.json").unlink()
    cmd = [sys.executable, str(REPO / "pipelines" / "train_unipic.py"), "--stage", "ct", "--output", str(two),
           "--data", str(world_shards), "--understanding", str(und_parquet), "--init-from", str(world_folder),
           "--max-steps", "4", "--batch-size", "8", "--lr", "1e-3", "--image-size", "48", "--checkpoint-every", "2",
           "--keep-checkpoints", "2", "--threads", "1", "--dropout", "0", "--no-progress", "--workers", "2"]
    env = dict(os.environ, RAY_ADDRESS=ray_session.get_runtime_context().gcs_address, PYTHONPATH=str(REPO))
    job = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    assert json.loads((two / "run.json").read_text())["world_size"] == 2  # ran on Ray Train, not locally
    assert [m["step"] for m in read_metrics(two)] == [1, 2, 3, 4]
    assert [p.name for p in complete_checkpoints(two / "checkpoints")] == ["step_00000002", "step_00000004"]

"""The full-preset training-step benchmark runs (tiny on CPU; full preset on the meta device)."""

from __future__ import annotations

import json

import pytest

from unipic.train.bench_step import main


def test_training_step_benchmark_tiny_cpu(tmp_path):
    out = tmp_path / "bench.json"
    result = main(["--config", "tiny", "--device", "cpu", "--image-size", "32", "--batch", "2", "--steps", "1",
                   "--out", str(out)])
    assert result["finite"] and result["tasks"] == ["t2i", "edit", "und"] and len(result["losses"]) == 1
    seconds = result["seconds_per_step"]  # one step, rounded to 1 ms
    assert result["tokens_per_s"] == pytest.approx(result["tokens_per_step"] / seconds, rel=1e-3 / seconds, abs=0.06)
    assert json.loads(out.read_text()) == result


def test_full_preset_shapes_on_meta():
    result = main(["--config", "full", "--device", "meta", "--stage", "ct"])
    assert result["params_total"] > 2.5e9
    codec = result["params_total"] - sum(result["params_by_group"].values())
    # CT trains everything but the codec and the SigLIP tower
    assert result["params_trainable"] == result["params_total"] - codec - result["params_by_group"]["siglip"]

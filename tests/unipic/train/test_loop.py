"""The local training loop: checkpoints, kill-and-resume, the stage chain, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unipic.train.checkpoints import complete_checkpoints, latest_checkpoint, read_state
from unipic.train.loop import TrainConfig, run_local
from unipic.train.metrics import read_metrics

REPO = Path(__file__).resolve().parents[3]


def _config(out: Path, world_folder, world_shards, **kw) -> TrainConfig:
    base = dict(stage="ct", output=str(out), data=[str(world_shards)], init_from=str(world_folder), max_steps=6,
                batch_size=4, lr=1e-3, image_size=48, checkpoint_every=2, keep_checkpoints=2, progress=False,
                threads=1)
    base.update(kw)
    return TrainConfig(**base)


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_checkpoints_hold_everything(tmp_path, world_folder, world_shards, capsys, caplog):
    out = tmp_path / "run"
    metrics = run_local(_config(out, world_folder, world_shards, progress=True, tensorboard=True))
    bar = capsys.readouterr().err
    assert "train" in bar and "6/6" in bar and "loss=" in bar  # the progress bar, with the loss
    try:
        import tensorboard  # noqa: F401

        assert any((out / "tensorboard").iterdir())
    except ImportError:
        assert "tensorboard package is not installed" in caplog.text
    found = complete_checkpoints(out / "checkpoints")
    assert [p.name for p in found] == ["step_00000004", "step_00000006"]  # keep_checkpoints=2 pruned step 2
    last = found[-1]
    for part in ("model/model.safetensors", "model/unipic_config.json", "model/tokenizer", "ema.safetensors",
                 "optimizer.pt", "scheduler.pt", "state.json"):
        assert (last / part).exists(), part
    state = read_state(last)
    assert state["step"] == 6 and state["stage"] == "ct" and state["ema_updates"] == 6
    assert state["data"]["t2i"] == {"epoch": 0, "window": 0, "taken": 6}
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".tmp")]
    lines = read_metrics(out)
    assert [m["step"] for m in lines] == list(range(1, 7))
    for key in ("loss", "loss_t2i", "lr", "grad_norm", "samples_per_s", "tokens_per_s", "step_s"):
        assert key in lines[-1] and metrics[key] == lines[-1][key]
    assert lines[0]["lr"] < lines[1]["lr"] or lines[0]["lr"] == pytest.approx(1e-3)  # warmup, then cosine
    assert lines[-1]["lr"] < lines[1]["lr"]
    for kind in ("model", "ema"):
        assert (out / "final" / kind / "model.safetensors").exists()
    from unipic.checkpoint import load_pretrained

    load_pretrained(out / "final" / "ema", device="cpu", dtype=torch.float32)  # opens as a model


def test_killed_run_resumes_at_the_same_step_with_the_same_curve(tmp_path, world_folder, world_shards):
    """SIGKILL a CLI run after its step-20 checkpoint, rerun the same command: it resumes at
    step 20 and its whole loss curve and final weights equal an uninterrupted run's."""
    steps = 60
    reference = tmp_path / "reference"
    run_local(_config(reference, world_folder, world_shards, max_steps=steps, checkpoint_every=10, batch_size=8))

    out = tmp_path / "killed"
    cmd = [sys.executable, str(REPO / "pipelines" / "train_unipic.py"), "--stage", "ct", "--data", str(world_shards),
           "--init-from", str(world_folder), "--output", str(out), "--max-steps", str(steps), "--batch-size", "8",
           "--lr", "1e-3", "--image-size", "48", "--checkpoint-every", "10", "--threads", "1", "--no-progress",
           "--local"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (out / "checkpoints" / "step_00000020" / "state.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_metrics(out)[-1]["step"]
    assert 20 <= killed_at < steps
    assert read_state(latest_checkpoint(out / "checkpoints"))["step"] in (20, 30, 40, 50)
    resumed_from = read_state(latest_checkpoint(out / "checkpoints"))["step"]

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"at step {resumed_from}" in rerun.stderr
    got, want = read_metrics(out), read_metrics(reference)
    assert [m["step"] for m in got] == list(range(1, steps + 1))
    for g, w in zip(got, want):
        assert g["loss"] == pytest.approx(w["loss"], rel=1e-5, abs=1e-7), g["step"]
        assert g["lr"] == pytest.approx(w["lr"])
    a, b = _weights(out / "final" / "ema"), _weights(reference / "final" / "ema")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in b)


def test_next_stage_starts_from_the_previous_stage(tmp_path, world_folder, world_shards):
    """CLI chain: pt -> alignment. Alignment finds ../pt/final/ema by itself; MAR is frozen in
    alignment, so its MAR weights stay exactly PT's EMA weights."""
    root = tmp_path / "curriculum"
    common = ["--data", str(world_shards), "--max-steps", "3", "--batch-size", "4", "--image-size", "48",
              "--threads", "1", "--no-progress", "--lr", "1e-3", "--local"]
    from pipelines.train_unipic import main

    assert main(["--stage", "pt", "--output", str(root / "pt"), "--init-from", str(world_folder), *common]) == 0
    assert main(["--stage", "alignment", "--output", str(root / "alignment"), *common]) == 0
    info = json.loads((root / "alignment" / "run.json").read_text())
    assert info["config"]["init_from"] == str(root / "pt" / "final" / "ema")
    assert set(info["trainable_groups"]) == {"proj_in", "proj_out", "siglip_proj"}
    pt_ema, al = _weights(root / "pt" / "final" / "ema"), _weights(root / "alignment" / "final" / "model")
    mar = [k for k in al if k.startswith("mar.")]
    assert mar and all(torch.equal(al[k], pt_ema[k]) for k in mar)
    assert any(not torch.equal(al[k], pt_ema[k]) for k in al if k.startswith("proj_out."))
    assert not (root / "alignment" / "final" / "ema").exists()  # alignment keeps no EMA


def test_refuses_to_resume_another_stage(tmp_path, world_folder, world_shards):
    out = tmp_path / "run"
    run_local(_config(out, world_folder, world_shards, max_steps=2))
    with pytest.raises(ValueError, match="ct checkpoint"):
        run_local(_config(out, world_folder, world_shards, stage="sft", max_steps=2, min_reward=0.5))


def test_print_config(capsys):
    from pipelines.train_unipic import main

    assert main(["--stage", "sft", "--output", "runs/x/sft", "--data", "shards/", "--decision", "all",
                 "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["stage"] == "sft" and cfg["decision"] is None and cfg["data"] == ["shards/"]


def test_every_train_config_field_is_a_flag_with_its_docstring(capsys):
    """The CLI is generated from TrainConfig: each field has a flag (`--no-x` for a bool that is on
    by default), its docstring is the help, and flags read values as the field's type."""
    import dataclasses

    from pipelines.train_unipic import build_parser, config_from_args
    from unipic.cli_common import field_docs

    parser = build_parser()
    flags = {s for a in parser._actions for s in a.option_strings}
    docs = field_docs(TrainConfig)
    help_text = " ".join(parser.format_help().split())
    for f in dataclasses.fields(TrainConfig):
        name = f.name.replace("_", "-")
        assert (f"--no-{name}" if f.default is True else f"--{name}") in flags, f.name
        if f.name not in ("stage", "output", "init_from"):  # their help is the CLI's own
            assert docs[f.name] in help_text, f.name
    args = parser.parse_args(["--stage", "pt", "--output", "o", "--max-steps", "7", "--min-vqa", "0.5",
                              "--no-ema-warmup", "--grad-checkpointing", "--precision", "fp32", "--t2i", "a", "b"])
    assert config_from_args(args) == TrainConfig(stage="pt", output="o", max_steps=7, min_vqa=0.5, ema_warmup=False,
                                                 grad_checkpointing=True, precision="fp32", t2i=["a", "b"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--stage", "pt", "--output", "o", "--max-steps", "seven"])
    assert "--max-steps" in capsys.readouterr().err

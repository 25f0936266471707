"""Training checkpoints: model, EMA, optimiser, schedule, data position and step, written atomically.

A checkpoint is a folder `step_<8 digits>/`:

    model/              the weights in our checkpoint format (`unipic.load_pretrained` opens it)
    ema.safetensors     fp32 moving average of the trained parameters (stages with an EMA)
    optimizer.pt        AdamW state
    scheduler.pt        learning-rate schedule state
    state.json          step, stage, data position of every task stream, EMA update count, config

It is written under a temporary name and renamed when complete (`state.json` is written
last), so a killed run never leaves a half checkpoint under a real name; `latest_checkpoint`
picks the highest complete step. Random draws are functions of (seed, step, rank), so no
generator state needs saving.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import save_pretrained

STATE = "state.json"
_STEP_DIR = re.compile(r"^step_(\d{8})$")


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def write_checkpoint(folder: str | os.PathLike, model, ema, optimizer, scheduler, state: dict[str, Any]) -> Path:
    """Write every part of a training checkpoint into `folder` (created; state.json last)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_pretrained(model, folder / "model")
    if ema is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in ema.shadow.items()}, str(folder / "ema.safetensors"))
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    (folder / STATE).write_text(json.dumps(state, indent=2, sort_keys=True))
    return folder


def save_checkpoint(root: str | os.PathLike, step: int, model, ema, optimizer, scheduler, state: dict[str, Any],
                    keep: int | None = None) -> Path:
    """Atomically write `root/step_XXXXXXXX/` and keep only the newest `keep` checkpoints."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{step_dir_name(step)}-{uuid.uuid4().hex[:8]}"
    write_checkpoint(tmp, model, ema, optimizer, scheduler, state)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    if keep:
        for old in complete_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def complete_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / STATE).exists()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint under `root`, or None."""
    found = complete_checkpoints(root)
    return found[-1] if found else None


def read_state(folder: str | os.PathLike) -> dict[str, Any]:
    return json.loads((Path(folder) / STATE).read_text())


def load_checkpoint(folder: str | os.PathLike, model, ema, optimizer, scheduler) -> dict[str, Any]:
    """Restore every part of a checkpoint into live objects; returns its state dict."""
    from safetensors.torch import load_file

    folder = Path(folder)
    weights = load_file(str(folder / "model" / "model.safetensors"), device=str(model.device))
    own = model.state_dict()
    unexpected = [k for k in weights if k not in own]
    if unexpected:
        raise ValueError(f"{folder}: checkpoint weights the model lacks: {unexpected[:5]}")
    model.load_state_dict(weights, strict=False)
    if ema is not None:
        shadow = load_file(str(folder / "ema.safetensors"))
        state = read_state(folder)
        ema.load_state_dict({"shadow": shadow, "updates": state.get("ema_updates", 0)})
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=model.device, weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    return read_state(folder)

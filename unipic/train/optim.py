"""Optimiser, learning-rate schedules and the exponential moving average of the weights."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .stages import CurriculumStage


def lr_lambda(schedule: str, total_steps: int, warmup_steps: int, min_lr_ratio: float = 0.0) -> Callable[[int], float]:
    """Multiplier of the peak learning rate at step s (0-based, the step about to be taken).

    Linear warmup from 1/(warmup+1) to 1 over `warmup_steps`, then constant or a cosine
    from 1 that would reach `min_lr_ratio` one step after the last (so no step is wasted at 0).
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"unknown schedule {schedule!r}")

    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        if schedule == "constant":
            return 1.0
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def build_optimizer(model, stage: CurriculumStage, total_steps: int, lr: float | None = None
                    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trainable parameters (no decay on biases, norms and the diffusion head)
    and the stage's schedule. `lr` overrides the stage's peak rate."""
    groups = model.optimizer_param_groups(stage.weight_decay)
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError(f"stage {stage.name!r} leaves nothing trainable in this model")
    optimizer = torch.optim.AdamW(groups, lr=lr or stage.lr, betas=stage.adam_betas, eps=stage.adam_eps)
    warmup = round(stage.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(stage.schedule, total_steps, warmup, stage.min_lr_ratio))
    return optimizer, scheduler


class EMA:
    """Float32 moving average of the trainable parameters, updated after every optimiser step.

    With `warmup`, the decay at update n (1-based) is min(decay, (1 + n) / (10 + n)), so
    short runs average their recent weights instead of staying at the initial ones; without
    it the decay is constant (MAR's EMA). Frozen parameters never change, so they are not
    tracked.
    """

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.shadow = {name: p.detach().float().clone() for name, p in model.named_parameters() if p.requires_grad}

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        for name, p in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(p.detach().float(), 1 - d)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged weights into `model` (cast to its dtypes)."""
        params = dict(model.named_parameters())
        for name, value in self.shadow.items():
            params[name].copy_(value.to(params[name].dtype))

    def state_dict(self) -> dict:
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.shadow) - set(state["shadow"])
        if missing:
            raise ValueError(f"EMA state lacks {len(missing)} trainable parameters, e.g. {sorted(missing)[:3]}")
        self.updates = int(state["updates"])
        for name in self.shadow:
            self.shadow[name] = state["shadow"][name].float().to(self.shadow[name].device)

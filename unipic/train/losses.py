"""Model inputs for one training step, with randomness that does not depend on the worker split.

Every random draw of a step is a function of (seed, step, task) for what is shared by the
global batch (the mask ratio: MAR draws one per batch from a truncated normal on
[0.7, 1]) and of (seed, step, task, position in the global batch) for what belongs to one
sample (its mask positions, diffusion timesteps and noise). A sample's loss is therefore
the same whichever worker computes it, and the mean over W equal micro-batches equals the
mean over the global batch (every sample masks the same number of tokens). The
understanding loss is a mean over answer tokens; `TaskInputs.token_scale` rescales a
worker's mean so the mean over workers is the global token mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..model import UniPic, truncated_normal_mask_ratio
from ..prompts import EDIT_UNCONDITIONAL, T2I_UNCONDITIONAL, t2i_text
from .data import GlobalBatch, decode_rows, dropped, seeded_rng


def _torch_generator(*keys) -> torch.Generator:
    seed = int(seeded_rng(*keys).integers(0, 2**63 - 1))
    return torch.Generator().manual_seed(seed)


def diffusion_draws(model: UniPic, seed: int, step: int, task: str, positions: list[int], length: int
                    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Mask (B, L) and (t, noise) for the masked tokens of the rows at `positions` of a global batch.

    Layout matches `UniPic.text2image_loss`: masked tokens are taken row by row in position
    order, then repeated `batch_mul` times (copy j of token i at j*N + i).
    """
    lc = model.config.loss
    ratio = truncated_normal_mask_ratio(lc.mask_ratio_min, lc.mask_ratio_std, _torch_generator(seed, "ratio", step, task))
    n = min(length, max(1, math.ceil(length * ratio)))
    k = model.config.diffusion.batch_mul
    steps = model.mar.diffloss.train_process.num_steps
    channels = model.config.token_dim
    masks, ts, noises = [], [], []
    for p in positions:
        g = _torch_generator(seed, "sample", step, task, p)
        order = torch.rand(length, generator=g).argsort()
        mask = torch.zeros(length)
        mask[order[:n]] = 1.0
        masks.append(mask)
        ts.append(torch.randint(0, steps, (k, n), generator=g))
        noises.append(torch.randn(k, n, channels, generator=g))
    # (B, k, n) -> (k, B, n): copy-major, then row, then masked position.
    t = torch.stack(ts, 1).reshape(-1)
    noise = torch.stack(noises, 1).reshape(-1, channels)
    return torch.stack(masks), (t, noise)


@dataclass
class TaskInputs:
    """One task's micro-batch, ready for `TrainingModule`."""

    task: str
    kwargs: dict[str, Any]
    """Keyword arguments of the task's loss method."""
    samples: int
    image_tokens: int
    text_tokens: int
    token_scale: float = 1.0
    """Multiplier of the understanding loss (set by the loop once the global token count is known)."""
    answer_tokens: int = 0
    stats: dict[str, float] = field(default_factory=dict)


def build_inputs(model: UniPic, task: str, batch: GlobalBatch, step: int, seed: int, caption_dropout: float,
                 max_text_tokens: int | None = None) -> TaskInputs:
    """Decode this worker's rows of a global batch into the task's loss arguments.

    Captions and instructions are dropped to the unconditional prompt ('Generate an
    image.'; 'Repeat this image.' with the source for edits) with probability
    `caption_dropout`, decided per row; prompt text is cut at `max_text_tokens` tokens.
    """
    prompts = model.prompts
    stride = model.config.codec.stride
    if task == "t2i":
        rows, images, failures = decode_rows(batch.rows, ["image"], batch.bucket)
        drop = [dropped(seed, r, caption_dropout) for r in rows]
        token_rows = [prompts.user_turn(prompts_t2i(r["prompt"], d), 0, max_text_tokens) for r, d in zip(rows, drop)]
        tokens = prompts.pad(token_rows)
        pixels = torch.stack(images["image"])
        length = (pixels.shape[-2] // stride) * (pixels.shape[-1] // stride)
        mask, noise = diffusion_draws(model, seed, step, task, batch.positions, length)
        kwargs = dict(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask, images=pixels,
                      mask=mask, diffusion_noise=noise)
        return TaskInputs(task, kwargs, len(rows), length * len(rows), int(tokens.attention_mask.sum()),
                          stats={"dropped": sum(drop), "decode_failures": failures})
    if task == "edit":
        rows, images, failures = decode_rows(batch.rows, ["source_image", "image"], batch.bucket)
        drop = [dropped(seed, r, caption_dropout) for r in rows]
        length = (batch.bucket[0] // stride) * (batch.bucket[1] // stride)
        slots = length + model.mar.buffer_size
        token_rows = [prompts.user_turn(EDIT_UNCONDITIONAL if d else r["prompt"], slots, max_text_tokens)
                      for r, d in zip(rows, drop)]
        tokens = prompts.pad(token_rows)
        mask, noise = diffusion_draws(model, seed, step, task, batch.positions, length)
        kwargs = dict(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask,
                      source_images=torch.stack(images["source_image"]), target_images=torch.stack(images["image"]),
                      mask=mask, diffusion_noise=noise)
        text = int(tokens.attention_mask.sum()) - slots * len(rows)
        return TaskInputs(task, kwargs, len(rows), 2 * length * len(rows), text,
                          stats={"dropped": sum(drop), "decode_failures": failures})
    if task == "und":
        from ..understanding import understanding_inputs

        rows, images, failures = decode_rows(batch.rows, ["image"])
        visual = understanding_inputs(model, images["image"])
        counts = model.understanding_token_counts(visual.get("pixel_attention_mask"), visual.get("images"))
        tokens = prompts.understanding([r["question"] for r in rows], counts, [r["answer"] for r in rows])
        answer_tokens = int((tokens.labels[:, 1:] >= 0).sum())
        kwargs = dict(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask, labels=tokens.labels, **visual)
        return TaskInputs(task, kwargs, len(rows), sum(counts), int(tokens.attention_mask.sum()) - sum(counts),
                          answer_tokens=answer_tokens, stats={"decode_failures": failures})
    raise ValueError(f"unknown task {task!r}")


def prompts_t2i(caption: str, drop: bool) -> str:
    """The user text of a text-to-image sample (the unconditional prompt when its caption is dropped)."""
    return T2I_UNCONDITIONAL if drop else t2i_text(caption)


class TrainingModule(nn.Module):
    """Wraps a UniPic so one `forward` computes every task's loss (what DDP synchronises).

    Returns {task: loss} with the understanding loss already multiplied by its token scale;
    the stage's U:G:E weights are applied by the caller.
    """

    def __init__(self, model: UniPic):
        super().__init__()
        self.model = model

    def forward(self, inputs: dict[str, TaskInputs]) -> dict[str, torch.Tensor]:
        losses = {}
        for task, x in inputs.items():
            if task == "t2i":
                losses[task] = self.model.text2image_loss(**x.kwargs)
            elif task == "edit":
                losses[task] = self.model.edit_loss(**x.kwargs)
            else:
                losses[task] = self.model.understanding_loss(**x.kwargs) * x.token_scale
        return losses

"""Masked-autoregressive sampling for text-to-image and editing.

Every image starts fully masked, with a random reveal order per image. Step k of N runs
MAR encoder -> LLM -> MAR decoder on the tokens known so far and samples, with the
diffusion head, the tokens the cosine schedule reveals at that step (cos(pi/2 * (k+1)/N)
of the tokens stay masked; at least one is revealed per step while tokens remain, and
the last step reveals the rest).

Classifier-free guidance batches a real unconditional prompt ("Generate an image." or,
for editing, the source image with "Repeat this image.") after the conditional ones;
both halves share tokens, masks and orders, and guidance acts on the diffusion head's
epsilon. The prompt (with the source image for editing) goes through the LLM once; its KV
cache is reused every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, Sequence

import torch

from .model import Grid, LLMContext, UniPic, random_orders
from .prompts import TokenBatch


@dataclass
class SampleOptions:
    """Settings of one sampling call."""

    num_iter: int = 64
    """Masked-autoregressive iterations: 64 is the report's evaluation protocol; every published
    UniPic CLI (`text2image.py`, `batch_text2image.py`, `image_edit.py`) defaults to 32."""
    guidance_scale: float = 3.0
    """Classifier-free guidance scale (1 = conditional only)."""
    guidance_schedule: Literal["constant", "linear"] = "constant"
    """Constant scale, or linear from ~1 to the scale as tokens are revealed (Muse)."""
    temperature: float = 1.0
    """Multiplies the diffusion head's per-step noise."""
    image_size: int | None = None
    """Output side in pixels; None uses the model config's default."""
    seed: int | None = 0
    """Seed of the reveal orders and the diffusion noise; None draws from the global generator."""
    use_kv_cache: bool = True
    """Fill the prompt's KV cache once (False recomputes the prompt every step; same result)."""
    always_run_unconditional: bool = False
    """Run the unconditional branch even when guidance is 1 (only useful to check guidance)."""


def masked_counts(num_tokens: int, num_iter: int) -> list[int]:
    """Tokens still masked after each step of the cosine schedule; the last entry is 0.

    Each step reveals at least one token while more than one remains, and keeps at least
    one for later steps; once a single token remains, steps reveal nothing until the last.
    """
    counts, masked = [], num_tokens
    for step in range(num_iter):
        if step == num_iter - 1:
            after = 0
        else:
            target = math.floor(num_tokens * math.cos(math.pi / 2 * (step + 1) / num_iter))
            after = max(1, min(masked - 1, target))
        counts.append(after)
        masked = after
    return counts


def guidance_at(options: SampleOptions, masked_after: int, num_tokens: int) -> float:
    if options.guidance_schedule == "constant":
        return options.guidance_scale
    if options.guidance_schedule == "linear":
        return 1 + (options.guidance_scale - 1) * (num_tokens - masked_after) / num_tokens
    raise ValueError(f"unknown guidance schedule {options.guidance_schedule!r}")


def _uses_guidance(options: SampleOptions) -> bool:
    return options.always_run_unconditional or options.guidance_scale != 1.0


def _generator(options: SampleOptions, device: torch.device) -> torch.Generator | None:
    if options.seed is None:
        return None
    return torch.Generator(device=device).manual_seed(options.seed)


def _join(model: UniPic, a: TokenBatch, b: TokenBatch) -> TokenBatch:
    """Stack two left-padded batches, re-padding to the longer width."""
    rows = [r[m.bool()].tolist() for batch in (a, b) for r, m in zip(batch.input_ids, batch.attention_mask)]
    return model.prompts.pad(rows)


@torch.no_grad()
def sample_tokens(model: UniPic, context: LLMContext, batch: int, grid: Grid, options: SampleOptions,
                  source: torch.Tensor | None = None) -> torch.Tensor:
    """Sample (batch, L, C) tokens.

    `context` holds `batch` prompts, or 2 x `batch` (conditional then unconditional) when
    guidance is used. `source` is the editing condition for the decoder, with as many rows
    as `context`.
    """
    device = model.device
    generator = _generator(options, device)
    guided = _uses_guidance(options)
    rows = context.embeds.shape[0]
    if rows != (2 * batch if guided else batch):
        raise ValueError(f"context has {rows} rows for batch {batch} (guided={guided})")
    if options.use_kv_cache:
        context = model.prefill(context)
    else:
        context = replace(context, cache=None)

    length = grid[0] * grid[1]
    orders = random_orders(batch, length, device, generator)
    tokens = torch.zeros(batch, length, model.config.token_dim, device=device)
    mask = torch.ones(batch, length, device=device)
    masked = length
    for after in masked_counts(length, options.num_iter):
        if after == masked:
            continue  # nothing to reveal at this step
        tok_in, mask_in = (tokens.repeat(2, 1, 1), mask.repeat(2, 1)) if guided else (tokens, mask)
        z = model.condition_tokens(tok_in, mask_in, grid, context, source)
        reveal = orders[:, after:masked]  # (B, n) positions revealed now
        index = reveal.unsqueeze(-1).expand(-1, -1, z.shape[-1])
        z_cond = z[:batch].gather(1, index).flatten(0, 1)
        z_uncond = z[batch:].gather(1, index).flatten(0, 1) if guided else None
        new = model.mar.diffloss.sample(z_cond, z_uncond, guidance_at(options, after, length),
                                        options.temperature, generator)
        tokens.scatter_(1, reveal.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]),
                        new.view(batch, -1, tokens.shape[-1]).to(tokens.dtype))
        mask.scatter_(1, reveal, 0.0)
        masked = after
    return tokens


@torch.no_grad()
def generate_tokens(model: UniPic, prompts: Sequence[str], options: SampleOptions | None = None
                    ) -> tuple[torch.Tensor, Grid]:
    """Text-to-image up to the codec: (B, L, C) tokens and their grid."""
    options = options or SampleOptions()
    grid = model.config.grid(options.image_size or model.config.image_size)
    batch = model.prompts.text_to_image(prompts)
    if _uses_guidance(options):
        batch = _join(model, batch, model.prompts.text_to_image_unconditional(len(prompts)))
    context = model.embed_prompt(batch)
    return sample_tokens(model, context, len(prompts), grid, options), grid


@torch.no_grad()
def generate_images(model: UniPic, prompts: Sequence[str], options: SampleOptions | None = None) -> torch.Tensor:
    """Text-to-image for a batch of prompts: (B, 3, H, W) in [-1, 1]."""
    return model.decode_tokens(*generate_tokens(model, prompts, options))


@torch.no_grad()
def edit_tokens(model: UniPic, sources: torch.Tensor, instructions: Sequence[str],
                options: SampleOptions | None = None) -> tuple[torch.Tensor, Grid]:
    """Editing up to the codec: (B, L, C) tokens and their grid (see `edit_images`)."""
    options = options or SampleOptions()
    if len(instructions) != sources.shape[0]:
        raise ValueError("one instruction per source image")
    src_tokens, grid = model.encode_images(sources)
    x_src, z_src = model.image_features(src_tokens, torch.zeros(src_tokens.shape[:2], device=model.device), grid)
    slots = z_src.shape[1]
    batch = model.prompts.edit(instructions, slots)
    feats = z_src
    if _uses_guidance(options):
        batch = _join(model, batch, model.prompts.edit_unconditional(len(instructions), slots))
        feats, x_src = z_src.repeat(2, 1, 1), x_src.repeat(2, 1, 1)
    context = model.embed_prompt(batch, feats.flatten(0, 1))
    return sample_tokens(model, context, len(instructions), grid, options, source=x_src), grid


@torch.no_grad()
def edit_images(model: UniPic, sources: torch.Tensor, instructions: Sequence[str],
                options: SampleOptions | None = None) -> torch.Tensor:
    """Edit source images (B, 3, H, W) in [-1, 1] (square, a multiple of the codec stride)
    following `instructions`; returns (B, 3, H, W) in [-1, 1] at the source resolution.

    The source conditions the LLM (its MAR features at the `<image>` slots of both the
    conditional and the 'Repeat this image.' prompts) and the decoder (its encoder features
    fill the masked positions).
    """
    return model.decode_tokens(*edit_tokens(model, sources, instructions, options))

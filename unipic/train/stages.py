"""The four training stages of the UniPic report (Table 1) as named configs.

| stage     | trains                                  | lr    | schedule | wd   | warmup | EMA    | gen / und px | U:G:E     |
|-----------|-----------------------------------------|-------|----------|------|--------|--------|--------------|-----------|
| pt        | MAR encoder, decoder, diffusion head    | 5e-5  | constant | 0    | 0.05   | 0.9999 | 512 / 256    | 0:1:0     |
| alignment | proj_in, proj_out, siglip_proj          | 1e-5  | cosine   | 0.02 | 0.05   | none   | 1024 / 512   | 0.01:1:0  |
| ct        | everything but the codec and SigLIP     | 1e-5  | cosine   | 0.02 | 0.01   | 0.9999 | 1024 / 512   | 0.01:1:1  |
| sft       | everything but the codec                | 5e-6  | cosine   | 0.02 | 0.01   | 0.995  | 1024 / 512   | 0.01:1:1  |

Every stage: AdamW betas (0.9, 0.95), eps 1e-15, gradient clipping 1.0, bf16 autocast on GPU.
SFT reads only samples whose reward score is >= 0.9. Each stage after PT starts from the
previous stage's final weights (`init_from`; `default_init` finds them beside the run's folder).

Choices the table leaves open, and what we chose:
- Alignment's loss weights are "-" in the table; we use the paper's lambda_Und = 0.01 and
  lambda_Gen = 1 without editing (editing enters at CT), so `siglip_proj` (trained here,
  with the projectors) gets the understanding signal while the LLM stays frozen.
- CT keeps the SigLIP2 tower frozen (a pretrained encoder; its features reach the LLM
  through `siglip_proj`, which trains); SFT unfreezes everything but the codec.
- The codec is frozen in every stage (as in MAR and the published code).
- Understanding resolution is the SigLIP input size of the model (`SiglipConfig.image_size`,
  512 at full size); `und_size` records the table's value.
- Generation resolutions are the full-size values; `gen_size_for(config)` scales them by
  `config.image_size / 1024`, so the tiny presets (64 px) train PT at 32 px and the rest at 64.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..config import UniPicConfig

ALL_GROUPS = ("mar_encoder", "mar_decoder", "diffusion_head", "llm", "proj_in", "proj_out", "siglip", "siglip_proj")


@dataclass(frozen=True)
class CurriculumStage:
    """One stage of the training curriculum (a row of Table 1): what trains, how fast, on what."""

    name: str
    """Stage name: `pt`, `alignment`, `ct` or `sft`."""
    trainable: tuple[str, ...]
    """Parameter groups that train (see `unipic.model.PARAMETER_GROUPS`); all others are frozen."""
    lr: float
    """Peak learning rate."""
    schedule: Literal["constant", "cosine"]
    """After warmup: constant, or cosine decay towards `min_lr_ratio * lr` at the end."""
    warmup_ratio: float
    """Fraction of the steps spent warming the learning rate up linearly from 0."""
    weight_decay: float
    """AdamW weight decay (never on biases, norms or the diffusion head: `UniPic.optimizer_param_groups`)."""
    ema_decay: float | None
    """Decay of the exponential moving average of the trained weights; None keeps no EMA."""
    gen_size: int
    """Generation (and editing) resolution in pixels at full size."""
    und_size: int
    """Understanding resolution in pixels at full size (informational: SigLIP's input size is used)."""
    loss_weights: tuple[float, float, float]
    """U:G:E, the weights of the understanding, text-to-image and editing losses."""
    min_reward: float | None = None
    """Read only samples whose `reward_score` is at least this (SFT: 0.9)."""
    init_from: str | None = None
    """The stage whose final weights this one starts from."""
    adam_betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas."""
    adam_eps: float = 1e-15
    """AdamW epsilon (the report's 1e-15)."""
    grad_clip: float = 1.0
    """Gradient-norm clipping."""
    min_lr_ratio: float = 0.0
    """Cosine schedules end at this fraction of `lr`."""
    frozen_note: str = field(default="", compare=False)
    """Why the frozen groups are frozen (documentation only)."""

    @property
    def tasks(self) -> tuple[str, ...]:
        """Tasks with a non-zero loss weight, of `und`, `t2i`, `edit`."""
        return tuple(t for t, w in zip(("und", "t2i", "edit"), self.loss_weights) if w > 0)

    @property
    def frozen(self) -> tuple[str, ...]:
        return tuple(g for g in ALL_GROUPS if g not in self.trainable)

    def weight(self, task: str) -> float:
        return dict(zip(("und", "t2i", "edit"), self.loss_weights))[task]

    def gen_size_for(self, config: UniPicConfig) -> int:
        """`gen_size` scaled to the model's default resolution (full: 1024 -> unchanged), a
        multiple of the codec stride."""
        stride = config.codec.stride
        size = self.gen_size * config.image_size // 1024
        return max(stride, size // stride * stride)

    def with_overrides(self, **changes) -> "CurriculumStage":
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


STAGES: dict[str, CurriculumStage] = {
    "pt": CurriculumStage(
        name="pt",
        trainable=("mar_encoder", "mar_decoder", "diffusion_head"),
        lr=5e-5, schedule="constant", warmup_ratio=0.05, weight_decay=0.0, ema_decay=0.9999,
        gen_size=512, und_size=256, loss_weights=(0.0, 1.0, 0.0),
        frozen_note="MAR pretraining: the LLM, projectors and SigLIP do not train",
    ),
    "alignment": CurriculumStage(
        name="alignment",
        trainable=("proj_in", "proj_out", "siglip_proj"),
        lr=1e-5, schedule="cosine", warmup_ratio=0.05, weight_decay=0.02, ema_decay=None,
        gen_size=1024, und_size=512, loss_weights=(0.01, 1.0, 0.0), init_from="pt",
        frozen_note="MAR-LLM alignment: only the projectors train, the LLM and MAR are frozen",
    ),
    "ct": CurriculumStage(
        name="ct",
        trainable=("mar_encoder", "mar_decoder", "diffusion_head", "llm", "proj_in", "proj_out", "siglip_proj"),
        lr=1e-5, schedule="cosine", warmup_ratio=0.01, weight_decay=0.02, ema_decay=0.9999,
        gen_size=1024, und_size=512, loss_weights=(0.01, 1.0, 1.0), init_from="alignment",
        frozen_note="joint training: the SigLIP2 tower stays frozen",
    ),
    "sft": CurriculumStage(
        name="sft",
        trainable=ALL_GROUPS,
        lr=5e-6, schedule="cosine", warmup_ratio=0.01, weight_decay=0.02, ema_decay=0.995,
        gen_size=1024, und_size=512, loss_weights=(0.01, 1.0, 1.0), min_reward=0.9, init_from="ct",
        frozen_note="supervised fine-tuning on reward-filtered samples: everything but the codec trains",
    ),
}


def get_stage(name: str) -> CurriculumStage:
    """The stage config called `name` (pt, alignment, ct, sft)."""
    try:
        return STAGES[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; known: {list(STAGES)}") from None


def default_init(stage: str, output: str | Path) -> str | None:
    """Stage chaining: the folder a run of `stage` writing to `output` starts from, the previous
    stage's final weights beside it (`<output>/../<init_from>/final/ema`, else `final/model`
    when that stage kept no EMA); None for PT, or when the previous stage has not finished there."""
    prev = get_stage(stage).init_from
    if prev is None:
        return None
    for kind in ("ema", "model"):
        folder = Path(output).parent / prev / "final" / kind
        if (folder / "unipic_config.json").exists():
            return str(folder)
    return None


def apply_stage(model, stage: CurriculumStage) -> None:
    """Freeze `model` to exactly the stage's trainable groups (the codec is always frozen).

    Groups the model lacks (no SigLIP when `config.siglip` is None) are simply empty.
    """
    model.set_trainable(stage.trainable)

"""Constructed negatives for EditReward: every dataset holds only good edits.

Each negative is labelled with the failure it represents, as per-dimension targets
(compliance, consistency, quality; overall = all three):

| kind              | built from                                   | compliance | consistency | quality |
|-------------------|----------------------------------------------|-----------|-------------|---------|
| positive          | the row itself                               | yes       | yes         | yes     |
| other_instruction | another row's instruction (non-compliance)   | no        | yes         | yes     |
| unchanged         | the source returned as the output            | no        | yes         | yes     |
| other_output      | another row's output (semantic inconsistency)| no        | no          | yes     |
| degraded          | the output blurred / noised / JPEG-blocked   | yes       | yes         | no      |
| neg_prompt        | SuperEdit's negative prompt as instruction   | no        | yes         | yes     |
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from reward_models.data.schema import EditExample

KINDS = ("other_instruction", "unchanged", "other_output", "degraded", "neg_prompt")
LABELS = {
    "positive": {"compliance": 1, "consistency": 1, "quality": 1},
    "other_instruction": {"compliance": 0, "consistency": 1, "quality": 1},
    "unchanged": {"compliance": 0, "consistency": 1, "quality": 1},
    "other_output": {"compliance": 0, "consistency": 0, "quality": 1},
    "degraded": {"compliance": 1, "consistency": 1, "quality": 0},
    "neg_prompt": {"compliance": 0, "consistency": 1, "quality": 1},
}
PRIMARY = {"other_instruction": "compliance", "unchanged": "compliance", "other_output": "consistency",
           "degraded": "quality", "neg_prompt": "compliance"}
"""The dimension each negative kind is about (its failure mode)."""
DEGRADATIONS = ("blur", "motion_blur", "noise", "blocking")


@dataclass
class EditJudgement:
    """One (source, instruction, edited) to judge, with its per-dimension targets."""

    source_image: Image.Image
    instruction: str
    edited_image: Image.Image
    kind: str
    """positive or one of KINDS."""
    labels: dict[str, int]
    """compliance / consistency / quality -> 1 (yes) or 0 (no)."""
    source: str
    """Dataset the underlying row came from."""
    group: int = 0
    """Index of the positive it was built from (pairs a negative with its positive)."""
    detail: dict = field(default_factory=dict)
    """e.g. {"degradation": "blur"}."""

    @property
    def overall(self) -> int:
        return int(all(self.labels.values()))


def degrade(img: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    """Visible artifacts at any size: Gaussian blur, motion blur (a smear along one axis, as a
    shaken camera or a generator's streaking gives), Gaussian noise or 8x8 JPEG blocking."""
    w, h = img.size
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(radius=max(2.0, min(w, h) / 24)))
    if kind == "motion_blur":
        # Box average over a line of ~1/6 of the short side, horizontal or vertical.
        length = max(5, min(w, h) // 6) | 1
        arr = np.asarray(img.convert("RGB")).astype(np.float32)
        axis = rng.randrange(2)
        pad = [(0, 0)] * 3
        pad[axis] = (length // 2, length // 2)
        padded = np.pad(arr, pad, mode="edge")
        c = np.cumsum(padded, axis=axis, dtype=np.float64)
        c = np.concatenate([np.zeros_like(c.take([0], axis=axis)), c], axis=axis)
        n = arr.shape[axis]
        out = (c.take(range(length, length + n), axis=axis) - c.take(range(0, n), axis=axis)) / length
        return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
    if kind == "noise":
        arr = np.asarray(img).astype(np.float32)
        arr += np.random.default_rng(rng.randrange(1 << 31)).normal(0.0, 50.0, arr.shape)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if kind == "blocking":
        buf = io.BytesIO()
        # Coarsen first so the blocks survive the judge's own downscaling of large images.
        small = img.resize((max(8, w // 4), max(8, h // 4)), Image.Resampling.BILINEAR)
        small.save(buf, format="JPEG", quality=5)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB").resize((w, h), Image.Resampling.NEAREST)
    raise ValueError(f"unknown degradation {kind!r}: use one of {DEGRADATIONS}")


def build_negative(ex: EditExample, kind: str, pool: list[EditExample], index: int,
                   rng: random.Random) -> EditJudgement | None:
    """One negative of `kind` for `pool[index]` (None when it cannot be built, e.g. no neg prompt)."""
    if kind == "other_instruction":
        others = [o.instruction for o in pool if o.instruction.strip().lower() != ex.instruction.strip().lower()]
        if not others:
            return None
        return EditJudgement(ex.source_image, rng.choice(others), ex.edited_image, kind, dict(LABELS[kind]),
                             ex.source, index)
    if kind == "unchanged":
        return EditJudgement(ex.source_image, ex.instruction, ex.source_image.copy(), kind, dict(LABELS[kind]),
                             ex.source, index)
    if kind == "other_output":
        others = [j for j in range(len(pool)) if j != index]
        if not others:
            return None
        return EditJudgement(ex.source_image, ex.instruction, pool[rng.choice(others)].edited_image, kind,
                             dict(LABELS[kind]), ex.source, index)
    if kind == "degraded":
        how = rng.choice(DEGRADATIONS)
        return EditJudgement(ex.source_image, ex.instruction, degrade(ex.edited_image, how, rng), kind,
                             dict(LABELS[kind]), ex.source, index, {"degradation": how})
    if kind == "neg_prompt":
        if not ex.neg_instructions:
            return None
        return EditJudgement(ex.source_image, rng.choice(ex.neg_instructions), ex.edited_image, kind,
                             dict(LABELS[kind]), ex.source, index)
    raise ValueError(f"unknown negative kind {kind!r}: use one of {KINDS}")


def build_judgements(examples: list[EditExample], seed: int, negatives_per_example: int | None = None,
                     kinds: tuple[str, ...] = KINDS) -> list[EditJudgement]:
    """Each positive plus negatives built from it.

    `negatives_per_example=None` builds every kind for every row (evaluation); a number builds
    that many per row, cycling through the kinds so each kind is equally represented (training).
    """
    rng = random.Random(seed)
    out: list[EditJudgement] = []
    cursor = 0
    for i, ex in enumerate(examples):
        out.append(EditJudgement(ex.source_image, ex.instruction, ex.edited_image, "positive",
                                 dict(LABELS["positive"]), ex.source, i))
        if negatives_per_example is None:
            chosen = list(kinds)
        else:
            chosen = [kinds[(cursor + k) % len(kinds)] for k in range(negatives_per_example)]
            cursor += negatives_per_example
        for kind in chosen:
            neg = build_negative(ex, kind, examples, i, rng)
            if neg is None and negatives_per_example is not None and kind == "neg_prompt":
                # No negative prompt in this dataset: use another kind rather than lose the slot.
                neg = build_negative(ex, rng.choice([k for k in kinds if k != "neg_prompt"]), examples, i, rng)
            if neg is not None:
                out.append(neg)
    return out

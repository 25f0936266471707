"""The two training schemas every dataset adapter produces, and the skip counter they share."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from PIL import Image

ASPECTS = ("overall", "alignment", "fidelity")
"""ImgReward aspects a preference pair can be about."""


@dataclass
class PreferencePair:
    """One human comparison of two images for one prompt (ties are never stored)."""

    prompt: str
    """The caption the images were generated from."""
    image_a: Image.Image
    """First image as presented (order randomised by the adapter)."""
    image_b: Image.Image
    """Second image."""
    label: int
    """1 when image A is the preferred one, 0 when image B is."""
    source: str
    """Dataset name: pickapic, imagerewarddb, hpdv2, synthetic, ..."""
    aspect: str = "overall"
    """What the preference is about: overall, alignment or fidelity."""


@dataclass
class EditExample:
    """One (source image, instruction, edited image) triple; adapters yield only good edits."""

    source_image: Image.Image
    """The image before the edit."""
    instruction: str
    """The edit instruction."""
    edited_image: Image.Image
    """The image after the edit."""
    source: str
    """Dataset name: humanedit, ultraedit, superedit, synthetic, ..."""
    neg_instructions: list[str] = field(default_factory=list)
    """Instructions this edit does NOT follow (SuperEdit's `neg_prompts`), if any."""
    meta: dict = field(default_factory=dict)
    """Other columns worth keeping (captions, similarity scores)."""


@dataclass
class SkipLog:
    """Rows an adapter dropped, by reason (undecodable image, missing label, tie, ...)."""

    counts: Counter = field(default_factory=Counter)
    """reason -> number of rows skipped."""

    def skip(self, source: str, reason: str) -> None:
        self.counts[f"{source}:{reason}"] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    def __str__(self) -> str:
        if not self.counts:
            return "no rows skipped"
        return ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))


class ColumnError(ValueError):
    """A dataset file does not have the columns its layout promises."""


def require_columns(present, required, dataset: str, where: str) -> None:
    """Fail with a message naming the missing and the present columns."""
    missing = [c for c in required if c not in present]
    if missing:
        raise ColumnError(
            f"{dataset}: {where} lacks column(s) {missing}; it has {sorted(present)}. "
            f"Expected the {dataset} layout {list(required)}."
        )

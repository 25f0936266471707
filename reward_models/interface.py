"""The scorer interface every judge implements; the scoring job depends on nothing else.

A scorer turns a batch of (prompt, image[, source image]) into calibrated scores:

    scorer.score(batch) -> ScoreOutput(score=[0..1] per row, sub_scores={name: [0..1] per row},
                                       model_id=..., model_revision=..., info={...})

`score` is the number the job thresholds (0.9 for the reward models); `sub_scores` are
per-dimension numbers in [0, 1] that the job turns into failure modes; `info` holds strings
recorded on every scored row (e.g. VQAScore's question template).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@dataclass
class ScoreBatch:
    """One batch of decoded, RGB, size-bounded inputs."""

    prompts: list[str]
    """Caption (t2i), edit instruction (edit) or the text VQAScore asks about."""
    images: list[Image.Image]
    """Generated or edited images."""
    source_images: list[Image.Image | None] | None = None
    """Images before the edit (edit scorers only)."""

    def __len__(self) -> int:
        return len(self.prompts)

    def __post_init__(self) -> None:
        if len(self.images) != len(self.prompts):
            raise ValueError(f"{len(self.prompts)} prompts but {len(self.images)} images")
        if self.source_images is not None and len(self.source_images) != len(self.prompts):
            raise ValueError(f"{len(self.prompts)} prompts but {len(self.source_images)} source images")

    def subset(self, rows: list[int]) -> "ScoreBatch":
        """The rows at `rows`, in that order (used to isolate a failing row)."""
        return ScoreBatch(
            prompts=[self.prompts[i] for i in rows],
            images=[self.images[i] for i in rows],
            source_images=None if self.source_images is None else [self.source_images[i] for i in rows],
        )


@dataclass
class ScoreOutput:
    """What `Scorer.score` returns for a batch of n rows."""

    score: np.ndarray
    """Shape (n,), float64 in [0, 1]."""
    sub_scores: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-dimension scores, each shape (n,) in [0, 1]."""
    model_id: str = ""
    """Hub id or local path the weights were loaded from."""
    model_revision: str = ""
    """Commit hash (hub) or content fingerprint (local folder) of those weights."""
    info: dict[str, str] = field(default_factory=dict)
    """Strings recorded on every scored row (e.g. the question template)."""

    def __post_init__(self) -> None:
        self.score = np.asarray(self.score, dtype=np.float64)
        self.sub_scores = {k: np.asarray(v, dtype=np.float64) for k, v in self.sub_scores.items()}
        for name, values in [("score", self.score), *self.sub_scores.items()]:
            if values.shape != self.score.shape:
                raise ValueError(f"{name} has shape {values.shape}, expected {self.score.shape}")
            if values.size and (np.nanmin(values) < 0.0 or np.nanmax(values) > 1.0):
                raise ValueError(f"{name} has values outside [0, 1]: {values.min()}..{values.max()}")


@runtime_checkable
class Scorer(Protocol):
    """A judge: loaded once (per Ray actor), then called on many batches."""

    model_id: str
    model_revision: str
    needs_source_image: bool
    """True for edit judges: the job passes `source_images`."""
    sub_score_names: tuple[str, ...]
    """The sub-scores this judge declares: the keys its `ScoreOutput.sub_scores` may hold (empty: none)."""

    def score(self, batch: ScoreBatch) -> ScoreOutput: ...

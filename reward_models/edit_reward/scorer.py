"""EditRewardScorer: the scoring job's (source image, instruction, edited image) judge.

score = the `overall` readout in [0, 1]; sub_scores = {"compliance", "consistency", "quality"},
each P(yes) for its question. Deterministic, batched, one forward pass per row.
"""

from __future__ import annotations

from PIL import Image

from reward_models.edit_reward.layout import DIMENSIONS, default_edit_layout
from reward_models.interface import ScoreBatch, ScoreOutput
from reward_models.judging.scorer_base import JudgeScorer


class EditRewardScorer(JudgeScorer):
    """Implements `reward_models.interface.Scorer` for edit samples (uses `batch.source_images`)."""

    kind = "edit_reward"
    needs_source_image = True
    sub_score_names = DIMENSIONS

    @staticmethod
    def default_layout():
        return default_edit_layout()

    def score(self, batch: ScoreBatch) -> ScoreOutput:
        if batch.source_images is None or any(s is None for s in batch.source_images):
            raise ValueError("EditRewardScorer needs a source image for every row (batch.source_images)")
        rows = [([src, img], prompt) for src, img, prompt in zip(batch.source_images, batch.images, batch.prompts)]
        res = self.read_rows(rows)
        return ScoreOutput(
            score=self.calibrated(self.layout.score_aspect, res[self.layout.score_aspect].mean),
            sub_scores={d: self.calibrated(d, res[d].mean) for d in self.sub_score_names if d in res},
            model_id=self.model_id,
            model_revision=self.model_revision,
            info=self.info,
        )

    def rationale(self, instruction: str, source_image: Image.Image, edited_image: Image.Image,
                  aspect: str | None = None, max_new_tokens: int = 256) -> dict:
        """Generative mode: the judge's `<think>` rationale and answer (greedy)."""
        return self.generate([source_image, edited_image], instruction, aspect or self.layout.score_aspect,
                             max_new_tokens)

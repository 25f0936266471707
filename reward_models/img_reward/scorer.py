"""ImgRewardScorer: the scoring job's (prompt, image) judge.

score = the `overall` readout in [0, 1]; sub_scores = {"alignment", "fidelity", "integrity"} in
[0, 1] (alignment: matches the prompt; fidelity: free of visual artifacts; integrity: no broken
object, read by the likelihood readout only). Deterministic, batched, one forward pass per row
(see reward_models/judging/likelihood.py and readout.py).
"""

from __future__ import annotations

import math

from PIL import Image

from reward_models.img_reward.layout import default_img_layout
from reward_models.interface import ScoreBatch, ScoreOutput
from reward_models.judging.scorer_base import JudgeScorer

SUB_SCORES = ("alignment", "fidelity", "integrity")


class ImgRewardScorer(JudgeScorer):
    """Implements `reward_models.interface.Scorer` for text-to-image samples."""

    kind = "img_reward"
    needs_source_image = False
    sub_score_names = SUB_SCORES

    @staticmethod
    def default_layout():
        return default_img_layout()

    def score(self, batch: ScoreBatch) -> ScoreOutput:
        rows = [([img], prompt) for img, prompt in zip(batch.images, batch.prompts)]
        res = self.read_rows(rows)
        main = self.layout.score_aspect
        return ScoreOutput(
            score=self.calibrated(main, res[main].mean),
            sub_scores={a: self.calibrated(a, res[a].mean) for a in self.sub_score_names if a in res},
            model_id=self.model_id,
            model_revision=self.model_revision,
            info=self.info,
        )

    def preference(self, prompt: str, image_a: Image.Image, image_b: Image.Image, aspect: str | None = None) -> float:
        """P(A is better than B), Thurstone: Phi((mu_A - mu_B) / sqrt(var_A + var_B)).

        Each image is read pointwise, so the presentation order cannot bias the result:
        preference(a, b) == 1 - preference(b, a) exactly (the position-debiased probability).
        """
        aspect = aspect or self.layout.score_aspect
        res = self.read_rows([([image_a], prompt), ([image_b], prompt)], [aspect])[aspect]
        mu, var = res.mean, res.var
        z = (mu[0] - mu[1]) / math.sqrt(var[0] + var[1] + 1e-6)
        return float(0.5 * (1.0 + math.erf(z / math.sqrt(2.0))))

    def rationale(self, prompt: str, image: Image.Image, aspect: str | None = None, max_new_tokens: int = 256) -> dict:
        """Generative mode: the judge's own `<think>` rationale and answer (greedy, so repeatable)."""
        return self.generate([image], prompt, aspect or self.layout.score_aspect, max_new_tokens)


"""Learning, not just running: the entry points move held-out accuracy, not only the loss.

The CI tests use a signal a tiny random model can pick up in a few dozen CPU steps (an
underexposed copy of the image is the rejected one / the degraded edit). The full synthetic
world demonstration, which needs more CPU, is `learning_demo.py` (numbers in the PR note).
"""

import numpy as np
import pytest
from PIL import ImageEnhance

from . import rm_fixtures as fixtures
from reward_models.img_reward import ImgRewardScorer
from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec
from reward_models.training.cli import main


def _dark(img):
    return ImageEnhance.Brightness(img).enhance(0.25)


def _accuracy(folder, pairs) -> float:
    scorer = ImgRewardScorer(spec=LoadSpec(str(folder), device="cpu"))
    n = len(pairs)
    s = scorer.score(ScoreBatch(prompts=[p.prompt for p in pairs] * 2,
                                images=[p.preferred for p in pairs] + [p.rejected for p in pairs])).score
    return float(np.mean((s[:n] > s[n:]) + 0.5 * (s[:n] == s[n:])))


def _pairs(n, seed):
    """Synthetic-world pairs whose rejected image is an underexposed copy of the preferred (clean) one."""
    from synthetic import preference_pairs

    pairs = preference_pairs(n, seed)
    for p in pairs:
        p.rejected = _dark(p.preferred)
    return pairs


@pytest.mark.slow  # ~50 s on a busy 2-core machine
def test_img_reward_learns_heldout_preference(tiny_img_judge, tmp_path):
    fixtures.write_pickapic(tmp_path / "pickapic", pairs=_pairs(160, 1))
    heldout = _pairs(60, 7)
    before = _accuracy(tiny_img_judge, heldout)
    out = tmp_path / "judge"
    summary = main(["--model_name_or_path", str(tiny_img_judge), "--pickapic", str(tmp_path / "pickapic"),
                    "--output_dir", str(out), "--warmup_epochs", "3", "--warmup_learning_rate", "1e-3",
                    "--warmup_batch_size", "16", "--max_steps", "4", "--learning_rate", "1e-5",
                    "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "12",
                    "--report_to", "none", "--save_strategy", "no", "--eval_fraction", "0.15"],
                   script="reward_models.img_reward.train:ImgRewardArgs", config="trl:GRPOConfig",
                   train="reward_models.img_reward.train:train_img_reward", name="img-learning")
    after = _accuracy(out, heldout)
    print(f"held-out pairwise accuracy before {before:.3f} after {after:.3f}; card: {summary['eval_after']}")
    assert after >= 0.9 and after > before + 0.2
    # GRPO ran on top of the warm-up (both rewards logged) without undoing what the warm-up learned.
    assert "rewards/rank_reward/mean" in summary["grpo_log"][-1]
    assert summary["eval_after"]["pickapic/overall"]["accuracy"] >= summary["eval_after_warmup"]["pickapic/overall"][
        "accuracy"] - 0.05


"""VQAScore native backend: equal to t2v-metrics' generate procedure, a probability, batch-order free."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from reward_models.images import bounded_resize
from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec, load_vl_model
from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig, generate_vqascore, vqa_text_for

SIZES = [(64, 64), (120, 90), (40, 200), (300, 300), (56, 56), (33, 97), (200, 40)]
TEXTS = ["a red circle", "a much longer caption with many words about a blue square on the left of a green "
         "triangle under a yellow sky", "Yes", "x", "two green triangles", "the word \"SUN\" in white", "a cat"]


def images(seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


@pytest.fixture(scope="module")
def loaded(spread_vqa):
    # A judge whose P("Yes") spreads over [0, 1]: equality must hold where probabilities matter.
    return load_vl_model(LoadSpec(spread_vqa, device="cpu", dtype="float32"))


@pytest.mark.parametrize("penalty", [1.0, 1.3])
def test_batched_forward_equals_one_at_a_time_generate(loaded, penalty):
    loaded.model.generation_config.repetition_penalty = penalty
    try:
        cfg = VQAScoreConfig(batch_size=4, max_pixels=112 * 112)
        out = NativeVQAScorer(loaded, config=cfg).score(ScoreBatch(TEXTS, images()))
        ref = [generate_vqascore(loaded.model, loaded.processor, bounded_resize(im, cfg.max_pixels), t)
               for im, t in zip(images(), TEXTS)]
    finally:
        loaded.model.generation_config.repetition_penalty = 1.0
    assert np.abs(out.score - np.array(ref)).max() < 1e-5
    assert out.score.std() > 1e-3  # a meaningful comparison, not uniform noise


def test_scores_are_probabilities_and_batch_order_does_not_matter(loaded):
    scorer = NativeVQAScorer(loaded, config=VQAScoreConfig(batch_size=3, max_pixels=112 * 112))
    imgs = images(1)
    a = scorer.score(ScoreBatch(TEXTS, imgs)).score
    perm = np.random.default_rng(3).permutation(len(TEXTS))
    b = scorer.score(ScoreBatch([TEXTS[i] for i in perm], [imgs[i] for i in perm])).score
    assert np.isfinite(a).all()  # [0, 1] is ScoreOutput's own check; NaN is not
    assert np.abs(a[perm] - b).max() < 1e-6
    one = scorer.score(ScoreBatch(TEXTS[:1], imgs[:1])).score
    assert abs(one[0] - a[0]) < 1e-6


def test_template_and_answer_are_options_and_recorded(loaded):
    default = NativeVQAScorer(loaded).score(ScoreBatch(TEXTS[:2], images()[:2]))
    assert default.info == {"template": 'Does this image show "{}"?', "answer": "Yes", "preprocess": "t2v-metrics"}
    assert set(NativeVQAScorer.info_keys) == set(default.info)
    other = NativeVQAScorer(loaded, config=VQAScoreConfig(template='Does this figure show "{}"? Please answer yes '
                                                          'or no.', answer="yes"))
    out = other.score(ScoreBatch(TEXTS[:2], images()[:2]))
    assert out.info["template"].startswith("Does this figure show")
    assert not np.allclose(out.score, default.score)
    with pytest.raises(ValueError, match="exactly one"):
        NativeVQAScorer(loaded, config=VQAScoreConfig(template="no placeholder"))


def test_edit_text_is_the_target_description_when_present():
    assert vqa_text_for("edit", "make it blue", '{"target_description": "a blue circle"}') == "a blue circle"
    assert vqa_text_for("edit", "make it blue", None) == "make it blue"
    assert vqa_text_for("t2i", "a red circle", '{"target_description": "ignored"}') == "a red circle"

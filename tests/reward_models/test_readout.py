"""The one-pass branched readout equals separate sequences and one-at-a-time scoring."""

import numpy as np
import pytest
import torch
from PIL import Image

from reward_models.img_reward.layout import default_img_layout
from reward_models.judging.layout import IMAGE_SLOT, JudgeLayout
from reward_models.judging.readout import BranchReadout, answer_token_ids


def _sharpen(model, scale=8.0):
    """A random tiny model answers almost uniformly; scale the output head so differences show."""
    with torch.no_grad():
        model.lm_head.weight.mul_(scale)
    return model


def _rows():
    rng = np.random.default_rng(0)
    return [([Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))], cap)
            for (h, w), cap in [((64, 64), "a red circle"), ((48, 64), "a big blue square on the left"), ((32, 32), "x")]]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_branched_equals_separate_and_single(tiny_img_judge, attn):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_img_judge, padding_side="left")
    model = _sharpen(AutoModelForImageTextToText.from_pretrained(tiny_img_judge, attn_implementation=attn).eval())
    layout = default_img_layout()
    rows = _rows()
    branched = BranchReadout(model, proc, layout, mode="branched")
    assert branched.mode == "branched"
    a = branched.read(rows)
    b = BranchReadout(model, proc, layout, mode="separate").read(rows)
    singles = [branched.read([r]) for r in rows]
    spread = max(float(a[k].probs.std(axis=0).max()) for k in a)
    assert spread > 1e-3, "test model too flat to detect a wrong mask"
    for k in layout.aspects:
        assert np.allclose(a[k].probs, b[k].probs, atol=1e-5)
        for i in range(len(rows)):
            assert np.allclose(singles[i][k].probs[0], a[k].probs[i], atol=1e-5)
        assert np.allclose(a[k].probs.sum(axis=1), 1.0)
        assert ((a[k].mean >= 0) & (a[k].mean <= 1)).all()


def test_aspects_are_not_conditioned_on_each_other(tiny_img_judge):
    """Reading one aspect alone gives the same numbers as reading it beside the others."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_img_judge, padding_side="left")
    model = _sharpen(AutoModelForImageTextToText.from_pretrained(tiny_img_judge).eval())
    r = BranchReadout(model, proc, default_img_layout())
    rows = _rows()
    together = r.read(rows)
    for aspect in ("alignment", "fidelity"):
        assert np.allclose(r.read(rows, [aspect])[aspect].probs, together[aspect].probs, atol=1e-5)


def test_layout_rules():
    layout = default_img_layout()
    layout.validate()
    assert layout.parse_value("<think>ok</think><answer>7</answer>") == pytest.approx(7 / 9)
    assert layout.parse_value("<think></think><answer>78</answer>") is None
    assert layout.parse_value("no answer") is None
    assert layout.format_ok("<think>a</think>\n<answer>3</answer>")
    assert not layout.format_ok("<answer>3</answer>")
    assert layout.value_to_token(0.8) == "7"
    bad = JudgeLayout(**{**layout.to_json(), "user_blocks": ["{question}", IMAGE_SLOT]})
    with pytest.raises(ValueError, match="before the"):
        bad.validate()


def test_multi_token_answer_is_refused(tiny_img_judge):
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_img_judge)
    layout = default_img_layout()
    layout.answer_tokens = ["excellentissimo", "8"]
    layout.answer_values = [1.0, 0.0]
    with pytest.raises(ValueError, match="not a single token"):
        answer_token_ids(proc.tokenizer, layout)

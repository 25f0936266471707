"""GRPO rewards: Thurstone ranking, format, and robustness to TRL splitting a group."""

import numpy as np
import pytest
from PIL import Image

from reward_models.img_reward.layout import default_img_layout
from reward_models.img_reward.rewards import FormatReward, RankReward, thurstone_rank_reward
from reward_models.judging.readout import AspectReadout


def test_thurstone_reward_orders_correctly():
    # Scoring the preferred image above the partner earns more than scoring it below.
    hi = thurstone_rank_reward(0.9, 0.3, 0.01, 0.01, preferred=1)
    lo = thurstone_rank_reward(0.1, 0.3, 0.01, 0.01, preferred=1)
    assert hi > 0.95 and lo < 0.3 and hi - lo > 0.6
    # And the reverse for the non-preferred image.
    assert thurstone_rank_reward(0.1, 0.3, 0.01, 0.01, 0) > thurstone_rank_reward(0.9, 0.3, 0.01, 0.01, 0)
    # Equal to the partner: p = 1/2 either way.
    assert thurstone_rank_reward(0.5, 0.5, 0.02, 0.02, 1) == pytest.approx(np.sqrt(0.5), abs=2e-3)


def _completion(text):
    return [{"role": "assistant", "content": text}]


class FakeReadout:
    """Partner images are read as a fixed score by colour: red images 0.8, others 0.2."""

    calls = 0

    def __call__(self, rows, aspects):
        FakeReadout.calls += 1
        values = np.arange(10) / 9
        probs = []
        for imgs, _ in rows:
            target = 7 if imgs[0].getpixel((0, 0))[0] > 128 else 2
            p = np.full(10, 0.01)
            p[target] = 1 - 0.09
            probs.append(p)
        return {a: AspectReadout(np.array(probs), values) for a in aspects}


def _kwargs(n_rows=2, G=4):
    red, blue = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    rows = [dict(image=red, partner_image=blue, preferred=1, aspect="overall", caption="c", pair_key="0:0"),
            dict(image=blue, partner_image=red, preferred=0, aspect="overall", caption="c", pair_key="0:1")][:n_rows]
    expanded = [r for r in rows for _ in range(G)]
    return {k: [r[k] for r in expanded] for k in expanded[0]}


def test_rank_reward_uses_partner_readout_and_needs_binding():
    layout = default_img_layout()
    rank = RankReward(layout)
    kw = _kwargs()
    comps = [_completion(f"<think></think><answer>{d}</answer>") for d in (9, 5, 0, 9)] * 2
    with pytest.raises(RuntimeError, match="bind"):
        rank(comps, **kw)
    rank.bind(FakeReadout())
    r = rank(comps, **kw)
    # Row 0 (preferred, partner reads 0.2): 9 > 5 > 0. Row 1 (not preferred, partner 0.8): 0 > 5 > 9.
    assert r[0] > r[1] > r[2] and r[6] > r[5] > r[4]
    assert rank([_completion("garbage")] * 8, **kw) == [0.0] * 8


def test_rank_reward_is_per_completion_under_group_splits():
    """TRL may give one prompt's completions to different processes: any split gives the same rewards."""
    layout = default_img_layout()
    rank = RankReward(layout).bind(FakeReadout())
    kw = _kwargs(G=4)
    comps = [_completion(f"<think>x</think><answer>{d}</answer>") for d in (1, 3, 6, 8, 2, 4, 7, 9)]
    whole = rank(comps, **kw)
    for cut in (1, 3, 5):
        left = rank(comps[:cut], **{k: v[:cut] for k, v in kw.items()})
        right = rank(comps[cut:], **{k: v[cut:] for k, v in kw.items()})
        assert np.allclose(left + right, whole)


def test_format_reward():
    f = FormatReward(default_img_layout())
    assert f([_completion("<think>a</think><answer>3</answer>"), _completion("<answer>3</answer>"),
              [{"role": "assistant", "content": [{"type": "text", "text": "<think></think><answer>1</answer>"}]}]]
             ) == [1.0, 0.0, 1.0]

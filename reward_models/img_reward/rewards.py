"""GRPO rewards for ImgReward: r = r_rank + r_format.

r_rank (per completion, so it is correct however TRL splits a prompt's group of completions
across processes): the completion scores ONE image of a human-labelled pair on one aspect. Its
score s is compared with the partner image's deterministic readout under the *current* policy
(mean mu_p and variance var_p of the answer-token distribution), Thurstone style:

    p = Phi((s - mu_p) / sqrt(var_self + var_p + eps)),   var_self = this image's readout variance
    r_rank = sqrt(p * gt + eps) + sqrt((1 - p) * (1 - gt) + eps),   gt = 1 if this image was preferred

VisualQuality-R1 uses the same form with group statistics (mean/variance over the G sampled
scores of each image); the readout distribution is the model's own estimate of those
statistics, computed here in one forward pass per image, so no cross-process gather is needed.
An unparsable answer earns r_rank = 0.

r_format: 1 when the completion is exactly `<think>…</think><answer>…</answer>`.
"""

from __future__ import annotations

import math
from typing import Callable

from reward_models.judging.layout import JudgeLayout

EPS = 1e-6


def completion_text(completion) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": str | blocks}]."""
    if isinstance(completion, str):
        return completion
    content = completion[0]["content"] if completion else ""
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return content or ""


def thurstone_rank_reward(s: float, mu_partner: float, var_self: float, var_partner: float, preferred: int) -> float:
    """The per-completion ranking reward in [0, ~1] (see module doc)."""
    z = (s - mu_partner) / math.sqrt(var_self + var_partner + EPS)
    p = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    gt = 1.0 if preferred else 0.0
    return math.sqrt(p * gt + EPS) + math.sqrt((1.0 - p) * (1.0 - gt) + EPS)


class FormatReward:
    """r_format as a TRL reward callable."""

    __name__ = "format_reward"

    def __init__(self, layout: JudgeLayout):
        self.layout = layout

    def __call__(self, completions, **kwargs) -> list[float]:
        return [1.0 if self.layout.format_ok(completion_text(c)) else 0.0 for c in completions]


class RankReward:
    """r_rank as a TRL reward callable; `bind(readout_fn)` once the trainer (and its model) exists.

    `readout_fn(rows, aspects)` -> {aspect: AspectReadout} with the current policy; rows are
    (images, prompt). The dataset supplies `image`, `partner_image`, `preferred`, `aspect`,
    `caption` and `pair_key` columns (one row per image of each pair).
    """

    __name__ = "rank_reward"

    def __init__(self, layout: JudgeLayout):
        self.layout = layout
        self.readout_fn: Callable | None = None

    def bind(self, readout_fn: Callable) -> "RankReward":
        self.readout_fn = readout_fn
        return self

    def __call__(self, completions, image, partner_image, preferred, aspect, caption, pair_key, **kwargs):
        if self.readout_fn is None:
            raise RuntimeError("RankReward.bind(readout_fn) must be called after the trainer is built")
        # One readout per distinct (row, image) — TRL repeats each row num_generations times.
        wanted: dict[tuple, tuple] = {}
        for i, key in enumerate(pair_key):
            wanted.setdefault((key, "self"), (image[i], caption[i], aspect[i]))
            wanted.setdefault((key, "partner"), (partner_image[i], caption[i], aspect[i]))
        stats: dict[tuple, tuple[float, float]] = {}
        by_aspect: dict[str, list[tuple]] = {}
        for k, (_, _, a) in wanted.items():
            by_aspect.setdefault(a, []).append(k)
        for a, keys in by_aspect.items():
            rows = [([_pil(wanted[k][0])], wanted[k][1]) for k in keys]
            read = self.readout_fn(rows, [a])[a]
            for j, k in enumerate(keys):
                stats[k] = (float(read.mean[j]), float(read.var[j]))
        out = []
        for i, c in enumerate(completions):
            s = self.layout.parse_value(completion_text(c))
            if s is None:
                out.append(0.0)
                continue
            mu_p, var_p = stats[(pair_key[i], "partner")]
            _, var_s = stats[(pair_key[i], "self")]
            out.append(thurstone_rank_reward(s, mu_p, var_s, var_p, int(preferred[i])))
        return out


def _pil(x):
    """Dataset image cells arrive as PIL (datasets Image feature) — or as dicts if decoding was off."""
    from reward_models.data.images import decode_image_cell

    return decode_image_cell(x)

"""How well EditReward separates good edits from each constructed negative kind (held-out)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from reward_models.edit_reward.negatives import PRIMARY, EditJudgement
from reward_models.judging.readout import prepare_images


def read_judgements(readout_fn, items: list[EditJudgement], max_pixels, batch_size: int = 16) -> dict[str, np.ndarray]:
    """aspect -> scores for every item (one forward pass per item, all aspects)."""
    parts: dict[str, list] = defaultdict(list)
    for i in range(0, len(items), batch_size):
        rows = [(prepare_images([j.source_image, j.edited_image], max_pixels), j.instruction)
                for j in items[i : i + batch_size]]
        for aspect, res in readout_fn(rows, None).items():
            parts[aspect].append(res.mean)
    return {a: np.concatenate(v) for a, v in parts.items()}


def evaluate_edits(readout_fn, items: list[EditJudgement], max_pixels, batch_size: int = 16) -> dict:
    """Per negative kind: paired accuracy (good edit scored above its own negative; ties count 1/2)
    on the overall score and on the kind's own dimension, plus mean scores."""
    scores = read_judgements(readout_fn, items, max_pixels, batch_size)
    pos = {j.group: k for k, j in enumerate(items) if j.kind == "positive"}
    result: dict = {}
    by_kind: dict[str, list[int]] = defaultdict(list)
    for k, j in enumerate(items):
        if j.kind != "positive" and j.group in pos:
            by_kind[j.kind].append(k)
    overall = scores["overall"]
    for kind, idx in sorted(by_kind.items()):
        dim = PRIMARY[kind]
        acc_o = _paired(overall, [pos[items[k].group] for k in idx], idx)
        acc_d = _paired(scores[dim], [pos[items[k].group] for k in idx], idx)
        result[kind] = {"n": len(idx), "overall_accuracy": acc_o, "dimension_accuracy": acc_d, "dimension": dim,
                        "mean_overall_negative": float(overall[idx].mean())}
    if pos:
        result["positive"] = {"n": len(pos), "mean_overall_positive": float(overall[list(pos.values())].mean())}
    return result


def _paired(s: np.ndarray, good: list[int], bad: list[int]) -> float:
    g, b = s[good], s[bad]
    return float(((g > b) + 0.5 * (g == b)).mean())

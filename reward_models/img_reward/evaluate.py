"""Held-out pairwise accuracy of ImgReward's pointwise readout, per source and aspect."""

from __future__ import annotations

from collections import defaultdict

from reward_models.data.schema import PreferencePair
from reward_models.judging.readout import prepare_images


def score_images(readout_fn, items: list[tuple], aspect: str, max_pixels, batch_size: int = 16) -> list[float]:
    """Pointwise scores of (image, prompt) items on one aspect, `batch_size` rows per forward pass."""
    out: list[float] = []
    for i in range(0, len(items), batch_size):
        chunk = items[i : i + batch_size]
        rows = [(prepare_images([img], max_pixels), prompt) for img, prompt in chunk]
        out += [float(x) for x in readout_fn(rows, [aspect])[aspect].mean]
    return out


def evaluate_pairs(readout_fn, pairs: list[PreferencePair], max_pixels, batch_size: int = 16) -> dict:
    """{"source/aspect": {"accuracy": a, "n": n}}: share of pairs ordered as the human label says.

    Label ties never reach here (adapters drop them); a predicted tie counts one half.
    """
    by_key: dict[tuple, list[PreferencePair]] = defaultdict(list)
    for p in pairs:
        by_key[(p.source, p.aspect)].append(p)
    result = {}
    for (source, aspect), group in sorted(by_key.items()):
        items = [(p.image_a, p.prompt) for p in group] + [(p.image_b, p.prompt) for p in group]
        s = score_images(readout_fn, items, aspect, max_pixels, batch_size)
        n = len(group)
        correct = 0.0
        for k, p in enumerate(group):
            sa, sb = s[k], s[n + k]
            correct += 0.5 if sa == sb else float((sa > sb) == (p.label == 1))
        result[f"{source}/{aspect}"] = {"accuracy": correct / n, "n": n}
    return result

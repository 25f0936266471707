"""Calibration maps: a judge's raw readout -> the probability that the sample is good.

A readout's order says which of two samples is better; its *level* is whatever training left
(a pairwise ranking reward fixes no level at all). A threshold such as the report's 0.9 only
means "90 % of samples scoring this high are good" after calibration. We fit a monotone map per
aspect on labelled samples of a calibration set (isotonic regression by pool-adjacent-violators,
then linear interpolation between the pooled blocks' centres), store it beside the weights as
`calibration.json`, and the scorer applies it to every readout. Reliability is measured as the
expected calibration error (ECE, equal-width bins).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CALIBRATION_FILE = "calibration.json"


@dataclass
class CalibrationMap:
    """A monotone piecewise-linear map from raw score to calibrated probability."""

    x: list[float]
    """Knots on the raw scale (increasing)."""
    y: list[float]
    """Calibrated values at the knots (non-decreasing, in [0, 1])."""
    n: int = 0
    """Samples it was fitted on."""
    positives: int = 0
    """Of which labelled good."""

    def __call__(self, raw) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        return np.clip(np.interp(raw, self.x, self.y), 0.0, 1.0)


@dataclass
class Calibration:
    """Per-aspect maps of one judge, with where they came from."""

    maps: dict[str, CalibrationMap] = field(default_factory=dict)
    """Aspect (or `score`) -> map."""
    source: str = ""
    """What the maps were fitted on (data, seed, labels)."""

    def apply(self, aspect: str, raw) -> np.ndarray:
        """Calibrated values of `raw` for `aspect` (unchanged when the aspect has no map)."""
        m = self.maps.get(aspect)
        return np.asarray(raw, dtype=np.float64) if m is None else m(raw)

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / CALIBRATION_FILE
        data = {"source": self.source, "maps": {k: asdict(v) for k, v in self.maps.items()}}
        path.write_text(json.dumps(data, indent=2))
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "Calibration | None":
        """The calibration stored in a judge folder, or None."""
        path = Path(folder) / CALIBRATION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls({k: CalibrationMap(**v) for k, v in data.get("maps", {}).items()}, data.get("source", ""))


def fit_isotonic(raw, good) -> CalibrationMap:
    """Isotonic regression of `good` (0/1) on `raw` by pool-adjacent-violators.

    Each pooled block is represented by its mean raw score and its share of good samples; between
    blocks the map is linear, outside them flat. Ties in `raw` are pooled first (a map must give
    equal scores equal values).
    """
    raw = np.asarray(raw, dtype=np.float64)
    good = np.asarray(good, dtype=np.float64)
    if raw.shape != good.shape or raw.ndim != 1 or not len(raw):
        raise ValueError("calibration needs two equal-length, non-empty 1-D arrays")
    order = np.argsort(raw, kind="stable")
    raw, good = raw[order], good[order]
    # blocks: [sum_x, sum_y, count]
    blocks: list[list[float]] = []
    i = 0
    while i < len(raw):
        j = i
        while j + 1 < len(raw) and raw[j + 1] == raw[i]:
            j += 1
        blocks.append([raw[i : j + 1].sum(), good[i : j + 1].sum(), j - i + 1])
        i = j + 1
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            for k in range(3):
                blocks[-1][k] += last[k]
    x = [b[0] / b[2] for b in blocks]
    y = [b[1] / b[2] for b in blocks]
    return CalibrationMap([float(v) for v in x], [float(v) for v in y], int(len(raw)), int(good.sum()))


def ece(prob, good, bins: int = 10) -> float | None:
    """Expected calibration error: sum over equal-width bins of |mean prob - share good| x bin share."""
    prob = np.asarray(prob, dtype=np.float64)
    good = np.asarray(good, dtype=np.float64)
    if not len(prob):
        return None
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(prob[sel].mean() - good[sel].mean())
    return float(total)

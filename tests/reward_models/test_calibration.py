"""Calibration maps: fitted by isotonic regression, stored in the judge folder, applied by the scorer."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from reward_models.calibration import CALIBRATION_FILE, Calibration, CalibrationMap, ece, fit_isotonic
from reward_models.interface import ScoreBatch


def test_isotonic_fit_is_monotone_and_recovers_frequencies():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 4000)
    truth = raw**3  # the real probability of "good" at each raw score
    good = rng.uniform(0, 1, raw.size) < truth
    m = fit_isotonic(raw, good)
    assert np.all(np.diff(m.x) > 0) and np.all(np.diff(m.y) >= 0)
    grid = np.linspace(0.05, 0.95, 19)
    assert np.abs(m(grid) - grid**3).max() < 0.08
    assert ece(m(raw), good) < ece(raw, good) / 3
    assert m.n == raw.size and m.positives == int(good.sum())


def test_ties_get_one_value_and_perfect_separation_maps_to_0_and_1():
    m = fit_isotonic([0.2, 0.2, 0.2, 0.4, 0.7, 0.7], [0, 1, 0, 1, 1, 1])
    assert m(0.2) == pytest.approx(1 / 3)
    sep = fit_isotonic([0.1, 0.2, 0.3, 0.6, 0.8], [0, 0, 0, 1, 1])
    assert sep(0.0) == 0.0 and sep(0.2) == 0.0 and sep(0.45) == pytest.approx(0.5) and sep(0.9) == 1.0
    with pytest.raises(ValueError):
        fit_isotonic([], [])


def test_ece_of_a_calibrated_and_an_overconfident_score():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 20000)
    good = rng.uniform(0, 1, p.size) < p
    assert ece(p, good) < 0.02
    assert ece(np.ones_like(p), good) == pytest.approx(1 - good.mean(), abs=1e-9)


def test_round_trip_through_the_folder(tmp_path):
    cal = Calibration({"overall": CalibrationMap([0.0, 1.0], [0.2, 0.6], 10, 4)}, "test")
    cal.save(tmp_path)
    back = Calibration.load(tmp_path)
    assert back.source == "test" and back.apply("overall", [0.5])[0] == pytest.approx(0.4)
    assert np.array_equal(back.apply("fidelity", [0.3]), [0.3])  # no map: unchanged
    assert Calibration.load(tmp_path / "nowhere") is None


def test_scorer_applies_the_folders_calibration(tiny_img_judge, tmp_path):
    """A judge folder with calibration.json scores through it; without, raw; the info says which."""
    from reward_models.img_reward.scorer import ImgRewardScorer
    from reward_models.loading import LoadSpec

    folder = tmp_path / "judge"
    shutil.copytree(tiny_img_judge, folder)
    rng = np.random.default_rng(0)
    batch = ScoreBatch(["a red circle", "two blue squares", "x"],
                       [Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)) for _ in range(3)])
    spec = LoadSpec(str(folder), device="cpu", dtype="float32")
    raw = ImgRewardScorer(spec=spec).score(batch)
    assert raw.info["calibrated"] == "no"
    # A decreasing-looking map would be refused by the fit; write one by hand to see it applied.
    (folder / CALIBRATION_FILE).write_text(json.dumps({"source": "hand", "maps": {
        "overall": {"x": [0.0, 1.0], "y": [0.1, 0.3], "n": 2, "positives": 1},
        "fidelity": {"x": [0.0, 1.0], "y": [1.0, 1.0], "n": 2, "positives": 2}}}))
    cal = ImgRewardScorer(spec=spec).score(batch)
    assert cal.info["calibrated"] == "yes"
    assert np.allclose(cal.score, 0.1 + 0.2 * raw.score)
    assert np.allclose(cal.sub_scores["fidelity"], 1.0)
    assert np.allclose(cal.sub_scores["alignment"], raw.sub_scores["alignment"])
    off = ImgRewardScorer(spec=spec, calibrate=False).score(batch)
    assert np.allclose(off.score, raw.score) and off.info["calibrated"] == "no"

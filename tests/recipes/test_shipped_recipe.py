"""The shipped-judge recipe's bookkeeping: disjoint seeds, per-stage fingerprints that retrain only
what a change touches, and calibration fitted from scored, labelled rows."""

from dataclasses import replace

import numpy as np
import pytest

from recipes.shipped_judges import CALIBRATION_LABELS, Recipe, Stages, fit_calibration, labelled, reliability


def test_seeds_are_disjoint_and_listed_by_use():
    r = Recipe()
    table = r.seed_table()
    assert set(table) >= {"training data", "calibration", "measurement"}
    with pytest.raises(ValueError):
        replace(r, calibration_seed=r.measure_seed).seed_table()
    with pytest.raises(ValueError):
        replace(r, measure_seed=r.seeds["pickapic"]).seed_table()


def test_changing_one_judge_retrains_that_judge_only(tmp_path):
    r = Recipe(work=tmp_path)
    changed = replace(r, edit_lr=r.edit_lr * 2)
    same = ("data", "base_vlm", "vqascore", "img_reward", "perception")
    assert all(r.fingerprint(s) == changed.fingerprint(s) for s in same)
    assert r.fingerprint("edit_reward") != changed.fingerprint("edit_reward")
    assert r.fingerprint("measure") != changed.fingerprint("measure")  # it measures the new judge
    base_changed = replace(r, base_steps=r.base_steps + 1)
    assert all(r.fingerprint(s) != base_changed.fingerprint(s) for s in ("base_vlm", "vqascore", "measure"))
    assert r.fingerprint("img_reward:direct") != r.fingerprint("img_reward")
    more_data = replace(r, n_contrast=r.n_contrast + 1)  # a judge's data: the judges retrain, the base does not
    assert r.fingerprint("base_vlm") == more_data.fingerprint("base_vlm")
    assert all(r.fingerprint(s) != more_data.fingerprint(s) for s in ("data", "img_reward", "vqascore", "edit_reward"))
    stages = Stages(r)
    stages.mark("edit_reward", wall_seconds=1)
    assert stages.done("edit_reward") and not Stages(changed).done("edit_reward")


def _rows(n=600, seed=0):
    """Scored rows as the job's shards give them: the overall score rises with cleanliness."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        mode = [None, None, "instruction_alignment", "visual_artifacts", "semantic_inconsistency"][i % 5]
        clean = mode is None
        rows.append({"clean": clean, "planted_mode": mode, "task": "t2i",
                     "img_reward_score": float(np.clip(rng.normal(0.5 if clean else 0.3, 0.1), 0, 1)),
                     "img_reward_alignment": float(rng.uniform(0.0, 0.4) if mode == "instruction_alignment"
                                                   else rng.uniform(0.3, 1.0)),
                     "img_reward_fidelity": float(rng.uniform(0, 1)),
                     "img_reward_integrity": float(rng.uniform(0.0, 0.4) if mode == "semantic_inconsistency"
                                                   else rng.uniform(0.3, 1.0))})
    return rows


def test_calibration_from_scored_rows_is_monotone_and_labels_each_aspect_by_its_own_mode():
    rows = _rows()
    raw, good = labelled(rows, "img_reward", "alignment")
    assert good.mean() == pytest.approx(0.8) and len(raw) == len(rows)
    cal = fit_calibration(rows, "img_reward", "test")
    assert set(cal.maps) == {a for (s, a) in CALIBRATION_LABELS if s == "img_reward"}
    assert cal.maps["overall"].positives == sum(r["clean"] for r in rows)
    for m in cal.maps.values():
        assert np.all(np.diff(m.y) >= 0)
    # Calibrated values are reliable on fresh rows from the same process; the raw ones are not.
    fresh = _rows(seed=1)
    before = reliability(fresh, "img_reward")
    for r in fresh:
        for aspect, col in (("overall", "score"), ("alignment", "alignment"), ("fidelity", "fidelity")):
            r[f"img_reward_{col}"] = float(cal.apply(aspect, [r[f"img_reward_{col}"]])[0])
    after = reliability(fresh, "img_reward")
    assert after["overall"] < before["overall"] / 2 and after["overall"] < 0.08

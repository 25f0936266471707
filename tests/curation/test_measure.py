"""Measuring a run against the world's known truth: the numbers, checked against values computed
here independently, on real Parquet shards in the job's layout and on a real job run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.measure import SWEEP_THRESHOLDS, format_measurement, measure_against_truth
from curation.shards import write_shards

# sample_id, task, truth (planted mode or None), decision, failure modes, reward, vqa
ROWS = [
    ("a", "t2i", None, "keep", [], 0.95, 0.8),
    ("b", "t2i", None, "reject", ["semantic_inconsistency"], 0.7, 0.9),
    ("c", "t2i", "instruction_alignment", "reject", ["instruction_alignment"], 0.6, 0.2),
    ("d", "t2i", "visual_artifacts", "keep", [], 0.92, 0.7),
    ("e", "t2i", "visual_artifacts", "reject", ["semantic_inconsistency"], 0.3, 0.6),
    ("f", "edit", None, "keep", [], 0.99, 0.9),
    ("g", "edit", "edit_noncompliance", "reject", ["edit_noncompliance"], None, None),  # cheap check
    ("h", "edit", "semantic_inconsistency", "reject", ["semantic_inconsistency", "visual_artifacts"], 0.5, 0.4),
    ("i", "edit", None, "reject", ["instruction_alignment"], 0.93, 0.3),
    ("j", "t2i", None, "error", [], None, None),
]


def _write_run(root: Path) -> tuple[Path, Path]:
    out = root / "shards"
    write_shards(out, pa.table({
        "sample_id": [r[0] for r in ROWS], "task": [r[1] for r in ROWS],
        "image": pa.array([b"\x89PNG"] * len(ROWS), pa.binary()),
        "source_image": pa.array([None] * len(ROWS), pa.binary()),
        "failure_modes": pa.array([r[4] for r in ROWS], pa.list_(pa.string())),
        "reward_score": pa.array([r[5] for r in ROWS], pa.float64()),
        "vqa_score": pa.array([r[6] for r in ROWS], pa.float64()),
        "decision": [r[3] for r in ROWS]}))
    (out / "summary.json").write_text(json.dumps({"thresholds": {"reward": 0.9, "vqa": 0.5}}))
    truth = root / "truth.parquet"
    pq.write_table(pa.table({"sample_id": [r[0] for r in ROWS], "task": [r[1] for r in ROWS],
                             "planted_mode": [r[2] for r in ROWS],
                             "fault": [r[2] for r in ROWS],  # one fault per planted mode here
                             "clean": [r[2] is None for r in ROWS]}), truth)
    return out, truth


def _auc(clean, faulty) -> float:
    c, f = np.asarray(clean)[:, None], np.asarray(faulty)[None, :]
    return float(((c > f) + 0.5 * (c == f)).mean())


def test_measurement_matches_independent_counts(tmp_path):
    out, truth = _write_run(tmp_path)
    m = measure_against_truth(out, truth)

    clean = [r for r in ROWS if r[2] is None]
    kept = [r for r in ROWS if r[3] == "keep"]
    assert m["kept"] == len(kept) == 3 and m["clean"] == len(clean) == 5
    assert m["keep_precision"] == pytest.approx(2 / 3)  # a, f clean; d faulty
    assert m["keep_recall"] == pytest.approx(2 / 5)
    # planted mode among the tags of a rejected row: c yes, d kept (miss), e wrong mode, g yes, h yes
    assert m["per_mode"]["visual_artifacts"] == {"faulty": 2, "rejected": 1, "planted_mode_tagged": 0, "tag_rate": 0.0}
    assert m["per_mode"]["instruction_alignment"]["tag_rate"] == 1.0
    assert m["per_mode"]["semantic_inconsistency"]["tag_rate"] == 1.0
    assert m["planted_mode_tag_rate"] == pytest.approx(3 / 5)
    assert m["truth_rows_missing_from_output"] == 0

    # separation: scored, non-error rows of each task, clean vs faulty
    for task in ("t2i", "edit"):
        for col, k in (("reward_score", 5), ("vqa_score", 6)):
            rows = [r for r in ROWS if r[1] == task and r[3] != "error" and r[k] is not None]
            want = _auc([r[k] for r in rows if r[2] is None], [r[k] for r in rows if r[2] is not None])
            assert m["judge_separation"][task][col]["auc"] == pytest.approx(want), (task, col)

    # per fault: the task's clean rows against that fault's rows, per score column
    for task in ("t2i", "edit"):
        for fault in {r[2] for r in ROWS if r[1] == task and r[2] and r[3] != "error"}:
            for col, k in (("reward_score", 5), ("vqa_score", 6)):
                rows = [r for r in ROWS if r[1] == task and r[3] != "error" and r[k] is not None]
                bad = [r[k] for r in rows if r[2] == fault]
                got = m["per_fault_auc"].get(task, {}).get(fault, {}).get(col)
                if not bad:
                    assert got is None, (task, fault, col)
                    continue
                assert got == pytest.approx(_auc([r[k] for r in rows if r[2] is None], bad)), (task, fault, col)

    # sweep: keep iff not an error, reward >= threshold and VQAScore >= the run's 0.5
    assert [s["reward_threshold"] for s in m["reward_threshold_sweep"]] == list(SWEEP_THRESHOLDS)
    for s in m["reward_threshold_sweep"]:
        k = [r for r in ROWS if r[3] != "error" and r[5] is not None and r[5] >= s["reward_threshold"] and r[6] >= 0.5]
        kc = [r for r in k if r[2] is None]
        assert s["kept"] == len(k)
        assert s["keep_precision"] == (pytest.approx(len(kc) / len(k)) if k else None)
        assert s["keep_recall"] == pytest.approx(len(kc) / len(clean))
    at_09 = next(s for s in m["reward_threshold_sweep"] if s["reward_threshold"] == 0.9)
    assert (at_09["keep_precision"], at_09["keep_recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 5))

    text = format_measurement(m)
    assert "keep precision 66.7%" in text and "keep recall 40.0%" in text and "AUC" in text


def test_missing_rows_are_reported(tmp_path):
    out, truth = _write_run(tmp_path)
    pq.write_table(pa.concat_tables([pq.read_table(truth), pa.table({
        "sample_id": ["zz"], "task": ["t2i"], "planted_mode": pa.array([None], pa.string()),
        "fault": pa.array([None], pa.string()), "clean": [True]})]), truth)
    assert measure_against_truth(out, truth)["truth_rows_missing_from_output"] == 1


@pytest.mark.timeout(600)
def test_measure_world_runs_the_real_job_and_measures_it(tmp_path, ray_session, judges):
    """The measurement script's path end to end: fresh world candidates, the real job, the truth."""
    from curation.measure import measure_world

    args = ["--img-reward-model", judges["img_reward"], "--edit-reward-model", judges["edit_reward"],
            "--vqa-model", judges["vqa"], "--batch-size", "8"]
    m = measure_world(seed=31337, n=24, folder=tmp_path / "m", score_args=args)
    stored = json.loads((tmp_path / "m" / "shards" / ".run" / "measurement.json").read_text())
    assert stored["seed"] == 31337 and stored["rows"] == 24
    truth = pq.read_table(tmp_path / "m" / "candidates" / "truth.parquet").to_pylist()
    assert m["clean"] == sum(r["clean"] for r in truth)
    assert sum(d["faulty"] for d in m["per_mode"].values()) == sum(r["planted_mode"] is not None for r in truth)
    assert m["truth_rows_missing_from_output"] == 0
    assert m["errors_by_fault"].get("broken_file", 0) >= 1  # the world's broken files are error rows
    assert len(m["reward_threshold_sweep"]) == len(SWEEP_THRESHOLDS)

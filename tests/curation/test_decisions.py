from __future__ import annotations

import pyarrow as pa

from curation.config import ThresholdConfig
from curation.decisions import decide_batch, decide_row

TH = ThresholdConfig(reward=0.9, vqa=0.5, sub_score=0.5)
ALL = {"img_reward", "edit_reward", "vqa"}


def t2i(reward, vqa, alignment=0.9, fidelity=0.9, **kw):
    return {"task_hive": "t2i", "img_reward_score": reward, "vqa_score": vqa, "img_reward_alignment": alignment,
            "img_reward_fidelity": fidelity, "error": None, "failure_modes": [], **kw}


def test_keep_needs_both_checks():
    assert decide_row(t2i(0.95, 0.6), TH, ALL)[:2] == ("keep", [])
    assert decide_row(t2i(0.9, 0.5), TH, ALL)[:2] == ("keep", [])  # thresholds are inclusive
    assert decide_row(t2i(0.89, 0.6), TH, ALL)[0] == "reject"
    assert decide_row(t2i(0.95, 0.49), TH, ALL)[:2] == ("reject", ["instruction_alignment"])


def test_reward_rejects_are_attributed_by_sub_scores_with_a_residual():
    assert decide_row(t2i(0.2, 0.9, fidelity=0.1), TH, ALL)[1] == ["visual_artifacts"]
    assert decide_row(t2i(0.2, 0.9, alignment=0.1), TH, ALL)[1] == ["instruction_alignment"]
    assert decide_row(t2i(0.2, 0.9), TH, ALL)[1] == ["semantic_inconsistency"]
    # a failed VQA check explains the reject: no residual mode on top
    assert decide_row(t2i(0.2, 0.1), TH, ALL)[1] == ["instruction_alignment"]
    edit = {"task_hive": "edit", "edit_reward_score": 0.3, "vqa_score": 0.2, "edit_reward_compliance": 0.9,
            "edit_reward_consistency": 0.1, "edit_reward_quality": 0.2, "error": None, "failure_modes": []}
    assert decide_row(edit, TH, ALL)[1] == ["edit_noncompliance", "semantic_inconsistency", "visual_artifacts"]


def test_errors_prechecks_and_missing_scores():
    assert decide_row(t2i(0.99, 0.99, error="boom"), TH, ALL)[:2] == ("error", [])
    assert decide_row(t2i(None, None, failure_modes=["edit_noncompliance"]), TH, ALL)[:2] == (
        "reject", ["edit_noncompliance"])
    assert decide_row(t2i(None, 0.9), TH, ALL)[0] == "error"  # an enabled judge left no score: never keep
    assert decide_row(t2i(None, 0.9), TH, {"vqa"})[0] == "keep"  # a disabled stage's check is skipped


def test_decide_batch_adds_columns():
    rows = [t2i(0.95, 0.9), t2i(0.1, 0.9), t2i(None, 0.9)]
    table = pa.Table.from_pylist(rows)
    out = decide_batch(table, TH, sorted(ALL), "run-1", "abc")
    assert out.column("decision").to_pylist() == ["keep", "reject", "error"]
    assert out.column("error").to_pylist()[2].startswith("no score recorded")
    assert out.column("reward_score").to_pylist()[:2] == [0.95, 0.1]
    assert set(out.column("run_id").to_pylist()) == {"run-1"}

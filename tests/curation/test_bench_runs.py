"""Fabricated benchmark runs (`curation.audits.bench_runs`) are runs the audits accept: in the job's
layout, conserved, and decided by the job's own rule."""

from __future__ import annotations

from curation import judges
from curation import schema as S
from curation.audits import registry
from curation.audits.bench_runs import fabricate_run
from curation.audits.view import AuditView
from curation.config import ThresholdConfig
from curation.decisions import decide_row
from curation.shards import OutputLayout, open_shards


def test_fabricated_run_is_conserved_and_decided_by_the_job_rule(tmp_path):
    run = tmp_path / "run"
    fabricate_run(run, rows=3000, rows_per_partition=1000, variant=1, reward_threshold=0.85)
    assert len({p.stem for p in OutputLayout(run).all_shards()}) == 3
    with AuditView([run]) as view:
        checks = registry.run_audit(view, "conservation", {}).to_pylist()
    assert checks and all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    table = open_shards(run)
    assert table.num_rows == 3000
    th, enabled = ThresholdConfig(reward=0.85, vqa=0.5), set(judges.STAGES)
    rows = table.to_pylist()
    assert {r[S.DECISION] for r in rows} == {"keep", "reject", "error"}
    for r in rows:  # no cheap check ran on fabricated rows: every mode comes from the scores
        decision, modes, _ = decide_row({**r, S.TASK_HIVE: r[S.TASK], S.FAILURE_MODES_COL: []}, th, enabled)
        assert (decision, modes) == (r[S.DECISION], r[S.FAILURE_MODES_COL]), r[S.ID]

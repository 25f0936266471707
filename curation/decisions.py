"""Keep, reject or error, and why: the 0.9 reward threshold plus the VQAScore check.

A row is kept iff its task's reward score (ImgReward on t2i, EditReward on edit) is at least
`thresholds.reward` and its VQAScore is at least `thresholds.vqa` (a disabled stage's check
is skipped). Rejected rows carry the failure modes of the checks that failed:

- VQAScore below its threshold: `vqa_modes[task]` (instruction_alignment on t2i; on an edit,
  VQAScore asks about the target description, so edit_noncompliance);
- reward below its threshold: the mode of every sub-score below `thresholds.sub_score`
  (`sub_score_modes`), or, when no sub-score explains it and no other check failed, the
  task's residual mode (semantic_inconsistency on t2i);
- cheap checks (no model) add their own modes before scoring and reject on their own.

Every rejected row has at least one mode; error rows have none. Which judge is a task's reward
judge, which judges are checks, and the default mode of each sub-score come from the judge
registry (`curation/judges.py`).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from . import judges
from . import schema as S
from .config import ThresholdConfig

REWARD_STAGE = {t: j.stage for t in S.TASKS if (j := judges.reward_judge(t)) is not None}
"""Task -> the stage whose score is its `reward_score` (from the judge registry)."""


def _threshold(th: ThresholdConfig, judge: judges.Judge) -> float:
    return getattr(th, judge.threshold)


def _low_score_mode(th: ThresholdConfig, judge: judges.Judge, task: str) -> str:
    """A check judge's mode on `task`: `thresholds.<threshold>_modes` (e.g. `vqa_modes`) when the
    config has that field, else the registry's."""
    modes = getattr(th, f"{judge.threshold}_modes", None) or judge.low_score_modes
    return modes.get(task, "instruction_alignment")


def decide_row(row: dict, th: ThresholdConfig, enabled: set[str]) -> tuple[str, list[str], float | None]:
    """(decision, failure modes, reward score) for one row."""
    task = row.get(S.TASK_HIVE)
    rj = judges.reward_judge(task)
    reward = row.get(rj.column("score")) if rj else None
    if row.get(S.ERROR):
        return "error", [], reward
    modes = list(dict.fromkeys(row.get(S.FAILURE_MODES_COL) or []))
    if modes:  # a cheap check already rejected it
        return "reject", modes, reward
    checks = [j for j in judges.check_judges(task) if j.stage in enabled]
    scoring = checks + ([rj] if rj is not None and rj.stage in enabled else [])
    if any(row.get(j.column("score")) is None for j in scoring):
        # A stage that should have scored did not, yet recorded no error: never keep silently.
        return "error", [], reward
    for j in checks:
        if row[j.column("score")] < _threshold(th, j):
            modes.append(_low_score_mode(th, j, task))
    if rj is not None and rj.stage in enabled and reward < _threshold(th, rj):
        for col, mode in th.sub_score_modes.items():
            if not col.startswith(rj.stage + "_"):
                continue
            value = row.get(col)
            if value is not None and value < th.sub_score and mode not in modes:
                modes.append(mode)
        if not modes:
            modes.append(th.residual_modes.get(task, "semantic_inconsistency"))
    return ("reject" if modes else "keep"), modes, reward


def decide_batch(table: pa.Table, th: ThresholdConfig, enabled: list[str], run_id: str, config_hash: str) -> pa.Table:
    """Add decision, failure_modes, reward_score, run_id, config_hash and scored_at."""
    rows = table.to_pylist()
    enabled_set = set(enabled)
    decisions, modes, rewards, errors = [], [], [], []
    for row in rows:
        d, m, r = decide_row(row, th, enabled_set)
        err = row.get(S.ERROR)
        if d == "error" and not err:
            missing = [st for st in judges.STAGES if st in enabled_set]
            err = f"no score recorded by {', '.join(missing)} and no error given"
        decisions.append(d)
        modes.append(m)
        rewards.append(r)
        errors.append(err)
    now = dt.datetime.now(dt.timezone.utc)
    n = table.num_rows
    out = table
    for name, values in [
        (S.REWARD_SCORE, pa.array(rewards, pa.float64())),
        (S.DECISION, pa.array(decisions, pa.string())),
        (S.FAILURE_MODES_COL, pa.array(modes, pa.list_(pa.string()))),
        (S.ERROR, pa.array(errors, pa.string())),
        (S.RUN_ID, pa.array([run_id] * n, pa.string())),
        (S.CONFIG_HASH, pa.array([config_hash] * n, pa.string())),
        (S.SCORED_AT, pa.array([now] * n, pa.timestamp("us", tz="UTC"))),
    ]:
        idx = out.schema.get_field_index(name)
        out = out.set_column(idx, name, values) if idx >= 0 else out.append_column(name, values)
    return out

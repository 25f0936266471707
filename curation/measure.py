"""Measuring a run against known truth (the synthetic world's planted faults).

The world's candidates carry `meta.planted_mode` (null for clean samples) and a truth table
(`truth.parquet`: sample_id, task, planted_mode, fault, clean). Given a run's shards:

- keep precision: kept rows that are clean / kept rows;
- keep recall: clean rows that were kept / clean rows;
- per planted mode: how often a faulty sample of that mode was rejected with the planted
  mode among its tagged failure modes (a kept faulty sample counts as a miss).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from .summary import shard_glob


def measure_against_truth(output: str | Path, truth_path: str | Path) -> dict:
    con = duckdb.connect(":memory:")
    shards = f"read_parquet('{shard_glob(Path(output))}', hive_partitioning=true, union_by_name=true)"
    con.execute(f"CREATE VIEW s AS SELECT sample_id, decision, failure_modes FROM {shards}")
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{truth_path}')")
    kept, kept_clean, clean, clean_kept = con.execute(
        """SELECT count(*) FILTER (WHERE s.decision = 'keep'),
                  count(*) FILTER (WHERE s.decision = 'keep' AND t.clean),
                  count(*) FILTER (WHERE t.clean),
                  count(*) FILTER (WHERE t.clean AND s.decision = 'keep')
           FROM t JOIN s USING (sample_id)"""
    ).fetchone()
    per_mode = {}
    for mode, n, tagged, rejected in con.execute(
        """SELECT t.planted_mode, count(*),
                  count(*) FILTER (WHERE s.decision = 'reject' AND list_contains(s.failure_modes, t.planted_mode)),
                  count(*) FILTER (WHERE s.decision = 'reject')
           FROM t JOIN s USING (sample_id) WHERE t.planted_mode IS NOT NULL GROUP BY 1 ORDER BY 1"""
    ).fetchall():
        per_mode[mode] = {"faulty": n, "rejected": rejected, "planted_mode_tagged": tagged,
                          "tag_rate": tagged / n if n else None}
    faulty = sum(m["faulty"] for m in per_mode.values())
    tagged = sum(m["planted_mode_tagged"] for m in per_mode.values())
    missing = con.execute("SELECT count(*) FROM t ANTI JOIN s USING (sample_id)").fetchone()[0]
    errors = dict(con.execute("SELECT coalesce(t.fault, 'none'), count(*) FROM t JOIN s USING (sample_id) "
                              "WHERE s.decision = 'error' GROUP BY 1").fetchall())
    return {
        "keep_precision": kept_clean / kept if kept else None,
        "keep_recall": clean_kept / clean if clean else None,
        "kept": kept, "clean": clean,
        "planted_mode_tag_rate": tagged / faulty if faulty else None,
        "per_mode": per_mode,
        "errors_by_fault": errors,
        "truth_rows_missing_from_output": missing,
    }


def format_measurement(m: dict) -> str:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines = [f"measured against known truth: keep precision {pct(m['keep_precision'])} "
             f"({m['kept']} kept), keep recall {pct(m['keep_recall'])} ({m['clean']} clean), "
             f"planted mode tagged on {pct(m['planted_mode_tag_rate'])} of faulty samples"]
    for mode, d in m["per_mode"].items():
        lines.append(f"  {mode:24s} faulty={d['faulty']:4d} rejected={d['rejected']:4d} "
                     f"tagged={d['planted_mode_tagged']:4d} ({pct(d['tag_rate'])})")
    if m["errors_by_fault"]:
        lines.append("  error rows by planted fault: " + ", ".join(f"{k}={v}" for k, v in m["errors_by_fault"].items()))
    return "\n".join(lines)


def write_measurement(output: str | Path, m: dict) -> Path:
    path = Path(output) / "measurement.json"
    path.write_text(json.dumps(m, indent=2))
    return path

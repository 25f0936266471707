"""The end-of-run summary, computed with DuckDB from the shards themselves."""

from __future__ import annotations


import duckdb

from .shards import OutputLayout


def summarize_shards(layout: OutputLayout) -> dict:
    """Counts by task/decision/failure mode and the most common errors, from the shards.

    The shard files are passed to DuckDB as a bound parameter (a list of paths), never pasted
    into the SQL text: an output folder named `bob's run` or `x'); COPY ...` is just a name."""
    files = [str(p) for p in layout.all_shards()]
    if not files:
        return {"rows": 0, "by_task_decision": {}, "by_failure_mode": {}, "errors": []}
    con = duckdb.connect(":memory:")
    con.execute(
        "CREATE TEMP TABLE shard_rows AS SELECT task, decision, failure_modes, error, duplicate_count "
        "FROM read_parquet($files, hive_partitioning = true, union_by_name = true)", {"files": files})
    src = "shard_rows"
    rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
    by_td: dict[str, dict[str, int]] = {}
    for task, decision, n in con.execute(
        f"SELECT task, decision, count(*) FROM {src} GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        by_td.setdefault(str(task), {})[decision] = n
    by_mode: dict[str, dict[str, int]] = {}
    for task, mode, n in con.execute(
        f"SELECT task, mode, count(*) FROM (SELECT task, unnest(failure_modes) AS mode FROM {src} "
        "WHERE decision = 'reject') GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        by_mode.setdefault(str(task), {})[mode] = n
    errors = [
        {"error": e, "rows": n}
        for e, n in con.execute(
            f"SELECT error, count(*) AS n FROM {src} WHERE decision = 'error' GROUP BY error ORDER BY n DESC, error LIMIT 25"
        ).fetchall()
    ]
    dup = con.execute(f"SELECT coalesce(sum(duplicate_count - 1), 0) FROM {src}").fetchone()[0]
    return {"rows": rows, "by_task_decision": by_td, "by_failure_mode": by_mode, "errors": errors,
            "duplicate_copies_collapsed": int(dup)}


def format_summary(s: dict) -> str:
    """A short human-readable block for the terminal."""
    lines = [f"run {s.get('run_id', '?')}  config {s.get('config_hash', '?')}  output {s.get('output', '?')}"]
    lines.append(f"rows: {s['rows']}  (this attempt scored {s.get('rows_scored_this_attempt', 0)} rows in "
                 f"{s.get('elapsed_s', 0):.1f}s = {s.get('rows_per_s', 0):.1f} rows/s; partitions scored "
                 f"{s.get('partitions_scored', 0)}, skipped as finished {s.get('partitions_skipped', 0)})")
    for task, d in sorted(s["by_task_decision"].items()):
        lines.append(f"  {task:8s} " + "  ".join(f"{k}={v}" for k, v in sorted(d.items())))
    if s["by_failure_mode"]:
        lines.append("failure modes of rejected rows:")
        for task, d in sorted(s["by_failure_mode"].items()):
            lines.append(f"  {task:8s} " + "  ".join(f"{k}={v}" for k, v in sorted(d.items())))
    if s["errors"]:
        lines.append("errors:")
        for e in s["errors"][:10]:
            lines.append(f"  {e['rows']:6d}  {e['error'][:150]}")
    failed = {k: v for k, v in (s.get("checks") or {}).items() if v}
    if failed:
        lines.append("cheap checks failed: " + "  ".join(f"{k}={v}" for k, v in failed.items()))
    if s.get("duplicate_copies_collapsed"):
        lines.append(f"duplicate sample_id copies collapsed: {s['duplicate_copies_collapsed']}")
    return "\n".join(lines)

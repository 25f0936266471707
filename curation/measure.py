"""Measuring a run against known truth (the synthetic world's planted faults).

The world's candidates carry `meta.planted_mode` (null for clean samples) and a truth table
(`truth.parquet`: sample_id, task, planted_mode, fault, clean). Given a run's shards:

- keep precision: kept rows that are clean / kept rows;
- keep recall: clean rows that were kept / clean rows;
- per planted mode: how often a faulty sample of that mode was rejected with the planted
  mode among its tagged failure modes (a kept faulty sample counts as a miss).

`measure_world` makes such a run end to end: a fresh world candidate set, the scoring job (the
shipped judges unless flags say otherwise), the measurement stored with the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from .shards import OutputLayout, shard_glob


SWEEP_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def measure_world(seed: int, n: int, folder: Path, score_args: list[str] = ()) -> dict:
    """Score a fresh world candidate set (`seed`, `n` rows) under `folder` and measure it
    against the world's truth.

    `score_args` are scoring-job flags (e.g. other judges or thresholds); the judges default
    to the shipped ones, as in the embedded demo. Stores the measurement with the run's metadata
    (`folder/shards/.run/measurement.json`).
    """
    from .cli import build_parser, config_from_args
    from .demo import apply_demo_defaults, demo_candidates
    from .job import run_score_job

    folder = Path(folder)
    candidates = demo_candidates(folder / "candidates", n=n, seed=seed)
    cfg = config_from_args(build_parser().parse_args(list(score_args)))
    cfg.output.overwrite = True  # a measurement always scores afresh
    cfg = apply_demo_defaults(cfg, candidates=candidates, output=folder / "shards")
    result = run_score_job(cfg)
    m = {"seed": seed, "rows": n, **measure_against_truth(result.output, candidates / "truth.parquet")}
    write_measurement(result.output, m)
    return m


def measure_against_truth(output: str | Path, truth_path: str | Path, vqa_threshold: float | None = None) -> dict:
    """`vqa_threshold`: the run's VQAScore threshold for the sweep (default: read from the
    run's summary, else 0.5)."""
    con = duckdb.connect(":memory:")
    # Paths are data: loaded as bound parameters into tables, never pasted into SQL text.
    con.execute("CREATE TABLE s AS SELECT * EXCLUDE (image, source_image) "
                "FROM read_parquet(?, hive_partitioning=true, union_by_name=true)", [str(shard_glob(Path(output)))])
    con.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?)", [str(truth_path)])
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
    if vqa_threshold is None:
        summary = OutputLayout(Path(output)).find_summary()
        vqa_threshold = (json.loads(summary.read_text()).get("thresholds", {}).get("vqa", 0.5)
                         if summary is not None else 0.5)
    return {
        "keep_precision": kept_clean / kept if kept else None,
        "keep_recall": clean_kept / clean if clean else None,
        "kept": kept, "clean": clean,
        "planted_mode_tag_rate": tagged / faulty if faulty else None,
        "per_mode": per_mode,
        "errors_by_fault": errors,
        "truth_rows_missing_from_output": missing,
        "judge_separation": _separation(con),
        "per_fault_auc": _per_fault_auc(con),
        "reward_threshold_sweep": _sweep(con, vqa_threshold),
    }


def _columns(con) -> set[str]:
    return {r[0] for r in con.execute("DESCRIBE s").fetchall()}


def _separation(con) -> dict:
    """Per task and score column: AUC of clean vs faulty rows (ties count half), with counts."""
    cols = [c for c in ("reward_score", "vqa_score") if c in _columns(con)]
    out: dict = {}
    for col in cols:
        for task, auc, n_clean, n_faulty in con.execute(f"""
            WITH x AS (SELECT t.task, t.clean, s.{col} AS v FROM t JOIN s USING (sample_id)
                       WHERE s.{col} IS NOT NULL AND s.decision != 'error')
            SELECT c.task, avg(CASE WHEN c.v > f.v THEN 1.0 WHEN c.v = f.v THEN 0.5 ELSE 0.0 END),
                   count(DISTINCT c.rowid_c), count(DISTINCT f.rowid_f)
            FROM (SELECT *, row_number() OVER () AS rowid_c FROM x WHERE clean) c
            JOIN (SELECT *, row_number() OVER () AS rowid_f FROM x WHERE NOT clean) f USING (task)
            GROUP BY 1 ORDER BY 1""").fetchall():
            out.setdefault(task, {})[col] = {"auc": auc, "clean": n_clean, "faulty": n_faulty}
    return out


def _score_columns(con) -> list[str]:
    """The run's scalar judge columns: reward_score, every `<stage>_score` and sub-score (floats)."""
    from .decisions import REWARD_STAGE

    prefixes = tuple(f"{stage}_" for stage in (*REWARD_STAGE.values(), "vqa"))
    return [name for name, dtype, *_ in con.execute("DESCRIBE s").fetchall()
            if dtype == "DOUBLE" and (name == "reward_score" or name.startswith(prefixes))]


def _per_fault_auc(con) -> dict:
    """Per task, planted fault and score column: AUC of the task's clean rows against that fault's
    rows (ties count half), over rows the column scored."""
    out: dict = {}
    for col in _score_columns(con):
        for task, fault, auc, n in con.execute(f"""
            WITH x AS (SELECT t.task, t.clean, t.fault, s."{col}" AS v FROM t JOIN s USING (sample_id)
                       WHERE s."{col}" IS NOT NULL AND s.decision != 'error')
            SELECT f.task, f.fault, avg(CASE WHEN c.v > f.v THEN 1.0 WHEN c.v = f.v THEN 0.5 ELSE 0.0 END),
                   count(DISTINCT f.rid)
            FROM (SELECT *, row_number() OVER () AS rid FROM x WHERE NOT clean AND fault IS NOT NULL) f
            JOIN (SELECT * FROM x WHERE clean) c USING (task)
            GROUP BY 1, 2 ORDER BY 1, 2""").fetchall():
            out.setdefault(task, {}).setdefault(fault, {"n": n})[col] = auc
    return out


def _sweep(con, vqa_threshold: float) -> list[dict]:
    """Keep precision/recall at each reward threshold, VQAScore threshold and cheap checks fixed."""
    if "reward_score" not in _columns(con):
        return []
    vqa_ok = "(s.vqa_score IS NULL OR s.vqa_score >= ?)" if "vqa_score" in _columns(con) else "(? IS NOT NULL)"
    rows = []
    for th in SWEEP_THRESHOLDS:
        kept, kept_clean, clean = con.execute(f"""
            SELECT count(*) FILTER (WHERE k), count(*) FILTER (WHERE k AND t.clean), count(*) FILTER (WHERE t.clean)
            FROM t JOIN (SELECT sample_id, s.decision != 'error' AND s.reward_score >= ? AND {vqa_ok} AS k FROM s)
            USING (sample_id)""", [th, vqa_threshold]).fetchone()
        rows.append({"reward_threshold": th, "kept": kept,
                     "keep_precision": kept_clean / kept if kept else None,
                     "keep_recall": kept_clean / clean if clean else None})
    return rows


def format_measurement(m: dict) -> str:
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}%"

    lines = [f"measured against known truth: keep precision {pct(m['keep_precision'])} "
             f"({m['kept']} kept), keep recall {pct(m['keep_recall'])} ({m['clean']} clean), "
             f"planted mode tagged on {pct(m['planted_mode_tag_rate'])} of faulty samples"]
    for mode, d in m["per_mode"].items():
        lines.append(f"  {mode:24s} faulty={d['faulty']:4d} rejected={d['rejected']:4d} "
                     f"tagged={d['planted_mode_tagged']:4d} ({pct(d['tag_rate'])})")
    for task, cols in m.get("judge_separation", {}).items():
        lines.append(f"  {task}: clean-vs-faulty AUC " + ", ".join(
            f"{c} {d['auc']:.3f}" for c, d in cols.items() if d["auc"] is not None))
    sweep = [r for r in m.get("reward_threshold_sweep", []) if r["kept"]]
    if sweep:
        lines.append("  reward threshold sweep (precision/recall of keep): " + ", ".join(
            f"{r['reward_threshold']}: {pct(r['keep_precision'])}/{pct(r['keep_recall'])}" for r in sweep))
    if m["errors_by_fault"]:
        lines.append("  error rows by planted fault: " + ", ".join(f"{k}={v}" for k, v in m["errors_by_fault"].items()))
    return "\n".join(lines)


def write_measurement(output: str | Path, m: dict) -> Path:
    """Store `m` with the run's metadata (`.run/`, which neither the shard globs nor `datasets` read)."""
    path = OutputLayout(Path(output)).measurement
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(m, indent=2))
    return path

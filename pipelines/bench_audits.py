#!/usr/bin/env python
"""Benchmark every named audit on a large synthetic score table (metadata only, no image bytes).

    python pipelines/bench_audits.py                      # 10M rows, two runs, 3 repeats
    python pipelines/bench_audits.py --rows 1000000 --repeats 5 --dir /tmp/bench_audits

Writes two run folders in the scoring job's layout (task=*/decision=*/part-<pid>.parquet,
.run/manifest.json, .run/input_ids.pq, .run/summary.json) with the same sample ids and slightly
different scores and reward thresholds (so run_comparison has work to do), then times each
named audit through `AuditView` and prints the median, min and max seconds per audit.
The folders are reused when they already hold a table of the requested size (--regenerate
to rebuild).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from curation.audits import registry  # noqa: E402
from curation.audits.view import AuditView, _lit  # noqa: E402
from curation.shards import OutputLayout  # noqa: E402

SOURCES = ["pickapic", "laion_aes", "journeydb", "humanedit", "magicbrush", "ultraedit", "synthetic", "inhouse"]
ERRORS = ["unsupported or unrecognised image format (PIL cannot identify it)", "empty prompt (only whitespace)",
          "image: cannot decode image: OSError: image file is truncated", "edit row has no source_image",
          "decompression bomb: Image size exceeds limit", "image file not found: images/missing.png"]


def u(i: str, salt: int) -> str:
    """A deterministic uniform [0, 1) from the row number (random() is not reproducible across threads)."""
    return f"((hash({i}, {salt}) % 1000003) / 1000003.0)"


def generate(root: Path, rows: int, rows_per_partition: int, variant: int, reward_threshold: float,
             vqa_threshold: float = 0.5) -> None:
    """One run folder with `rows` output rows (0.5 % of ids duplicated in the input)."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    con = duckdb.connect(":memory:")
    run_id = f"20260101T000000Z-bench{variant}"
    config_hash = f"benchconfig{variant:05d}"
    noise = 0.03 * variant
    err_list = "[" + ", ".join("'" + e.replace("'", "''") + "'" for e in ERRORS) + "]"
    src_list = "[" + ", ".join(f"'{s}'" for s in SOURCES) + "]"
    con.execute(f"""
    CREATE TABLE base AS
    SELECT i,
           'sample-' || lpad(i::VARCHAR, 9, '0') AS sample_id,
           printf('%05d-bench', i // {rows_per_partition}) AS input_partition,
           CASE WHEN {u('i', 1)} < 0.7 THEN 't2i' ELSE 'edit' END AS task,
           {src_list}[1 + CAST(floor({u('i', 2)} * {len(SOURCES)}) AS INT)] AS source,
           {u('i', 3)} < 0.01 AS is_error,
           {err_list}[1 + CAST(floor({u('i', 4)} * {len(ERRORS)}) AS INT)] AS err,
           {u('i', 5)} < 0.005 AS dup,
           least(1.0, greatest(0.0, pow({u('i', 6)}, 0.25) + {noise} * ({u('i', 7 + variant)} - 0.5))) AS r,
           {u('i', 8)} AS a, {u('i', 9)} AS b, {u('i', 10)} AS c, {u('i', 11)} AS d
    FROM range({rows}) t(i)
    """)
    con.execute("""
    CREATE TABLE scored AS
    SELECT *, CASE WHEN is_error THEN NULL ELSE least(1.0, 0.55 * r + 0.45 * pow(a, 0.5)) END AS v,
              CASE WHEN is_error THEN NULL ELSE least(1.0, r + 0.2 * b) END AS s1,
              CASE WHEN is_error THEN NULL ELSE least(1.0, r + 0.2 * c) END AS s2,
              CASE WHEN is_error OR task = 't2i' THEN NULL ELSE least(1.0, r + 0.2 * d) END AS s3
    FROM base
    """)
    th_r, th_v = reward_threshold, vqa_threshold
    con.execute(f"""
    CREATE TABLE shards AS
    WITH m AS (
      SELECT *,
        CASE WHEN is_error THEN [] ELSE list_filter([
            CASE WHEN v < {th_v} THEN (CASE task WHEN 't2i' THEN 'instruction_alignment' ELSE 'edit_noncompliance' END) END,
            CASE WHEN r < {th_r} AND s1 < 0.5 THEN (CASE task WHEN 't2i' THEN 'instruction_alignment' ELSE 'edit_noncompliance' END) END,
            CASE WHEN r < {th_r} AND s2 < 0.5 THEN (CASE task WHEN 't2i' THEN 'visual_artifacts' ELSE 'semantic_inconsistency' END) END,
            CASE WHEN r < {th_r} AND s3 < 0.5 THEN 'visual_artifacts' END
          ], lambda x: x IS NOT NULL) END AS modes0
      FROM scored)
    SELECT sample_id, task,
           CASE task WHEN 't2i' THEN 'a photo of object ' || (i % 5000) ELSE 'make the sky ' || (i % 300) END AS prompt,
           {{'bytes': NULL::BLOB, 'path': 'images/' || i || '.png'}} AS image,
           CASE WHEN task = 'edit' THEN {{'bytes': NULL::BLOB, 'path': 'images/src-' || i || '.png'}} END AS source_image,
           source, CASE WHEN task = 'edit' THEN '{{"target_description": "a picture"}}' END AS meta,
           CASE task WHEN 't2i' THEN 'a photo of object ' || (i % 5000) ELSE 'a picture' END AS vqa_text,
           512::BIGINT AS image_width, 512::BIGINT AS image_height,
           CASE WHEN is_error THEN err END AS error, []::VARCHAR[] AS notes,
           CASE WHEN NOT is_error AND len(modes0) = 0 AND r < {th_r}
                THEN [CASE task WHEN 't2i' THEN 'semantic_inconsistency' ELSE 'edit_noncompliance' END]
                ELSE list_distinct(modes0) END AS failure_modes,
           CASE WHEN dup THEN 2 ELSE 1 END::BIGINT AS duplicate_count,
           'candidates/part-' || lpad((i // 100000)::VARCHAR, 4, '0') || '.parquet' AS input_file,
           (i % 100000)::BIGINT AS input_row, input_partition,
           CASE WHEN task = 't2i' AND NOT is_error THEN r END AS img_reward_score,
           CASE WHEN task = 't2i' AND NOT is_error THEN s1 END AS img_reward_alignment,
           CASE WHEN task = 't2i' AND NOT is_error THEN s2 END AS img_reward_fidelity,
           CASE WHEN task = 't2i' THEN 'unipic/img-reward-v{variant}' END AS img_reward_model_id,
           CASE WHEN task = 't2i' THEN 'main' END AS img_reward_model_revision,
           CASE WHEN task = 'edit' AND NOT is_error THEN r END AS edit_reward_score,
           CASE WHEN task = 'edit' AND NOT is_error THEN s1 END AS edit_reward_compliance,
           CASE WHEN task = 'edit' AND NOT is_error THEN s2 END AS edit_reward_consistency,
           CASE WHEN task = 'edit' AND NOT is_error THEN s3 END AS edit_reward_quality,
           CASE WHEN task = 'edit' THEN 'unipic/edit-reward-v{variant}' END AS edit_reward_model_id,
           CASE WHEN task = 'edit' THEN 'main' END AS edit_reward_model_revision,
           v AS vqa_score, 'unipic/vqascore' AS vqa_model_id, 'main' AS vqa_model_revision,
           'Does this figure show "{{}}"? Please answer yes or no.' AS vqa_template, 'Yes' AS vqa_answer,
           CASE WHEN NOT is_error THEN r END AS reward_score,
           CASE WHEN is_error THEN 'error' WHEN r >= {th_r} AND v >= {th_v} THEN 'keep' ELSE 'reject' END AS decision,
           '{run_id}' AS run_id, '{config_hash}' AS config_hash,
           TIMESTAMPTZ '2026-01-01 00:00:00+00' AS scored_at
    FROM m
    """)
    # One file per (task, decision, input partition), as the job writes them.
    tmp = root / "_tmp"
    con.execute(f"""COPY shards TO {_lit(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000,
                  PARTITION_BY (task, decision, input_partition), WRITE_PARTITION_COLUMNS true)""")
    finished: dict[str, dict] = {}
    for f in sorted(tmp.glob("task=*/decision=*/input_partition=*/*.parquet")):
        task, decision, pid = (p.name.split("=", 1)[1] for p in (f.parents[2], f.parents[1], f.parent))
        dest = root / f"task={task}" / f"decision={decision}" / f"part-{pid}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        f.rename(dest)
        finished.setdefault(pid, {"rows": 0, "files": []})["files"].append(str(dest.relative_to(root)))
    shutil.rmtree(tmp)
    layout = OutputLayout(root)
    layout.input_ids.parent.mkdir()
    con.execute(f"""COPY (SELECT input_partition, input_file, input_row, sample_id FROM shards
                          UNION ALL
                          SELECT input_partition, input_file, input_row + 1000000, sample_id FROM shards
                          WHERE duplicate_count = 2)
                  TO {_lit(layout.input_ids)} (FORMAT parquet, COMPRESSION zstd)""")
    parts = dict(con.execute("SELECT input_partition, count(*) FROM shards GROUP BY ALL").fetchall())
    dups = dict(con.execute("SELECT input_partition, count(*) FILTER (WHERE duplicate_count = 2) FROM shards "
                            "GROUP BY ALL").fetchall())
    for pid, info in finished.items():
        info["rows"] = parts[pid]
    manifest = {
        "run_id": run_id, "config_hash": config_hash, "input_fingerprint": "bench", "created_at": "2026-01-01",
        "config": {"thresholds": {"reward": th_r, "vqa": th_v, "sub_score": 0.5},
                   "img_reward": {"model": f"unipic/img-reward-v{variant}"},
                   "edit_reward": {"model": f"unipic/edit-reward-v{variant}"}, "vqa": {"model": "unipic/vqascore"}},
        "input_root": "candidates", "partitions": {p: n + dups[p] for p, n in parts.items()},
        "expected_rows": parts, "finished": finished, "ids_indexed": True,
        "duplicate_rows": sum(dups.values()), "attempts": [], "format_version": 1,
    }
    layout.manifest.write_text(json.dumps(manifest, indent=1))
    layout.summary.write_text(json.dumps({"run_id": run_id, "rows": rows}))
    con.close()


def existing_rows(root: Path) -> int | None:
    try:
        return json.loads(OutputLayout(root).summary.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rows-per-partition", type=int, default=500_000,
                    help="rows per input partition = per shard-file group (default 500000)")
    ap.add_argument("--dir", default="/tmp/bench_audits")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    ap.add_argument("--audits", nargs="*", help="only these audits")
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args(argv)

    root = Path(args.dir)
    runs = [root / "run_a", root / "run_b"]
    for variant, (path, th) in enumerate(zip(runs, (0.9, 0.85))):
        if args.regenerate or existing_rows(path) != args.rows:
            t = time.perf_counter()
            generate(path, args.rows, args.rows_per_partition, variant, th)
            print(f"generated {path}: {args.rows} rows in {time.perf_counter() - t:.1f}s", flush=True)
    files = len(list(runs[0].glob("task=*/decision=*/*.parquet")))
    size = sum(f.stat().st_size for f in runs[0].rglob("*.parquet")) / 2**20
    print(f"run folder: {files} shard files, {size:.0f} MiB (shards + input ids); threads={args.threads or 'all'}")

    names = args.audits or list(registry.audits())
    results = []
    # no statement timeout: a benchmark measures, it does not guard
    with AuditView(runs, threads=args.threads, timeout=None) as view:
        for name in names:
            audit = registry.get(name)
            params = {"run": 0} if any(p.name == "run" for p in audit.params) else {}
            times, cpus, n = [], [], 0
            for _ in range(args.repeats):
                t, c = time.perf_counter(), time.process_time()
                n = registry.run_audit(view, name, params).num_rows
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)  # all DuckDB threads: less sensitive to other load
            med, cpu = statistics.median(times), statistics.median(cpus)
            results.append((name, med, min(times), max(times), cpu, n))
            print(f"{name:22s} median {med:6.2f}s  (min {min(times):.2f}, max {max(times):.2f}; cpu {cpu:.2f}s; "
                  f"{n} result rows)", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nload average after the run: {load:.1f} on {os.cpu_count()} cores")
    print("| audit | median s | min s | max s | CPU s (median) | result rows |\n|---|---:|---:|---:|---:|---:|")
    for name, med, lo, hi, cpu, n in results:
        print(f"| {name} | {med:.2f} | {lo:.2f} | {hi:.2f} | {cpu:.2f} | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Benchmark every named audit on a large synthetic score table (metadata only, no image bytes).

    python pipelines/bench_audits.py                      # 10M rows, two runs, 3 repeats
    python pipelines/bench_audits.py --rows 1000000 --repeats 5 --dir /tmp/bench_audits

Writes two run folders in the scoring job's layout (`curation.audits.bench_runs.fabricate_run`:
scores drawn per row, decided by the job's rule) with the same sample ids and slightly
different scores and reward thresholds (so run_comparison has work to do), then times each
named audit through `AuditView` and prints the median, min and max seconds per audit.
The folders are reused when they already hold a table of the requested size (--regenerate
to rebuild).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.audits import registry  # noqa: E402
from curation.audits.bench_runs import fabricate_run  # noqa: E402
from curation.audits.view import AuditView  # noqa: E402
from curation.shards import OutputLayout  # noqa: E402


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
            fabricate_run(path, args.rows, args.rows_per_partition, variant, th)
            print(f"generated {path}: {args.rows} rows in {time.perf_counter() - t:.1f}s", flush=True)
    files = len(OutputLayout(runs[0]).all_shards())
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

#!/usr/bin/env python
"""Benchmark the scoring job: rows/s of the Ray job against a bare in-process loop.

Both score the same rows with the same judges and the same code (input reading and cheap
checks, the judge stages, decisions); the bare loop runs them one after the other in this
process with no Ray and writes nothing. The ratio job/bare shows what Ray Data's
orchestration, actor hops and shard writing cost (or win, with more than one actor).

    python pipelines/bench_score_job.py --rows 600 --repeats 3
    python pipelines/bench_score_job.py --rows 600 --num-actors 2     # two actors per judge

Judges default to the embedded default's (the shipped small judges).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bare_loop(cfg) -> tuple[int, float]:
    """The same work as the job, sequentially in this process (`curation.job.score_in_process`):
    (rows, seconds)."""
    from curation.job import score_in_process

    rows, t0 = 0, time.perf_counter()
    for block in score_in_process(cfg):
        rows += block.num_rows
    return rows, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-actors", type=int, default=1)
    p.add_argument("--rows-per-partition", type=int, default=100)
    p.add_argument("--img-reward-model")
    p.add_argument("--edit-reward-model")
    p.add_argument("--vqa-model")
    args = p.parse_args(argv)

    import ray

    from curation.config import ScoreJobConfig
    from curation.demo import demo_judges
    from curation.job import ensure_ray, run_score_job
    from synthetic import write_candidates

    tmp = Path(tempfile.mkdtemp(prefix="bench-score-"))
    write_candidates(tmp / "input", n=args.rows, seed=7, size=64, shards=4)
    judges = demo_judges()
    cfg = ScoreJobConfig()
    cfg.input.paths = [str(tmp / "input")]
    cfg.input.rows_per_partition = args.rows_per_partition
    cfg.img_reward.model = args.img_reward_model or judges["img_reward"]
    cfg.edit_reward.model = args.edit_reward_model or judges["edit_reward"]
    cfg.vqa.model = args.vqa_model or judges["vqascore"]
    for st in (cfg.img_reward, cfg.edit_reward, cfg.vqa):
        st.batch_size, st.num_actors, st.max_pixels = args.batch_size, args.num_actors, 64 * 64
    ensure_ray(cfg)
    job_rates, job_wall, bare_rates = [], [], []
    for i in range(args.repeats):
        cfg.output.path = str(tmp / f"out-{i}")
        t = time.perf_counter()
        result = run_score_job(cfg, echo=lambda *_: None)
        job_wall.append(result.rows_scored / (time.perf_counter() - t))
        job_rates.append(result.rows_scored / result.elapsed_s)
        rows, secs = bare_loop(cfg)
        bare_rates.append(rows / secs)
    job, wall, bare = (statistics.median(x) for x in (job_rates, job_wall, bare_rates))
    print(f"rows: {args.rows}, batch {args.batch_size}, {args.num_actors} actor(s) per judge, "
          f"{int(ray.cluster_resources().get('CPU', 0))} CPUs, medians of {args.repeats} runs")
    print(f"bare in-process loop:              {bare:8.1f} rows/s")
    print(f"Ray job (streaming part):          {job:8.1f} rows/s   ratio job/bare {job / bare:.2f}")
    print(f"Ray job (whole call, id pre-pass): {wall:8.1f} rows/s   ratio job/bare {wall / bare:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

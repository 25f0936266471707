#!/usr/bin/env python
"""Measure the judges end to end on a fresh synthetic candidate set with known truth.

Writes `--n` world candidates for `--seed` (planted faults, a few broken files), runs the
scoring job on them (shipped judges unless flags say otherwise), and prints and stores keep
precision/recall against the clean samples and, per failure mode, how often the planted mode
was tagged. Any further flags go to the scoring job (see `pipelines/score.py --help`).

    python pipelines/measure_world.py --seed 7 --n 600 [--out runs/measure/seed-7] [-- --reward-threshold 0.8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install

from curation.demo import DEMO_ROWS, DEMO_SEED  # noqa: E402
from curation.measure import format_measurement, measure_world  # noqa: E402
from curation.shards import OutputLayout  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=DEMO_SEED, help="candidate seed (the judges' cards list seeds to avoid)")
    p.add_argument("--n", type=int, default=DEMO_ROWS, help="number of candidates")
    p.add_argument("--out", type=Path, help="working folder (default runs/measure/seed-<seed>-n<n>)")
    p.add_argument("--json", action="store_true", help="print the measurement as JSON")
    args, score_args = p.parse_known_args(argv)
    score_args = [a for a in score_args if a != "--"]
    out = args.out or Path("runs") / "measure" / f"seed-{args.seed}-n{args.n}"
    m = measure_world(args.seed, args.n, out, score_args)
    print(json.dumps(m, indent=2) if args.json else format_measurement(m))
    print(f"measurement: {OutputLayout(out / 'shards').measurement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

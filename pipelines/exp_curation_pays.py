#!/usr/bin/env python
"""Does curation pay? Train the same tiny model on all candidates, on the judges' kept rows and on
the truly clean rows, with several seeds, and compare them on held-out prompts.

    python pipelines/exp_curation_pays.py            # the whole experiment at its defaults

With no arguments it writes world candidates (1000 text-to-image rows, 64 px, half with planted
faults, seed 20261202) with their answer key into `runs/curation-pays/candidates`, scores them with
the scoring job (shipped judges, the job's defaults) into `runs/curation-pays/shards`, and trains
the world model (preset `world` of `unipic.presets`, 48 px) on three arms: `all` (every readable
candidate), `judged` (the job's decision=keep rows) and `oracle` (the rows the answer key says are
clean), seeds 0, 1, 2, 2000 steps of 32, evaluating every 400 steps with the GenEval-style
evaluation (`unipic.evaluate`: 16 held-out prompts per category, none a candidate caption) and on
the scene family's held-out colour-shape pairs. Two budgets: equal steps, and equal distinct
samples (every arm trains the same steps on the same number of its own distinct rows, the oracle
arm's size by default). An arm with no rows is reported as blocked, not trained. Existing
candidates and a finished scoring run are reused.

The candidates are the world's own (`synthetic.write_candidates`: faults, truth, broken files),
kept when their prompted scene is of the family `--scenes`: by default `learning`, the learning
test's scenes (one object in the centre on white) minus three held-out colour-shape pairs, the
family in which the tiny model learns colour within the CPU budget (see
`unipic/train/curation_pays.py` for the diagnosis); `centre`, `single` and `any` widen it.

Writes `<out>/curation_pays.json` (arms with their rows and fault rates counted against the truth,
the judges' precision and recall, every run's curve, mean +- sd per category, paired differences),
`<out>/table.md` and `<out>/curation_pays.png` (accuracy against steps, one line per arm with its
spread). See `unipic/train/curation_pays.py`.

    python pipelines/exp_curation_pays.py --seeds 0 1 2 3 4 --steps 3000 --n-candidates 4000
    python pipelines/exp_curation_pays.py --candidates DIR --shards JOB_OUTPUT   # your own run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install


def main(argv: list[str] | None = None) -> dict:
    from unipic.train.curation_pays import CurationPaysConfig, run_curation_pays

    d = CurationPaysConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=d.out, help=f"output folder (default {d.out})")
    p.add_argument("--candidates", default=None, help="candidates folder (default <out>/candidates, written if absent)")
    p.add_argument("--n-candidates", type=int, default=d.n_candidates, help="candidates written when absent")
    p.add_argument("--candidates-seed", type=int, default=d.candidates_seed)
    p.add_argument("--edit-fraction", type=float, default=d.edit_fraction,
                   help="share of edit rows in written candidates (the world's mix: 0.4)")
    p.add_argument("--scenes", default=d.scenes, choices=["centre", "single", "any"],
                   help="scene family of written candidates: one centred object (default), one object anywhere, "
                        "or the world's scenes as written")
    p.add_argument("--shards", default=None, help="the scoring job's output over the candidates (default: run it)")
    p.add_argument("--score-arg", dest="score_args", action="append", default=[], metavar="FLAG",
                   help="extra scoring-job flag for the job the experiment runs (repeat; e.g. --score-arg=--reward-threshold=0.8)")
    p.add_argument("--seeds", type=int, nargs="+", default=d.seeds, help="training seeds per arm (default 0 1 2)")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--per-category", type=int, default=d.per_category, help="held-out prompts per GenEval category")
    p.add_argument("--edit", action="store_true", help="also train editing on the arms' edit rows")
    p.add_argument("--distinct", type=int, default=None,
                   help="distinct rows per arm at the equal-distinct budget (default: the oracle arm's; 0: skip)")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads (1 is fastest here)")
    args = p.parse_args(argv)
    return run_curation_pays(CurationPaysConfig(**vars(args)))


if __name__ == "__main__":
    main()

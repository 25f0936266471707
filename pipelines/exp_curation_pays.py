#!/usr/bin/env python
"""Does curation pay? Train the same tiny model twice, on all candidates and on the kept shards.

Input: a candidates folder (synthetic candidates with planted faults: `candidates-*.parquet`
and the answer key `truth.parquet`) and the scoring job's shards over the same candidates.
Both arms train the world model (preset `world` of `unipic.presets`: tiny UniPic, PCA patch codec, 48 px)
from the same initial weights, for the same steps with the same seed and batch size, stage
`ct` (text-to-image and editing): arm `all` reads every readable candidate row, arm `keep`
reads the shards' `decision=keep` rows. Each arm's final EMA model is then scored by the
GenEval-style evaluation (`unipic.evaluate`): held-out prompts spread evenly over its six
categories (world captions from its fixed seed, none equal to a candidate caption), the images
read back with `synthetic.truth`. Prints and writes `<out>/curation_pays.json`: per arm the rows
read, the share of planted faults among them, and under `prompt_match` the per-category accuracy,
the overall score and the caption-match rates (colour, shape, count, position, all), plus the
untrained model's; unless `--no-edit`, also `edit_check`: per edit kind the share of held-out
instructions whose requested change happened with the rest unchanged.

    python pipelines/exp_curation_pays.py --candidates runs/demo/candidates --shards runs/demo/shards \
        [--out runs/curation-pays] [--steps 6000] [--batch-size 32] [--lr 3e-3] [--eval-prompts 96] \
        [--single-object-eval] [--eval-edits 8] [--no-edit] [--seed 0] [--threads 1]
    # reference point without judges: decisions from the answer key, on a larger candidate set
    python pipelines/exp_curation_pays.py --candidates runs/cands2k --make-candidates 2000 --oracle ...

An arm with no rows to train on (e.g. `keep` when the judges kept nothing) is reported as
blocked rather than trained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidates", required=True, help="folder with candidates-*.parquet and truth.parquet")
    p.add_argument("--shards", default=None, help="the scoring job's output over those candidates")
    p.add_argument("--min-reward", type=float, default=None,
                   help="keep arm: re-apply this reward threshold to every scored row instead of reading decision=keep")
    p.add_argument("--min-vqa", type=float, default=None, help="keep arm: with --min-reward, also this VQAScore threshold")
    p.add_argument("--oracle", action="store_true",
                   help="instead of --shards, decide rows by the answer key (what perfect judges would keep)")
    p.add_argument("--make-candidates", type=int, default=0, metavar="N",
                   help="first write N synthetic candidates (64 px, seed --candidates-seed) into --candidates")
    p.add_argument("--candidates-seed", type=int, default=20261128)
    p.add_argument("--out", default="runs/curation-pays")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-prompts", type=int, default=96,
                   help="held-out prompts per arm, spread evenly over the GenEval categories")
    p.add_argument("--single-object-eval", action="store_true",
                   help="only the single-object GenEval categories (single object, colours)")
    p.add_argument("--eval-edits", type=int, default=8,
                   help="held-out edit instructions per edit kind for the editing check (0 or --no-edit: none)")
    p.add_argument("--no-edit", action="store_true", help="train text-to-image only")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (the tiny model runs fastest on one; more thrash on shared cores)")
    args = p.parse_args(argv)
    from unipic.train.curation_pays import CurationPaysConfig, run_curation_pays

    if not args.oracle and not args.shards:
        p.error("give --shards (the scoring job's output) or --oracle")
    return run_curation_pays(CurationPaysConfig(**vars(args)))


if __name__ == "__main__":
    main()

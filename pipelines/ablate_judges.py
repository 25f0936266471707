#!/usr/bin/env python
"""Ablate the shipped judges through the real scoring job on one unseen seed: their readout against
other judge folders (e.g. an earlier recipe's describe-then-answer or direct judges, `--judges`), from
the base VLM vs from scratch, all without calibration (the recipe's card gives before vs after).

    python pipelines/ablate_judges.py [--seed 7 --n 400] [--judges LABEL=FOLDER ...]   # after the recipe

Writes runs/shipped-judges/ablation/ablation.json and ablation.md (see recipes/judge_ablation.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install


def main(argv: list[str] | None = None) -> int:
    from recipes.judge_ablation import ablate
    from recipes.shipped_judges import Recipe

    d = Recipe()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=d.measure_seed, help="candidate seed (never trained on)")
    p.add_argument("--n", type=int, default=d.measure_rows, help="candidates")
    p.add_argument("--out", type=Path, default=d.out, help="the recipe's judge folder")
    p.add_argument("--work", type=Path, default=d.work, help="the recipe's scratch folder")
    p.add_argument("--judges", nargs="*", default=[], metavar="LABEL=FOLDER",
                   help="more judge folders to measure beside the variants (each holding img_reward, edit_reward, vqascore)")
    args = p.parse_args(argv)
    extra = {}
    for item in args.judges:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            p.error(f"--judges takes LABEL=FOLDER, not {item!r}")
        extra[label] = Path(folder)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out = ablate(Recipe(out=args.out, work=args.work), args.seed, args.n, extra)
    print(out["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

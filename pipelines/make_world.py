"""Write one synthetic-world set to disk in its real dataset layout.

    python pipelines/make_world.py --set candidates --n 200 --seed 0 --size 64 --out runs/world/candidates

For imagerewarddb `--n` is the number of prompts (3-5 images each); for hpdv2 `--split test`
writes ranked groups. All logic lives in `synthetic.writers`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic.writers import WRITERS  # noqa: E402

SPLIT_SETS = {"pickapic", "imagerewarddb", "hpdv2", "vqa", "understanding"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", required=True, choices=sorted(WRITERS), dest="which")
    p.add_argument("--n", type=int, required=True, help="rows (prompts for imagerewarddb)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64, help="image side in px (32..256)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--split", default="train", help="split name (pickapic, imagerewarddb, hpdv2, vqa, understanding)")
    p.add_argument("--shards", type=int, default=2, help="candidates: number of Parquet shards")
    p.add_argument("--edit-fraction", type=float, default=0.4, help="candidates: share of edit rows")
    p.add_argument("--fault-fraction", type=float, default=0.5, help="candidates: share of faulty rows")
    p.add_argument("--n-broken", type=int, default=3, help="candidates: rows with unreadable image bytes")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> list[Path]:
    args = parse_args(argv)
    kwargs: dict = {}
    if args.which in SPLIT_SETS:
        kwargs["split"] = args.split
    if args.which == "candidates":
        kwargs.update(shards=args.shards, edit_fraction=args.edit_fraction, fault_fraction=args.fault_fraction,
                      n_broken=args.n_broken)
    paths = WRITERS[args.which](args.out, args.n, args.seed, args.size, **kwargs)
    for path in paths:
        print(f"wrote {path}")
    print(f"{args.which}: n={args.n} seed={args.seed} size={args.size} -> {args.out}")
    return paths


if __name__ == "__main__":
    main()

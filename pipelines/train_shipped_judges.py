#!/usr/bin/env python
"""Train the shipped small judges (VQAScore, ImgReward, EditReward) on the synthetic world.

    python pipelines/train_shipped_judges.py            # -> reward_models/shipped/{vqascore,img_reward,edit_reward}

A tiny Qwen2.5-VL is built locally; the judges are trained by the project's entry points
(`pipelines/train_vqascore.py`, `train_img_reward.py`, `train_edit_reward.py`) on world data
written in the real datasets' layouts, checked on held-out world candidates and saved with
`save_pretrained` plus model cards (seeds, data sizes, steps, held-out metrics, this command).
The recipe is `reward_models/shipped.py`. CPU only: about 20-30 minutes with one thread.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install


def main(argv: list[str] | None = None) -> int:
    from reward_models.shipped import JUDGES, Recipe

    d = Recipe()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=d.out, help="folder for the three judges (default: %(default)s)")
    p.add_argument("--work", type=Path, default=d.work, help="scratch folder for data and the base model")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every data size (e.g. 0.05 for a smoke run)")
    p.add_argument("--only", nargs="+", choices=JUDGES, default=list(JUDGES),
                   help="train only these (img_reward and edit_reward start from OUT/vqascore)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for these tiny models)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from reward_models.shipped import train_shipped_judges

    recipe = Recipe(out=args.out, work=args.work)
    if args.scale != 1.0:
        recipe = recipe.scaled(args.scale)
    command = "python pipelines/train_shipped_judges.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    result = train_shipped_judges(recipe, command=command, only=tuple(args.only))
    print(json.dumps({"wall_seconds": result["wall_seconds"], "total_seconds": result["total_seconds"],
                      "held_out_decision_rule": {k: v for k, v in result["held_out"]["decision_rule"].items()
                                                 if k != "per_fault"}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

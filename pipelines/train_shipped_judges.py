#!/usr/bin/env python
"""Train the shipped small judges on the synthetic world: base VLM, VQAScore, ImgReward, EditReward,
then calibration and a measurement on an unseen seed.

    python pipelines/train_shipped_judges.py      # -> reward_models/shipped/{base_vlm,vqascore,img_reward,edit_reward}

A tiny Qwen2.5-VL is built locally, taught to describe world images (`pipelines/train_base_vlm.py`),
and the judges are trained from it by the project's entry points (`pipelines/train_vqascore.py`,
`train_img_reward.py`, `train_edit_reward.py`) on world data written in the real datasets'
layouts; the reward judges are calibrated and everything is measured through the real scoring
job; cards carry seeds, data sizes, steps, wall times and held-out figures. The recipe is
`recipes/shipped_judges.py`. CPU only; a killed run resumes at its first unfinished stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install


def main(argv: list[str] | None = None) -> int:
    from recipes.shipped_judges import Recipe, train_shipped_judges

    d = Recipe()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=d.out, help="folder for the base VLM and the judges (default: %(default)s)")
    p.add_argument("--work", type=Path, default=d.work, help="scratch folder: data, logs, stage markers, job runs")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every data size and step count (e.g. 0.05 for a smoke run)")
    p.add_argument("--jobs", type=int, default=d.jobs, help="judges trained at once after the base (one thread each)")
    p.add_argument("--stop-after", choices=["base_vlm"], help="stop after this stage (a rerun resumes from there)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    recipe = Recipe(out=args.out, work=args.work, jobs=args.jobs)
    if args.scale != 1.0:
        recipe = recipe.scaled(args.scale)
    given = [a for a in (argv if argv is not None else sys.argv[1:])]
    if "--stop-after" in given:  # the card names the command that makes everything
        i = given.index("--stop-after")
        given = given[:i] + given[i + 2:]
    command = "python pipelines/train_shipped_judges.py" + "".join(f" {a}" for a in given)
    result = train_shipped_judges(recipe, command=command, stop_after=args.stop_after)
    if args.stop_after:
        print(json.dumps(result, indent=2, default=str))
        return 0
    after = result["measure"]["after"]
    print(json.dumps({"total_seconds": result["total_seconds"], "wall_seconds": result["wall_seconds"],
                      "perception": result["perception"],
                      "held_out": {k: after[k] for k in ("keep_precision", "keep_recall", "planted_mode_tag_rate")},
                      "judge_separation": after["judge_separation"]}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

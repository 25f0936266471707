"""Probe: the likelihood readout (`reward_models/judging/likelihood.py`) on world candidates.

Reads every candidate of a seed with a describer checkpoint (t2i: the caption as an answer to the
describe question; edit: the instruction as an answer to the change question) and prints, per
aspect, the clean-vs-faulty AUC over all faults and per planted fault. Minutes, no scoring job:
for choosing a describer before the judges are built from it (the judges' figures come from the
job: `pipelines/measure_world.py`).

    python scripts/probe_caption_likelihood.py MODEL SEED N
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from recipes.shipped_judges import likelihood_specs  # noqa: E402
from reward_models.judging.likelihood import LikelihoodReadout, LikelihoodSpec  # noqa: E402
from synthetic.sets import candidates  # noqa: E402

SPECS = {"t2i": LikelihoodSpec.from_json(likelihood_specs()["img_reward"]),
         "edit": LikelihoodSpec.from_json(likelihood_specs()["edit_reward"])}


def auc(pos, neg) -> float:
    """The project's AUC (`reward_models.vqascore.train.auc`), NaN when a side is empty."""
    from reward_models.vqascore.train import auc as project_auc

    value = project_auc(np.asarray(pos, float), np.asarray(neg, float))
    return float("nan") if value is None else value


def main():
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model_dir, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    proc = AutoProcessor.from_pretrained(model_dir)
    for task, spec in SPECS.items():
        ro = LikelihoodReadout(model, proc, spec)
        rows, faults = [], []
        for r in candidates(n, seed):
            if r["task"] != task or not r["image"]:
                continue
            try:
                img = Image.open(io.BytesIO(r["image"])).convert("RGB")
            except Exception:
                continue
            imgs = [Image.open(io.BytesIO(r["source_image"])).convert("RGB"), img] if task == "edit" else [img]
            rows.append((imgs, r["prompt"]))
            faults.append(json.loads(r["meta"])["fault"] or "clean")
        res = ro.read(rows)
        faults = np.array(faults)
        kinds = sorted(set(faults) - {"clean"})
        print(f"== {task}: {len(rows)} rows")
        for a, v in res.items():
            x = v.mean
            print(f"{a:12s} all {auc(x[faults == 'clean'], x[faults != 'clean']):.3f} | " + " ".join(
                f"{f}:{auc(x[faults == 'clean'], x[faults == f]):.2f}" for f in kinds))
        x = res["overall"].mean
        print("clean overall quantiles 5/10/20/50%:", np.quantile(x[faults == "clean"], [.05, .1, .2, .5]).round(3),
              " faulty 50/80/90%:", np.quantile(x[faults != "clean"], [.5, .8, .9]).round(3))


if __name__ == "__main__":
    main()

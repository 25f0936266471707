"""Ablations of the shipped judges, measured through the real scoring job on one unseen seed.

Variants (each scored by the job on the same candidates, raw and with a calibration map fitted on
the recipe's calibration seed, the shipped way):

- `shipped`: describe-then-answer judges from the base VLM (the recipe's output);
- `read_directly`: the same checkpoints read without their descriptions (the direct readout:
  an empty `<think>`), no retraining;
- `direct_from_base`: ImgReward and EditReward trained from the base VLM with the direct layout
  (same data and steps), VQAScore as shipped;
- `direct_from_scratch`: every judge trained from the random starting model (no base VLM), direct.

`python pipelines/ablate_judges.py` writes `work/ablation/ablation.json` and a Markdown table.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from recipes.shipped_judges import (
    JUDGES,
    Recipe,
    Stages,
    fit_calibration,
    score_world,
    shard_scores,
    train_stage,
)

logger = logging.getLogger(__name__)

VARIANTS = ("shipped", "read_directly", "direct_from_base", "direct_from_scratch")


def _copy_judges(src: Path, dst: Path, direct: bool = False) -> Path:
    """The three judges of `src` under `dst`, without calibration maps (and read directly if asked)."""
    from reward_models.calibration import CALIBRATION_FILE
    from reward_models.training.layout import LAYOUT_FILE

    if dst.exists():
        shutil.rmtree(dst)
    for name in JUDGES:
        shutil.copytree(src / name, dst / name, ignore=shutil.ignore_patterns(CALIBRATION_FILE, "README.md"))
        layout = dst / name / LAYOUT_FILE
        if direct and layout.exists():
            data = json.loads(layout.read_text())
            data["describe_question"] = ""
            layout.write_text(json.dumps(data, indent=2))
    return dst


def train_variants(r: Recipe, stages: Stages, root: Path) -> dict[str, Path]:
    """Judge folders per variant (training those that need it; two at a time)."""
    data = {k: Path(v) for k, v in stages.done("data")["paths"].items()}
    init, base = r.work / "init", r.out / "base_vlm"
    folders = {"shipped": _copy_judges(r.out, root / "shipped" / "judges"),
               "read_directly": _copy_judges(r.out, root / "read_directly" / "judges", direct=True)}
    jobs = {  # (variant, judge) -> (start, describe)
        ("direct_from_base", "img_reward"): (base, False),
        ("direct_from_base", "edit_reward"): (base, False),
        ("direct_from_scratch", "img_reward"): (init, False),
        ("direct_from_scratch", "edit_reward"): (init, False),
        ("direct_from_scratch", "vqascore"): (init, None),
    }
    var_stages = Stages(r)
    var_stages.dir = root / "done"

    def run(key):
        variant, judge = key
        start, describe = jobs[key]
        out = root / variant / "judges" / judge
        kw = {} if describe is None else {"describe": describe}
        return train_stage(r, var_stages, f"{judge}:{variant}", start, data, out, **kw)

    with ThreadPoolExecutor(max_workers=max(1, r.jobs)) as pool:
        results = dict(zip(jobs, pool.map(run, jobs)))
    for variant in ("direct_from_base", "direct_from_scratch"):
        folder = root / variant / "judges"
        for judge in JUDGES:
            if not (folder / judge).exists():
                shutil.copytree(r.out / judge, folder / judge,
                                ignore=shutil.ignore_patterns("calibration.json", "README.md"))
        folders[variant] = folder
    (root / "trained.json").write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in results.items()}, indent=2,
                                                  default=str))
    return folders


def measure_variant(r: Recipe, root: Path, variant: str, judges: Path, seed: int, rows: int) -> dict:
    """Raw measurement on `seed`, then calibrated on the recipe's calibration seed and measured again."""
    done = root / variant / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    raw = score_world(root / variant / "raw", seed, rows, judges)
    cal_run = root / variant / "calibration"
    score_world(cal_run, r.calibration_seed, r.calibration_rows, judges)
    cal_rows = shard_scores(cal_run)
    for stage in ("img_reward", "edit_reward"):
        fit_calibration(cal_rows, stage, f"ablation {variant}: calibration seed {r.calibration_seed}").save(judges / stage)
    calibrated = score_world(root / variant / "calibrated", seed, rows, judges)
    result = {"raw": raw, "calibrated": calibrated}
    done.write_text(json.dumps(result, indent=2, default=str))
    return result


def summarize(result: dict) -> dict:
    def fig(m):
        sep = m["judge_separation"]
        return {"precision": m["keep_precision"], "recall": m["keep_recall"], "kept": m["kept"],
                "tag_rate": m["planted_mode_tag_rate"],
                **{f"auc {t} {c.replace('_score', '')}": sep.get(t, {}).get(c, {}).get("auc")
                   for t in ("t2i", "edit") for c in ("reward_score", "vqa_score")}}

    return {"raw": fig(result["raw"]), "calibrated": fig(result["calibrated"])}


def table(results: dict) -> str:
    def f(x):
        return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))

    cols = ["precision", "recall", "kept", "tag_rate", "auc t2i reward", "auc t2i vqa", "auc edit reward",
            "auc edit vqa"]
    lines = ["| variant | calibration | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for variant, res in results.items():
        s = summarize(res)
        for which in ("raw", "calibrated"):
            lines.append(f"| {variant} | {'after' if which == 'calibrated' else 'before'} | "
                         + " | ".join(f(s[which][c]) for c in cols) + " |")
    return "\n".join(lines)


def ablate(r: Recipe, seed: int | None = None, rows: int | None = None) -> dict:
    seed = r.measure_seed if seed is None else seed
    rows = r.measure_rows if rows is None else rows
    stages = Stages(r)
    if not stages.done("measure"):
        raise RuntimeError("run the recipe first (python pipelines/train_shipped_judges.py)")
    root = r.work / "ablation"
    t0 = time.time()
    folders = train_variants(r, stages, root)
    results = {v: measure_variant(r, root, v, folders[v], seed, rows) for v in VARIANTS}
    out = {"seed": seed, "rows": rows, "wall_seconds": round(time.time() - t0, 1),
           "summary": {v: summarize(res) for v, res in results.items()}, "table": table(results)}
    (root / "ablation.json").write_text(json.dumps(out, indent=2, default=str))
    (root / "ablation.md").write_text(out["table"] + "\n")
    return out

"""Ablations of the shipped judges, measured through the real scoring job on one unseen seed.

Variants (each scored by the job on the same candidates, without calibration maps: the recipe's
own measurement gives the shipped judges before and after calibration):

- `shipped`: the recipe's judges as they are read by default;
- `from_scratch` (likelihood recipe): ImgReward and EditReward are the random starting model read
  by likelihood (what the base VLM's describing adds), VQAScore as shipped;
- `read_directly` (answer recipe): the same checkpoints read without their descriptions (the
  direct readout: an empty `<think>`), no retraining;
- `direct_from_base` (answer recipe): ImgReward and EditReward trained from the base VLM with the
  direct layout (same data and steps), VQAScore as shipped;
- `direct_from_scratch` (answer recipe): every judge trained from the random starting model (no
  base VLM), direct;
- any other judge folders given by label (`extra`), e.g. an earlier recipe's judges, read as their
  layouts say (describe-then-answer, direct or likelihood).

`python pipelines/ablate_judges.py` writes `work/ablation/ablation.json` and a Markdown table.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from recipes.shipped_judges import JUDGES, Recipe, Stages, score_world, train_stage

logger = logging.getLogger(__name__)

def _copy_judges(src: Path, dst: Path, direct: bool = False) -> Path:
    """The three judges of `src` under `dst`, without calibration maps (read directly if asked: an
    empty `<think>`, answer tokens rather than a likelihood readout)."""
    from reward_models.calibration import CALIBRATION_FILE
    from reward_models.judging.layout import LAYOUT_FILE

    if dst.exists():
        shutil.rmtree(dst)
    for name in JUDGES:
        shutil.copytree(src / name, dst / name, ignore=shutil.ignore_patterns(CALIBRATION_FILE, "README.md"))
        layout = dst / name / LAYOUT_FILE
        if direct and layout.exists():
            data = json.loads(layout.read_text())
            data["describe_question"] = ""
            data["likelihood"] = {}
            layout.write_text(json.dumps(data, indent=2))
    return dst


def likelihood_variants(r: Recipe, root: Path) -> dict[str, Path]:
    """The likelihood recipe's variants: no training, each a copy of judge folders."""
    from recipes.shipped_judges import likelihood_judge

    folders = {"shipped": _copy_judges(r.out, root / "shipped" / "judges")}
    scratch = root / "from_scratch" / "judges"
    _copy_judges(r.out, scratch)
    scratch_stages = Stages(r)
    scratch_stages.dir = root / "from_scratch" / "done"
    for judge in ("img_reward", "edit_reward"):
        (scratch_stages.dir / f"{judge}.json").unlink(missing_ok=True)
        likelihood_judge(r, scratch_stages, judge, r.work / "init", scratch / judge)
    folders["from_scratch"] = scratch
    return folders


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


def measure_variant(root: Path, variant: str, judges: Path, seed: int, rows: int) -> dict:
    """The job's measurement of one variant's judges (no calibration maps) on `seed`."""
    done = root / variant / f"result-{seed}-{rows}.json"
    if done.exists():
        return json.loads(done.read_text())
    result = score_world(root / variant / "raw", seed, rows, judges)
    done.write_text(json.dumps(result, indent=2, default=str))
    return result


COLUMNS = ("precision", "recall", "kept", "tag_rate", "auc t2i reward", "auc t2i vqa", "auc edit reward",
           "auc edit vqa")


def summarize(m: dict) -> dict:
    """The table's figures from one measurement."""
    sep = m["judge_separation"]
    return {"precision": m["keep_precision"], "recall": m["keep_recall"], "kept": m["kept"],
            "tag_rate": m["planted_mode_tag_rate"],
            **{f"auc {t} {c.replace('_score', '')}": sep.get(t, {}).get(c, {}).get("auc")
               for t in ("t2i", "edit") for c in ("reward_score", "vqa_score")}}


def table(rows: dict[str, dict]) -> str:
    """Markdown: one line per (label -> measurement)."""
    def f(x):
        return "-" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))

    lines = ["| variant | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for label, m in rows.items():
        s = summarize(m)
        lines.append(f"| {label} | " + " | ".join(f(s[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def ablate(r: Recipe, seed: int | None = None, rows: int | None = None, extra: dict[str, Path] | None = None) -> dict:
    seed = r.measure_seed if seed is None else seed
    rows = r.measure_rows if rows is None else rows
    stages = Stages(r)
    if not stages.done("measure"):
        raise RuntimeError("run the recipe first (python pipelines/train_shipped_judges.py)")
    root = r.work / "ablation"
    t0 = time.time()
    if r.reward_readout == "likelihood":
        folders = likelihood_variants(r, root)
    else:
        folders = train_variants(r, stages, root)
    for label, src in (extra or {}).items():
        folders[label] = _copy_judges(Path(src), root / label / "judges")
    results = {v: measure_variant(root, v, f, seed, rows) for v, f in folders.items()}
    labelled = {f"{v} (no calibration)": m for v, m in results.items()}
    if seed == r.measure_seed and rows == r.measure_rows:  # the shipped judges as shipped (calibrated)
        labelled["shipped (calibrated, as shipped)"] = stages.done("measure")["after"]
    out = {"seed": seed, "rows": rows, "wall_seconds": round(time.time() - t0, 1),
           "summary": {k: summarize(m) for k, m in labelled.items()}, "table": table(labelled)}
    (root / "ablation.json").write_text(json.dumps(out, indent=2, default=str))
    (root / "ablation.md").write_text(out["table"] + "\n")
    return out

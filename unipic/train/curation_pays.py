"""Does curation pay? The experiment behind `pipelines/exp_curation_pays.py` (see its docstring).

Three arms over the same synthetic candidates (planted faults, answer key in `truth.parquet`):

- `all`: every readable candidate row (faults included: a caption that says "red" over a blue
  object, blurred / blocked / noisy pictures, sliced / two-tone / ghosted objects);
- `judged`: the rows the scoring job (`curation.job.run_score_job`, the shipped judges at the
  job's defaults, as `python pipelines/score.py` runs them) decides `keep`;
- `oracle`: the rows the answer key says are clean (what perfect judges would keep).

Each arm's rows are written as the arm's own training shards (`<out>/data/<arm>/`, the job's
layout, `decision=keep`), so what an arm trains on is exactly a set of candidate ids, checked
against the truth (`arm_facts`). The same world model (`unipic.presets` world, same init per
seed) trains on each arm for the same budget, with several seeds; checkpoints every
`eval_every` steps are scored by the GenEval-style evaluation (`unipic.evaluate`) on held-out
prompts (no candidate caption is an evaluation prompt). Two budgets:

- equal steps: every arm trains `steps` steps of `batch_size` on all its rows (a small arm
  repeats its rows more);
- equal distinct samples: every arm trains `steps` steps on the same number `distinct` of its
  own distinct rows (default: the oracle arm's size; larger arms draw a seeded subset, smaller
  arms keep all theirs), so arms differ only in what their rows are, not in how many or how
  often each is repeated. Runs whose data is the same as at equal steps are reused.

An arm with no rows is reported as blocked (with its count) and not trained.

**Why the candidates are of the learning family by default** (measured 2026-12-02, oracle rows,
t2i only, 2000 steps of 32 at lr 3e-3, colour_ok on 48 GenEval single-object / colours prompts):
the world's candidates as written (1-3 objects at five positions, five backgrounds, words) give
0.04 (500 clean rows) and 0.02 (3000 clean rows): the model paints the asked background but
rarely an object, and not the asked one. One object anywhere: 0.00 (it mostly draws no object,
count_ok 0.23; sampling temperature 1.0, guidance 1-6 or 9 steps: at most 0.10). One object in the
centre, any background: 0.17, chance (0.08 even on its own training captions), though it draws
one object (count_ok 0.92). One object in the centre on white, the learning test's scenes: 0.56
(148 clean rows, one seed); in the default experiment (543 clean rows) the oracle arm's seeds
reach 0.59, 0.47 and 0.34.
So within a CPU budget the bound is what the tiny model learns in 2000 steps: where an object
goes, and object colour words when background colour words vary too, are not learnt; with both
fixed, colour is. The pictures are not the cause (clean rows read back as their captions at the
48 px the model sees: `read_back` in each arm's facts), nor is editing (t2i-only training learns
no more than the old runs that also trained edits). The GenEval set also mixes categories of two
or more objects, which this model does not learn; single-object colour is reported on its own.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

ARMS = ("all", "judged", "oracle")
BUDGETS = ("equal_steps", "equal_distinct")
DEFAULT_OUT = "runs/curation-pays"
CANDIDATES_SEED = 20261202
"""Seed of the experiment's candidates (no judge was trained on it; the demo uses 20261128)."""
SINGLE_OBJECT = ("single_object", "colours")


@dataclass
class CurationPaysConfig:
    """One run of the experiment (every field is a flag of `pipelines/exp_curation_pays.py`)."""

    out: str = DEFAULT_OUT
    """Output folder: candidates/, shards/, data/<arm>/, runs/, curation_pays.json, .png, table.md."""
    candidates: str | None = None
    """Folder with candidates-*.parquet and truth.parquet (default: <out>/candidates, written if absent)."""
    n_candidates: int = 1000
    """Candidates written when the folder has none (world candidates, 64 px, half of them faulty)."""
    candidates_seed: int = CANDIDATES_SEED
    """Seed of the written candidates."""
    edit_fraction: float = 0.0
    """Share of edit rows among the written candidates (the world's own mix is 0.4)."""
    scenes: str = "learning"
    """Scene family of the written candidates: learning, centre, single or any (`SCENES`)."""
    shards: str | None = None
    """The scoring job's output over the candidates (default: run the job into <out>/shards)."""
    score_args: list[str] = field(default_factory=list)
    """Extra scoring-job flags (e.g. other judges or thresholds) for the job run by the experiment."""
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Training seeds per arm (model init, data order, noise); the evaluation samples with 1000 + seed."""
    steps: int = 2000
    """Training steps per run."""
    batch_size: int = 32
    """Text-to-image samples per step."""
    lr: float = 3e-3
    """Peak learning rate (cosine schedule of stage ct)."""
    eval_every: int = 400
    """Evaluate a checkpoint every this many steps (and step 0, the shared initial model)."""
    per_category: int = 16
    """Held-out prompts per GenEval category."""
    edit: bool = False
    """Also train editing on the arms' edit rows (stage ct's edit loss); default text-to-image only."""
    distinct: int | None = None
    """Distinct rows per arm at the equal-distinct budget (default: the oracle arm's rows; 0: skip it)."""
    family_copies: int = 8
    """Learning family: images per held-out colour-shape pair (seen pairs: a quarter as many)."""
    threads: int = 1
    """Torch CPU threads (the tiny model runs fastest on one)."""


# ---------------------------------------------------------------------- data
SCENES = {"learning": "the learning test's scenes (one object in the centre on white) but the held-out colour-shape pairs",
          "centre": "one object in the centre, any background",
          "single": "one object at any position, any background",
          "any": "the world's scenes as written (1-3 objects, any position, background, words)"}
POOL_FACTOR = {"learning": 90, "centre": 16, "single": 4, "any": 1}
"""World candidates drawn per candidate kept: one t2i scene in 3 has one object, one in 5 of those
is centred, one in 4.7 of those is on white (and 15 of the 18 colour-shape pairs are not held out)."""
HELD_OUT_PAIRS = 3
"""Colour-shape pairs of the learning family that no candidate caption names (as the learning test's held_out)."""


def learning_split() -> tuple[list, list]:
    """(training, held-out) scenes of the learning family: the learning test's split (seed 0)."""
    from unipic.evaluate import single_object_scenes
    from unipic.train.world import split_scenes

    return split_scenes(single_object_scenes(), HELD_OUT_PAIRS, seed=0)


def scene_fits(meta: str, scenes: str) -> bool:
    """Does a candidate's prompted scene (its `meta.scene`) belong to the scene family?"""
    if scenes == "any":
        return True
    m = json.loads(meta)
    if m.get("fault") == "broken_file":
        return True  # unreadable rows stay: the arms must leave them out
    objects, background = m["scene"]["objects"], m["scene"]["background"]
    if len(objects) != 1 or (scenes != "single" and objects[0]["position"] != "center"):
        return False
    if scenes == "learning":
        held = {(s.objects[0].colour, s.objects[0].shape) for s in learning_split()[1]}
        return background == "white" and (objects[0]["colour"], objects[0]["shape"]) not in held
    return True


def make_candidates(folder: Path, n: int, seed: int, edit_fraction: float, scenes: str = "learning") -> bool:
    """Write `n` world candidates of the scene family `scenes` (`SCENES`) with their answer key
    into `folder`, unless the same ones are there; True if written. They are the first `n`
    candidates of `synthetic.write_candidates(seed)` (planted faults, broken files) whose prompted
    scene is of the family, so faults and truth are the world's own."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if scenes not in SCENES:
        raise ValueError(f"scenes must be one of {sorted(SCENES)}, not {scenes!r}")
    params = {"n": n, "seed": seed, "size": 64, "edit_fraction": edit_fraction, "scenes": scenes}
    stamp = folder / "world.json"
    if (folder / "truth.parquet").exists():
        if not stamp.exists() or json.loads(stamp.read_text()) == params:
            return False  # the same set, or a folder given by the user: reused as it is
    from synthetic import write_candidates

    if folder.exists():
        shutil.rmtree(folder)
    pool = folder / ".pool"
    pool.mkdir(parents=True)
    write_candidates(pool, n=n * POOL_FACTOR[scenes], seed=seed, size=64, shards=1, edit_fraction=edit_fraction)
    table = read_candidates(pool)
    fits = [scene_fits(m, scenes) for m in table.column("meta").to_pylist()]
    table = table.filter(pa_bool(fits)).slice(0, n)
    truth = pq.read_table(pool / "truth.parquet")
    truth = truth.filter(pc.is_in(truth.column("sample_id"), value_set=table.column("sample_id")))
    for k, part in enumerate(np.array_split(np.arange(table.num_rows), 4)):
        pq.write_table(table.slice(int(part[0]), len(part)) if len(part) else table.slice(0, 0),
                       folder / f"candidates-{k:05d}.parquet")
    pq.write_table(truth, folder / "truth.parquet")
    shutil.rmtree(pool)
    stamp.write_text(json.dumps(params))
    return True


def pa_bool(values: Sequence[bool]):
    import pyarrow as pa

    return pa.array(values, pa.bool_())


def run_judges(candidates: Path, output: Path, score_args: Sequence[str] = (), overwrite: bool = False) -> Path:
    """The scoring job over the candidates with the shipped judges at the job's defaults (what
    `python pipelines/score.py` does on its embedded input; `curation.demo.apply_demo_defaults`).
    A finished run into the same folder is resumed, i.e. reused without rescoring."""
    from curation.cli import build_parser, config_from_args
    from curation.demo import apply_demo_defaults
    from curation.job import run_score_job

    cfg = config_from_args(build_parser().parse_args(list(score_args)))
    cfg.output.overwrite = overwrite or cfg.output.overwrite
    cfg = apply_demo_defaults(cfg, candidates=candidates, output=output)
    return Path(run_score_job(cfg).output)


def read_truth(candidates: Path) -> dict[str, dict]:
    import pyarrow.parquet as pq

    return {r["sample_id"]: r for r in pq.read_table(candidates / "truth.parquet").to_pylist()}


def read_candidates(candidates: Path):
    import pyarrow.dataset as ds

    return ds.dataset(sorted(str(f) for f in candidates.glob("candidates-*.parquet"))).to_table()


def _readable(cell) -> bool:
    import io

    from PIL import Image

    data = cell.get("bytes") if isinstance(cell, dict) else cell
    if not data:
        return False
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001 - any decoding failure means unreadable
        return False


def arm_ids(table, truth: dict, shards: Path | None, tasks: Sequence[str]) -> dict[str, list[str]]:
    """The sample ids of each arm (in candidate order), among rows of `tasks` with readable images.

    all: every readable row; oracle: those the truth marks clean; judged: those the scoring
    job's shards mark `decision=keep` (none without shards)."""
    from curation import schema as S

    ids = table.column(S.ID).to_pylist()
    task = table.column(S.TASK).to_pylist()
    images = table.column(S.IMAGE).to_pylist()
    sources = table.column(S.SOURCE_IMAGE).to_pylist() if S.SOURCE_IMAGE in table.column_names else [None] * len(ids)
    readable = [i for i, t, im, src in zip(ids, task, images, sources)
                if t in tasks and _readable(im) and (t != "edit" or _readable(src))]
    kept = set(shard_ids(shards)) if shards is not None else set()
    return {"all": readable,
            "judged": [i for i in readable if i in kept],
            "oracle": [i for i in readable if truth[i]["clean"]]}


def arm_facts(ids: Sequence[str], truth: dict) -> dict:
    """Rows, rows per task, planted faults counted against the truth (rate, per mode, per fault)."""
    rows = [truth[i] for i in ids]
    faulty = [r for r in rows if not r["clean"]]
    return {"rows": len(rows), "tasks": dict(Counter(r["task"] for r in rows)),
            "faulty": len(faulty), "fault_rate": round(len(faulty) / len(rows), 4) if rows else None,
            "by_mode": dict(Counter(r["planted_mode"] for r in faulty)),
            "by_fault": dict(sorted(Counter(r["fault"] for r in faulty).items()))}


def write_arm(table, ids: Sequence[str], folder: Path, min_rows: int) -> dict:
    """The arm's rows as training shards (`decision=keep`), each row repeated `copies` times so a
    global batch fits in one epoch (`min_rows`); repeats add no distinct rows."""
    import pyarrow as pa

    from curation import schema as S
    from curation.shards import write_shards

    if folder.exists():
        shutil.rmtree(folder)
    position = {sid: k for k, sid in enumerate(table.column(S.ID).to_pylist())}
    take = [position[i] for i in ids]
    copies = max(1, math.ceil(min_rows / len(take)))
    arm = table.take(pa.array(take * copies, pa.int64()))
    arm = arm.append_column(S.DECISION, pa.array(["keep"] * arm.num_rows, pa.string()))
    write_shards(folder, arm)
    return {"folder": str(folder), "distinct": len(ids), "copies": copies}


def read_back_arm(folder: Path, truth: dict) -> dict:
    """What an arm's training shards teach: each text-to-image row's picture read back against
    its own caption (`synthetic.truth.matches`, at 48 px as the model sees it): the share whose
    picture shows what the caption says (all_ok) and the right colours (colour_ok), over all
    rows and per planted fault ("clean" for clean rows)."""
    import io

    from PIL import Image

    from curation import schema as S
    from curation.shards import open_shards
    from synthetic import matches

    seen: dict[str, dict] = {}
    for row in open_shards(folder, task="t2i", decision="keep", columns=[S.ID, S.PROMPT, S.IMAGE]).to_pylist():
        if row[S.ID] in seen:
            continue
        image = Image.open(io.BytesIO(row[S.IMAGE]["bytes"])).convert("RGB").resize((48, 48), Image.BICUBIC)
        seen[row[S.ID]] = {**matches(image, row[S.PROMPT]), "fault": truth[row[S.ID]]["fault"] or "clean"}
    if not seen:
        return {}
    rows = list(seen.values())
    by: dict[str, list] = {}
    for r in rows:
        by.setdefault(r["fault"], []).append(r)
    rate = lambda rs, k: round(float(np.mean([r[k] for r in rs])), 3)  # noqa: E731
    return {"rows": len(rows), "all_ok": rate(rows, "all_ok"), "colour_ok": rate(rows, "colour_ok"),
            "by_fault": {k: {"rows": len(v), "all_ok": rate(v, "all_ok"), "colour_ok": rate(v, "colour_ok")}
                         for k, v in sorted(by.items())}}


def shard_ids(folder: Path) -> list[str]:
    """The sample ids in an output folder's decision=keep shards (what the trainer reads)."""
    from curation import schema as S
    from curation.shards import open_shards

    kept = open_shards(folder, decision="keep", columns=[S.ID])
    return kept.column(S.ID).to_pylist() if S.ID in kept.column_names else []  # no shards: no column


# ---------------------------------------------------------------------- evaluation
def candidate_family(candidates: Path) -> str | None:
    """The scene family the experiment wrote the candidates with (None: candidates given as they are)."""
    stamp = candidates / "world.json"
    return json.loads(stamp.read_text()).get("scenes", "any") if stamp.exists() else None


def eval_sets(cfg: CurationPaysConfig, captions: set[str], family: str | None) -> dict[str, list]:
    """The held-out prompt sets: `geneval` (GenEval's six categories, `unipic.evaluate`, no
    candidate caption among them) and, for the learning family, `held_out_pairs` (its colour-shape
    pairs no candidate names) and `seen_pairs` (its other pairs), `family_copies` images each."""
    from unipic.evaluate import CATEGORIES, geneval_items, items_for_scenes

    sets = {"geneval": geneval_items(cfg.per_category, exclude=captions, categories=CATEGORIES)}
    if family == "learning":
        seen, held = learning_split()
        sets["held_out_pairs"] = items_for_scenes(held * cfg.family_copies)
        sets["seen_pairs"] = items_for_scenes(seen * max(1, cfg.family_copies // 4))
    return sets


def single_object_colour(results: Sequence[dict]) -> float | None:
    """colour_ok over the single-object prompts (GenEval single object and colours)."""
    so = [r["colour_ok"] for r in results if set(r["categories"]) & set(SINGLE_OBJECT)]
    return float(np.mean(so)) if so else None


def score(model, sets: dict[str, list], seed: int) -> dict:
    """Each prompt set's `unipic.evaluate` summary (sampling seed 1000 + seed), plus single-object colour."""
    from unipic.evaluate import evaluate_generation, model_generator
    from unipic.sampling import SampleOptions

    options = SampleOptions(num_iter=32, guidance_scale=3.0, temperature=0.7, seed=1000 + seed)
    out = {}
    for name, items in sets.items():
        report = evaluate_generation(model_generator(model, options), items)
        results = report.pop("results")
        report["single_object_colour"] = single_object_colour(results)
        out[name] = {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}
    return out


def train_and_curve(cfg: CurationPaysConfig, data: Path, init: Path, out: Path, seed: int, sets: dict,
                    start: dict) -> dict:
    """Train one run and score its checkpoints; the curve starts at `start` (the init's scores)."""
    from unipic.evaluate import load_checkpoint_for_eval
    from unipic.train.checkpoints import step_dir_name
    from unipic.train.loop import TrainConfig, run_local

    every = max(1, min(cfg.eval_every, cfg.steps))
    train = TrainConfig(stage="ct", output=str(out), data=[str(data)] if cfg.edit else [],
                        t2i=[] if cfg.edit else [str(data)], decision="keep", init_from=str(init),
                        max_steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, seed=seed, image_size=48,
                        checkpoint_every=every, keep_checkpoints=cfg.steps // every + 2, threads=cfg.threads,
                        progress=False)
    if out.exists():
        shutil.rmtree(out)
    began = time.perf_counter()
    run_local(train)
    seconds = time.perf_counter() - began
    steps = sorted(set(range(every, cfg.steps + 1, every)) | {cfg.steps})
    curve = [{"step": 0, **start}]
    for step in steps:
        model, _, _ = load_checkpoint_for_eval(out / "checkpoints" / step_dir_name(step), device="cpu",
                                               dtype="float32")
        curve.append({"step": step, **score(model, sets, seed)})
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the curve is scored; final/ is kept
    return {"train_s": round(seconds, 1), "curve": curve, "final": curve[-1]}


# ---------------------------------------------------------------------- statistics
GENEVAL_METRICS = ("single_object", "two_objects", "counting", "colours", "position", "colour_attribution",
                   "overall", "single_object_colour", "colour_ok", "shape_ok", "all_ok")
FAMILY_METRICS = ("colour_ok", "shape_ok", "all_ok", "colours")


def flat(point: dict) -> dict[str, float]:
    """One evaluation as metric -> value: the GenEval set's categories, overall and facts by name,
    the other sets' as `<set>.<metric>`."""
    out: dict[str, float] = {}
    for name, rep in point.items():
        if not isinstance(rep, dict):
            continue
        vals = {**rep.get("categories", {}), **{k: rep[k] for k in ("overall", "single_object_colour", "colour_ok",
                                                                     "shape_ok", "all_ok") if rep.get(k) is not None}}
        if name == "geneval":
            out.update({k: v for k, v in vals.items() if k in GENEVAL_METRICS})
        else:
            out.update({f"{name}.{k}": v for k, v in vals.items() if k in FAMILY_METRICS})
    return out


def metric_order(metrics: set[str]) -> list[str]:
    fam = sorted(m for m in metrics if "." in m)
    return [m for m in GENEVAL_METRICS if m in metrics] + fam


def mean_sd(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
            "n": len(v), "values": [round(float(x), 4) for x in v]}


def summarise_runs(runs: dict[str, dict]) -> dict:
    """Per metric mean +- sd (over seeds) of the final evaluation."""
    finals = [flat(r["final"]) for r in runs.values()]
    common = set.intersection(*(set(f) for f in finals)) if finals else set()
    return {m: mean_sd([f[m] for f in finals]) for m in metric_order(common)}


def paired_differences(a: dict[str, dict], b: dict[str, dict]) -> dict:
    """a - b per metric over the seeds both have (same init and evaluation sampling per seed):
    mean +- sd of the differences and the paired t statistic."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return {}
    out = {}
    for m in ("overall", "single_object_colour", "colours", "colour_attribution", "all_ok",
              "held_out_pairs.colour_ok", "held_out_pairs.all_ok", "seen_pairs.colour_ok", "seen_pairs.all_ok"):
        d = [flat(a[s]["final"]).get(m) for s in seeds], [flat(b[s]["final"]).get(m) for s in seeds]
        if None in d[0] or None in d[1]:
            continue
        diff = np.asarray(d[0]) - np.asarray(d[1])
        sd = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
        t = float(diff.mean() / (sd / math.sqrt(len(diff)))) if sd > 0 else None
        out[m] = {"mean": round(float(diff.mean()), 4), "sd": round(sd, 4), "t": None if t is None else round(t, 2),
                  "n": len(diff)}
    return out


# ---------------------------------------------------------------------- the experiment
def run_curation_pays(cfg: CurationPaysConfig, echo=print) -> dict:
    """Everything: candidates, the scoring job, the arms, training, evaluation, statistics, the
    plot. Returns the report, also written to `<out>/curation_pays.json` (table: `table.md`,
    plot: `curation_pays.png`)."""
    from curation import schema as S
    from unipic.checkpoint import save_pretrained
    from unipic.evaluate import EVAL_SEED
    from unipic.presets import build_preset

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    began = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = Path(cfg.candidates) if cfg.candidates else out / "candidates"
    fresh = make_candidates(candidates, cfg.n_candidates, cfg.candidates_seed, cfg.edit_fraction, cfg.scenes)
    if cfg.shards:
        shards = Path(cfg.shards)
    else:
        echo(f"scoring {candidates} with the shipped judges -> {out / 'shards'}")
        shards = run_judges(candidates, out / "shards", cfg.score_args, overwrite=fresh)
    truth = read_truth(candidates)
    table = read_candidates(candidates)
    tasks = ("t2i", "edit") if cfg.edit else ("t2i",)
    ids = arm_ids(table, truth, shards, tasks)

    from curation.measure import measure_against_truth

    judges = measure_against_truth(shards, candidates / "truth.parquet")
    judges = {k: judges[k] for k in ("kept", "clean", "keep_precision", "keep_recall", "planted_mode_tag_rate")}

    arms: dict[str, dict] = {}
    for arm in ARMS:
        arms[arm] = arm_facts(ids[arm], truth)
        if not ids[arm]:
            arms[arm]["blocked"] = f"no rows to train on ({arm}: 0 of {len(ids['all'])} readable candidates)"
            continue
        arms[arm]["data"] = write_arm(table, ids[arm], out / "data" / arm, cfg.batch_size)
        got = shard_ids(out / "data" / arm)
        assert sorted(set(got)) == sorted(ids[arm]), f"{arm}: the training shards hold other rows"
        arms[arm]["read_back"] = read_back_arm(out / "data" / arm, truth)
        echo(f"arm {arm}: {arms[arm]['rows']} rows, fault rate {arms[arm]['fault_rate']}, "
             f"pictures matching their caption {arms[arm]['read_back'].get('all_ok')}")
    trained = [a for a in ARMS if "blocked" not in arms[a]]
    distinct = cfg.distinct if cfg.distinct is not None else arms["oracle"]["rows"]
    samples = cfg.steps * cfg.batch_size
    budgets = {"equal_steps": {"steps": cfg.steps, "batch_size": cfg.batch_size, "samples_seen": samples,
                               "distinct": {a: arms[a]["rows"] for a in trained},
                               "epochs": {a: round(samples / arms[a]["rows"], 2) for a in trained}}}
    if distinct:
        budgets["equal_distinct"] = {"steps": cfg.steps, "batch_size": cfg.batch_size, "samples_seen": samples,
                                     "distinct_target": distinct,
                                     "distinct": {a: min(distinct, arms[a]["rows"]) for a in trained},
                                     "epochs": {a: round(samples / min(distinct, arms[a]["rows"]), 2)
                                                for a in trained}}

    captions = set(table.column(S.PROMPT).to_pylist())  # held out: no candidate caption is an evaluation prompt
    items = eval_sets(cfg, captions, candidate_family(candidates))
    family = candidate_family(candidates)
    report: dict[str, Any] = {"config": asdict(cfg), "candidates": str(candidates), "shards": str(shards),
                              "scenes": family, "scene_family": SCENES.get(family, "candidates as given"),
                              "eval": {"prompts": {k: len(v) for k, v in items.items()}, "per_category": cfg.per_category,
                                       "seed": EVAL_SEED, "held_out_from": "every candidate caption",
                                       "held_out_pairs": sorted({it.prompt for it in items.get("held_out_pairs", [])})},
                              "judges": judges, "arms": arms, "budgets": budgets, "untrained": {}, "runs": {}}
    for b in budgets:
        report["runs"][b] = {a: {} for a in trained}

    for seed in cfg.seeds:
        init = save_pretrained(build_preset("world", seed), out / "init" / f"seed-{seed}")
        from unipic.checkpoint import load_pretrained

        start = score(load_pretrained(init, device="cpu", dtype=torch.float32), items, seed)
        report["untrained"][str(seed)] = start
        for arm in trained:
            data = out / "data" / arm
            run = train_and_curve(cfg, data, init, out / "runs" / f"equal_steps-{arm}-seed{seed}", seed, items,
                                  start)
            report["runs"]["equal_steps"][arm][str(seed)] = run
            echo(f"equal steps  {arm:7s} seed {seed}: {_line(run['final'])} ({run['train_s']:.0f} s)")
            if "equal_distinct" not in budgets:
                continue
            if arms[arm]["rows"] <= distinct:  # the same rows as at equal steps: the same run
                report["runs"]["equal_distinct"][arm][str(seed)] = {**run, "same_as": "equal_steps"}
                continue
            rng = np.random.default_rng([seed, 7311])
            subset = [ids[arm][int(k)] for k in sorted(rng.choice(arms[arm]["rows"], distinct, replace=False))]
            sub_dir = out / "data" / f"{arm}-distinct{distinct}-seed{seed}"
            info = write_arm(table, subset, sub_dir, cfg.batch_size)
            run = train_and_curve(cfg, sub_dir, init, out / "runs" / f"equal_distinct-{arm}-seed{seed}", seed,
                                  items, start)
            run["data"] = {**info, **arm_facts(subset, truth)}
            report["runs"]["equal_distinct"][arm][str(seed)] = run
            echo(f"equal distinct {arm:7s} seed {seed}: {_line(run['final'])} ({run['train_s']:.0f} s)")
        _save(out, report)

    report["summary"] = {b: {a: summarise_runs(report["runs"][b][a]) for a in trained} for b in budgets}
    report["differences"] = {b: {f"{x}-all": paired_differences(report["runs"][b][x], report["runs"][b]["all"])
                                 for x in ("oracle", "judged") if x in trained and "all" in trained}
                             for b in budgets}
    report["wall_minutes"] = round((time.perf_counter() - began) / 60, 2)
    report["plot"] = str(plot(report, out / "curation_pays.png"))
    table_md = format_table(report)
    (out / "table.md").write_text(table_md)
    _save(out, report)
    echo(table_md)
    return report


def _line(point: dict) -> str:
    f = flat(point)
    keys = ("overall", "single_object_colour", "held_out_pairs.colour_ok", "seen_pairs.colour_ok")
    return " ".join(f"{k}={f[k]:.2f}" for k in keys if k in f)


def _save(out: Path, report: dict) -> None:
    tmp = out / "curation_pays.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out / "curation_pays.json")


# ---------------------------------------------------------------------- table and plot
def format_table(report: dict) -> str:
    """Markdown: per budget, per arm, mean +- sd over seeds of each GenEval category, the overall
    score and single-object colour, with the arm's rows and fault rate (from the truth)."""
    from unipic.evaluate import CATEGORIES, CATEGORY_NAMES

    cols = list(CATEGORIES) + ["overall", "single_object_colour"]
    names = [CATEGORY_NAMES[c] for c in CATEGORIES] + ["overall", "single-object colour"]
    family = [("held_out_pairs.colour_ok", "held-out pairs colour"), ("held_out_pairs.all_ok", "held-out pairs all"),
              ("seen_pairs.colour_ok", "seen pairs colour")]
    if any(c in s for per_arm in report.get("summary", {}).values() for s in per_arm.values() for c, _ in family):
        cols += [c for c, _ in family]
        names += [n for _, n in family]
    lines = []
    for b, per_arm in report.get("summary", {}).items():
        budget = report["budgets"][b]
        lines.append(f"\n**{b.replace('_', ' ')}** ({budget['steps']} steps x {budget['batch_size']})\n")
        lines.append("| arm | rows (distinct) | fault rate | seeds | " + " | ".join(names) + " |")
        lines.append("|---" * (len(names) + 4) + "|")
        for arm in ARMS:
            facts = report["arms"][arm]
            if "blocked" in facts:
                lines.append(f"| {arm} | 0 | - | blocked: {facts['blocked']} |" + " |" * len(names))
                continue
            s = per_arm[arm]
            rate = facts["fault_rate"]
            runs = report["runs"][b][arm]
            sub = [r["data"]["fault_rate"] for r in runs.values() if "data" in r]
            if sub:
                rate = float(np.mean(sub))
            cells = [f"{s[c]['mean']:.3f} +- {s[c]['sd']:.3f}" if c in s else "-" for c in cols]
            lines.append(f"| {arm} | {budget['distinct'][arm]} | {rate:.3f} | {len(runs)} | " + " | ".join(cells) + " |")
        diffs = report.get("differences", {}).get(b, {})
        for name, d in diffs.items():
            if "overall" in d:
                o, c = d["overall"], d.get("single_object_colour")
                extra = f"; single-object colour {c['mean']:+.3f} +- {c['sd']:.3f} (t={c['t']})" if c else ""
                lines.append(f"\n{name}, paired by seed: overall {o['mean']:+.3f} +- {o['sd']:.3f} (t={o['t']}){extra}")
    return "\n".join(lines).strip() + "\n"


def plot(report: dict, path: Path) -> Path:
    """Accuracy against training steps, one line per arm (mean over seeds, band +- sd), per budget:
    the overall GenEval-style score, colour on the GenEval single-object prompts and, for the
    learning family, colour on its held-out colour-shape pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = list(report["runs"])
    metrics = ["overall", "single_object_colour"]
    if report["eval"]["prompts"].get("held_out_pairs"):
        metrics.append("held_out_pairs.colour_ok")
    titles = {"overall": "GenEval-style overall", "single_object_colour": "colour, GenEval single-object prompts",
              "held_out_pairs.colour_ok": "colour, held-out colour-shape pairs"}
    fig, axes = plt.subplots(len(metrics), len(budgets), figsize=(5.5 * len(budgets), 3.5 * len(metrics)),
                             squeeze=False, sharey="row")
    colours = {"all": "tab:red", "judged": "tab:blue", "oracle": "tab:green"}
    for j, b in enumerate(budgets):
        for i, metric in enumerate(metrics):
            ax = axes[i][j]
            for arm, runs in report["runs"][b].items():
                if not runs:
                    continue
                curves = [[flat(p).get(metric, np.nan) for p in r["curve"]] for r in runs.values()]
                steps = [p["step"] for p in next(iter(runs.values()))["curve"]]
                v = np.asarray(curves, dtype=float)
                m, sd = v.mean(0), (v.std(0, ddof=1) if len(v) > 1 else np.zeros(v.shape[1]))
                rows = report["budgets"][b]["distinct"][arm]
                ax.plot(steps, m, color=colours[arm], label=f"{arm} ({rows} rows, {len(v)} seeds)")
                ax.fill_between(steps, m - sd, m + sd, color=colours[arm], alpha=0.2)
            ax.set_title(f"{b.replace('_', ' ')}: {titles[metric]}", fontsize=10)
            ax.set_xlabel("training step")
            ax.set_ylabel("held-out accuracy")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""The shipped small judges: trained on the synthetic world with the project's own entry points.

`python pipelines/train_shipped_judges.py` runs `train_shipped_judges(Recipe())`:

1. data: the world's writers (`synthetic`) put VQA, question/answer, Pick-a-Pic, ImageRewardDB
   and HumanEdit files under `work/data`, each from its own seed (`Recipe.seeds`), plus one
   extra yes/no file derived from world scenes (single-object phrases, and "yes" for degraded or
   broken renders whose objects are all there: what VQAScore should accept, the other judges
   reject);
2. a tiny Qwen2.5-VL is built locally (`reward_models.tiny`, tokenizer trained on the world's
   texts and every judge's prompts);
3. VQAScore: `train_vqascore` (TRL SFT, `pipelines/train_vqascore.py`) from the tiny model, in two
   runs of the entry point (a curriculum): first one-object scenes only, where "does this caption's
   colour/shape/position match the object" has the least to bind and a tiny model leaves its
   chance plateau within a few thousand steps; then 1-3 object scenes with every data set, starting
   from the first run's weights (from scratch it stays at chance for as long as we could afford);
4. ImgReward: `train_img_reward` (SFT warm-up then TRL GRPO, `pipelines/train_img_reward.py`)
   from the VQAScore judge (it has learned to see: the reward judges start from it, as real ones
   start from a pretrained VLM);
5. EditReward: `train_edit_reward` (TRL SFT, `pipelines/train_edit_reward.py`) from the
   VQAScore judge;
6. held-out check on world candidates of `Recipe.eval_seed` (never the demo's seed): each judge
   alone and the scoring job's decision rule on all three (`curation.decisions.decide_row`),
   written into every model card with the seeds, data sizes, steps and the reproduce command.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = REPO_ROOT / "reward_models" / "shipped"
JUDGES = ("vqascore", "img_reward", "edit_reward")
DEMO_SEED = 20261128
"""The embedded demo's candidate seed (curation/demo.py): never used here."""


@dataclass
class Recipe:
    """Everything that determines the shipped judges."""

    out: Path = SHIPPED
    """Where the three judge folders go."""
    work: Path = REPO_ROOT / "runs" / "shipped-judges"
    """Scratch: world data files and the tiny base model."""
    size: int = 64
    """World image size (the demo's)."""
    seeds: dict = field(default_factory=lambda: {
        "base": 0, "train": 0, "vqa": 101, "understanding": 102, "vqa_extra": 103,
        "pickapic": 104, "imagerewarddb": 105, "humanedit": 106, "naming": 107, "single": 108})
    """World seed of each training set, the base model's weights and the trainers."""
    eval_seed: int = 7
    """World seed of the held-out candidates in the model cards."""
    eval_rows: int = 400
    """Held-out candidates scored for the cards."""
    n_single: int = 12000
    """One-object yes/no rows for the first VQAScore run (`matching_rows` with one object)."""
    n_vqa: int = 16000
    """1-3 object yes/no rows for the second run (`matching_rows`)."""
    n_understanding: int = 16000
    """Question/answer rows (world `understanding_rows`: colour, shape, count, position, word,
    background, describe) mixed into the VQAScore training."""
    n_vqa_extra: int = 8000
    """Extra yes/no rows (see `extra_vqa_rows`)."""
    n_naming: int = 6000
    """One-object naming rows (see `naming_rows`)."""
    n_pickapic: int = 1500
    """Pick-a-Pic pairs (a clean render vs one with a planted fault)."""
    n_imagerewarddb: int = 500
    """ImageRewardDB prompts (3-5 rated images each)."""
    n_humanedit: int = 1500
    """HumanEdit good edits (EditReward builds its negatives from them)."""
    tiny: dict = field(default_factory=lambda: {
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vision_hidden_size": 32, "vision_intermediate_size": 64, "vision_depth": 2,
        "patch_size": 8, "spatial_merge_size": 2, "window_size": 32, "min_pixels": 16 * 16,
        "max_pixels": 64 * 64, "rope_theta": 10.0, "initializer_range": 0.12, "vocab_size": 1536})
    """Tiny Qwen2.5-VL sizes (`reward_models.tiny.TinyVLConfig` fields)."""
    single_epochs: float = 4.0
    """Epochs of the first (one-object) VQAScore run."""
    single_lr: float = 1e-3
    """Peak learning rate of the first VQAScore run."""
    vqa_epochs: float = 5.0
    """Epochs of the second (1-3 object) VQAScore run (binding 2-3 objects is still improving at 5)."""
    vqa_lr: float = 1e-3
    """Peak learning rate of the second VQAScore run."""
    img_warmup_epochs: float = 5.0
    img_warmup_lr: float = 1e-3
    img_grpo_steps: int = 20
    img_grpo_lr: float = 1e-5
    edit_epochs: float = 3.0
    edit_lr: float = 1e-3
    edit_negatives: int = 3
    batch_size: int = 16

    def scaled(self, f: float) -> "Recipe":
        """The same recipe with every data size multiplied by `f` (smoke runs)."""
        names = ("n_single", "n_vqa", "n_understanding", "n_vqa_extra", "n_naming", "n_pickapic", "n_imagerewarddb", "n_humanedit",
                 "eval_rows")
        return replace(self, **{n: max(8, int(getattr(self, n) * f)) for n in names},
                       img_grpo_steps=max(1, int(self.img_grpo_steps * min(1.0, f * 4))))


# -- data -------------------------------------------------------------------------------------------


def matching_rows(n: int, seed: int, size: int = 64, n_objects: int | None = None) -> list[dict]:
    """Yes/no rows made the way the candidates' alignment faults are (world VQA layout): the text is
    always the scene's own caption and a `no` row's image is a render of the scene with one
    attribute changed (colour, shape or position; also count when scenes may hold several objects).
    Exactly half are `yes`. Changing the image rather than the caption keeps every text natural, so
    the label lies only in the agreement of text and image, as in the job's candidates."""
    from synthetic.faults import attribute_fault
    from synthetic.prompts import caption
    from synthetic.scene import random_scene, render

    faults = ["wrong_colour", "wrong_shape", "wrong_position"] + ([] if n_objects == 1 else ["wrong_count"])
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7003, i])
        scene = random_scene(rng, n_objects=n_objects)
        if i % 2 == 0:
            rows.append(_vqa_row(render(scene, size), caption(scene), "yes", None, scene))
        else:
            fault = faults[int(rng.integers(len(faults)))]
            shown = attribute_fault(scene, fault, rng)[0]
            rows.append(_vqa_row(render(shown, size), caption(scene), "no", fault, scene))
    return rows


def extra_vqa_rows(n: int, seed: int, size: int = 64) -> list[dict]:
    """Yes/no rows the world's `vqa_rows` lacks, in its layout (image, text, label, fault, scene).

    A quarter each: (1) a one-object scene and its caption, or the caption with the object's
    colour, shape or position changed (the comparison where it is easiest to learn); (2) one
    object phrase ("a red circle", "a red circle on the left") asked about a scene that has such
    an object (yes) or none (no); (3) a full caption asked about a render degraded by noise,
    blocking or smear (yes: the content is all there; fidelity is the reward model's business);
    (4) a full caption asked about a render with one object broken (sliced, two-tone, ghost; yes:
    the caption's objects and colours are there, the composition is the reward model's business).
    """
    from synthetic.faults import T2I_FAULTS, attribute_fault, t2i_fault
    from synthetic.prompts import caption, object_phrase
    from synthetic.scene import COLOURS, POSITIONS, SHAPES, SceneObject, random_scene, render

    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7001, i])
        kind = i % 4
        scene = random_scene(rng, n_objects=1 if kind == 0 else None)
        if kind == 0:
            if rng.random() < 0.5:
                rows.append(_vqa_row(render(scene, size), caption(scene), "yes", None, scene))
            else:
                fault = ("wrong_colour", "wrong_shape", "wrong_position")[int(rng.integers(3))]
                wrong = attribute_fault(scene, fault, rng)[0]
                rows.append(_vqa_row(render(scene, size), caption(wrong), "no", fault, scene))
        elif kind == 1:
            obj = scene.objects[int(rng.integers(len(scene.objects)))]
            with_pos = bool(rng.random() < 0.5)

            def key(o):
                return (o.colour, o.shape, o.position if with_pos else None)

            if rng.random() < 0.5:
                rows.append(_vqa_row(render(scene, size), object_phrase(obj, with_pos), "yes", None, scene))
                continue
            present = {key(o) for o in scene.objects}
            for _ in range(50):
                which = int(rng.integers(3 if with_pos else 2))
                other = SceneObject(
                    SHAPES[int(rng.integers(len(SHAPES)))] if which == 1 else obj.shape,
                    list(COLOURS)[int(rng.integers(len(COLOURS)))] if which == 0 else obj.colour,
                    POSITIONS[int(rng.integers(len(POSITIONS)))] if which == 2 else obj.position)
                if key(other) not in present:
                    break
            fault = ("wrong_colour", "wrong_shape", "wrong_position")[which]
            rows.append(_vqa_row(render(scene, size), object_phrase(other, with_pos), "no", fault, scene))
        else:
            mode = "visual_artifacts" if kind == 2 else "semantic_inconsistency"
            faults = T2I_FAULTS[mode]
            res = t2i_fault(scene, faults[int(rng.integers(len(faults)))], rng, size)
            rows.append(_vqa_row(res.image, caption(scene), "yes", None, scene))
    return rows


def naming_rows(n: int, seed: int, size: int = 64) -> list[dict]:
    """Question/answer rows about one-object scenes (world layout of `understanding_rows`): the
    object's colour, shape or position. Naming has a first-order signal, so a tiny model learns
    it in a few hundred steps, and with it where to look, which the yes/no comparison needs."""
    from synthetic.scene import random_scene, render

    questions = {"colour": "What colour is the object?", "shape": "What shape is the object?",
                 "position": "Where is the object?"}
    rows = []
    for i in range(n):
        rng = np.random.default_rng([seed, 7002, i])
        scene = random_scene(rng, n_objects=1)
        kind = list(questions)[i % 3]
        obj = scene.objects[0]
        rows.append({"image": render(scene, size), "question": questions[kind],
                     "answer": getattr(obj, kind), "kind": kind, "scene": scene.to_dict()})
    return rows


def write_rows(rows: list[dict], schema: str, out_dir: Path) -> Path:
    """Rows as `train-00000-of-00001.parquet` in the world's VQA or understanding layout (`schema`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import synthetic.datasets as world

    table = pa.Table.from_pylist(
        [dict(r, image={"bytes": world.png_bytes(r["image"]), "path": None}, scene=json.dumps(r["scene"], sort_keys=True))
         for r in rows], schema={"vqa": world.VQA_SCHEMA, "understanding": world.UNDERSTANDING_SCHEMA}[schema])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "train-00000-of-00001.parquet"
    pq.write_table(table, path)
    return path


def _vqa_row(image, text, label, fault, scene) -> dict:
    return {"image": image, "text": text, "label": label, "fault": fault, "scene": scene.to_dict()}


def write_world_data(r: Recipe) -> dict[str, Path]:
    """Every training file, in the real datasets' layouts; returns name -> folder."""
    import synthetic

    data = r.work / "data"
    s = r.seeds
    paths = {name: data / name for name in ("single", "vqa", "understanding", "vqa_extra", "naming", "pickapic",
                                            "imagerewarddb", "humanedit")}
    for p in paths.values():
        if p.exists():
            shutil.rmtree(p)
    write_rows(matching_rows(r.n_single, s["single"], r.size, n_objects=1), "vqa", paths["single"])
    write_rows(matching_rows(r.n_vqa, s["vqa"], r.size), "vqa", paths["vqa"])
    synthetic.write_understanding(paths["understanding"], r.n_understanding, s["understanding"], r.size)
    write_rows(extra_vqa_rows(r.n_vqa_extra, s["vqa_extra"], r.size), "vqa", paths["vqa_extra"])
    write_rows(naming_rows(r.n_naming, s["naming"], r.size), "understanding", paths["naming"])
    synthetic.write_pickapic(paths["pickapic"], r.n_pickapic, s["pickapic"], r.size)
    synthetic.write_imagerewarddb(paths["imagerewarddb"], r.n_imagerewarddb, s["imagerewarddb"], r.size)
    synthetic.write_humanedit(paths["humanedit"], r.n_humanedit, s["humanedit"], r.size)
    return paths


def tokenizer_corpus(seed: int = 999) -> list[str]:
    """World texts and every judge's prompts, for the tiny tokenizer."""
    import synthetic
    from reward_models.edit_reward.layout import default_edit_layout
    from reward_models.edit_reward.layout import layout_corpus as edit_corpus
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.img_reward.layout import layout_corpus as img_corpus
    from reward_models.vqascore.config import DEFAULT_TEMPLATE

    texts = [DEFAULT_TEMPLATE.format(r["text"]) for r in synthetic.vqa_rows(300, seed)]
    texts += [f"{r['question']} {r['answer']}" for r in synthetic.understanding_rows(300, seed)]
    texts += [t.instruction for t in synthetic.edit_triplets(300, seed)]
    return texts + img_corpus(default_img_layout()) + edit_corpus(default_edit_layout())


def build_base(r: Recipe) -> Path:
    """The tiny Qwen2.5-VL every judge starts from (random weights, world tokenizer)."""
    from reward_models.edit_reward.layout import default_edit_layout
    from reward_models.img_reward.build import _check_answer_tokens
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl

    path = r.work / "base"
    if path.exists():
        shutil.rmtree(path)
    cfg = TinyVLConfig(**{**r.tiny, "seed": r.seeds["base"], "corpus": tokenizer_corpus()})
    build_tiny_qwen25vl(path, cfg)
    _check_answer_tokens(path, default_img_layout())
    _check_answer_tokens(path, default_edit_layout())
    _check_single_token(path, ["Yes", "No"])
    return path


def _check_single_token(path: Path, words: list[str]) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    for w in words:
        if len(tok.encode(w, add_special_tokens=False)) != 1:
            raise ValueError(f"{w!r} is not one token for the tiny tokenizer")


# -- training through the entry points ------------------------------------------------------------


def _common(r: Recipe) -> list[str]:
    return ["--seed", str(r.seeds["train"]), "--report_to", "none", "--save_strategy", "no", "--logging_steps", "50",
            "--gradient_checkpointing", "false", "--disable_tqdm", "true", "--dataloader_num_workers", "0"]


def vqascore_single_argv(r: Recipe, base: Path, data: dict[str, Path]) -> list[str]:
    """First VQAScore run: one-object scenes (yes/no and naming) from the tiny base model."""
    return ["--model_name_or_path", str(base), "--vqa", str(data["single"]), "--qa", str(data["naming"]),
            "--output_dir", str(r.work / "vqascore_single"), "--num_train_epochs", str(r.single_epochs),
            "--learning_rate", str(r.single_lr), "--per_device_train_batch_size", str(r.batch_size),
            "--lr_scheduler_type", "cosine", "--warmup_steps", "50", "--eval_fraction", "0.05",
            "--max_eval_rows", "300", *_common(r)]


def vqascore_argv(r: Recipe, base: Path, data: dict[str, Path]) -> list[str]:
    """Second VQAScore run: 1-3 object scenes and every yes/no and question set, from the first."""
    return ["--model_name_or_path", str(base), "--vqa", str(data["vqa"]), str(data["vqa_extra"]),
            "--qa", str(data["understanding"]), str(data["naming"]), "--output_dir", str(r.out / "vqascore"),
            "--num_train_epochs", str(r.vqa_epochs), "--learning_rate", str(r.vqa_lr),
            "--per_device_train_batch_size", str(r.batch_size), "--lr_scheduler_type", "cosine",
            "--warmup_steps", "50", "--eval_fraction", "0.05", "--max_eval_rows", "300", *_common(r)]


def img_reward_argv(r: Recipe, base: Path, data: dict[str, Path]) -> list[str]:
    return ["--model_name_or_path", str(base), "--pickapic", str(data["pickapic"]),
            "--imagerewarddb", str(data["imagerewarddb"]), "--imagerewarddb_warmup", "ratings",
            "--output_dir", str(r.out / "img_reward"),
            "--warmup_epochs", str(r.img_warmup_epochs), "--warmup_learning_rate", str(r.img_warmup_lr),
            "--warmup_batch_size", str(r.batch_size), "--warmup_high", "1.0", "--warmup_low", "0.0",
            "--max_steps", str(r.img_grpo_steps), "--learning_rate", str(r.img_grpo_lr),
            "--per_device_train_batch_size", "8", "--num_generations", "4", "--max_completion_length", "16",
            "--eval_fraction", "0.05", "--max_eval_pairs_per_source", "100", *_common(r)]


def edit_reward_argv(r: Recipe, base: Path, data: dict[str, Path]) -> list[str]:
    return ["--model_name_or_path", str(base), "--humanedit", str(data["humanedit"]),
            "--output_dir", str(r.out / "edit_reward"), "--num_train_epochs", str(r.edit_epochs),
            "--learning_rate", str(r.edit_lr), "--per_device_train_batch_size", str(r.batch_size),
            "--lr_scheduler_type", "cosine", "--warmup_steps", "50",
            "--negatives_per_example", str(r.edit_negatives),
            "--negative_kinds", "other_instruction", "unchanged", "other_output", "degraded",
            "--eval_fraction", "0.05", "--max_eval_examples", "60", *_common(r)]


ENTRY_POINTS = {
    "vqascore": ("pipelines/train_vqascore.py", "reward_models.vqascore.train:VQAScoreArgs", "trl:SFTConfig",
                 "reward_models.vqascore.train:train_vqascore"),
    "img_reward": ("pipelines/train_img_reward.py", "reward_models.img_reward.train:ImgRewardArgs",
                   "trl:GRPOConfig", "reward_models.img_reward.train:train_img_reward"),
    "edit_reward": ("pipelines/train_edit_reward.py", "reward_models.edit_reward.train:EditRewardArgs",
                    "trl:SFTConfig", "reward_models.edit_reward.train:train_edit_reward"),
}


def run_entry_point(name: str, argv: list[str]) -> dict:
    """Exactly what `python pipelines/train_<name>.py <argv>` does, in this process."""
    from reward_models.training.cli import main

    _, script, config, train = ENTRY_POINTS[name]
    return main(list(argv), script=script, config=config, train=train, name=f"shipped-{name}")


# -- held-out evaluation --------------------------------------------------------------------------------


def load_judges(folder: Path = SHIPPED, max_pixels: int = 64 * 64) -> dict:
    """The three scorers from `folder`, as the scoring job builds them (safetensors, no remote code)."""
    from reward_models.edit_reward.scorer import EditRewardScorer
    from reward_models.img_reward.scorer import ImgRewardScorer
    from reward_models.loading import LoadSpec
    from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig

    def spec(name):
        return LoadSpec(str(folder / name), device="cpu", dtype="float32", trust_remote_code=False)

    return {"img_reward": ImgRewardScorer(spec=spec("img_reward"), max_pixels=max_pixels, batch_size=32),
            "edit_reward": EditRewardScorer(spec=spec("edit_reward"), max_pixels=max_pixels, batch_size=32),
            "vqa": NativeVQAScorer(spec=spec("vqascore"), config=VQAScoreConfig(max_pixels=max_pixels,
                                                                                  batch_size=32))}


def score_candidates(judges: dict, rows: list[dict]) -> list[dict]:
    """Score world candidate rows (synthetic.candidates) the way the job does; one dict per row with
    the job's score columns, the cheap byte-identity check, and the truth (planted mode, fault)."""
    from PIL import Image

    from reward_models.interface import ScoreBatch
    from reward_models.vqascore.native import vqa_text_for

    out = []
    for row in rows:
        meta = json.loads(row["meta"])
        rec = {"sample_id": row["sample_id"], "task_hive": row["task"], "planted_mode": meta["planted_mode"],
               "fault": meta["fault"], "clean": bool(meta.get("clean")), "failure_modes": [], "error": None}
        try:
            rec["_image"] = Image.open(io.BytesIO(row["image"])).convert("RGB")
            if row["task"] == "edit":
                rec["_source"] = Image.open(io.BytesIO(row["source_image"])).convert("RGB")
                if row["image"] == row["source_image"]:
                    rec["failure_modes"] = ["edit_noncompliance"]
        except Exception as e:  # the world's broken files
            rec["error"] = f"undecodable: {type(e).__name__}"
        rec["_prompt"], rec["_vqa_text"] = row["prompt"], vqa_text_for(row["task"], row["prompt"], row["meta"])
        out.append(rec)
    live = [r for r in out if not r["error"] and not r["failure_modes"]]
    for stage, task in (("img_reward", "t2i"), ("edit_reward", "edit"), ("vqa", None)):
        todo = [r for r in live if task is None or r["task_hive"] == task]
        if not todo:
            continue
        batch = ScoreBatch([r["_vqa_text"] if stage == "vqa" else r["_prompt"] for r in todo],
                           [r["_image"] for r in todo],
                           [r["_source"] for r in todo] if stage == "edit_reward" else None)
        res = judges[stage].score(batch)
        for k, r in enumerate(todo):
            r[f"{stage}_score"] = float(res.score[k])
            for sub, v in res.sub_scores.items():
                r[f"{stage}_{sub}"] = float(v[k])
    for r in out:
        for k in ("_image", "_source", "_prompt", "_vqa_text"):
            r.pop(k, None)
    return out


def measure(scored: list[dict]) -> dict:
    """The job's decision rule on scored rows, measured against the truth (as curation.measure does)."""
    from curation.config import ThresholdConfig
    from curation.decisions import decide_row

    th = ThresholdConfig()
    enabled = {"img_reward", "edit_reward", "vqa"}
    kept = kept_clean = clean = clean_kept = 0
    per_mode: dict = defaultdict(lambda: {"faulty": 0, "rejected": 0, "planted_mode_tagged": 0})
    per_fault: dict = defaultdict(lambda: {"n": 0, "tagged": 0, "kept": 0})
    for r in scored:
        decision, modes, _ = decide_row(r, th, enabled)
        r["decision"], r["modes"] = decision, modes
        kept += decision == "keep"
        kept_clean += decision == "keep" and r["clean"]
        clean += r["clean"]
        clean_kept += r["clean"] and decision == "keep"
        if r["planted_mode"]:
            m = per_mode[r["planted_mode"]]
            m["faulty"] += 1
            m["rejected"] += decision == "reject"
            hit = decision == "reject" and r["planted_mode"] in modes
            m["planted_mode_tagged"] += hit
            f = per_fault[f"{r['task_hive']}/{r['fault']}"]
            f["n"] += 1
            f["tagged"] += hit
            f["kept"] += decision == "keep"
    faulty = sum(m["faulty"] for m in per_mode.values())
    tagged = sum(m["planted_mode_tagged"] for m in per_mode.values())
    return {"keep_precision": kept_clean / kept if kept else None, "keep_recall": clean_kept / clean if clean else None,
            "kept": kept, "clean": clean, "planted_mode_tag_rate": tagged / faulty if faulty else None,
            "per_mode": {k: {**v, "tag_rate": v["planted_mode_tagged"] / v["faulty"]} for k, v in sorted(per_mode.items())},
            "per_fault": dict(sorted(per_fault.items()))}


def judge_report(scored: list[dict]) -> dict:
    """Per judge, per planted fault (clean included): mean score, share passing the judge's own
    threshold (reward >= 0.9, VQAScore >= 0.5) and, for the reward judges, the share of each
    sub-score below 0.5."""
    th = {"img_reward": 0.9, "edit_reward": 0.9, "vqa": 0.5}
    rep: dict = {}
    for stage, t in th.items():
        groups: dict = defaultdict(list)
        for r in scored:
            if f"{stage}_score" in r:
                groups[f"{r['task_hive']}/{r['fault'] or 'clean'}"].append(r)
        table = {}
        for g, rs in sorted(groups.items()):
            s = np.array([r[f"{stage}_score"] for r in rs])
            row = {"n": len(rs), "mean": round(float(s.mean()), 3), "pass": round(float((s >= t).mean()), 3)}
            subs = sorted({k for r in rs for k in r if k.startswith(stage + "_") and k != f"{stage}_score"})
            for k in subs:
                row[k.removeprefix(stage + "_") + "<0.5"] = round(float(np.mean([r[k] < 0.5 for r in rs])), 3)
            table[g] = row
        rep[stage] = table
    return rep


def evaluate_held_out(folder: Path = SHIPPED, n: int = 400, seed: int = 7) -> dict:
    """Score `n` world candidates of `seed` with the judges in `folder`; per-judge report and the
    decision rule's precision / recall / planted-mode tag rate."""
    import synthetic

    if seed == DEMO_SEED:
        raise ValueError("the demo's seed is the final check: evaluate on another one")
    scored = score_candidates(load_judges(folder), synthetic.candidates(n, seed))
    return {"seed": seed, "rows": n, "decision_rule": measure(scored), "judges": judge_report(scored)}


# -- cards ----------------------------------------------------------------------------------------


def card_section(name: str, r: Recipe, summary: dict, held: dict, command: str, wall: dict) -> str:
    from reward_models.vqascore.train import rounded

    stage = {"vqascore": "vqa"}.get(name, name)
    sizes = {"vqascore": {"run 1: one-object yes/no rows (matching_rows)": r.n_single,
                          "run 1+2: one-object naming rows (naming_rows)": r.n_naming,
                          "run 2: 1-3 object yes/no rows (matching_rows)": r.n_vqa,
                          "run 2: extra yes/no rows (extra_vqa_rows)": r.n_vqa_extra,
                          "run 2: question/answer rows (world understanding_rows)": r.n_understanding},
             "img_reward": {"pickapic pairs": r.n_pickapic, "imagerewarddb prompts": r.n_imagerewarddb},
             "edit_reward": {"humanedit edits": r.n_humanedit, "negatives per edit": r.edit_negatives}}[name]
    seeds = {"vqascore": ["single", "vqa", "vqa_extra", "understanding", "naming"], "img_reward": ["pickapic", "imagerewarddb"],
             "edit_reward": ["humanedit"]}[name]
    steps = {k: summary.get(k) for k in ("steps", "warmup_rows", "train_judgements", "train_seconds") if k in summary}
    if name == "vqascore" and "vqascore_single" in summary:
        first = summary["vqascore_single"]
        steps = {"run 1 (one object)": {k: first.get(k) for k in ("steps", "train_seconds", "eval_after")},
                 "run 2 (1-3 objects)": steps}
    lines = ["", "## Shipped recipe (synthetic world)", "",
             f"Reproduce: `{command}` (the judges of this run, ~{round(sum(wall.values()) / 60, 1)} min on this machine's CPU; "
             f"this judge: {round(wall.get(name, 0) / 60, 1)} min).", "",
             f"- base: tiny Qwen2.5-VL built locally (`reward_models.tiny`), sizes `{json.dumps(r.tiny)}`, "
             f"weights seed {r.seeds['base']}" + ("; two runs of the entry point, the second from the first's weights"
                                                  if name == "vqascore" else "; fine-tuned from the VQAScore judge"),
             f"- training seed {r.seeds['train']}; world data seeds: "
             + ", ".join(f"{k} {r.seeds[k]}" for k in seeds),
             f"- data sizes: {json.dumps(sizes)}",
             f"- steps / rows / time: `{json.dumps(rounded(steps), default=str)}`",
             f"- never trained on the demo's candidate seed {DEMO_SEED}", "",
             f"### Held-out world candidates (seed {held['seed']}, {held['rows']} rows)", "",
             "Share of rows passing this judge's threshold (reward >= 0.9, VQAScore >= 0.5) and of each "
             "sub-score below 0.5, per planted fault:", "", "| fault | n | mean | pass | sub-scores < 0.5 |",
             "|---|---|---|---|---|"]
    for g, row in held["judges"].get(stage, {}).items():
        subs = ", ".join(f"{k} {v}" for k, v in row.items() if k.endswith("<0.5"))
        lines.append(f"| {g} | {row['n']} | {row['mean']} | {row['pass']} | {subs} |")
    d = held["decision_rule"]
    lines += ["", "All three shipped judges under the scoring job's decision rule on the same rows: keep precision "
              f"{_pct(d['keep_precision'])}, keep recall {_pct(d['keep_recall'])}, planted mode tagged on "
              f"{_pct(d['planted_mode_tag_rate'])} of faulty rows ("
              + ", ".join(f"{m} {_pct(v['tag_rate'])}" for m, v in d["per_mode"].items()) + ").", ""]
    return "\n".join(lines)


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


# -- the whole recipe -----------------------------------------------------------------------------------


def train_shipped_judges(r: Recipe, command: str = "python pipelines/train_shipped_judges.py",
                         only: tuple[str, ...] = JUDGES) -> dict:
    """Train (the judges in `only`, in order), evaluate and write the cards. Returns a summary."""
    import torch

    t0 = time.time()
    r.work.mkdir(parents=True, exist_ok=True)
    r.out.mkdir(parents=True, exist_ok=True)
    wall: dict = {}
    t = time.time()
    data = write_world_data(r)
    base = build_base(r)
    wall["data_and_base"] = time.time() - t
    summaries: dict = {}
    torch.manual_seed(r.seeds["train"])
    for name in only:
        t = time.time()
        start = r.out / "vqascore"
        if name == "vqascore":
            summaries["vqascore_single"] = run_entry_point(name, vqascore_single_argv(r, base, data))
            start = r.work / "vqascore_single"
        argv = {"vqascore": vqascore_argv, "img_reward": img_reward_argv, "edit_reward": edit_reward_argv}[name](
            r, start, data)
        summaries[name] = run_entry_point(name, argv)
        shutil.rmtree(r.out / name / "warmup", ignore_errors=True)
        wall[name] = time.time() - t
        logger.info("%s trained in %.0f s", name, wall[name])
    t = time.time()
    held = evaluate_held_out(r.out, r.eval_rows, r.eval_seed)
    wall["evaluation"] = time.time() - t
    for name in only:
        readme = r.out / name / "README.md"
        summary = dict(summaries[name], **({"vqascore_single": summaries["vqascore_single"]}
                                           if name == "vqascore" and "vqascore_single" in summaries else {}))
        readme.write_text(readme.read_text() + card_section(name, r, summary, held, command, wall))
    result = {"wall_seconds": {k: round(v, 1) for k, v in wall.items()}, "total_seconds": round(time.time() - t0, 1),
              "held_out": held, "recipe": json.loads(json.dumps(asdict(r), default=str)),
              "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    (r.work / "shipped_summary.json").write_text(json.dumps(result, indent=2, default=str))
    return result

"""The shipped small judges: a base VLM, then VQAScore, ImgReward and EditReward from it, then
calibration, then a measurement on an unseen seed, all from seeds and the project's entry points.

`python pipelines/train_shipped_judges.py` runs `train_shipped_judges(Recipe())`:

1. data: the world's writers put description, yes/no, Pick-a-Pic, ImageRewardDB and HumanEdit
   files under `work/data`, each from its own seed;
2. a tiny Qwen2.5-VL is built locally (tokenizer trained on the world's texts and every judge's prompts);
3. base VLM (`pipelines/train_base_vlm.py`, TRL SFT): taught to describe world images densely
   (every slot's object, the background, the image quality, broken objects), which a small model
   learns within minutes because every word is a target;
4. from the base, in parallel where the cores allow (each stage its own process):
   VQAScore (`pipelines/train_vqascore.py`, TRL SFT on yes/no rows, t2v-metrics' definition:
   P("Yes") right after the question, no reasoning), ImgReward (`pipelines/train_img_reward.py`:
   SFT warm-up then TRL GRPO) and EditReward (`pipelines/train_edit_reward.py`, TRL SFT), both
   describe-then-answer: each image is described greedily by the judge itself, and the score is
   read from the answer tokens after that description;
5. calibration: the real scoring job scores a calibration seed's candidates with the judges as
   they come out of training; an isotonic map per aspect (raw readout -> share of good samples)
   is fitted from those shards and the truth, and stored as `calibration.json` in each reward
   judge's folder, which the scorer applies;
6. measurement: the real scoring job on a measurement seed, measured by `curation.measure`;
   the figures (decision rule, AUC per judge and per fault, ECE before/after calibration) go
   into every card with the seeds, data sizes, steps and wall times.

Each stage leaves a marker under `work/done/`; a killed run resumes at the first unfinished stage.
Training, calibration and measurement seeds are disjoint (`Recipe.seed_table`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

from curation.demo import DEMO_SEED, REPO_ROOT, SHIPPED

JUDGES = ("vqascore", "img_reward", "edit_reward")
ARTIFACTS = ("base_vlm", *JUDGES)
ENTRY_POINTS = {name: REPO_ROOT / "pipelines" / f"train_{name}.py" for name in ARTIFACTS}


@dataclass
class Recipe:
    """Everything that determines the shipped judges."""

    out: Path = SHIPPED
    """Where the base VLM and the three judge folders go."""
    work: Path = REPO_ROOT / "runs" / "shipped-judges"
    """Scratch: world data, the random starting model, stage logs and markers, job runs."""
    size: int = 64
    """World image size (the demo's)."""
    seeds: dict = field(default_factory=lambda: {
        "weights": 0, "train": 0, "describe": 201, "yesno": 202, "pickapic": 203, "imagerewarddb": 204,
        "humanedit": 205, "perception": 206, "alignment": 207, "contrast": 208, "superedit": 209, "changes": 210})
    """Seeds of the starting weights, the trainers, and each world training set (`perception`: the
    held-out scenes of the base VLM's description check)."""
    calibration_seed: int = 301
    """World candidate seed the calibration maps are fitted on."""
    calibration_rows: int = 1200
    """Candidates scored for calibration."""
    measure_seed: int = 7
    """World candidate seed of the cards' held-out figures."""
    measure_rows: int = 400
    """Candidates scored for the cards."""
    tiny: dict = field(default_factory=lambda: {
        "hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vision_hidden_size": 32, "vision_intermediate_size": 64, "vision_depth": 2,
        "patch_size": 8, "spatial_merge_size": 2, "window_size": 32, "min_pixels": 16 * 16,
        "max_pixels": 64 * 64, "rope_theta": 10.0, "initializer_range": 0.12, "vocab_size": 1536})
    """Tiny Qwen2.5-VL sizes (`reward_models.tiny.TinyVLConfig` fields): 16 image tokens per 64 px
    image, 4 language layers (describing needs 2; comparing a caption with a description needs more)."""
    describe_question: str = "Describe the image."
    """What the base VLM learns to answer, and the judges ask before judging."""
    n_describe: int = 24000
    """Description rows for the base VLM (half clean renders, half degraded or broken)."""
    describe_order: str = "random"
    """Order of the objects in the base VLM's descriptions: `random` (any order a caption may use, so
    the describer gives every caption of a picture its likelihood) or `position`."""
    n_changes: int = 16000
    """Image-pair rows for the base VLM: the change question answered with the edit's instruction
    (`synthetic.describe.change_rows`), what EditReward's likelihood readout reads."""
    reward_readout: str = "likelihood"
    """How ImgReward and EditReward are made and read: `likelihood` (the base VLM read by the
    likelihood of the caption or instruction, `reward_models/judging/likelihood.py`; no further
    training) or `answer` (trained by their entry points, TRL GRPO / SFT, read from answer tokens)."""
    base_steps: int = 10000
    """Base VLM optimiser steps."""
    base_lr: float = 1e-3
    n_yesno: int = 20000
    """VQAScore yes/no rows (`synthetic.judge_rows.yesno_rows`)."""
    n_replay: int = 6000
    """Description rows mixed into VQAScore's training (keeps the base's perception)."""
    vqa_epochs: float = 4.0
    """VQAScore epochs over yes/no + contrast rows: one pass answers "yes/no" for counts and artifacts,
    binding a caption's colour, shape and place takes longer (1.5 epochs: job AUC 0.82-0.85; 4: 0.91-0.96)."""
    vqa_lr: float = 5e-4
    n_pickapic: int = 2000
    """Pick-a-Pic pairs (a clean render vs one with a planted fault, or a much noisier one)."""
    n_alignment: int = 3000
    """ImgReward's yes/no alignment rows (half show their caption, half the scene with one attribute changed)."""
    n_imagerewarddb: int = 500
    """ImageRewardDB prompts (3-5 rated images each; read pointwise for the warm-up)."""
    n_contrast: int = 6000
    """Pictures of contrast yes/no rows (two rows each: the caption of what is drawn, yes; the caption
    it was changed from, no), for ImgReward's warm-up and VQAScore: only the text differs, so only a
    comparison of text and picture tells them apart."""
    img_warmup_epochs: float = 1.5
    img_warmup_lr: float = 5e-4
    img_grpo_steps: int = 10
    img_grpo_lr: float = 1e-5
    n_humanedit: int = 1200
    """HumanEdit good edits (EditReward builds its negatives from them)."""
    n_superedit: int = 1500
    """World edits in SuperEdit-40K's layout, each with negative instructions (another colour, object
    or place on the same source): EditReward's wrong-edit negatives."""
    edit_epochs: float = 1.5
    edit_lr: float = 5e-4
    edit_negatives: int = 4
    batch_size: int = 16
    jobs: int = 2
    """Stages trained at once after the base (one CPU thread each)."""

    def scaled(self, f: float) -> "Recipe":
        """The same recipe with every data size and step count multiplied by `f` (smoke runs)."""
        names = ("n_describe", "n_changes", "n_yesno", "n_replay", "n_pickapic", "n_alignment", "n_imagerewarddb", "n_humanedit",
                 "n_contrast", "n_superedit",
                 "calibration_rows", "measure_rows", "base_steps")
        return replace(self, **{n: max(16, int(getattr(self, n) * f)) for n in names},
                       img_grpo_steps=max(1, int(self.img_grpo_steps * min(1.0, f * 4))))

    def seed_table(self) -> dict:
        """Every seed by use: training, calibration and measurement are disjoint."""
        train = {k: v for k, v in self.seeds.items() if k not in ("weights", "train")}
        table = {"training data": train, "weights and trainers": {"weights": self.seeds["weights"],
                                                                   "train": self.seeds["train"]},
                 "calibration": self.calibration_seed, "measurement": self.measure_seed, "demo (never used)": DEMO_SEED}
        used = list(train.values()) + [self.calibration_seed, self.measure_seed, DEMO_SEED]
        if len(set(used)) != len(used):
            raise ValueError(f"world seeds must be disjoint: {table}")
        return table

    def fingerprint(self, stage: str) -> str:
        """Hash of everything `stage` depends on (its own settings and those of the stages before it),
        so that changing one judge's settings retrains that judge only."""
        kind = stage.split(":")[0]  # "img_reward:variant" is a variant of a stage (ablations)
        own = {k: self.seeds[k.split(".", 1)[1]] if k.startswith("seeds.") else getattr(self, k)
               for k in STAGE_FIELDS[kind]}
        before = [self.fingerprint(s) for s in STAGE_AFTER.get(kind, ())]
        return hashlib.sha256(json.dumps([stage, own, before], sort_keys=True, default=str).encode()).hexdigest()[:12]


STAGE_FIELDS = {
    "data": ("size", "seeds", "n_describe", "describe_order", "n_changes", "n_yesno", "n_pickapic", "n_alignment", "n_imagerewarddb", "n_humanedit", "tiny",
             "describe_question", "n_contrast", "n_superedit"),
    # The base VLM reads only the description rows and the starting model: it depends on their
    # settings, not on every dataset's (adding a judge's data does not retrain the base).
    "base_vlm": ("base_steps", "base_lr", "batch_size", "size", "n_describe", "describe_order", "n_changes", "tiny",
                 "describe_question", "seeds.describe", "seeds.changes", "seeds.weights"),
    "vqascore": ("n_replay", "vqa_epochs", "vqa_lr", "batch_size"),
    "img_reward": ("reward_readout", "img_warmup_epochs", "img_warmup_lr", "img_grpo_steps", "img_grpo_lr",
                   "batch_size"),
    "edit_reward": ("reward_readout", "edit_epochs", "edit_lr", "edit_negatives", "batch_size"),
    "perception": (),
    "calibrate": ("calibration_seed", "calibration_rows"),
    "measure": ("measure_seed", "measure_rows"),
}
"""The recipe fields each stage reads itself."""
STAGE_AFTER = {"vqascore": ("base_vlm", "data"), "img_reward": ("base_vlm", "data"),
               "edit_reward": ("base_vlm", "data"), "perception": ("base_vlm",),
               "calibrate": ("vqascore", "img_reward", "edit_reward"), "measure": ("calibrate",)}
"""The stages whose results each stage uses."""


# -- data and the starting model ----------------------------------------------------------------------


def write_world_data(r: Recipe) -> dict[str, Path]:
    """Every training file, in the layouts the entry points read; returns name -> folder."""
    import synthetic
    from synthetic.judge_rows import (ALIGNMENT_SHARES, write_changes, write_contrast, write_descriptions,
                                      write_superedit, write_yesno)

    data = r.work / "data"
    s = r.seeds
    writers = {
        "describe": lambda p: write_descriptions(p, r.n_describe, s["describe"], r.size, order=r.describe_order),
        "changes": lambda p: write_changes(p, r.n_changes, s["changes"], r.size),
        "yesno": lambda p: write_yesno(p, r.n_yesno, s["yesno"], r.size),
        "pickapic": lambda p: synthetic.write_pickapic(p, r.n_pickapic, s["pickapic"], r.size),
        "imagerewarddb": lambda p: synthetic.write_imagerewarddb(p, r.n_imagerewarddb, s["imagerewarddb"], r.size),
        "humanedit": lambda p: synthetic.write_humanedit(p, r.n_humanedit, s["humanedit"], r.size),
        "alignment": lambda p: write_yesno(p, r.n_alignment, s["alignment"], r.size, shares=ALIGNMENT_SHARES),
        "contrast": lambda p: write_contrast(p, r.n_contrast, s["contrast"], r.size),
        "superedit": lambda p: write_superedit(p, r.n_superedit, s["superedit"], r.size),
    }
    paths = {}
    for name, write in writers.items():
        paths[name] = data / name
        if paths[name].exists():
            shutil.rmtree(paths[name])
        write(paths[name])
    return paths


def tokenizer_corpus(r: Recipe, seed: int = 999) -> list[str]:
    """World texts, descriptions and every judge's prompts, for the tiny tokenizer."""
    import synthetic
    from reward_models.edit_reward.layout import default_edit_layout
    from reward_models.edit_reward.layout import layout_corpus as edit_corpus
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.img_reward.layout import layout_corpus as img_corpus
    from reward_models.vqascore.config import DEFAULT_TEMPLATE
    from synthetic.describe import CHANGE_QUESTION, change_rows, description_rows

    texts = [DEFAULT_TEMPLATE.format(x["text"]) for x in synthetic.vqa_rows(300, seed)]
    texts += [d["answer"] for d in description_rows(400, seed, r.size)] + [r.describe_question] * 20
    texts += [d["answer"] for d in change_rows(300, seed, r.size)] + [CHANGE_QUESTION] * 20
    texts += [t.instruction for t in synthetic.edit_triplets(300, seed)]
    edit = default_edit_layout()
    return texts + img_corpus(default_img_layout()) + edit_corpus(edit) + list(edit.describe_labels) * 20


def build_init(r: Recipe) -> Path:
    """The random tiny Qwen2.5-VL the base VLM starts from (world tokenizer)."""
    from reward_models.edit_reward.layout import default_edit_layout
    from reward_models.img_reward.build import _check_answer_tokens
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl

    path = r.work / "init"
    if path.exists():
        shutil.rmtree(path)
    build_tiny_qwen25vl(path, TinyVLConfig(**{**r.tiny, "seed": r.seeds["weights"], "corpus": tokenizer_corpus(r)}))
    _check_answer_tokens(path, default_img_layout())
    _check_answer_tokens(path, default_edit_layout())
    return path


# -- training through the entry points ------------------------------------------------------------------


def _common(r: Recipe) -> list[str]:
    return ["--seed", str(r.seeds["train"]), "--report_to", "none", "--save_strategy", "no", "--logging_steps", "100",
            "--gradient_checkpointing", "false", "--disable_tqdm", "true", "--dataloader_num_workers", "0",
            "--per_device_train_batch_size", str(r.batch_size), "--lr_scheduler_type", "cosine", "--warmup_steps", "100"]


def base_vlm_argv(r: Recipe, start: Path, data: dict[str, Path], out: Path) -> list[str]:
    return ["--model_name_or_path", str(start), "--qa", str(data["describe"]), str(data["changes"]),
            "--output_dir", str(out),
            "--max_steps", str(r.base_steps), "--learning_rate", str(r.base_lr), "--eval_fraction", "0.02",
            "--max_eval_rows", "200", *_common(r)]


def vqascore_argv(r: Recipe, start: Path, data: dict[str, Path], out: Path) -> list[str]:
    return ["--model_name_or_path", str(start), "--vqa", str(data["yesno"]), str(data["contrast"]),
            "--qa", str(data["describe"]),
            "--max_qa_rows", str(r.n_replay), "--output_dir", str(out), "--num_train_epochs", str(r.vqa_epochs),
            "--learning_rate", str(r.vqa_lr), "--eval_fraction", "0.03", "--max_eval_rows", "400", *_common(r)]


def img_reward_argv(r: Recipe, start: Path, data: dict[str, Path], out: Path, describe: bool = True) -> list[str]:
    return ["--model_name_or_path", str(start), "--pickapic", str(data["pickapic"]),
            "--imagerewarddb", str(data["imagerewarddb"]), "--imagerewarddb_warmup", "ratings",
            "--alignment_yesno", str(data["alignment"]), str(data["contrast"]),
            "--output_dir", str(out), *(["--describe_question", r.describe_question] if describe else []),
            "--warmup_epochs", str(r.img_warmup_epochs), "--warmup_learning_rate", str(r.img_warmup_lr),
            "--warmup_batch_size", str(r.batch_size), "--warmup_high", "1.0", "--warmup_low", "0.0",
            "--max_steps", str(r.img_grpo_steps), "--learning_rate", str(r.img_grpo_lr),
            "--num_generations", "4", "--max_completion_length", "112" if describe else "16",
            "--eval_fraction", "0.05", "--max_eval_pairs_per_source", "100", "--eval_before", "false",
            *_common(r), "--per_device_train_batch_size", "8"]


def edit_reward_argv(r: Recipe, start: Path, data: dict[str, Path], out: Path, describe: bool = True) -> list[str]:
    return ["--model_name_or_path", str(start), "--humanedit", str(data["humanedit"]),
            "--superedit", str(data["superedit"]),
            "--output_dir", str(out), *(["--describe_question", r.describe_question] if describe else []),
            "--num_train_epochs", str(r.edit_epochs), "--learning_rate", str(r.edit_lr),
            "--negatives_per_example", str(r.edit_negatives),
            "--negative_kinds", "other_instruction", "unchanged", "other_output", "degraded", "neg_prompt",
            "--eval_fraction", "0.05", "--max_eval_examples", "60", "--eval_before", "false", *_common(r)]


ARGV = {"base_vlm": base_vlm_argv, "vqascore": vqascore_argv, "img_reward": img_reward_argv,
        "edit_reward": edit_reward_argv}


def run_entry_point(name: str, argv: list[str], log: Path, threads: int = 1) -> None:
    """`python pipelines/train_<name>.py <argv>` in its own process (logs to `log`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, str(ENTRY_POINTS[name]), *argv], stdout=fh, stderr=subprocess.STDOUT,
                              env=env, cwd=REPO_ROOT)
    if proc.returncode:
        raise RuntimeError(f"{name} failed (exit {proc.returncode}); see {log}")


class Stages:
    """Markers under `work/done/`: a stage that finished for this recipe is not run again."""

    def __init__(self, r: Recipe):
        self.dir = r.work / "done"
        self.recipe = r

    def done(self, name: str) -> dict | None:
        path = self.dir / f"{name}.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return data if data.get("fingerprint") == self.recipe.fingerprint(name) else None

    def mark(self, name: str, **info) -> dict:
        self.dir.mkdir(parents=True, exist_ok=True)
        data = {"fingerprint": self.recipe.fingerprint(name), **info}
        (self.dir / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))
        return data


def train_stage(r: Recipe, stages: Stages, name: str, start: Path, data: dict[str, Path], out: Path,
                threads: int = 1, **kw) -> dict:
    done = stages.done(name)
    if done:
        logger.info("%s: already trained for this recipe (%s)", name, stages.dir / f"{name}.json")
        return done
    t = time.time()
    # Train into a staging folder and swap it in at the end: the judge in `out` (shipped in the
    # repository, used by the demo and the tests) stays whole while its successor trains or if it fails.
    staging = r.work / "staging" / name.replace(":", "-")
    if staging.exists():
        shutil.rmtree(staging)
    logger.info("%s: training from %s", name, start)
    run_entry_point(name.split(":")[0], ARGV[name.split(":")[0]](r, start, data, staging, **kw),
                    r.work / "logs" / f"{name.replace(':', '-')}.log", threads)
    shutil.rmtree(staging / "warmup", ignore_errors=True)
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staging), str(out))
    summary_file = next((out / f for f in ("train_summary.json", "vqascore.json", "base_vlm.json")
                         if (out / f).exists()), None)
    summary = json.loads(summary_file.read_text()) if summary_file else {}
    return stages.mark(name, wall_seconds=round(time.time() - t, 1), summary=summary)


# -- likelihood judges ---------------------------------------------------------------------------------


def likelihood_specs() -> dict[str, dict]:
    """ImgReward's and EditReward's likelihood readouts in the world's words (the base VLM's
    describe and change questions, quality words, broken-object adjectives, the other-scene answer)."""
    from reward_models.judging.likelihood import LikelihoodSpec
    from synthetic.describe import BROKEN_WORDS, CHANGE_QUESTION, DESCRIBE_QUESTION, OTHER_SCENE, QUALITY_WORDS

    quality = [QUALITY_WORDS[None]] + [w for k, w in QUALITY_WORDS.items() if k is not None]
    specs = {
        "img_reward": LikelihoodSpec(DESCRIBE_QUESTION, 1, quality_words=quality,
                                     flaw_words=list(BROKEN_WORDS.values()),
                                     aspects={"overall": "product", "alignment": "text", "fidelity": "quality",
                                              "integrity": "flaws"}),
        "edit_reward": LikelihoodSpec(CHANGE_QUESTION, 2, quality_words=quality,
                                      aspects={"overall": "product", "compliance": "text",
                                               "consistency": f"refusal:{OTHER_SCENE.split()[0]}", "quality": "quality"}),
    }
    return {k: v.to_json() for k, v in specs.items()}


LIKELIHOOD_CARD = {
    "img_reward": ("ImgReward (likelihood readout)",
                   "A (prompt, image) judge: the base VLM reads the caption as its own description of the image "
                   "(the answer to \"{q}\"), and each token's probability says whether the picture supports it."),
    "edit_reward": ("EditReward (likelihood readout)",
                    "A (source, instruction, edited) judge: the base VLM reads the instruction as its own account of "
                    "the change between the two images (the answer to \"{q}\")."),
}


def likelihood_judge(r: Recipe, stages: Stages, name: str, base: Path, out: Path) -> dict:
    """A likelihood judge folder: the base VLM's weights with the judge's layout and likelihood readout
    (no further training: the describer is the judge). Its card explains the readout."""
    from reward_models.edit_reward.layout import default_edit_layout
    from reward_models.img_reward.layout import default_img_layout
    from reward_models.judging.layout import save_layout
    from reward_models.judging.likelihood import LikelihoodSpec

    done = stages.done(name)
    if done:
        return done
    t = time.time()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out, ignore=shutil.ignore_patterns("base_vlm.json", "README.md", "calibration.json"))
    spec = likelihood_specs()[name]
    layout = {"img_reward": default_img_layout, "edit_reward": default_edit_layout}[name]()
    layout = replace(layout, likelihood=spec)
    save_layout(out, layout, training={"base_model": "base_vlm (copied)", "readout": "likelihood"})
    title, text = LIKELIHOOD_CARD[name]
    sp = LikelihoodSpec.from_json(spec)
    lines = [f"# {title}", "", text.format(q=sp.question), "",
             "## Readout (`reward_models/judging/likelihood.py`)", "",
             "The caption (or instruction) and `" + sp.suffix + "` are teacher-forced as the answer; per aspect:", ""]
    lines += [f"- `{a}`: {how}" for a, how in sp.aspects.items()]
    lines += ["", f"Quality words {sp.quality_words} (first = good); flaw words {sp.flaw_words}.",
              "Calibrated per aspect by `calibration.json` (isotonic, fitted on the calibration seed's job shards).",
              "The answer-token layout in `reward_model.json` is kept (`readout_mode='answer'`) but these weights were "
              "never trained on it.", ""]
    (out / "README.md").write_text("\n".join(lines))
    return stages.mark(name, wall_seconds=round(time.time() - t, 1), summary={"readout": "likelihood", "spec": spec})


# -- perception of the base VLM -----------------------------------------------------------------------


def perception(model_dir: Path, n: int, seed: int, size: int, question: str) -> dict:
    """Held-out description accuracy per attribute: greedy descriptions of `n` fresh world images
    (half clean, half degraded or broken) compared slot by slot with the truth."""
    from reward_models.loading import LoadSpec, load_vl_model
    from reward_models.judging.describe import Describer
    from reward_models.judging.readout import prepare_images
    from synthetic.describe import description_rows, parse_description
    from synthetic.scene import POSITIONS

    loaded = load_vl_model(LoadSpec(str(model_dir), device="cpu", dtype="float32"))
    rows = description_rows(n, seed, size)
    max_pixels = getattr(loaded.processor.image_processor, "max_pixels", None)
    got = Describer(loaded.model, loaded.processor, question).describe(
        [prepare_images([x["image"]], max_pixels)[0] for x in rows])
    hits: dict[str, list[bool]] = {k: [] for k in ("exact", "colour", "shape", "position", "count", "word",
                                                   "background", "quality", "broken")}
    for x, g in zip(rows, got):
        want, have = parse_description(x["answer"]), parse_description(g)
        hits["exact"].append(g == x["answer"])
        objects = [p for p in POSITIONS if p in want]
        for p in objects:
            w, h = want[p].split(), have.get(p, "").split()
            hits["position"].append(bool(h))
            hits["colour"].append(len(h) >= 2 and h[-2] == w[-2])
            hits["shape"].append(len(h) >= 2 and h[-1] == w[-1])
            hits["broken"].append(w[:-2] == h[:-2])
        hits["count"].append(len(objects) == sum(p in have for p in POSITIONS))
        if "word" in want:
            hits["word"].append(want["word"] == have.get("word"))
        for k in ("background", "quality"):
            hits[k].append(want.get(k) == have.get(k))
    return {"n": n, "seed": seed, **{k: round(float(np.mean(v)), 4) for k, v in hits.items() if v}}


# -- calibration and measurement through the real job -------------------------------------------------


CALIBRATION_LABELS = {
    # (stage, aspect) -> the truth a calibrated value is the probability of
    ("img_reward", "overall"): ("score", None),
    ("img_reward", "alignment"): ("alignment", "instruction_alignment"),
    ("img_reward", "fidelity"): ("fidelity", "visual_artifacts"),
    ("img_reward", "integrity"): ("integrity", "semantic_inconsistency"),
    ("edit_reward", "overall"): ("score", None),
    ("edit_reward", "compliance"): ("compliance", "edit_noncompliance"),
    ("edit_reward", "consistency"): ("consistency", "semantic_inconsistency"),
    ("edit_reward", "quality"): ("quality", "visual_artifacts"),
}
"""Per reward-judge aspect: its shard column suffix and the planted mode it stands against (None: the
overall score stands against every fault, i.e. it is the probability that the sample is clean)."""


def judge_args(folder: Path) -> list[str]:
    """Scoring-job flags that use the judges in `folder`."""
    return ["--img-reward-model", str(folder / "img_reward"), "--edit-reward-model", str(folder / "edit_reward"),
            "--vqa-model", str(folder / "vqascore")]


def score_world(folder: Path, seed: int, n: int, judges: Path) -> dict:
    """The real job on `n` world candidates of `seed` with the judges in `judges`, measured by
    `curation.measure` (shards and measurement under `folder`)."""
    from curation.measure import measure_world

    if seed == DEMO_SEED:
        raise ValueError("the demo's seed is the final check: use another one")
    return measure_world(seed, n, folder, judge_args(judges))


def shard_scores(folder: Path) -> list[dict]:
    """Scored rows of a `score_world` run joined with the truth (sample_id, task, clean, planted_mode,
    fault and every judge column)."""
    import duckdb

    from curation.shards import shard_glob

    con = duckdb.connect(":memory:")
    cur = con.execute(
        "SELECT s.* EXCLUDE (image, source_image), t.clean, t.planted_mode, t.fault "
        "FROM read_parquet(?, hive_partitioning=true, union_by_name=true) s "
        "JOIN read_parquet(?) t USING (sample_id) WHERE s.decision != 'error'",
        [str(shard_glob(folder / "shards")), str(folder / "candidates" / "truth.parquet")])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def labelled(rows: list[dict], stage: str, aspect: str) -> tuple[np.ndarray, np.ndarray]:
    """(raw values, good labels) of one reward-judge aspect over rows it scored."""
    column, mode = CALIBRATION_LABELS[(stage, aspect)]
    col = f"{stage}_{column}"
    rs = [x for x in rows if x.get(col) is not None]
    good = [bool(x["clean"]) if mode is None else x["planted_mode"] != mode for x in rs]
    return np.array([x[col] for x in rs], dtype=np.float64), np.array(good, dtype=np.float64)


def fit_calibration(rows: list[dict], stage: str, source: str):
    """A `Calibration` for one reward judge from scored, labelled rows."""
    from reward_models.calibration import Calibration, fit_isotonic

    maps = {}
    for (st, aspect) in CALIBRATION_LABELS:
        if st == stage:
            raw, good = labelled(rows, stage, aspect)
            if len(raw):
                maps[aspect] = fit_isotonic(raw, good)
    return Calibration(maps, source)


def reliability(rows: list[dict], stage: str) -> dict:
    """ECE of every calibrated aspect of `stage` on `rows` (the values as the job stored them)."""
    from reward_models.calibration import ece

    out = {}
    for (st, aspect) in CALIBRATION_LABELS:
        if st == stage:
            raw, good = labelled(rows, stage, aspect)
            out[aspect] = None if not len(raw) else round(ece(raw, good), 4)
    return out


def calibrate(r: Recipe, stages: Stages) -> dict:
    """Fit and store the reward judges' calibration maps from the real job on the calibration seed."""
    from reward_models.calibration import CALIBRATION_FILE

    done = stages.done("calibrate")
    if done:
        return done
    t = time.time()
    for stage in ("img_reward", "edit_reward"):
        (r.out / stage / CALIBRATION_FILE).unlink(missing_ok=True)
    folder = r.work / "calibration"
    score_world(folder, r.calibration_seed, r.calibration_rows, r.out)
    rows = shard_scores(folder)
    info = {}
    for stage in ("img_reward", "edit_reward"):
        cal = fit_calibration(rows, stage, f"isotonic regression on the scoring job's shards of world candidate "
                                           f"seed {r.calibration_seed} ({r.calibration_rows} rows)")
        cal.save(r.out / stage)
        info[stage] = {"ece_on_calibration_set_raw": reliability(rows, stage),
                       "fitted_on": {a: m.n for a, m in cal.maps.items()}}
    return stages.mark("calibrate", wall_seconds=round(time.time() - t, 1), **info)


def measure(r: Recipe, stages: Stages) -> dict:
    """The cards' held-out figures: the real job on the measurement seed, raw and calibrated."""
    from reward_models.calibration import CALIBRATION_FILE

    done = stages.done("measure")
    if done:
        return done
    t = time.time()
    raw_judges = r.work / "measure" / "uncalibrated-judges"
    if raw_judges.exists():
        shutil.rmtree(raw_judges)
    for name in JUDGES:  # the same judges without their calibration maps: the "before" column
        shutil.copytree(r.out / name, raw_judges / name, ignore=shutil.ignore_patterns(CALIBRATION_FILE))
    before = score_world(r.work / "measure" / "raw", r.measure_seed, r.measure_rows, raw_judges)
    after = score_world(r.work / "measure" / "calibrated", r.measure_seed, r.measure_rows, r.out)
    ece_before = {s: reliability(shard_scores(r.work / "measure" / "raw"), s) for s in ("img_reward", "edit_reward")}
    ece_after = {s: reliability(shard_scores(r.work / "measure" / "calibrated"), s)
                 for s in ("img_reward", "edit_reward")}
    return stages.mark("measure", wall_seconds=round(time.time() - t, 1), before=before, after=after,
                       ece_before=ece_before, ece_after=ece_after)


# -- cards ----------------------------------------------------------------------------------------------


def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def decision_table(m: dict) -> list[str]:
    """Markdown lines: the decision rule's figures from one measurement."""
    lines = [f"- keep precision {_pct(m['keep_precision'])} ({m['kept']} kept), keep recall "
             f"{_pct(m['keep_recall'])} ({m['clean']} clean), planted mode tagged on {_pct(m['planted_mode_tag_rate'])} "
             "of faulty rows (" + ", ".join(f"{k} {_pct(v['tag_rate'])}" for k, v in m["per_mode"].items()) + ")"]
    for task, cols in m.get("judge_separation", {}).items():
        lines.append(f"- {task}: clean-vs-faulty AUC " + ", ".join(
            f"{c} {d['auc']:.3f}" for c, d in cols.items() if d["auc"] is not None))
    return lines


def per_fault_table(m: dict, prefix: str) -> list[str]:
    """Markdown table: per planted fault, the AUC of clean rows against it for each column of `prefix`."""
    table = m.get("per_fault_auc", {})
    cols = sorted({c for faults in table.values() for f in faults.values() for c in f if c.startswith(prefix)})
    if not cols:
        return []
    lines = ["| task / fault | n | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for task, faults in sorted(table.items()):
        for fault, row in sorted(faults.items()):
            if not any(c in row for c in cols):
                continue
            lines.append(f"| {task} / {fault} | {row['n']} | " + " | ".join(
                "-" if row.get(c) is None else f"{row[c]:.3f}" for c in cols) + " |")
    return lines


def card_section(name: str, r: Recipe, trained: dict, extra: dict, command: str) -> str:
    """The recipe's section of one artifact's card."""
    sizes = {"base_vlm": {"description rows": r.n_describe, "description order": r.describe_order,
                          "change rows (image pairs)": r.n_changes, "steps": r.base_steps},
             "vqascore": {"yes/no rows": r.n_yesno, "contrast pictures (2 rows each)": r.n_contrast,
                          "description replay rows": r.n_replay, "epochs": r.vqa_epochs},
             "img_reward": {"pickapic pairs": r.n_pickapic, "imagerewarddb prompts": r.n_imagerewarddb,
                            "alignment yes/no rows": r.n_alignment,
                            "contrast pictures (2 rows each)": r.n_contrast,
                            "warm-up epochs": r.img_warmup_epochs, "GRPO steps": r.img_grpo_steps},
             "edit_reward": {"humanedit edits": r.n_humanedit, "superedit edits": r.n_superedit,
                             "negatives per edit": r.edit_negatives,
                             "epochs": r.edit_epochs}}[name]
    if r.reward_readout == "likelihood" and name in ("img_reward", "edit_reward"):
        sizes = {"weights": "the base VLM's (no further training)", "readout": "likelihood",
                 "base VLM data": {"description rows": r.n_describe, "change rows": r.n_changes,
                                   "steps": r.base_steps}}
    st = trained.get(name, {})
    summary = st.get("summary", {})
    steps = summary.get("steps") or summary.get("training", {}).get("steps")
    lines = ["", "## Shipped recipe (synthetic world)", "",
             f"Reproduce: `{command}` (the whole recipe: base VLM, three judges, calibration, measurement).", "",
             f"- starting point: {'a random tiny Qwen2.5-VL built locally' if name == 'base_vlm' else 'the base VLM (`base_vlm/`)'}, "
             f"sizes `{json.dumps(r.tiny)}`",
             f"- seeds: `{json.dumps(r.seed_table())}`",
             f"- data sizes: `{json.dumps(sizes)}`",
             (f"- optimiser steps: none of its own (the base VLM's {r.base_steps}, wall time "
              f"{round(trained.get('base_vlm', {}).get('wall_seconds', 0) / 60, 1)} min on this machine's CPU); "
              f"building the folder took {st.get('wall_seconds', 0)} s" if "readout" in sizes else
              f"- optimiser steps: {steps if steps is not None else 'see Training'}; wall time of this stage "
              f"{round(st.get('wall_seconds', 0) / 60, 1)} min on this machine's CPU "
              f"({'two threads' if name == 'base_vlm' and r.jobs > 1 else 'one thread'})"),
             f"- never trained, calibrated or measured on the demo's candidate seed {DEMO_SEED}", ""]
    if name == "base_vlm" and "perception" in extra:
        lines += [f"### Held-out description accuracy (seed {extra['perception']['seed']}, "
                  f"{extra['perception']['n']} fresh scenes, greedy)", "",
                  "`" + json.dumps({k: v for k, v in extra["perception"].items() if k not in ("n", "seed")}) + "`", ""]
    m = extra.get("measure")
    if m:
        after, before = m["after"], m["before"]
        lines += [f"### Held-out world candidates through the scoring job (seed {r.measure_seed}, {r.measure_rows} rows)",
                  "", "All shipped judges under the job's default decision rule (reward >= 0.9, VQAScore >= 0.5):", "",
                  "Calibrated (as shipped):", *decision_table(after), "", "Before calibration (same weights):",
                  *decision_table(before), ""]
        prefix = {"vqascore": "vqa_", "base_vlm": None}.get(name, f"{name}_")
        if prefix:
            lines += ["Per-fault AUC (clean rows of the task vs rows with that fault; calibrated run):", "",
                      *per_fault_table(after, prefix), ""]
        if name in ("img_reward", "edit_reward"):
            lines += [f"Reliability (ECE, 10 bins) on the measurement seed: before calibration "
                      f"`{json.dumps(m['ece_before'][name])}`, after `{json.dumps(m['ece_after'][name])}`.", ""]
    return "\n".join(lines)


def write_cards(r: Recipe, trained: dict, extra: dict, command: str) -> None:
    for name in ARTIFACTS:
        readme = r.out / name / "README.md"
        text = readme.read_text() if readme.exists() else f"# {name}\n"
        marker = "\n## Shipped recipe (synthetic world)"
        text = text.split(marker)[0]
        readme.write_text(text.rstrip("\n") + "\n" + card_section(name, r, trained, extra, command))


# -- the whole recipe -----------------------------------------------------------------------------------


def train_shipped_judges(r: Recipe, command: str = "python pipelines/train_shipped_judges.py",
                         stop_after: str | None = None) -> dict:
    """Every stage (skipping those already done for this recipe), then the cards. Returns a summary
    (`stop_after="base_vlm"` stops after the base VLM, e.g. to start it while judge settings are tuned)."""
    t0 = time.time()
    r.work.mkdir(parents=True, exist_ok=True)
    r.out.mkdir(parents=True, exist_ok=True)
    stages = Stages(r)
    seeds = r.seed_table()
    data_done = stages.done("data")
    if data_done:
        data = {k: Path(v) for k, v in data_done["paths"].items()}
        init = Path(data_done["init"])
    else:
        t = time.time()
        data = write_world_data(r)
        init = build_init(r)
        stages.mark("data", paths={k: str(v) for k, v in data.items()}, init=str(init),
                    wall_seconds=round(time.time() - t, 1))
    trained = {"base_vlm": train_stage(r, stages, "base_vlm", init, data, r.out / "base_vlm",
                                       threads=max(1, r.jobs))}
    base = r.out / "base_vlm"
    if stop_after == "base_vlm":
        return {"stopped_after": "base_vlm", "base_vlm": trained["base_vlm"]}
    with ThreadPoolExecutor(max_workers=max(1, r.jobs)) as pool:
        futures = {name: pool.submit(train_stage, r, stages, name, base, data, r.out / name) for name in
                   ("img_reward", "edit_reward", "vqascore")  # the longest first
                   if not (r.reward_readout == "likelihood" and name in ("img_reward", "edit_reward"))}
        for name, fut in futures.items():
            trained[name] = fut.result()
    if r.reward_readout == "likelihood":
        for name in ("img_reward", "edit_reward"):
            trained[name] = likelihood_judge(r, stages, name, base, r.out / name)
    extra = {"perception": stages.done("perception")}
    if not extra["perception"]:
        extra["perception"] = stages.mark("perception", **perception(
            base, 300, r.seeds["perception"], r.size, r.describe_question))
    extra["calibration"] = calibrate(r, stages)
    extra["measure"] = measure(r, stages)
    write_cards(r, trained, extra, command)
    result = {"total_seconds": round(time.time() - t0, 1), "seeds": seeds,
              "wall_seconds": {k: v.get("wall_seconds") for k, v in trained.items()},
              "perception": extra["perception"], "measure": extra["measure"],
              "recipe": json.loads(json.dumps(asdict(r), default=str))}
    (r.work / "shipped_summary.json").write_text(json.dumps(result, indent=2, default=str))
    return result

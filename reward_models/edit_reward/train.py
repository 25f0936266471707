"""Training EditReward with `trl.SFTTrainer` on good edits plus constructed negatives.

Every (source, instruction, edited) judgement becomes one prompt/completion row per aspect
(compliance, consistency, quality, overall) whose completion is `<think></think><answer>yes|no</answer>`,
so only the answer is learned and the readout reads each aspect from one shared forward pass.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reward_models.data.edit import read_edits
from reward_models.data.schema import EditExample, SkipLog
from reward_models.edit_reward.evaluate import evaluate_edits
from reward_models.edit_reward.layout import default_edit_layout
from reward_models.edit_reward.negatives import KINDS, EditJudgement, build_judgements
from reward_models.training.card import save_judge
from reward_models.training.common import DescribeArgs, held_out, is_main_process, load_for_training, ray_prepare
from reward_models.judging.layout import load_layout
from reward_models.judging.readout import BranchReadout, prepare_images
from reward_models.judging.describe import DescriptionCache, rationales_for
from reward_models.training.descriptions import starting_descriptions, with_reading_copies, with_replay
from reward_models.training.trl_setup import completion_sft_config, run_sft, sft_row

logger = logging.getLogger(__name__)

SOURCES = ("humanedit", "ultraedit", "superedit")


@dataclass
class EditRewardArgs(DescribeArgs):
    """EditReward data and launch settings (training settings are TRL's `SFTConfig` flags)."""

    model_name_or_path: str = ""
    """Base Qwen2.5-VL (any size): a local folder or a hub id."""
    humanedit: str | None = None
    """HumanEdit parquet file/folder, or a hub id."""
    ultraedit: str | None = None
    """UltraEdit parquet file/folder, or a hub id."""
    superedit: str | None = None
    """SuperEdit-40K parquet file/folder, or a hub id."""
    split: str = "train"
    """Split to read from each source."""
    max_examples_per_source: int | None = None
    """Cap on good edits read from each source (None: all)."""
    ultraedit_min_clip_sim_dir: float | None = None
    """Keep UltraEdit rows with clip_sim_dir at least this (its only quality signal)."""
    eval_fraction: float = 0.1
    """Share of instructions held out for evaluation."""
    max_eval_examples: int = 500
    """Cap on held-out good edits (each gets one negative of every kind)."""
    negatives_per_example: int = 2
    """Negatives built per good edit for training (kinds cycle so each is equally common)."""
    negative_kinds: list[str] = field(default_factory=lambda: list(KINDS))
    """Which negative kinds to build."""
    max_pixels: int | None = None
    """Pixel budget per image (default: the processor's max_pixels)."""
    eval_before: bool = True
    """Also evaluate the untouched base model (recorded in the card)."""
    eval_batch_size: int = 16
    """Rows per readout forward pass during evaluation."""


def load_examples(args: EditRewardArgs, seed: int, skips: SkipLog) -> tuple[list[EditExample], list[EditExample]]:
    train, held = [], []
    for source in SOURCES:
        where = getattr(args, source)
        if not where:
            continue
        sim = {"clip_sim_dir": args.ultraedit_min_clip_sim_dir} if (
            source == "ultraedit" and args.ultraedit_min_clip_sim_dir is not None) else None
        for ex in read_edits(source, where, args.split, seed, args.max_examples_per_source, skips, sim):
            (held if held_out(ex.instruction, args.eval_fraction) else train).append(ex)
    if not train:
        raise ValueError("no training edits: give --humanedit, --ultraedit and/or --superedit (and check skips)")
    return train, held[: args.max_eval_examples]


def sft_rows(judgements: list[EditJudgement], layout, max_pixels, cache: DescriptionCache | None = None) -> list[dict]:
    """One row per judgement and aspect (after the images' own descriptions, for describe layouts)."""
    prepared = [prepare_images([j.source_image, j.edited_image], max_pixels) for j in judgements]
    why = rationales_for(layout, cache, prepared)
    rows = []
    for j, images, w in zip(judgements, prepared, why):
        targets = {**j.labels, "overall": j.overall}
        for aspect in layout.aspects:
            token = layout.value_to_token(float(targets[aspect]))
            rows.append(sft_row(layout, images, j.instruction, aspect, token, w))
    return rows


def train_edit_reward(args: EditRewardArgs, sft_args, under_ray: bool = False) -> dict:
    """Build negatives, SFT, evaluate per negative kind and save the judge at `sft_args.output_dir`."""
    sft_args = completion_sft_config(sft_args)
    t0 = time.time()
    out_dir = Path(sft_args.output_dir)
    model, processor = load_for_training(args.model_name_or_path, args.model_dtype)
    layout = args.layout(load_layout(args.model_name_or_path, default_edit_layout(), "edit_reward"))
    max_pixels = args.max_pixels or getattr(processor.image_processor, "max_pixels", None)
    skips = SkipLog()
    train, held = load_examples(args, sft_args.seed, skips)
    kinds = tuple(args.negative_kinds)
    train_j = build_judgements(train, sft_args.seed, args.negatives_per_example, kinds)
    eval_j = build_judgements(held, sft_args.seed + 1, None, kinds)
    logger.info("EditReward: %d train edits -> %d judgements; %d held-out; skipped: %s",
                len(train), len(train_j), len(held), skips)
    summary: dict = {"train_examples": len(train), "train_judgements": _kinds(train_j),
                     "eval_examples": len(held), "skipped": skips.as_dict()}

    def evaluate(m):
        return evaluate_edits(lambda rows, aspects: BranchReadout(m, processor, layout).read(rows, aspects),
                              eval_j, max_pixels, args.eval_batch_size)

    if args.eval_before and eval_j and is_main_process():
        summary["eval_before"] = evaluate(model.eval())
    cache = starting_descriptions(model, processor, layout, args.eval_batch_size)
    rows = sft_rows(train_j, layout, max_pixels, cache)
    if cache is not None:
        rows = with_reading_copies(rows, args.reading_copies, sft_args.seed, summary)
    rows = with_replay(rows, cache, args, summary, sft_args.seed)
    summary["train_rows"] = len(rows)
    trainer = run_sft(model.train(), processor, rows, sft_args, prepare=ray_prepare if under_ray else None)
    model = trainer.accelerator.unwrap_model(trainer.model)
    if eval_j and is_main_process():
        summary["eval_after"] = evaluate(model.eval())
    summary["train_seconds"] = round(time.time() - t0, 1)
    if is_main_process():
        save_judge(out_dir, model, processor, layout, title="EditReward", evaluation=_card_eval(summary),
                   training={"base_model": args.model_name_or_path, "args": asdict(args),
                             "sft": {k: getattr(sft_args, k, None) for k in (
                                 "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                                 "seed")},
                             **{k: v for k, v in summary.items() if not k.startswith("eval")}},
                   notes="(source, instruction, edited) judge trained with SFT on good edits and constructed "
                         "negatives; per-dimension yes/no probabilities.")
        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _kinds(js: list[EditJudgement]) -> dict:
    c: dict = {}
    for j in js:
        c[j.kind] = c.get(j.kind, 0) + 1
    return c


def _card_eval(summary: dict) -> dict:
    table: dict = {}
    for stage in ("eval_before", "eval_after"):
        for kind, res in summary.get(stage, {}).items():
            if kind == "positive":
                continue
            row = table.setdefault(kind, {"pairs": res["n"], "dimension": res["dimension"]})
            tag = stage.replace("eval_", "")
            row[f"overall_acc_{tag}"] = res["overall_accuracy"]
            row[f"dimension_acc_{tag}"] = res["dimension_accuracy"]
    return {"good edit vs negative, paired accuracy (held-out)": table} if table else {}

"""Training ImgReward: data -> (optional) SFT warm-up -> GRPO -> held-out evaluation -> judge folder.

Stage 1, warm-up (cold start, as UnifiedReward-Think does): SFT on label-derived answers, the
preferred image of a pair answered with a high digit and the other with a low one. A random
model never closes its answer, so GRPO alone has nothing to rank at first.
Stage 2, GRPO (`trl.GRPOTrainer`): one prompt per image of a pair and aspect; each sampled
answer is rewarded with r_rank + r_format (see `rewards.py`).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reward_models.data.preference import read_imagerewarddb_ratings, read_preferences
from reward_models.data.schema import PreferencePair, SkipLog
from reward_models.img_reward.evaluate import evaluate_pairs
from reward_models.img_reward.layout import default_img_layout
from reward_models.img_reward.rewards import FormatReward, RankReward
from reward_models.training.card import save_judge
from reward_models.judging.describe import DescriptionCache, rationales_for
from reward_models.training.descriptions import starting_descriptions, with_reading_copies, with_replay
from reward_models.training.common import DescribeArgs, held_out, is_main_process, load_for_training, ray_prepare
from reward_models.judging.layout import load_layout
from reward_models.judging.readout import BranchReadout, prepare_images
from reward_models.training.trl_setup import device_safe, pil_dataset, run_sft, sft_config_from, sft_row

logger = logging.getLogger(__name__)

SOURCES = ("pickapic", "imagerewarddb", "hpdv2")


@dataclass
class ImgRewardArgs(DescribeArgs):
    """ImgReward data, warm-up and launch settings (GRPO settings are TRL's `GRPOConfig` flags)."""

    model_name_or_path: str = ""
    """Base Qwen2.5-VL (any size): a local folder or a hub id."""
    pickapic: str | None = None
    """Pick-a-Pic v2: parquet file/folder, or a hub id (needs network)."""
    imagerewarddb: str | None = None
    """ImageRewardDB folder (metadata parquet/JSON + images), or a hub id."""
    hpdv2: str | None = None
    """HPDv2 folder (train.json / test.json + images), or a hub id."""
    split: str = "train"
    """Split to read from each source."""
    max_pairs_per_source: int | None = None
    """Cap on pairs read from each source (None: all)."""
    eval_fraction: float = 0.1
    """Share of prompts held out for evaluation (split by prompt, so no prompt is in both)."""
    max_eval_pairs_per_source: int = 1000
    """Cap on held-out pairs evaluated per source and aspect."""
    aspects: list[str] = field(default_factory=lambda: ["overall", "alignment", "fidelity"])
    """Aspects to train (ImageRewardDB gives alignment and fidelity pairs; the others overall only)."""
    max_pixels: int | None = None
    """Pixel budget per image (default: the processor's max_pixels)."""
    warmup_epochs: float = 1.0
    """SFT warm-up epochs before GRPO (0: no warm-up)."""
    warmup_learning_rate: float = 2e-5
    """SFT warm-up learning rate."""
    warmup_batch_size: int = 8
    """SFT warm-up per-device batch size."""
    warmup_high: float = 0.8
    """Warm-up target value for the preferred image (mapped to the nearest answer token)."""
    warmup_low: float = 0.2
    """Warm-up target value for the other image."""
    imagerewarddb_warmup: str = "pairs"
    """How ImageRewardDB feeds the warm-up: `pairs` (its rank/rating pairs, like the other sources) or
    `ratings` (pointwise: each image's own absolute rating per aspect, >= rating_high -> the high
    answer, <= rating_low -> the low one, in between skipped). GRPO always uses the pairs."""
    rating_high: float = 5.0
    """ImageRewardDB rating (1-7) at or above which the warm-up target is `warmup_high`."""
    rating_low: float = 3.0
    """ImageRewardDB rating at or below which the warm-up target is `warmup_low`."""
    alignment_yesno: list[str] = field(default_factory=list)
    """Optional yes/no parquet files or folders (`image`, `text`, `label`; the VQAScore layout) whose
    `no` images do not show their text: pointwise warm-up rows for the `overall` and `alignment`
    aspects (yes -> the high answer, no -> the low one), the densest signal for alignment."""
    max_alignment_rows: int | None = None
    """Cap on yes/no rows read for the warm-up (None: all)."""
    skip_grpo: bool = False
    """Stop after the warm-up (for ablations)."""
    eval_before: bool = True
    """Also evaluate the untouched base model (recorded in the card)."""
    eval_batch_size: int = 16
    """Rows per readout forward pass during evaluation."""


# -- data ---------------------------------------------------------------------------------------------


def load_pairs(args: ImgRewardArgs, seed: int, skips: SkipLog) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """All configured sources, split into (train, held-out) by prompt."""
    train, held = [], []
    for source in SOURCES:
        where = getattr(args, source)
        if not where:
            continue
        for pair in read_preferences(source, where, args.split, seed, args.max_pairs_per_source, skips):
            if pair.aspect not in args.aspects:
                continue
            (held if held_out(pair.prompt, args.eval_fraction) else train).append(pair)
    if not train:
        raise ValueError("no training pairs: give --pickapic, --imagerewarddb and/or --hpdv2 (and check skips)")
    return train, held


def warmup_rows(pairs: list[PreferencePair], layout, args: ImgRewardArgs, max_pixels,
                cache: DescriptionCache | None = None) -> list[dict]:
    """Two rows per pair: the preferred image answered high, the other low (after its own
    description as the rationale, for describe layouts)."""
    hi, lo = layout.value_to_token(args.warmup_high), layout.value_to_token(args.warmup_low)
    prepared = [prepare_images([p.image_a, p.image_b], max_pixels) for p in pairs]
    why = rationales_for(layout, cache, [[im] for ab in prepared for im in ab])
    rows = []
    for k, (p, (a, b)) in enumerate(zip(pairs, prepared)):
        rows.append(sft_row(layout, [a], p.prompt, p.aspect, hi if p.label == 1 else lo, why[2 * k]))
        rows.append(sft_row(layout, [b], p.prompt, p.aspect, lo if p.label == 1 else hi, why[2 * k + 1]))
    return rows


def rating_rows(args: ImgRewardArgs, layout, max_pixels, skips: SkipLog,
                cache: DescriptionCache | None = None) -> list[dict]:
    """Pointwise warm-up rows from ImageRewardDB's absolute ratings (training prompts only)."""
    if args.imagerewarddb_warmup == "pairs" or not args.imagerewarddb:
        return []
    if args.imagerewarddb_warmup != "ratings":
        raise ValueError(f"imagerewarddb_warmup={args.imagerewarddb_warmup!r}: use pairs or ratings")
    hi, lo = layout.value_to_token(args.warmup_high), layout.value_to_token(args.warmup_low)
    kept = []
    # The pairs' cap also caps the ratings read (and so the zips fetched from the hub).
    for r in read_imagerewarddb_ratings(args.imagerewarddb, args.split, limit=args.max_pairs_per_source,
                                        aspects=args.aspects, skips=skips):
        if held_out(r.prompt, args.eval_fraction):
            continue
        if r.rating >= args.rating_high:
            kept.append((r, hi))
        elif r.rating <= args.rating_low:
            kept.append((r, lo))
    images = [prepare_images([r.image], max_pixels) for r, _ in kept]
    why = rationales_for(layout, cache, images)
    return [sft_row(layout, im, r.prompt, r.aspect, token, w) for (r, token), im, w in zip(kept, images, why)]


def alignment_rows(args: ImgRewardArgs, layout, max_pixels, skips: SkipLog,
                   cache: DescriptionCache | None = None) -> list[dict]:
    """Pointwise warm-up rows from yes/no alignment data (training texts only)."""
    if not args.alignment_yesno:
        return []
    from reward_models.vqascore.train import read_yesno

    hi, lo = layout.value_to_token(args.warmup_high), layout.value_to_token(args.warmup_low)
    rows = [r for r in read_yesno(args.alignment_yesno, args.split, args.max_alignment_rows, skips)
            if not held_out(r["text"], args.eval_fraction)]
    images = [prepare_images([r["image"]], max_pixels) for r in rows]
    why = rationales_for(layout, cache, images)
    aspects = [a for a in ("overall", "alignment") if a in args.aspects]
    return [sft_row(layout, im, r["text"], a, hi if r["label"] == "yes" else lo, w)
            for r, im, w in zip(rows, images, why) for a in aspects]


def grpo_rows(pairs: list[PreferencePair], layout, max_pixels) -> list[dict]:
    """One GRPO prompt per image of each pair; the partner and label travel as extra columns."""
    rows = []
    for i, p in enumerate(pairs):
        a, b = prepare_images([p.image_a, p.image_b], max_pixels)
        for side, (img, other, pref) in enumerate([(a, b, p.label), (b, a, 1 - p.label)]):
            rows.append({
                "prompt": layout.messages(p.prompt, p.aspect, 1),
                "image": img,
                "partner_image": other,
                "preferred": int(pref),
                "aspect": p.aspect,
                "caption": p.prompt,
                "source": p.source,
                "pair_key": f"{i}:{side}",
            })
    return rows


# -- stages -------------------------------------------------------------------------------------------


def make_readout_fn(model_getter, processor, layout):
    def readout_fn(rows, aspects):
        return BranchReadout(model_getter(), processor, layout).read(rows, aspects)

    return readout_fn


def run_grpo(model, processor, layout, rows: list[dict], grpo_args, under_ray: bool = False):
    from trl import GRPOTrainer

    grpo_args.remove_unused_columns = False  # the reward needs partner_image, preferred, aspect, ...
    rank = RankReward(layout)
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[rank, FormatReward(layout)],
        args=grpo_args,
        train_dataset=pil_dataset(rows),
        processing_class=processor,
    )
    # The rank reward reads partner images with the policy being trained (unwrapped from DDP etc.).
    rank.bind(make_readout_fn(lambda: trainer.accelerator.unwrap_model(trainer.model), processor, layout))
    if under_ray:
        trainer = ray_prepare(trainer)
    trainer.train()
    return trainer


def train_img_reward(args: ImgRewardArgs, grpo_args, under_ray: bool = False) -> dict:
    """Run every stage and save the judge folder at `grpo_args.output_dir`. Returns the summary."""
    grpo_args = device_safe(grpo_args)
    t0 = time.time()
    random.seed(grpo_args.seed)
    out_dir = Path(grpo_args.output_dir)
    model, processor = load_for_training(args.model_name_or_path, args.model_dtype)
    layout = args.layout(load_layout(args.model_name_or_path, default_img_layout(), "img_reward"))
    max_pixels = args.max_pixels or getattr(processor.image_processor, "max_pixels", None)
    skips = SkipLog()
    train, held = load_pairs(args, grpo_args.seed, skips)
    held = _cap_eval(held, args.max_eval_pairs_per_source)
    logger.info("ImgReward: %d train pairs, %d held-out pairs; skipped: %s", len(train), len(held), skips)
    summary: dict = {"train_pairs": _count(train), "eval_pairs": _count(held), "skipped": skips.as_dict()}

    def evaluate(m):
        readout = make_readout_fn(lambda: m, processor, layout)
        return evaluate_pairs(readout, held, max_pixels, args.eval_batch_size)

    if args.eval_before and held and is_main_process():
        summary["eval_before"] = evaluate(model.eval())
    if args.warmup_epochs > 0:
        sft_args = sft_config_from(
            grpo_args, output_dir=str(out_dir / "warmup"), learning_rate=args.warmup_learning_rate,
            num_train_epochs=args.warmup_epochs, per_device_train_batch_size=args.warmup_batch_size,
        )
        pairs_for_warmup = train if args.imagerewarddb_warmup == "pairs" else [
            p for p in train if p.source != "imagerewarddb"]
        cache = starting_descriptions(model, processor, layout, args.eval_batch_size)
        rows = (warmup_rows(pairs_for_warmup, layout, args, max_pixels, cache)
                + rating_rows(args, layout, max_pixels, skips, cache)
                + alignment_rows(args, layout, max_pixels, skips, cache))
        if cache is not None:
            rows = with_reading_copies(rows, args.reading_copies, grpo_args.seed, summary)
        rows = with_replay(rows, cache, args, summary, grpo_args.seed)
        summary["warmup_rows"] = len(rows)
        trainer = run_sft(model, processor, rows, sft_args, prepare=ray_prepare if under_ray else None)
        model = trainer.accelerator.unwrap_model(trainer.model)
        if held and is_main_process():
            summary["eval_after_warmup"] = evaluate(model.eval())
    if not args.skip_grpo:
        trainer = run_grpo(model.train(), processor, layout, grpo_rows(train, layout, max_pixels), grpo_args,
                           under_ray)
        model = trainer.accelerator.unwrap_model(trainer.model)
        summary["grpo_log"] = [h for h in trainer.state.log_history if "reward" in h][-3:]
    if held and is_main_process():
        summary["eval_after"] = evaluate(model.eval())
    summary["train_seconds"] = round(time.time() - t0, 1)
    if is_main_process():
        save_judge(
            out_dir, model, processor, layout, title="ImgReward",
            evaluation=_card_eval(summary),
            training={"base_model": args.model_name_or_path, "args": asdict(args),
                      "grpo": _grpo_summary(grpo_args), **{k: v for k, v in summary.items() if not k.startswith("eval")}},
            notes="Pointwise (prompt, image) judge trained with an SFT warm-up then GRPO (r_rank + r_format).",
        )
        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _cap_eval(pairs, cap):
    seen: dict = {}
    out = []
    for p in pairs:
        k = (p.source, p.aspect)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= cap:
            out.append(p)
    return out


def _count(pairs) -> dict:
    c: dict = {}
    for p in pairs:
        key = f"{p.source}/{p.aspect}"
        c[key] = c.get(key, 0) + 1
    return c


def _card_eval(summary: dict) -> dict:
    """Per source/aspect: accuracy before, after warm-up and after training, and pair count."""
    table: dict = {}
    for stage in ("eval_before", "eval_after_warmup", "eval_after"):
        for key, res in summary.get(stage, {}).items():
            row = table.setdefault(key, {"pairs": res["n"]})
            row[stage.replace("eval_", "accuracy_")] = res["accuracy"]
    return {"pairwise accuracy (held-out, ties excluded)": table} if table else {}


def _grpo_summary(a) -> dict:
    keys = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "num_generations",
            "max_completion_length", "temperature", "beta", "loss_type", "reward_weights", "seed")
    return {k: getattr(a, k, None) for k in keys}

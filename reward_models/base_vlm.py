"""The base VLM: a Qwen2.5-VL taught to describe images densely before it is taught to judge.

Real judges fine-tune a pretrained VLM (Qwen-VL); a judge trained from random weights on a
yes/no or score target must discover, from one bit per example, that the answer depends on
the *agreement* of words and pixels, and a small one sits at chance for thousands of steps.
A description target supervises every word instead (each colour, shape, position, the
background, the quality), so a small model learns to see within minutes; the judges then
start from it, as the real ones start from Qwen-VL.

Training: `trl.SFTTrainer` on question/answer rows (`image`, `question`, `answer`; e.g.
"Describe the image." -> a dense description), one user turn per row (the image, then the
question: `describe.describe_turn`), only the answer learned. Held-out figures (greedy
generation, the way judges describe at scoring time): exact-match rate of the whole answer and
per clause (answers split into sentences and their comma- or "and"-separated phrases), written into the card.

    python pipelines/train_base_vlm.py --model_name_or_path tiny/ --qa data/describe \
        --output_dir runs/base_vlm --num_train_epochs 3
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from reward_models.data.schema import SkipLog
from reward_models.training.common import LaunchArgs, held_out, is_main_process, load_for_training, ray_prepare
from reward_models.judging.describe import DEFAULT_MAX_NEW_TOKENS, Describer, image_question_row
from reward_models.judging.readout import prepare_images
from reward_models.training.trl_setup import completion_sft_config, sft_and_evaluate, sft_training_meta

logger = logging.getLogger(__name__)

CARD_FILE = "base_vlm.json"


@dataclass
class BaseVLMArgs(LaunchArgs):
    """Base-VLM data and launch settings (training settings are TRL's `SFTConfig` flags)."""

    model_name_or_path: str = ""
    """Starting Qwen2.5-VL (any size): a local folder or a hub id."""
    qa: list[str] = field(default_factory=list)
    """Question/answer parquet files or folders (`image`, `question`, `answer`)."""
    split: str = "train"
    """Split to read (files whose name holds it, when a folder has several)."""
    max_rows_per_file: int | None = None
    """Cap on rows read from each file (None: all)."""
    eval_fraction: float = 0.02
    """Share of answers held out for evaluation (split by answer text, so no held-out scene was trained on)."""
    max_eval_rows: int = 200
    """Cap on held-out rows evaluated."""
    max_pixels: int | None = None
    """Pixel budget per image (default: the processor's max_pixels)."""
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    """Generation length for the held-out check."""
    eval_before: bool = False
    """Also evaluate the untouched starting model."""


def qa_images(row: dict) -> list:
    """The row's pictures in turn order: the first of a pair (`source_image`), then `image`."""
    return ([row["source_image"]] if row.get("source_image") is not None else []) + [row["image"]]


def sft_rows(qa: list[dict], max_pixels) -> list[dict]:
    rows = [image_question_row(prepare_images(qa_images(r), max_pixels), r["question"], r["answer"]) for r in qa]
    random.Random(0).shuffle(rows)
    return rows


def evaluate_answers(model, processor, rows: list[dict], max_pixels, max_new_tokens: int) -> dict:
    """Greedy answers to held-out rows: exact-match rate and clause accuracy (see `_clauses`)."""
    by_q: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        by_q.setdefault((r["question"], len(qa_images(r))), []).append(r)
    exact = clauses = clauses_ok = 0
    for (question, n_images), rs in by_q.items():
        imgs = [prepare_images(qa_images(r), max_pixels) for r in rs]
        got = Describer(model, processor, question, max_new_tokens, n_images=n_images).describe(
            imgs if n_images > 1 else [i[0] for i in imgs])
        for r, g in zip(rs, got):
            exact += g == r["answer"]
            want, have = _clauses(r["answer"]), _clauses(g)
            clauses += len(want)
            clauses_ok += sum(a == b for a, b in zip(want, have))
    n = len(rows)
    return {"n": n, "exact_match": exact / n if n else None, "clause_accuracy": clauses_ok / clauses if clauses else None}


def _clauses(text: str) -> list[str]:
    """Sentences and their comma- or "and"-separated phrases, in order."""
    return [c.strip().rstrip(".") for c in re.split(r"\. |, | and ", text) if c.strip()]


def train_base_vlm(args: BaseVLMArgs, sft_args, under_ray: bool = False) -> dict:
    """Read, SFT, evaluate and save the base VLM at `sft_args.output_dir`. Returns the summary."""
    from reward_models.vqascore.train import read_qa

    sft_args = completion_sft_config(sft_args)
    t0 = time.time()
    out_dir = Path(sft_args.output_dir)
    model, processor = load_for_training(args.model_name_or_path, args.model_dtype)
    max_pixels = args.max_pixels or getattr(processor.image_processor, "max_pixels", None)
    skips = SkipLog()
    qa = read_qa(args.qa, args.split, args.max_rows_per_file, skips)
    if not qa:
        raise ValueError("no question/answer rows: give --qa (and check skips)")
    train = [r for r in qa if not held_out(r["answer"], args.eval_fraction)]
    held = [r for r in qa if held_out(r["answer"], args.eval_fraction)][: args.max_eval_rows]
    logger.info("base VLM: %d train rows, %d held-out; skipped: %s", len(train), len(held), skips)
    summary: dict = {"train_rows": len(train), "eval_rows": len(held), "skipped": skips.as_dict()}

    def evaluate(m):
        return evaluate_answers(m, processor, held, max_pixels, args.max_new_tokens)

    model = sft_and_evaluate(model, processor, sft_rows(train, max_pixels), sft_args, summary,
                             evaluate if held else None, args.eval_before, ray_prepare if under_ray else None)
    summary["train_seconds"] = round(time.time() - t0, 1)
    if is_main_process():
        save_base_vlm(out_dir, model, processor, args, sft_args, summary)
    return summary


def save_base_vlm(folder: Path, model, processor, args: BaseVLMArgs, sft_args, summary: dict) -> Path:
    """Checkpoint, processor, `base_vlm.json` and a card."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    meta = sft_training_meta(args, sft_args, summary)
    (folder / CARD_FILE).write_text(json.dumps(meta, indent=2, default=str))
    lines = ["# Base VLM", "",
             "A Qwen2.5-VL fine-tuned to answer questions about images in full sentences (dense "
             "descriptions). The judges start from it.", "", "## Held-out evaluation (greedy answers)", ""]
    for stage in ("eval_before", "eval_after"):
        if stage in summary:
            lines.append(f"- {stage.replace('eval_', '')} training: `{json.dumps(summary[stage])}`")
    lines += ["", "## Training", "", "```json", json.dumps(meta["training"], indent=2, default=str), "```", ""]
    (folder / "README.md").write_text("\n".join(lines))
    return folder

"""Training a VQAScore judge with `trl.SFTTrainer`: P(first token of "Yes") after the question.

VQAScore reads one number from a vision-language model: the probability of the first token of
`answer` (default "Yes") right after the question `template.format(text)` (default
`Does this image show "{}"?`), asked in one user turn (image, then question) with the chat
template's generation prompt: exactly what `NativeVQAScorer` and t2v-metrics read. Training
uses the same turn, so the checkpoint is scored the way it was trained:

- yes/no rows (`image`, `text`, `label` in {yes, no}): prompt = the question about `text`,
  completion = "Yes" or "No" (only the completion is learned);
- optional question/answer rows (`image`, `question`, `answer`, e.g. "What colour is the
  square?" -> "red", "Describe the image." -> a caption), mixed in as auxiliary tasks. A small
  model trained on yes/no alone gets no first-order signal (each word and each image alone says
  nothing about the label; only their agreement does) and sits at chance for thousands of steps;
  naming what the image shows teaches it to gather the objects' attributes, which the yes/no
  comparison then reads.

Held-out accuracy and AUC of the score (per `fault` column value when the rows have one) are
written into the saved model's card.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reward_models.data.files import find_files, iter_parquet_rows, parquet_columns
from reward_models.data.images import UndecodableImage, decode_image_cell
from reward_models.data.schema import SkipLog, require_columns
from reward_models.training.common import LaunchArgs, held_out, is_main_process, load_for_training, ray_prepare
from reward_models.judging.readout import prepare_images
from reward_models.judging.describe import image_question_row
from reward_models.training.trl_setup import completion_sft_config, sft_and_evaluate, sft_training_meta
from reward_models.vqascore.config import DEFAULT_ANSWER, DEFAULT_TEMPLATE, VQAScoreConfig

logger = logging.getLogger(__name__)

YESNO_COLUMNS = ("image", "text", "label")
QA_COLUMNS = ("image", "question", "answer")
IMAGE_COLUMNS = ("image", "source_image")
"""Columns decoded to pictures when present."""


@dataclass
class VQAScoreArgs(LaunchArgs):
    """VQAScore data and launch settings (training settings are TRL's `SFTConfig` flags)."""

    model_name_or_path: str = ""
    """Base Qwen2.5-VL (any size): a local folder or a hub id."""
    vqa: list[str] = field(default_factory=list)
    """Yes/no parquet files or folders (`image`, `text`, `label` yes/no; optional `fault`)."""
    qa: list[str] = field(default_factory=list)
    """Optional auxiliary question/answer parquet files or folders (`image`, `question`, `answer`)."""
    split: str = "train"
    """Split to read (files whose name holds it, when a folder has several)."""
    max_rows_per_file: int | None = None
    """Cap on rows read from each file (None: all)."""
    max_qa_rows: int | None = None
    """Cap on question/answer rows used in all (None: all)."""
    eval_fraction: float = 0.1
    """Share of yes/no texts held out for evaluation (split by text)."""
    max_eval_rows: int = 400
    """Cap on held-out yes/no rows evaluated."""
    template: str = DEFAULT_TEMPLATE
    """Question with one `{}` for the text: the scorer must be configured with the same."""
    answer: str = DEFAULT_ANSWER
    """The answer whose first token's probability is the score."""
    negative_answer: str = "No"
    """The completion of a `no` row."""
    max_pixels: int | None = None
    """Pixel budget per image for training rows and the held-out evaluation (default: the
    processor's max_pixels; when the processor names none, training images go to the processor as
    they are and evaluation uses NativeVQAScorer's default, t2v-metrics' own preprocessing)."""
    eval_before: bool = True
    """Also evaluate the untouched base model (recorded in the card)."""
    eval_batch_size: int = 32
    """Rows per forward pass during evaluation."""


# -- data ---------------------------------------------------------------------------------------------


def _read(paths: list[str], columns: tuple[str, ...], name: str, split: str, limit: int | None,
          skips: SkipLog) -> list[dict]:
    rows = []
    for path in paths:
        for f in find_files(path, (".parquet",), split):
            require_columns(parquet_columns([f]), columns, name, str(f))
            n = 0
            for row in iter_parquet_rows([f]):
                if limit is not None and n >= limit:
                    break
                if any(row.get(c) in (None, "") for c in columns):
                    skips.skip(name, "missing_value")
                    continue
                try:
                    # `source_image`, when a row has one, is the first picture of a pair (the change question).
                    for col in IMAGE_COLUMNS:
                        if row.get(col) is not None:
                            row[col] = decode_image_cell(row[col])
                except UndecodableImage:
                    skips.skip(name, "undecodable_image")
                    continue
                rows.append(row)
                n += 1
    return rows


def read_yesno(paths: list[str], split: str = "train", limit: int | None = None,
               skips: SkipLog | None = None) -> list[dict]:
    """Yes/no rows; a label other than yes/no is skipped with a count."""
    skips = skips if skips is not None else SkipLog()
    out = []
    for row in _read(paths, YESNO_COLUMNS, "vqa", split, limit, skips):
        label = str(row["label"]).strip().lower()
        if label not in ("yes", "no"):
            skips.skip("vqa", "bad_label")
            continue
        out.append({"image": row["image"], "text": row["text"], "label": label, "fault": row.get("fault")})
    return out


def read_qa(paths: list[str], split: str = "train", limit: int | None = None,
            skips: SkipLog | None = None) -> list[dict]:
    """Question/answer rows; a row with a `source_image` (the change question's first picture) keeps it."""
    skips = skips if skips is not None else SkipLog()
    return [{"image": r["image"], "question": r["question"], "answer": str(r["answer"]),
             **({"source_image": r["source_image"]} if r.get("source_image") is not None else {})}
            for r in _read(paths, QA_COLUMNS, "qa", split, limit, skips)]



def sft_rows(yesno: list[dict], qa: list[dict], args: VQAScoreArgs, max_pixels) -> list[dict]:
    rows = []
    for r in yesno:
        answer = args.answer if r["label"] == "yes" else args.negative_answer
        rows.append(image_question_row(prepare_images([r["image"]], max_pixels)[0], args.template.format(r["text"]),
                                       answer))
    for r in qa:
        rows.append(image_question_row(prepare_images([r["image"]], max_pixels)[0], r["question"], r["answer"]))
    random.Random(0).shuffle(rows)
    return rows


# -- evaluation ---------------------------------------------------------------------------------------


def auc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    """P(score of a random positive > score of a random negative), ties counted one half."""
    if not len(pos) or not len(neg):
        return None
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def evaluate_yesno(scorer, rows: list[dict], batch_size: int = 32) -> dict:
    """Accuracy at 0.5 and AUC of the score; per `fault` value, the share rejected (< 0.5)."""
    from reward_models.interface import ScoreBatch

    if not rows:
        return {}
    scores = []
    for i in range(0, len(rows), batch_size):
        chunk = rows[i : i + batch_size]
        out = scorer.score(ScoreBatch([r["text"] for r in chunk], [r["image"] for r in chunk]))
        scores += out.score.tolist()
    s = np.asarray(scores)
    y = np.asarray([r["label"] == "yes" for r in rows])
    res = {"n": len(rows), "accuracy": float(((s >= 0.5) == y).mean()), "auc": auc(s[y], s[~y]),
           "yes_accepted": float((s[y] >= 0.5).mean()) if y.any() else None,
           "no_rejected": float((s[~y] < 0.5).mean()) if (~y).any() else None}
    by_fault: dict = defaultdict(list)
    for r, v in zip(rows, s):
        if r["label"] == "no" and r.get("fault"):
            by_fault[r["fault"]].append(v < 0.5)
    if by_fault:
        res["rejected_by_fault"] = {k: float(np.mean(v)) for k, v in sorted(by_fault.items())}
    return res


def _scorer(model, processor, model_id: str, args: VQAScoreArgs, max_pixels):
    from reward_models.loading import LoadedModel
    from reward_models.vqascore.native import NativeVQAScorer

    loaded = LoadedModel(model, processor, model_id, "in-training", model.device, next(model.parameters()).dtype)
    return NativeVQAScorer(loaded, config=VQAScoreConfig(template=args.template, answer=args.answer,
                                                         batch_size=args.eval_batch_size, max_pixels=max_pixels))


# -- training -----------------------------------------------------------------------------------------


def train_vqascore(args: VQAScoreArgs, sft_args, under_ray: bool = False) -> dict:
    """Read, SFT, evaluate and save the judge at `sft_args.output_dir`. Returns the summary."""
    sft_args = completion_sft_config(sft_args)
    if args.template.count("{}") != 1:
        raise ValueError(f"template must contain exactly one '{{}}': {args.template!r}")
    t0 = time.time()
    out_dir = Path(sft_args.output_dir)
    model, processor = load_for_training(args.model_name_or_path, args.model_dtype)
    max_pixels = args.max_pixels or getattr(processor.image_processor, "max_pixels", None)
    skips = SkipLog()
    yesno = read_yesno(args.vqa, args.split, args.max_rows_per_file, skips)
    qa = read_qa(args.qa, args.split, args.max_rows_per_file, skips)[: args.max_qa_rows] if args.qa else []
    if not yesno:
        raise ValueError("no yes/no rows: give --vqa (and check skips)")
    train = [r for r in yesno if not held_out(r["text"], args.eval_fraction)]
    held = [r for r in yesno if held_out(r["text"], args.eval_fraction)][: args.max_eval_rows]
    logger.info("VQAScore: %d yes/no train rows, %d QA rows, %d held-out; skipped: %s",
                len(train), len(qa), len(held), skips)
    summary: dict = {"train_yesno_rows": len(train), "train_qa_rows": len(qa), "eval_rows": len(held),
                     "skipped": skips.as_dict()}

    def evaluate(m):
        return evaluate_yesno(_scorer(m, processor, args.model_name_or_path, args, max_pixels), held,
                              args.eval_batch_size)

    model = sft_and_evaluate(model, processor, sft_rows(train, qa, args, max_pixels), sft_args, summary,
                             evaluate if held else None, args.eval_before, ray_prepare if under_ray else None)
    summary["train_seconds"] = round(time.time() - t0, 1)
    if is_main_process():
        save_vqascore(out_dir, model, processor, args, sft_args, summary)
    return summary


def save_vqascore(folder: Path, model, processor, args: VQAScoreArgs, sft_args, summary: dict) -> Path:
    """Checkpoint, processor, `vqascore.json` (template, answer) and a model card."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    meta = {"template": args.template, "answer": args.answer, "negative_answer": args.negative_answer,
            **sft_training_meta(args, sft_args, summary)}
    (folder / "vqascore.json").write_text(json.dumps(meta, indent=2, default=str))
    lines = ["# VQAScore judge", "",
             "Score = P(first token of the answer) right after the question, as `NativeVQAScorer` and "
             "t2v-metrics read it.", "",
             f"- question template: `{args.template}` (one user turn: the image, then the question)",
             f"- answer: `{args.answer}` (a `no` row was trained with `{args.negative_answer}`)", "",
             "## Held-out evaluation", ""]
    for stage in ("eval_before", "eval_after"):
        if stage in summary:
            lines += [f"- {stage.replace('eval_', '')} training: `{json.dumps(rounded(summary[stage]))}`"]
    lines += ["", "## Training", "", "```json", json.dumps(meta["training"], indent=2, default=str), "```", ""]
    (folder / "README.md").write_text("\n".join(lines))
    return folder


def rounded(x, digits: int = 4):
    """Floats rounded inside nested dicts/lists (for cards)."""
    if isinstance(x, float):
        return round(x, digits)
    if isinstance(x, dict):
        return {k: rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, digits) for v in x]
    return x

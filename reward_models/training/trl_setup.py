"""TRL plumbing shared by both judges: device-safe configs, datasets of PIL rows, SFT runs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

logger = logging.getLogger(__name__)


def device_safe(args):
    """Make a TRL/transformers config runnable where it is: without CUDA, train fp32 on CPU.

    transformers refuses bf16=True (TRL's default) on a machine without a GPU; TRL's own CPU
    tests set use_cpu=True instead. We keep whatever the user set on a GPU machine.
    """
    import torch

    if not torch.cuda.is_available():
        args.use_cpu = True
        args.bf16 = False
        args.fp16 = False
    return args


def completion_sft_config(args):
    """An `SFTConfig` for prompt/completion rows with images: runnable here, never truncated (that
    would cut image tokens), only the completion learned."""
    args = device_safe(args)
    args.max_length = None
    args.completion_only_loss = True
    return args


def sft_config_from(base, **overrides):
    """An `SFTConfig` that shares `base`'s TrainingArguments (seed, logging, device, ...) plus overrides.

    The ImgReward entry point is configured with GRPOConfig flags; its SFT warm-up reuses them.
    """
    from transformers import TrainingArguments
    from trl import SFTConfig

    # Only the generic TrainingArguments: same-named TRL fields (loss_type, ...) mean other things.
    names = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.init and f.name in names}
    # Fields whose meaning differs between the stages, or that GRPO sets for itself.
    for name in ("learning_rate", "num_train_epochs", "max_steps", "output_dir", "run_name",
                 "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "warmup_ratio",
                 "lr_scheduler_type", "save_strategy", "eval_strategy", "logging_steps"):
        values.pop(name, None)
    values.update(
        dict(max_length=None, completion_only_loss=True, remove_unused_columns=True, save_strategy="no",
             report_to=getattr(base, "report_to", "none"), logging_steps=10)
    )
    values.update(overrides)
    return device_safe(SFTConfig(**values))


def pil_dataset(rows: list[dict]):
    """A `datasets.Dataset` from rows holding PIL images (stored as PNG bytes, decoded on access)."""
    from datasets import Dataset

    if not rows:
        raise ValueError("no training rows (every row was skipped or no source was given)")
    return Dataset.from_list(rows)


def run_sft(model: Any, processor: Any, rows: list[dict], args, callbacks: list | None = None, prepare=None):
    """Train `model` on prompt/completion rows (only completions are learned) and return the trainer."""
    from trl import SFTTrainer

    trainer = SFTTrainer(model=model, args=args, train_dataset=pil_dataset(rows), processing_class=processor,
                         callbacks=callbacks)
    if prepare is not None:
        trainer = prepare(trainer)
    trainer.train()
    return trainer


def sft_row(layout, images: list, prompt: str, aspect: str, answer_token: str, rationale: str | None = None) -> dict:
    """One SFT prompt/completion row for one (images, prompt, aspect) and its target answer token."""
    return {
        "images": list(images),
        "prompt": layout.messages(prompt, aspect, len(images)),
        "completion": [{"role": "assistant", "content": [{"type": "text",
                                                          "text": layout.answer_text(answer_token, rationale)}]}],
    }


def sft_and_evaluate(model: Any, processor: Any, rows: list[dict], sft_args, summary: dict, evaluate=None,
                     eval_before: bool = False, prepare=None):
    """SFT with held-out evaluation before (optional) and after, recorded in `summary` (eval_before,
    eval_after, train_loss, steps) on the main process. Returns the trained (unwrapped) model."""
    from reward_models.training.common import is_main_process

    if evaluate is not None and eval_before and is_main_process():
        summary["eval_before"] = evaluate(model.eval())
    trainer = run_sft(model.train(), processor, rows, sft_args, prepare=prepare)
    model = trainer.accelerator.unwrap_model(trainer.model)
    summary["train_loss"] = next((h["train_loss"] for h in reversed(trainer.state.log_history)
                                  if "train_loss" in h), None)
    summary["steps"] = trainer.state.global_step
    if evaluate is not None and is_main_process():
        summary["eval_after"] = evaluate(model.eval())
    return model


def sft_training_meta(args, sft_args, summary: dict) -> dict:
    """`evaluation` and `training` sections of a trained model's JSON card."""
    return {"evaluation": {k: v for k, v in summary.items() if k.startswith("eval_")},
            "training": {"base_model": args.model_name_or_path, "args": dataclasses.asdict(args),
                         "sft": {k: getattr(sft_args, k, None) for k in (
                             "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                             "lr_scheduler_type", "seed")},
                         **{k: v for k, v in summary.items() if not k.startswith("eval_")}}}

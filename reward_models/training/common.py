"""Pieces both training entry points share: model loading for training, splits, Ray context."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class LaunchArgs:
    """Where and how a judge trains: weights dtype and the optional Ray Train wrapper (shared by
    every reward-model entry point; their own dataclasses add the data settings)."""

    model_dtype: str = "auto"
    """Weights dtype for training: auto (fp32 on CPU, bf16 on GPU), float32, bfloat16."""
    ray: bool = False
    """Run on a Ray cluster through Ray Train's TorchTrainer."""
    ray_num_workers: int = 1
    """Ray Train workers (one process per GPU, or per CPU worker)."""
    ray_use_gpu: bool = False
    """Give each Ray worker a GPU."""
    ray_address: str | None = None
    """Ray cluster address (None: RAY_ADDRESS, or a local cluster)."""


@dataclass
class DescribeArgs(LaunchArgs):
    """Describe-then-answer settings shared by the reward judges' entry points."""

    describe_question: str = ""
    """Describe-then-answer: the judge first describes each image with this question (no caption or
    instruction in sight) and answers after its own description (e.g. "Describe the image."). Empty:
    keep the starting checkpoint's layout (its reward_model.json, else the direct readout)."""
    describe_replay: bool = True
    """With a describe layout: also train the describe turn on the starting model's own descriptions
    of the training images, so that learning to judge does not wear away describing."""
    reading_copies: float = 0.0
    """With a describe layout: this share of the judge rows is also trained once more with every
    picture blanked (same prompt, same `<think>` description, same answer). Nothing in a blank picture
    predicts the description, so the judge learns to read its description against the caption or
    instruction (the comparison its answer needs) instead of only against the pixels."""

    def layout(self, layout):
        """The layout to train: `layout` with this describe question, when one is given."""
        from reward_models.judging.layout import with_describe

        return with_describe(layout, self.describe_question) if self.describe_question else layout


def load_for_training(model_name_or_path: str, dtype: str = "auto", attn_implementation: str | None = None):
    """Model + left-padding processor, from a local folder or hub id (fp32 on CPU, bf16 on GPU by default)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if dtype == "auto":
        dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    processor = AutoProcessor.from_pretrained(model_name_or_path, padding_side="left")
    if not hasattr(processor, "image_processor"):
        raise TypeError(f"{model_name_or_path}: AutoProcessor gave {type(processor).__name__}, not a VL processor")
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    model = AutoModelForImageTextToText.from_pretrained(
        model_name_or_path, dtype=getattr(torch, dtype), use_safetensors=True, **kwargs
    )
    return model, processor


def held_out(key: str, fraction: float, salt: str = "eval") -> bool:
    """Deterministic split by a key (the prompt), so no prompt is in both train and eval."""
    if fraction <= 0:
        return False
    h = int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16)
    return (h / 0xFFFFFFFF) < fraction


def is_main_process() -> bool:
    """Rank 0 of a distributed run (torchrun, accelerate or Ray Train), or a single process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", 0)) == 0


def ray_prepare(trainer):
    """Inside a Ray Train worker: Ray's dataloader integration and checkpoint/metric reporting."""
    from ray.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer

    trainer.add_callback(RayTrainReportCallback())
    return prepare_trainer(trainer)

"""Loading Qwen2.5-VL judges with `from_pretrained`, once per process.

Every judge (ImgReward, EditReward, VQAScore) loads through `load_vl_model`, so a local
folder and a hub id take the same path, weights come from safetensors only, remote code is
off unless asked for, and two judges that name the same checkpoint share one copy in memory
(`ModelCache`): that is how a Ray actor hosting both a reward model and VQAScore on the same
weights loads them once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoadSpec:
    """Where and how to load one checkpoint."""

    model_id: str
    """Local folder or hub id."""
    revision: str | None = None
    """Hub revision (branch, tag or commit); ignored for local folders."""
    device: str = "auto"
    """`auto` (cuda when visible, else cpu), `cpu`, `cuda`, `cuda:N`."""
    dtype: str = "auto"
    """`auto` (bf16 on GPU, fp32 on CPU), `float32`, `bfloat16`, `float16`."""
    trust_remote_code: bool = False
    """Run code shipped with the checkpoint. Off unless the user asks."""


@dataclass
class LoadedModel:
    """A model, its processor, and where they came from."""

    model: Any
    processor: Any
    model_id: str
    revision: str
    device: Any
    dtype: Any


def resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}: use auto, float32, bfloat16 or float16") from None


def local_revision(folder: str | os.PathLike) -> str:
    """Content fingerprint of a local checkpoint folder.

    Hashes config.json and, for each weight file, its size, its safetensors header (tensor
    names, shapes and offsets) and its first and last MiB: cheap even for 15 GB checkpoints,
    and it changes whenever the weights are retrained or replaced.
    """
    folder = Path(folder)
    h = hashlib.sha256()
    for name in ("config.json",):
        p = folder / name
        if p.exists():
            h.update(p.read_bytes())
    for p in sorted(folder.glob("*.safetensors")):
        size = p.stat().st_size
        h.update(p.name.encode() + str(size).encode())
        with open(p, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            h.update(f.read(min(header_len, 64 << 20)))
            f.seek(0)
            h.update(f.read(1 << 20))
            f.seek(max(0, size - (1 << 20)))
            h.update(f.read(1 << 20))
    return "local-" + h.hexdigest()[:16]


def load_vl_model(spec: LoadSpec) -> LoadedModel:
    """Load a vision-language checkpoint and its processor for inference."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = resolve_device(spec.device)
    dtype = resolve_dtype(spec.dtype, device)
    is_local = Path(spec.model_id).exists()
    kwargs: dict[str, Any] = dict(trust_remote_code=spec.trust_remote_code)
    if not is_local and spec.revision:
        kwargs["revision"] = spec.revision
    # Left padding: batched next-token scoring reads the last position of every row.
    processor = AutoProcessor.from_pretrained(spec.model_id, padding_side="left", **kwargs)
    if not hasattr(processor, "image_processor"):
        raise TypeError(
            f"{spec.model_id}: AutoProcessor returned {type(processor).__name__}, not a multimodal "
            "processor (is torchvision installed? transformers needs it for Qwen2.5-VL's video processor)"
        )
    model = AutoModelForImageTextToText.from_pretrained(
        spec.model_id, dtype=dtype, use_safetensors=True, **kwargs
    )
    model.to(device).eval()
    if is_local:
        revision = local_revision(spec.model_id)
    else:
        revision = getattr(model.config, "_commit_hash", None) or spec.revision or "unknown"
    return LoadedModel(model, processor, spec.model_id, revision, device, dtype)


class ModelCache:
    """Per-process cache: the same (checkpoint, revision, device, dtype) loads once.

    Pixel budgets are not part of the key: judges bound their images themselves
    (`reward_models.images.bounded_resize`) before the processor sees them.
    """

    def __init__(self) -> None:
        self._models: dict[LoadSpec, LoadedModel] = {}

    def get(self, spec: LoadSpec) -> LoadedModel:
        if spec not in self._models:
            self._models[spec] = load_vl_model(spec)
        return self._models[spec]

    def __len__(self) -> int:
        return len(self._models)

"""A tiny UniPic checkpoint folder, built locally, for tests and demos.

Nothing can be downloaded here, so the tiny model (`unipic.presets`, preset `tiny`) uses a
byte-level BPE tokenizer with Qwen's special tokens plus `<image>`
(`presets.build_tiny_unipic_tokenizer`) and random weights at `UniPicConfig.tiny()` sizes. It
is saved in our folder format and loads back through `load_pretrained`, like a converted release.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import UniPicConfig
from .model import UniPic
from .presets import build_preset


def open_zero_initialised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every all-zero floating tensor random values (1/sqrt(fan_in) for matrices, 0.02 otherwise).

    Training starts the diffusion head's AdaLN and output layers at zero, so an untrained
    head predicts epsilon = 0 whatever its condition: prompts, guidance and the LLM would
    have no effect on a random model's images. Tests and demos use this to make every input
    matter.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and not p.any():
                std = p.shape[1] ** -0.5 if p.ndim == 2 else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return model


def build_tiny_model(config: UniPicConfig | None = None, seed: int = 0) -> UniPic:
    """A random tiny UniPic with its tokenizer attached (LLM vocabulary sized to the tokenizer),
    in eval mode.

    Zero-initialised layers are opened (`open_zero_initialised`) so every input affects the output.
    """
    return open_zero_initialised(build_preset("tiny", seed, config=config), seed=seed).eval()


def build_tiny_unipic(folder: str | os.PathLike, config: UniPicConfig | None = None, seed: int = 0) -> Path:
    """Build and save a tiny checkpoint folder; returns its path."""
    from .checkpoint import save_pretrained

    return save_pretrained(build_tiny_model(config, seed), folder)


if __name__ == "__main__":
    import sys

    print(build_tiny_unipic(sys.argv[1] if len(sys.argv) > 1 else "runs/unipic-tiny"))

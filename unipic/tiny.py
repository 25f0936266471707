"""A tiny UniPic checkpoint folder, built locally, for tests and demos.

Nothing can be downloaded here, so the tiny model uses a byte-level BPE tokenizer with
Qwen's special tokens (`reward_models.tiny.build_tiny_tokenizer`) plus `<image>`, and
random weights at `UniPicConfig.tiny()` sizes. It is saved in our folder format and loads
back through `load_pretrained`, like a converted release.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch

from .config import UniPicConfig
from .model import UniPic

TINY_CORPUS = [
    "Generate an image: a red circle on a white background.",
    "Generate an image: a blue square. Make the sky green. Repeat this image.",
    "Describe the image in detail. What color is the shape? The image shows a red circle.",
]


def build_tiny_tokenizer(image_token: str = "<image>"):
    from reward_models.tiny import build_tiny_tokenizer as build_qwen_bpe

    tok = build_qwen_bpe(TINY_CORPUS)
    tok.add_special_tokens({"additional_special_tokens": [image_token]}, replace_extra_special_tokens=False)
    return tok


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
    """A random tiny UniPic with its tokenizer attached (LLM vocabulary sized to the tokenizer).

    Zero-initialised layers are opened (`open_zero_initialised`) so every input affects the output.
    """
    config = config or UniPicConfig.tiny()
    tok = build_tiny_tokenizer(config.image_token)
    config = replace(config, llm=replace(config.llm, vocab_size=len(tok)))
    torch.manual_seed(seed)
    return open_zero_initialised(UniPic(config, tok), seed=seed).eval()


def build_tiny_unipic(folder: str | os.PathLike, config: UniPicConfig | None = None, seed: int = 0) -> Path:
    """Build and save a tiny checkpoint folder; returns its path."""
    from .checkpoint import save_pretrained

    return save_pretrained(build_tiny_model(config, seed), folder)


if __name__ == "__main__":
    import sys

    print(build_tiny_unipic(sys.argv[1] if len(sys.argv) > 1 else "runs/unipic-tiny"))

"""Fresh (randomly initialised) UniPic models by name: `tiny`, `world` and `full`.

Every place that needs a model with nothing to load from (training from scratch, benchmarks,
tests, demos) builds it here:

- `tiny`: `UniPicConfig.tiny()` (the full architecture, small enough for a CPU in seconds)
  with the tiny byte-level BPE (`build_tiny_unipic_tokenizer`); the LLM vocabulary is sized
  to the tokenizer.
- `world`: the tiny preset made able to learn the synthetic world in CPU minutes
  (`world_config()`: 48 px, a linear 16 px patch codec with 64 channels, so each of the
  world's five object positions falls inside one token of a 3 x 3 grid, reconstructed exactly
  as far as `synthetic.truth` can tell; a diffusion head of width 128 x 3 blocks sampled with
  50 steps, since the tiny preset's 10 respaced steps diverge; no MAR dropout), its codec
  fitted by PCA to 1024 world renders (always the same renders, so every seed shares one
  codec) and a tokenizer trained on the world's text (colour and shape words are single tokens).
- `full`: `UniPicConfig.full()`, the shapes of the published Skywork-UniPic-1.5B, with a
  saved Qwen tokenizer (`tokenizer_dir`) or, without one, the tiny tokenizer.

`build_preset(name, seed)` is the training init: zero-initialised head layers stay zero (tests
and demos open them with `unipic.tiny.open_zero_initialised`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .config import CodecConfig, UniPicConfig
from .model import UniPic

PRESETS = ("tiny", "world", "full")

TINY_CORPUS = [
    "Generate an image: a red circle on a white background.",
    "Generate an image: a blue square. Make the sky green. Repeat this image.",
    "Describe the image in detail. What color is the shape? The image shows a red circle.",
]
"""The tiny tokenizer's training text (prompt template words and a few captions)."""

CODEC_FIT_SEED = 20240801
"""Seed of the renders the world codec is fitted to (fixed: every world model shares one codec)."""


# ---------------------------------------------------------------------- tokenizers
def _with_image_token(tok, image_token: str):
    tok.add_special_tokens({"additional_special_tokens": [image_token]}, replace_extra_special_tokens=False)
    return tok


def build_tiny_unipic_tokenizer(image_token: str = "<image>"):
    """The tiny UniPic tokenizer: a byte-level BPE with Qwen's special tokens
    (`reward_models.tiny.build_tiny_tokenizer`) trained on `TINY_CORPUS`, plus `image_token`."""
    from reward_models.tiny import build_tiny_tokenizer

    return _with_image_token(build_tiny_tokenizer(TINY_CORPUS), image_token)


def world_texts(n: int = 400, seed: int = 7) -> list[str]:
    """Captions, edit instructions and questions of the world (a tokenizer corpus)."""
    from synthetic import caption, random_edit, random_scene, understanding_rows

    rng = np.random.default_rng(seed)
    texts = ["Generate an image: ", "Generate an image.", "Repeat this image.", "Describe the image in detail."]
    for _ in range(n):
        scene = random_scene(rng)
        texts.append(caption(scene))
        texts.append(random_edit(scene, rng).instruction)
    for row in understanding_rows(60, seed, 32):
        texts += [row["question"], row["answer"]]
    return texts


def world_tokenizer(image_token: str = "<image>"):
    """A byte-level BPE with Qwen's special tokens trained on the world's text, plus `image_token`."""
    from reward_models.tiny import build_tiny_tokenizer

    return _with_image_token(build_tiny_tokenizer(world_texts()), image_token)


# ---------------------------------------------------------------------- configs
def world_config(image_size: int = 48, patch_size: int = 16, latent_channels: int = 64) -> UniPicConfig:
    """The tiny preset made able to learn the world quickly (see the module docstring)."""
    base = UniPicConfig.tiny()
    mar = dataclasses.replace(base.mar, attn_dropout=0.0, proj_dropout=0.0)
    diffusion = dataclasses.replace(base.diffusion, width=128, depth=3, sampling_steps=50)
    codec = CodecConfig(kind="patch", patch_size=patch_size, latent_channels=latent_channels)
    return dataclasses.replace(base, codec=codec, mar=mar, diffusion=diffusion, image_size=image_size)


def preset_config(name: str) -> UniPicConfig:
    """The `UniPicConfig` of preset `name` (before the vocabulary is sized to a tokenizer)."""
    configs = {"tiny": UniPicConfig.tiny, "world": world_config, "full": UniPicConfig.full}
    if name not in configs:
        raise ValueError(f"unknown preset {name!r} ({', '.join(PRESETS)})")
    return configs[name]()


def codec_fit_images(n: int = 1024, size: int = 48, seed: int = CODEC_FIT_SEED) -> torch.Tensor:
    """`n` renders of random world scenes (every background, 1-3 objects, words), in [-1, 1]."""
    from synthetic import random_scene, render

    from .images import to_tensor

    rng = np.random.default_rng(seed)
    return to_tensor([render(random_scene(rng), size) for _ in range(n)], size)


# ---------------------------------------------------------------------- models
def preset_tokenizer(name: str, tokenizer_dir: str | None = None, image_token: str = "<image>"):
    """The tokenizer of a fresh `name` model: a saved Qwen tokenizer folder when given, else the
    world tokenizer (world) or the tiny one (tiny, full)."""
    if tokenizer_dir:
        from .checkpoint import load_tokenizer

        return load_tokenizer(tokenizer_dir, image_token)
    return world_tokenizer(image_token) if name == "world" else build_tiny_unipic_tokenizer(image_token)


def build_preset(name: str, seed: int = 0, tokenizer_dir: str | None = None,
                 config: UniPicConfig | None = None) -> UniPic:
    """A randomly initialised `name` model seeded with `seed` (the training init).

    `config` replaces the preset's config (same kind of model: a tiny or world variant).
    The tiny and world LLM vocabularies are sized to their tokenizer; the full one keeps the
    published size unless the tokenizer is larger. The world codec is fitted by PCA to the
    world's renders at the model's resolution. Build under `with torch.device(...)` to build in
    place (the full preset is 12 GB in fp32).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r} ({', '.join(PRESETS)})")
    config = config or preset_config(name)
    tok = preset_tokenizer(name, tokenizer_dir, config.image_token)
    vocab = len(tok) if name != "full" else max(len(tok), config.llm.vocab_size)
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, vocab_size=vocab))
    torch.manual_seed(seed)
    model = UniPic(config, tok)
    if name == "world":
        model.codec.fit_pca(codec_fit_images(size=config.image_size))
    return model


def tiny(seed: int = 0, config: UniPicConfig | None = None) -> UniPic:
    """A fresh tiny model (`build_preset("tiny", ...)`)."""
    return build_preset("tiny", seed, config=config)


def world(seed: int = 0, config: UniPicConfig | None = None) -> UniPic:
    """A fresh world model with its PCA-fitted patch codec and world tokenizer."""
    return build_preset("world", seed, config=config)


def full(seed: int = 0, tokenizer_dir: str | None = None) -> UniPic:
    """A fresh full-size model (build it under `with torch.device("meta"|"cuda")` to skip CPU memory)."""
    return build_preset("full", seed, tokenizer_dir)

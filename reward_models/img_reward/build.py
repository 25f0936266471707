"""An untrained but loadable ImgReward folder, built in seconds (tests, the embedded default)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from reward_models.img_reward.layout import default_img_layout, layout_corpus
from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl
from reward_models.training.card import save_judge


def tiny_judge_config(corpus: list[str] | None = None, **overrides) -> TinyVLConfig:
    """A tiny Qwen2.5-VL suited to small images: 8-px patches, 2x2 merge, <= 64x64 px (16 LLM tokens)."""
    cfg = TinyVLConfig(patch_size=8, spatial_merge_size=2, window_size=32, min_pixels=16 * 16,
                       max_pixels=64 * 64, hidden_size=64, intermediate_size=128)
    return replace(cfg, corpus=list(corpus or []), **overrides)


def build_tiny_img_reward(path: str | os.PathLike, tiny_config: TinyVLConfig | None = None) -> Path:
    """Build a random tiny Qwen2.5-VL with ImgReward's layout at `path`; loadable by ImgRewardScorer."""
    layout = default_img_layout()
    cfg = tiny_config or tiny_judge_config()
    cfg = replace(cfg, corpus=list(cfg.corpus) + layout_corpus(layout))
    build_tiny_qwen25vl(path, cfg)
    _check_answer_tokens(path, layout)
    save_judge(path, None, None, layout, title="ImgReward (untrained tiny)",
               notes="Randomly initialised tiny Qwen2.5-VL with ImgReward's prompts: for tests, not for scoring.")
    return Path(path)


def _check_answer_tokens(path, layout) -> None:
    """The readout needs every answer token to be one token: fail at build time, not at scoring time."""
    from transformers import AutoTokenizer

    from reward_models.judging.readout import answer_token_ids

    answer_token_ids(AutoTokenizer.from_pretrained(path), layout)

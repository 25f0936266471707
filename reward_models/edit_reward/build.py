"""An untrained but loadable EditReward folder, built in seconds (tests, the embedded default)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from reward_models.edit_reward.layout import default_edit_layout, layout_corpus
from reward_models.img_reward.build import _check_answer_tokens, tiny_judge_config
from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl
from reward_models.training.card import save_judge


def build_tiny_edit_reward(path: str | os.PathLike, tiny_config: TinyVLConfig | None = None) -> Path:
    """Build a random tiny Qwen2.5-VL with EditReward's layout at `path`; loadable by EditRewardScorer."""
    layout = default_edit_layout()
    cfg = tiny_config or tiny_judge_config()
    cfg = replace(cfg, corpus=list(cfg.corpus) + layout_corpus(layout))
    build_tiny_qwen25vl(path, cfg)
    _check_answer_tokens(path, layout)
    save_judge(path, None, None, layout, title="EditReward (untrained tiny)",
               notes="Randomly initialised tiny Qwen2.5-VL with EditReward's prompts: for tests, not for scoring.")
    return Path(path)

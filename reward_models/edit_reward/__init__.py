"""EditReward: a Qwen2.5-VL judge of (source image, instruction, edited image), trained with SFT."""

from reward_models.edit_reward.build import build_tiny_edit_reward
from reward_models.edit_reward.layout import default_edit_layout
from reward_models.edit_reward.scorer import EditRewardScorer

__all__ = ["EditRewardScorer", "build_tiny_edit_reward", "default_edit_layout"]

"""ImgReward: a Qwen2.5-VL judge of (prompt, image), trained with an SFT warm-up then GRPO."""

from reward_models.img_reward.build import build_tiny_img_reward, tiny_judge_config
from reward_models.img_reward.layout import default_img_layout
from reward_models.img_reward.scorer import ImgRewardScorer

__all__ = ["ImgRewardScorer", "build_tiny_img_reward", "default_img_layout", "tiny_judge_config"]

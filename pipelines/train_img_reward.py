"""Train ImgReward: SFT warm-up then GRPO (TRL), locally or on a Ray cluster.

    python pipelines/train_img_reward.py --model_name_or_path Qwen/Qwen2.5-VL-3B-Instruct \
        --pickapic data/pickapic --imagerewarddb data/ImageRewardDB --hpdv2 data/HPDv2 \
        --output_dir runs/img_reward --num_generations 8 --max_completion_length 256 --learning_rate 1e-6
    python pipelines/train_img_reward.py --config img_reward.yaml          # same flags as YAML keys
    ray job submit --working-dir . -- python pipelines/train_img_reward.py --ray --ray_num_workers 4 \
        --ray_use_gpu true ...                                             # Ray Train TorchTrainer

Flags: every `ImgRewardArgs` field (reward_models/img_reward/train.py) and every `trl.GRPOConfig` field.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reward_models.training.cli import main  # noqa: E402

if __name__ == "__main__":
    main(None, script="reward_models.img_reward.train:ImgRewardArgs", config="trl:GRPOConfig",
         train="reward_models.img_reward.train:train_img_reward", name="img-reward")

"""Train EditReward: SFT (TRL) on good edits plus constructed negatives, locally or on a Ray cluster.

    python pipelines/train_edit_reward.py --model_name_or_path Qwen/Qwen2.5-VL-3B-Instruct \
        --humanedit data/HumanEdit --ultraedit data/UltraEdit --superedit data/SuperEdit-40K \
        --output_dir runs/edit_reward --num_train_epochs 1 --learning_rate 1e-5
    python pipelines/train_edit_reward.py --config edit_reward.yaml
    ray job submit --working-dir . -- python pipelines/train_edit_reward.py --ray --ray_num_workers 4 \
        --ray_use_gpu true ...

Flags: every `EditRewardArgs` field (reward_models/edit_reward/train.py) and every `trl.SFTConfig` field.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reward_models.training.cli import main  # noqa: E402

if __name__ == "__main__":
    main(None, script="reward_models.edit_reward.train:EditRewardArgs", config="trl:SFTConfig",
         train="reward_models.edit_reward.train:train_edit_reward", name="edit-reward")

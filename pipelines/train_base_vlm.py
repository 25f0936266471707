"""Train the base VLM: SFT (TRL) on question/answer rows (dense descriptions), locally or on Ray.

    python pipelines/train_base_vlm.py --model_name_or_path tiny/ --qa data/describe \
        --output_dir runs/base_vlm --num_train_epochs 3

The judges start from it (see reward_models/base_vlm.py).
Flags: every `BaseVLMArgs` field (reward_models/base_vlm.py) and every `trl.SFTConfig` field.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reward_models.training.cli import main  # noqa: E402

if __name__ == "__main__":
    main(None, script="reward_models.base_vlm:BaseVLMArgs", config="trl:SFTConfig",
         train="reward_models.base_vlm:train_base_vlm", name="base_vlm")

"""Train a VQAScore judge: SFT (TRL) on yes/no rows (plus optional question/answer rows), locally or on Ray.

    python pipelines/train_vqascore.py --model_name_or_path Qwen/Qwen2.5-VL-3B-Instruct \
        --vqa data/vqa --qa data/understanding --output_dir runs/vqascore --num_train_epochs 1
    ray job submit --working-dir . -- python pipelines/train_vqascore.py --ray --ray_num_workers 4 ...

The judge is read by the scoring job's native VQAScore backend: P(first token of "Yes") after
`Does this image show "{text}"?` (see reward_models/vqascore/train.py).
Flags: every `VQAScoreArgs` field (reward_models/vqascore/train.py) and every `trl.SFTConfig` field.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reward_models.training.cli import main  # noqa: E402

if __name__ == "__main__":
    main(None, script="reward_models.vqascore.train:VQAScoreArgs", config="trl:SFTConfig",
         train="reward_models.vqascore.train:train_vqascore", name="vqascore")

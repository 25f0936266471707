import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # toyworld, fixtures
sys.path.insert(0, str(HERE.parents[1]))  # the project


@pytest.fixture(scope="session")
def tiny_img_judge(tmp_path_factory):
    import rm_toyworld as toyworld
    from reward_models.img_reward import build_tiny_img_reward, tiny_judge_config

    return build_tiny_img_reward(tmp_path_factory.mktemp("img_judge") / "judge", tiny_judge_config(toyworld.CORPUS))


@pytest.fixture(scope="session")
def tiny_edit_judge(tmp_path_factory):
    import rm_toyworld as toyworld
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.img_reward import tiny_judge_config

    return build_tiny_edit_reward(tmp_path_factory.mktemp("edit_judge") / "judge", tiny_judge_config(toyworld.CORPUS))

import pytest


def _corpus() -> list[str]:
    """The tiny judges' tokenizer text: the world's captions, edit instructions and questions."""
    from unipic.presets import world_texts

    return world_texts()


@pytest.fixture(scope="session")
def tiny_img_judge(tmp_path_factory):
    from reward_models.img_reward import build_tiny_img_reward, tiny_judge_config

    return build_tiny_img_reward(tmp_path_factory.mktemp("img_judge") / "judge", tiny_judge_config(_corpus()))


@pytest.fixture(scope="session")
def tiny_edit_judge(tmp_path_factory):
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.img_reward import tiny_judge_config

    return build_tiny_edit_reward(tmp_path_factory.mktemp("edit_judge") / "judge", tiny_judge_config(_corpus()))

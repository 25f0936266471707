"""The base-VLM trainer learns to describe: a tiny random Qwen2.5-VL trained by the entry point on
world descriptions goes from nothing to describing held-out scenes slot by slot, and its card
and weights load back for the judges to start from."""

from __future__ import annotations

import json

import pytest

from reward_models.training.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # 500 training steps in the fixture


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from reward_models.img_reward import tiny_judge_config
    from reward_models.tiny import build_tiny_qwen25vl
    from synthetic.describe import DESCRIBE_QUESTION, description_rows
    from synthetic.judge_rows import write_descriptions

    root = tmp_path_factory.mktemp("base_vlm")
    corpus = [r["answer"] for r in description_rows(200, 99)] + [DESCRIBE_QUESTION] * 20
    start = build_tiny_qwen25vl(root / "start", tiny_judge_config(corpus, initializer_range=0.12, rope_theta=10.0,
                                                                  vocab_size=768))
    write_descriptions(root / "data", 2400, 7)
    summary = main(["--model_name_or_path", str(start), "--qa", str(root / "data"), "--output_dir", str(root / "out"),
                    "--max_steps", "500", "--learning_rate", "2e-3", "--per_device_train_batch_size", "16",
                    "--lr_scheduler_type", "cosine", "--warmup_steps", "30", "--eval_fraction", "0.03",
                    "--max_eval_rows", "40", "--max_new_tokens", "64", "--eval_before", "true", "--seed", "0",
                    "--report_to", "none", "--save_strategy", "no", "--disable_tqdm", "true"],
                   script="reward_models.base_vlm:BaseVLMArgs", config="trl:SFTConfig",
                   train="reward_models.base_vlm:train_base_vlm", name="test-base")
    return summary, root / "out"


def test_it_learns_to_describe_held_out_scenes(trained):
    summary, _ = trained
    before, after = summary["eval_before"], summary["eval_after"]
    print(json.dumps({"before": before, "after": after}))
    assert summary["eval_rows"] >= 20
    assert after["clause_accuracy"] >= 0.4 and after["clause_accuracy"] >= before["clause_accuracy"] + 0.35


def test_the_folder_loads_and_describes_like_the_judges_do(trained):
    from reward_models.loading import LoadSpec, load_vl_model
    from reward_models.judging.describe import Describer
    from synthetic.describe import DESCRIBE_QUESTION, description_rows, parse_description

    _, folder = trained
    assert json.loads((folder / "base_vlm.json").read_text())["training"]["steps"] == 500
    loaded = load_vl_model(LoadSpec(str(folder), device="cpu", dtype="float32"))
    rows = description_rows(4, 12345)
    got = Describer(loaded.model, loaded.processor, DESCRIBE_QUESTION, 64).describe([r["image"] for r in rows])
    slots = [parse_description(g) for g in got]
    positions = {"left", "right", "top", "bottom", "center"}
    assert all({"background", "quality"} <= set(s) and positions & set(s) for s in slots), got

from __future__ import annotations

import pytest

from curation.cli import build_parser, config_from_args
from curation.config import ScoreJobConfig


def test_yaml_round_trip_and_flags_override(tmp_path):
    cfg = ScoreJobConfig()
    cfg.thresholds.reward = 0.8
    cfg.input.columns.prompt = "caption"
    path = tmp_path / "job.yaml"
    path.write_text(cfg.to_yaml())
    loaded = ScoreJobConfig.from_yaml(path)
    assert loaded.to_dict() == cfg.to_dict() and loaded.hash() == cfg.hash()
    args = build_parser().parse_args(["--config", str(path), "--reward-threshold", "0.95", "--image-column", "jpg_0",
                                      "--column", "source_image=before", "--set", "vqa.batch_size=32",
                                      "--num-gpus", "0.5", "--task", "t2i"])
    c = config_from_args(args)
    assert c.thresholds.reward == 0.95 and c.input.columns.prompt == "caption"
    assert c.input.columns.image == "jpg_0" and c.input.columns.source_image == "before"
    assert c.vqa.batch_size == 32 and c.img_reward.num_gpus == 0.5 and c.input.default_task == "t2i"


def test_hash_ignores_placement_but_not_results():
    a, b = ScoreJobConfig(), ScoreJobConfig()
    b.vqa.batch_size, b.img_reward.num_actors, b.edit_reward.num_gpus, b.output.path = 64, 4, 1.0, "/elsewhere"
    b.input.paths = ["/other/input"]  # inputs are fingerprinted separately
    assert a.hash() == b.hash()
    for key, value in [("thresholds.reward", 0.8), ("vqa.template", 'Is it "{}"?'), ("img_reward.dtype", "bfloat16"),
                       ("input.columns.prompt", "caption"), ("input.rows_per_partition", 10)]:
        c = ScoreJobConfig()
        c.set(key, value)
        assert c.hash() != a.hash(), key


def test_bad_config_is_refused_clearly(tmp_path):
    with pytest.raises(KeyError, match="unknown keys"):
        ScoreJobConfig.from_dict({"thresholds": {"rewrd": 0.9}})
    with pytest.raises(ValueError, match="not one of"):
        ScoreJobConfig.from_dict({"thresholds": {"sub_score_modes": {"x": "blurry"}}})
    with pytest.raises(KeyError):
        ScoreJobConfig().set("nope.field", 1)
    with pytest.raises(ValueError):
        ScoreJobConfig().set("thresholds.reward", "high")


def test_cli_refuses_real_input_without_judges(tmp_path, capsys):
    """Only the cheap checks would decide, and nearly every row would be kept: refuse clearly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.score import main

    pq.write_table(pa.table({"prompt": ["a cat"], "image": [b"x"]}), tmp_path / "in.parquet")
    assert main(["--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "out")]) == 2
    assert "no judges configured" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_vqascore_defaults_to_t2v_metrics_preprocessing_and_rewards_to_a_budget(judges):
    """The job's VQAScore is the published metric by default: no pixel budget, the scorer prepares
    images as t2v-metrics does (and says so per row); a budget is an explicit option."""
    from PIL import Image

    from curation.job import judge_specs
    from curation.scoring import build_scorer
    from reward_models.interface import ScoreBatch
    from reward_models.loading import ModelCache

    cfg = config_from_args(build_parser().parse_args(["--vqa-model", judges["vqa"], "--img-reward-model",
                                                      judges["img_reward"]]))
    assert cfg.vqa.max_pixels == 0 and cfg.img_reward.max_pixels == 448 * 448
    specs = {s.stage: s for s in judge_specs(cfg)}
    assert "preprocess" in specs["vqa"].info_keys
    image = Image.new("RGB", (640, 480), (200, 30, 30))
    batch = ScoreBatch(prompts=["a red square"], images=[image])
    assert build_scorer(specs["vqa"], ModelCache()).score(batch).info["preprocess"] == "t2v-metrics"
    budget = config_from_args(build_parser().parse_args(["--vqa-model", judges["vqa"], "--max-pixels", "50176"]))
    spec = {s.stage: s for s in judge_specs(budget)}["vqa"]
    assert build_scorer(spec, ModelCache()).score(batch).info["preprocess"] == "pixel-budget:50176"


def test_t2v_metrics_stage_takes_a_local_checkpoint_dtype_and_interpreter(tmp_path):
    """`--vqa-backend t2v_metrics --t2v-model qwen2.5-vl-7b --vqa-model DIR` loads DIR in the package's
    Qwen2.5-VL entry (the README's recipe for a local folder), with the dtype and interpreter given."""
    from curation.job import judge_specs
    from curation.scoring import t2v_metrics_config

    folder = tmp_path / "qwen"
    cfg = config_from_args(build_parser().parse_args([
        "--vqa-backend", "t2v_metrics", "--t2v-model", "qwen2.5-vl-7b", "--vqa-model", str(folder),
        "--t2v-python", "/envs/t2v/bin/python", "--set", "vqa.dtype=float32"]))
    spec = {s.stage: s for s in judge_specs(cfg)}["vqa"]
    t2v = t2v_metrics_config(spec)
    assert (t2v.model, t2v.checkpoint, t2v.dtype, t2v.python) == ("qwen2.5-vl-7b", str(folder), "float32",
                                                                 "/envs/t2v/bin/python")
    other = config_from_args(build_parser().parse_args(["--vqa-backend", "t2v_metrics", "--t2v-model", "qwen2.5-vl-7b"]))
    spec_default = {s.stage: s for s in judge_specs(other)}["vqa"]
    assert t2v_metrics_config(spec_default).checkpoint is None  # the entry's own weights
    assert spec.checkpoint_key() != spec_default.checkpoint_key()  # another folder is another stage

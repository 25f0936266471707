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

"""The entry points train through TRL (locally and on Ray), skip bad rows, and save loadable judges."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from . import rm_fixtures as fixtures
from reward_models.edit_reward import EditRewardScorer
from reward_models.img_reward import ImgRewardScorer
from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec
from reward_models.training.cli import main
from synthetic import Scene, SceneObject, caption, edit_triplets, render

ROOT = Path(__file__).resolve().parents[2]
IMG = dict(script="reward_models.img_reward.train:ImgRewardArgs", config="trl:GRPOConfig",
           train="reward_models.img_reward.train:train_img_reward", name="img-reward-test")
EDIT = dict(script="reward_models.edit_reward.train:EditRewardArgs", config="trl:SFTConfig",
            train="reward_models.edit_reward.train:train_edit_reward", name="edit-reward-test")


@pytest.fixture(scope="module")
def pref_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("pref")
    fixtures.write_pickapic(root / "pickapic", n=16)
    fixtures.write_imagerewarddb(root / "irdb", n_prompts=3)
    fixtures.write_hpdv2(root / "hpdv2", n=6)
    return root


def _img_argv(judge, data, out, *extra):
    return ["--model_name_or_path", str(judge), "--pickapic", str(data / "pickapic"), "--imagerewarddb",
            str(data / "irdb"), "--hpdv2", str(data / "hpdv2"), "--output_dir", str(out), "--warmup_epochs", "1",
            "--warmup_learning_rate", "1e-3", "--warmup_batch_size", "16", "--max_steps", "2",
            "--per_device_train_batch_size", "4", "--num_generations", "2", "--max_completion_length", "12",
            "--report_to", "none", "--save_strategy", "no", "--eval_fraction", "0.3", "--logging_steps", "1", *extra]


def test_img_reward_entry_point_warmup_grpo_and_card(tiny_img_judge, pref_data, tmp_path):
    out = tmp_path / "judge"
    summary = main(_img_argv(tiny_img_judge, pref_data, out), **IMG)
    # Bad rows were skipped with a count, not fatal.
    assert summary["skipped"]["pickapic:tie"] == 1 and summary["skipped"]["hpdv2:tie"] == 1
    assert summary["skipped"]["pickapic:undecodable_image"] == 1
    # GRPO ran with both rewards logged.
    logs = summary["grpo_log"]
    assert logs and "rewards/rank_reward/mean" in logs[-1] and "rewards/format_reward/mean" in logs[-1]
    # The folder is a judge: weights + processor + reward_model.json + card with per-source accuracy.
    data = json.loads((out / "reward_model.json").read_text())
    assert data["kind"] == "img_reward"
    table = data["evaluation"]["pairwise accuracy (held-out, ties excluded)"]
    assert any(k.startswith("pickapic/") for k in table) and "accuracy_after" in next(iter(table.values()))
    card = (out / "README.md").read_text()
    assert "pickapic/overall" in card and "accuracy_after" in card
    scorer = ImgRewardScorer(spec=LoadSpec(str(out), device="cpu"))
    scene = Scene((SceneObject("circle", "red", "center"),))
    res = scorer.score(ScoreBatch(prompts=[caption(scene)], images=[render(scene)]))
    assert res.score.shape == (1,) and np.isfinite(res.score).all()  # [0, 1] is ScoreOutput's own check


def test_yaml_config(tiny_img_judge, pref_data, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("warmup_epochs: 0.5\nskip_grpo: true\neval_before: false\nmax_steps: 1\n")
    out = tmp_path / "judge"
    summary = main(["--config", str(cfg), *_img_argv(tiny_img_judge, pref_data, out)[:-16],
                    "--report_to", "none", "--save_strategy", "no"], **IMG)
    assert "grpo_log" not in summary and "eval_before" not in summary and "eval_after" in summary


def test_edit_reward_entry_point(tiny_edit_judge, tmp_path):
    he = fixtures.write_humanedit(tmp_path / "he", n=10)
    se = fixtures.write_superedit(tmp_path / "se", n=6)
    out = tmp_path / "judge"
    summary = main(["--model_name_or_path", str(tiny_edit_judge), "--humanedit", str(he), "--superedit", str(se),
                    "--output_dir", str(out), "--max_steps", "2", "--per_device_train_batch_size", "8",
                    "--learning_rate", "1e-3", "--report_to", "none", "--save_strategy", "no",
                    "--eval_fraction", "0.3"], **EDIT)
    assert summary["skipped"] == {"humanedit:missing_instruction": 1, "humanedit:undecodable_image": 1}
    kinds = set(summary["eval_after"]) - {"positive"}
    assert kinds <= {"other_instruction", "unchanged", "other_output", "degraded", "neg_prompt"} and kinds
    data = json.loads((out / "reward_model.json").read_text())
    assert data["kind"] == "edit_reward" and data["evaluation"]
    scorer = EditRewardScorer(spec=LoadSpec(str(out), device="cpu"))
    t = edit_triplets(1, 0)[0]
    res = scorer.score(ScoreBatch(prompts=[t.instruction], images=[t.edited], source_images=[t.source]))
    assert set(res.sub_scores) == {"compliance", "consistency", "quality"}


def test_cli_script_runs_as_a_program(tiny_edit_judge, tmp_path):
    he = fixtures.write_humanedit(tmp_path / "he", n=6)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "pipelines" / "train_edit_reward.py"), "--model_name_or_path",
         str(tiny_edit_judge), "--humanedit", str(he), "--output_dir", str(tmp_path / "j"), "--max_steps", "1",
         "--report_to", "none", "--save_strategy", "no", "--eval_before", "false", "--eval_fraction", "0"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "j" / "model.safetensors").exists()
    console = proc.stdout + proc.stderr  # quiet by default: the trainer's step bar, not the libraries' bars
    assert "1/1 [" in console and "Loading weights" not in console and "Writing model shards" not in console


@pytest.mark.slow  # ~45 s on a busy 2-core machine (Ray Train start-up)
def test_ray_train_one_worker(ray_session, tiny_img_judge, pref_data, tmp_path):
    """`--ray` wraps the same TRL training in Ray Train's TorchTrainer (1 CPU worker here)."""
    out = tmp_path / "judge"
    metrics = main(_img_argv(tiny_img_judge, pref_data, out, "--ray", "true", "--ray_num_workers", "1"), **IMG)
    assert (out / "model.safetensors").exists() and (out / "reward_model.json").exists()
    # The Ray path ran (its metrics come back beside the summary) and the worker evaluated the trained judge.
    assert isinstance(metrics["ray_metrics"], dict)
    assert 0.0 <= metrics["eval_after"]["pickapic/overall"]["accuracy"] <= 1.0

"""VQAScore inside the job: model sharing, and the t2v-metrics backend up to the package boundary."""

from __future__ import annotations

import sys
import types
from dataclasses import asdict

import numpy as np
import pytest

from curation.config import ScoreJobConfig
from curation.job import group_by_checkpoint, judge_specs, stage_options
from curation.scoring import ScoringStage
from reward_models.interface import ScoreBatch
from reward_models.loading import LoadSpec, load_vl_model
from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig
from reward_models.vqascore.t2v_backend import T2VMetricsConfig, T2VMetricsVQAScorer, runtime_env_for

from ...curation.inputs_factory import rgb


def test_same_checkpoint_shares_one_stage_and_one_loaded_model(spread_vqa, tiny_vl):
    cfg = ScoreJobConfig()
    cfg.img_reward.model = spread_vqa
    cfg.img_reward.scorer = "vqascore"  # any judge on that checkpoint
    cfg.vqa.model = spread_vqa
    cfg.edit_reward.model = str(tiny_vl)
    cfg.edit_reward.scorer = "vqascore"
    groups = group_by_checkpoint(judge_specs(cfg))
    assert [[s.stage for s in g] for g in groups] == [["img_reward", "vqa"], ["edit_reward"]]
    stage = ScoringStage([asdict(s) for s in groups[0]], decode_pixel_limit=10**8)
    assert len(stage.cache) == 1
    assert stage.scorers[0].model is stage.scorers[1].model


def test_t2v_metrics_stage_gets_its_own_environment():
    cfg = ScoreJobConfig()
    cfg.vqa.backend = "t2v_metrics"
    cfg.vqa.t2v_model = "clip-flant5-xl"
    (spec,) = judge_specs(cfg)
    assert spec.scorer == "t2v_metrics" and spec.info_keys == ("template", "answer", "preprocess")
    opts = stage_options(cfg, [spec], cluster_gpus=1)
    assert opts["runtime_env"] == {"pip": {"packages": ["t2v-metrics==3.0"], "pip_check": False}}
    assert opts["num_gpus"] == 1.0 and isinstance(opts["batch_size"], int)
    cfg.vqa.t2v_python = "/opt/t2v/bin/python"
    (spec,) = judge_specs(cfg)
    assert stage_options(cfg, [spec], 0)["runtime_env"] == {"py_executable": "/opt/t2v/bin/python"}
    assert runtime_env_for(T2VMetricsConfig(pip=["t2v-metrics==3.0", "ffmpeg-python"]))["pip"]["packages"][1] == \
        "ffmpeg-python"


def test_t2v_backend_without_the_package_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "t2v_metrics", None)
    with pytest.raises(ImportError, match="runtime_env"):
        T2VMetricsVQAScorer(T2VMetricsConfig(model="clip-flant5-xxl"))


def test_t2v_backend_delegates_aligned_pairs_to_the_package(monkeypatch, spread_vqa):
    """The package boundary without the package: a stand-in with t2v-metrics 3.0's API
    (VQAScore(model=...).model.forward(paths, texts, question_template=..., answer_template=...))
    computes with our tiny model; the backend must pass aligned pairs, files and templates through
    and return the same numbers. The real package runs in test_vqascore_t2v_metrics_real.py."""
    loaded = load_vl_model(LoadSpec(spread_vqa, device="cpu"))
    calls = []

    class _Model:
        def forward(self, paths, texts, fps=None, question_template='Does this image show "{}"?',
                    answer_template="Yes"):
            from PIL import Image

            calls.append((list(paths), list(texts), question_template))
            imgs = [Image.open(p).convert("RGB") for p in paths]
            cfg = VQAScoreConfig(template=question_template, answer=answer_template, max_pixels=None)
            import torch

            return torch.tensor(NativeVQAScorer(loaded, config=cfg).score(ScoreBatch(texts, imgs)).score)

    class _VQAScore:
        def __init__(self, model, device="cuda", cache_dir=None):
            self.model = _Model()
            self.model_name = model

    monkeypatch.setitem(sys.modules, "t2v_metrics", types.SimpleNamespace(VQAScore=_VQAScore, __version__="3.0"))
    scorer = T2VMetricsVQAScorer(T2VMetricsConfig(model="qwen2.5-vl-7b", device="cpu"))
    imgs = [rgb(i, (40, 40)) for i in range(4)]
    texts = [f"picture {i}" for i in range(4)]
    out = scorer.score(ScoreBatch(texts, imgs))
    native = NativeVQAScorer(loaded, config=VQAScoreConfig(max_pixels=None)).score(ScoreBatch(texts, imgs))
    assert len(calls) == 1 and calls[0][1] == texts and len(calls[0][0]) == 4  # N pairs, not N x N
    assert np.abs(out.score - native.score).max() < 1e-6
    assert out.info == {"template": 'Does this image show "{}"?', "answer": "Yes", "preprocess": "t2v-metrics"}
    assert out.model_id == "t2v_metrics:qwen2.5-vl-7b"
    with pytest.raises(ValueError, match="Qwen2"):  # overrides only where the package's table has the entry
        T2VMetricsVQAScorer(T2VMetricsConfig(model="clip-flant5-xxl", checkpoint="/some/folder"))

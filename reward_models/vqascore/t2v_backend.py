"""VQAScore through the `t2v_metrics` package itself (CLIP-FlanT5, LLaVA, Qwen-VL, ...).

t2v-metrics 3.0 pins torch 2.5.1 / transformers 4.49 (and needs ffmpeg on import), so it
never goes into the base environment. The scoring job runs this backend's stage in its own
Ray `runtime_env` (`runtime_env_for`): either a pip environment Ray builds and caches per
node, or a prebuilt interpreter (`py_executable`). The package is imported inside the actor,
never on the driver.
"""

from __future__ import annotations

import inspect
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from ..interface import ScoreBatch, ScoreOutput

T2V_PIP_REQUIREMENTS = ["t2v-metrics==3.0"]
"""What the stage's pip runtime_env installs (its own pins bring torch 2.5.1 etc.)."""


@dataclass
class T2VMetricsConfig:
    """Options of the t2v-metrics backend."""

    model: str = "clip-flant5-xxl"
    """A t2v-metrics VQAScore model name (`t2v_metrics.list_all_vqascore_models()`)."""
    template: str | None = None
    """Question template; None keeps the package's default for that model."""
    answer: str | None = None
    """Answer template; None keeps the package's default ("Yes")."""
    device: str = "cuda"
    """Device the package loads its model on."""
    cache_dir: str | None = None
    """Where t2v-metrics keeps downloaded weights (None: its default HF cache)."""
    python: str | None = None
    """A prebuilt interpreter with t2v-metrics installed (Ray `py_executable`); None makes
    Ray build a pip environment with `pip` below."""
    pip: list[str] = field(default_factory=lambda: list(T2V_PIP_REQUIREMENTS))
    """Requirements for the stage's pip environment."""
    checkpoint: str | None = None
    """A local folder (or hub id) to load instead of the model entry's weights. For the Qwen2(.5)-VL
    entries the processor is read from the same folder (t2v-metrics otherwise reads it from the
    entry's hub id)."""
    dtype: str | None = None
    """Override of the entry's torch dtype (t2v-metrics loads Qwen2.5-VL in bfloat16), e.g. 'float32'."""
    attn_implementation: str | None = "sdpa"
    """Override of the entry's attention implementation (some entries hard-code flash_attention_2,
    which needs the flash-attn package); None keeps the entry's."""


def runtime_env_for(cfg: T2VMetricsConfig) -> dict:
    """The Ray runtime_env the t2v-metrics stage runs in."""
    if cfg.python:
        return {"py_executable": cfg.python}
    return {"pip": {"packages": list(cfg.pip), "pip_check": False}}


def _patch_model_entry(cfg: T2VMetricsConfig) -> None:
    """Point the package's model-table entry at a local checkpoint / dtype / attention. In place:
    the table is module state of this worker's own t2v-metrics import."""
    try:
        from t2v_metrics.models.vqascore_models.qwen2vl_model import QWEN2_VL_MODELS  # noqa: PLC0415
    except ImportError:
        QWEN2_VL_MODELS = {}
    entry = QWEN2_VL_MODELS.get(cfg.model)
    if entry is None:
        if cfg.checkpoint or cfg.dtype:
            raise ValueError(f"checkpoint/dtype overrides are supported for the Qwen2(.5)-VL entries, not {cfg.model!r}")
        return
    import torch  # noqa: PLC0415

    if cfg.checkpoint:
        entry["tokenizer"]["path"] = cfg.checkpoint
    if cfg.dtype:
        entry["model"]["torch_dtype"] = getattr(torch, cfg.dtype)
    if cfg.attn_implementation:
        entry["model"]["attn_implementation"] = cfg.attn_implementation


class T2VMetricsVQAScorer:
    """Delegates to `t2v_metrics.VQAScore(model=...)` for aligned (image, text) pairs."""

    needs_source_image = False
    sub_score_names: tuple[str, ...] = ()
    info_keys = ("template", "answer", "preprocess")
    """Strings recorded on every scored row (as the native backend's; `preprocess` is always t2v-metrics' own)."""

    def __init__(self, config: T2VMetricsConfig | None = None) -> None:
        self.config = config or T2VMetricsConfig()
        try:
            import t2v_metrics  # noqa: PLC0415 - only inside the stage's own environment
        except ImportError as e:  # pragma: no cover - depends on the runtime_env
            raise ImportError(
                "the t2v_metrics backend needs the `t2v-metrics` package in this worker's "
                "environment; run the stage with its runtime_env (see README, 'VQAScore "
                f"through t2v-metrics'): {e}"
            ) from e
        _patch_model_entry(self.config)
        kwargs = {"model": self.config.model, "device": self.config.device}
        if self.config.cache_dir:
            kwargs["cache_dir"] = self.config.cache_dir
        if self.config.checkpoint:
            kwargs["checkpoint"] = self.config.checkpoint
        self._score_model = t2v_metrics.VQAScore(**kwargs)
        self.model_id = f"t2v_metrics:{self.config.model}" + (f"@{self.config.checkpoint}" if self.config.checkpoint else "")
        self.model_revision = f"t2v_metrics=={getattr(t2v_metrics, '__version__', '3.0')}"
        forward = self._score_model.model.forward
        params = inspect.signature(forward).parameters
        self._template = self.config.template or params["question_template"].default
        self._answer = self.config.answer or params["answer_template"].default

    def score(self, batch: ScoreBatch) -> ScoreOutput:
        # The package's models take file paths; `Score.forward` would score every image
        # against every text (N^2), so call the inner model's aligned forward instead.
        with tempfile.TemporaryDirectory(prefix="t2v-") as tmp:
            paths = []
            for i, img in enumerate(batch.images):
                p = os.path.join(tmp, f"{i:05d}.png")
                img.save(p)
                paths.append(p)
            scores = self._score_model.model.forward(
                paths, list(batch.prompts), question_template=self._template, answer_template=self._answer
            )
        values = np.clip(np.asarray(scores.detach().float().cpu().numpy(), dtype=np.float64), 0.0, 1.0)
        return ScoreOutput(
            score=values,
            model_id=self.model_id,
            model_revision=self.model_revision,
            info={"template": self._template, "answer": self._answer, "preprocess": "t2v-metrics"},
        )

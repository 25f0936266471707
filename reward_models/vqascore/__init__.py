"""VQAScore (Lin et al., ECCV 2024) with the t2v-metrics 3.0 definition.

Two backends behind one scorer interface:
- `NativeVQAScorer`: batched transformers forward pass (left padding, `logits_to_keep=1`).
- `T2VMetricsVQAScorer`: delegates to the `t2v_metrics` package (its own Ray runtime_env).
"""

from .config import DEFAULT_ANSWER, DEFAULT_TEMPLATE, VQAScoreConfig
from .native import NativeVQAScorer, vqa_text_for
from .reference import generate_vqascore

__all__ = [
    "DEFAULT_ANSWER",
    "DEFAULT_TEMPLATE",
    "NativeVQAScorer",
    "VQAScoreConfig",
    "generate_vqascore",
    "vqa_text_for",
]

"""VQAScore options."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TEMPLATE = 'Does this image show "{}"?'
"""t2v-metrics 3.0's question for its Qwen2(.5)-VL scorers (`qwen2vl_model.py`)."""
DEFAULT_ANSWER = "Yes"
"""The answer whose first token's probability is the score."""


@dataclass
class VQAScoreConfig:
    """How VQAScore asks its question and reads the answer."""

    template: str = DEFAULT_TEMPLATE
    """Question with one `{}` for the text. Other t2v-metrics scorers use e.g.
    'Does this figure show "{}"? Please answer yes or no.'"""
    answer: str = DEFAULT_ANSWER
    """Answer whose first token is read from the next-token distribution."""
    batch_size: int = 16
    """Rows per forward pass (the job's Ray batch is split into chunks of this size)."""
    max_pixels: int | None = None
    """None (default): t2v-metrics' own preprocessing (qwen_vl_utils' smart resize to the 28 grid
    within 4*28*28 .. 16384*28*28 pixels, PIL bicubic, then the processor), so scores are the
    published metric. An int is a speed option: images are first shrunk to that pixel budget
    (aspect kept, never enlarged; e.g. 448*448) and the processor resizes from there; scores then
    differ from t2v-metrics' (by up to a few 1e-3). Recorded on every row as `preprocess`."""
    apply_generation_config: bool = True
    """Apply the checkpoint's greedy logits processors (repetition penalty, suppressed
    tokens, ...) as `generate` does, so scores equal t2v-metrics' `outputs.scores[0]`."""
    sort_by_length: bool = True
    """Group rows of similar image size and prompt length into a chunk to cut padding."""

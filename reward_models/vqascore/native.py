"""Native VQAScore backend: one batched forward pass, last position only.

t2v-metrics scores one pair at a time with `generate(max_new_tokens=1, output_scores=True)`
and reads `softmax(scores[0])[id("Yes")]`. Here a whole chunk goes through one forward pass
with left padding and `logits_to_keep=1`, so the vocabulary projection runs once per row
instead of once per prompt token, and no generation loop runs. `generate` processes the
logits before returning them as `scores` (repetition penalty, suppressed tokens, ...): the
same processors are applied here from the checkpoint's generation config, so both
procedures give the same number (tested to 1e-5 in fp32).

Images are prepared as t2v-metrics prepares them (`preprocess.py`) unless a pixel budget is
configured as a speed option; each row's `preprocess` info says which.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from ..interface import ScoreBatch, ScoreOutput
from ..loading import LoadedModel, LoadSpec, load_vl_model
from .config import VQAScoreConfig
from .preprocess import describe_preprocessing, prepare_image

log = logging.getLogger(__name__)


def vqa_text_for(task: str, prompt: str, meta: Any) -> str:
    """The text VQAScore asks about.

    t2i: the caption. edit: the target description of the edited image when the data has
    one (`meta["target_description"]`, e.g. HumanEdit's OUTPUT_DESCRIPTION or UltraEdit's
    target_caption mapped there), otherwise the instruction itself: "does this image show
    <instruction>" still rewards outputs where the instructed change is visible.
    """
    if task == "edit":
        if isinstance(meta, str) and meta:
            try:
                meta = json.loads(meta)
            except ValueError:
                meta = None
        if isinstance(meta, dict):
            target = meta.get("target_description")
            if isinstance(target, str) and target.strip():
                return target.strip()
    return prompt


def chat_texts(processor, questions: list[str]) -> list[str]:
    """One user turn per row: the image, then the question; generation prompt appended."""
    texts = []
    for q in questions:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
        texts.append(processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    return texts


def answer_token_id(tokenizer, answer: str) -> int:
    """First token of the answer, as t2v-metrics takes it (`tokenizer.encode(answer)[0]`)."""
    ids = tokenizer.encode(answer, add_special_tokens=False)
    if not ids:
        raise ValueError(f"answer {answer!r} encodes to no tokens")
    return ids[0]


def process_greedy_logits(logits, input_ids, attention_mask, generation_config, eos_ids: list[int]):
    """Apply the logits processors that `generate` runs for the first greedy token.

    `logits` (B, V) float32 for the next position; `input_ids` (B, T) left-padded. Mirrors
    transformers' RepetitionPenalty, MinLength/MinNewTokens, SuppressTokens,
    SuppressTokensAtBegin and ForcedEOS processors; padding never counts as context.
    """
    import torch

    gc = generation_config
    penalty = getattr(gc, "repetition_penalty", None)
    if penalty is not None and penalty != 1.0:
        for b in range(logits.shape[0]):
            seen = torch.unique(input_ids[b][attention_mask[b].bool()])
            score = logits[b, seen]
            logits[b, seen] = torch.where(score < 0, score * penalty, score / penalty)
    neg_inf = -float("inf")
    cur_len = attention_mask.sum(dim=1)
    min_length = getattr(gc, "min_length", 0) or 0
    min_new = getattr(gc, "min_new_tokens", 0) or 0
    if eos_ids and (min_new > 0 or bool((cur_len < min_length).any())):
        rows = torch.ones_like(cur_len, dtype=torch.bool) if min_new > 0 else cur_len < min_length
        logits[rows.nonzero().flatten()[:, None], torch.tensor(eos_ids)] = neg_inf
    for name in ("suppress_tokens", "begin_suppress_tokens"):
        ids = getattr(gc, name, None)
        if ids:
            logits[:, list(ids)] = neg_inf
    forced_eos = getattr(gc, "forced_eos_token_id", None)
    # With max_new_tokens=1 the first new token is also the last: ForcedEOS always fires.
    if forced_eos is not None:
        forced = [forced_eos] if isinstance(forced_eos, int) else list(forced_eos)
        keep = logits[:, forced].clone()
        logits[:] = neg_inf
        logits[:, forced] = keep
    if getattr(gc, "no_repeat_ngram_size", 0) or getattr(gc, "bad_words_ids", None):
        log.warning("generation config sets no_repeat_ngram_size/bad_words_ids: not applied by VQAScore")
    return logits


class NativeVQAScorer:
    """VQAScore over a transformers vision-language checkpoint (Qwen2.5-VL and alike)."""

    needs_source_image = False
    sub_score_names: tuple[str, ...] = ()
    """VQAScore is one number: no sub-scores."""
    info_keys = ("template", "answer", "preprocess")
    """Strings recorded on every scored row (`preprocess`: `t2v-metrics` or `pixel-budget:<N>`)."""

    def __init__(
        self,
        loaded: LoadedModel | None = None,
        *,
        spec: LoadSpec | None = None,
        config: VQAScoreConfig | None = None,
    ) -> None:
        if loaded is None:
            if spec is None:
                raise ValueError("give a loaded model or a LoadSpec")
            loaded = load_vl_model(spec)
        self.loaded = loaded
        self.config = config or VQAScoreConfig()
        if self.config.template.count("{}") != 1:
            raise ValueError(f"template must contain exactly one '{{}}': {self.config.template!r}")
        self.processor = loaded.processor
        self.model = loaded.model
        self.model_id = loaded.model_id
        self.model_revision = loaded.revision
        self.answer_id = answer_token_id(self.processor.tokenizer, self.config.answer)
        eos = self.model.generation_config.eos_token_id
        self._eos_ids = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))

    def score(self, batch: ScoreBatch) -> ScoreOutput:
        n = len(batch)
        probs = np.zeros(n, dtype=np.float64)
        images = [prepare_image(im, self.config.max_pixels) for im in batch.images]
        questions = [self.config.template.format(t) for t in batch.prompts]
        order = list(range(n))
        if self.config.sort_by_length:
            # Similar sizes in one chunk: less padding, and the vision tower sees uniform work.
            order.sort(key=lambda i: (images[i].width * images[i].height, len(questions[i])))
        bs = max(1, self.config.batch_size)
        for start in range(0, n, bs):
            rows = order[start : start + bs]
            probs[rows] = self._score_chunk([images[i] for i in rows], [questions[i] for i in rows])
        return ScoreOutput(
            score=np.clip(probs, 0.0, 1.0),
            model_id=self.model_id,
            model_revision=self.model_revision,
            info={"template": self.config.template, "answer": self.config.answer,
                  "preprocess": describe_preprocessing(self.config.max_pixels)},
        )

    def _score_chunk(self, images, questions) -> np.ndarray:
        import torch

        texts = chat_texts(self.processor, questions)
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        inputs = inputs.to(self.loaded.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.loaded.dtype)
        with torch.inference_mode():
            out = self.model(**inputs, logits_to_keep=1, use_cache=False)
        logits = out.logits[:, -1, :].to(torch.float32).clone()
        if self.config.apply_generation_config:
            gc = self.model.generation_config
            logits = process_greedy_logits(
                logits, inputs["input_ids"], inputs["attention_mask"], gc, self._eos_ids
            )
        p = torch.softmax(logits, dim=-1)[:, self.answer_id]
        return p.double().cpu().numpy()

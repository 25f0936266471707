"""The likelihood readout: a judge scores a text by how likely its own describer finds it.

A judge that has learned to describe what it sees (every object with its colour, shape and place,
in any order; for an image pair, the instruction of the change and the result's quality) can read
a caption or an instruction *as a description of the picture*: the text is teacher-forced as the
answer to the judge's describe question, and each token's probability says whether the picture
supports it. A wrong colour, shape or place, an object too many or too few, an edit done wrongly
or not at all, each puts one token of the text far below what the picture makes likely, while a
text the picture supports keeps every token likely (the only uncertainty left is the order the
text chose). This is the generative score of captioning models (VisualGPTScore, Lin et al. 2023:
P(text | image)), read per token instead of summed, so one contradicted word decides.

Why it judges where an answer token after a description did not: the comparison of text and
picture is done by the describer's own next-token prediction, learned from dense targets (every
word), not discovered from one yes/no bit; a small model learns the first within minutes and the
second not at all (the probes of issue 16, `scripts/probe_*`).

Aspects (each a value in [0, 1], higher is better), as `LikelihoodSpec.aspects` names them:

- `text`: exp(min over the text's tokens of log p), each p renormalised without the flaw words
  (a broken object is `flaws`' business, not a contradiction of the text);
- `flaws`: 1 - max over tokens of p(flaw word) / (p(flaw word) + p(token)): the describer would
  rather call an object "sliced" than give the text's next word;
- `quality`: p(first quality word) among the quality words, read after the text and `suffix`;
- `refusal:<word>`: 1 - p(<word>) as the first answer token (e.g. "another": not an edit of the
  source at all);
- `product`: the product of every other aspect (the overall score before calibration).

One forward pass per row, right-padded batches (equal to one row at a time; tested), deterministic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from reward_models.judging.describe import describe_turn
from reward_models.judging.readout import AspectReadout

VALUES = np.array([0.0, 1.0])
"""A likelihood aspect's readout is a probability: two 'answers' (bad, good) with values 0 and 1."""


@dataclass
class LikelihoodSpec:
    """How a judge reads a text's likelihood under its describer (stored in `reward_model.json`)."""

    question: str
    """The describe question the text is read as the answer to (a picture's, or a pair's change question)."""
    n_images: int = 1
    """Pictures in the turn (2: source, then result)."""
    suffix: str = ". quality:"
    """Teacher-forced after the text; the next token is read as the picture's quality word."""
    quality_words: list[str] = field(default_factory=lambda: ["clean"])
    """The describer's quality words; the first is the good one."""
    flaw_words: list[str] = field(default_factory=list)
    """Adjectives the describer gives a broken object (read by `flaws`, excluded from `text`)."""
    aspects: dict[str, str] = field(default_factory=dict)
    """Aspect name -> how it is read: `text`, `flaws`, `quality`, `refusal:<word>` or `product`."""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "LikelihoodSpec":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        for name, how in self.aspects.items():
            base = how.split(":", 1)[0]
            if base not in ("text", "flaws", "quality", "refusal", "product"):
                raise ValueError(f"likelihood aspect {name!r}: unknown reading {how!r}")
            if base == "refusal" and ":" not in how:
                raise ValueError(f"likelihood aspect {name!r}: refusal needs a word (refusal:<word>)")
        if not self.quality_words:
            raise ValueError("quality_words must name at least the good quality word")


def _first_ids(tokenizer, word: str) -> list[int]:
    """First token ids of `word` as it starts an answer and as it follows a space."""
    ids = {tokenizer.encode(w, add_special_tokens=False)[0] for w in (word, " " + word)}
    return sorted(ids)


class LikelihoodReadout:
    """Reads `LikelihoodSpec` aspects for (images, text) rows with one forward pass per row."""

    mode = "likelihood"
    describe = False

    def __init__(self, model, processor, spec: LikelihoodSpec, batch_size: int = 16):
        spec.validate()
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.spec = spec
        self.batch_size = max(1, int(batch_size))
        self.prompt = processor.apply_chat_template(describe_turn(spec.question, spec.n_images),
                                                    add_generation_prompt=True, tokenize=False)
        self.quality_ids = [_first_ids(self.tokenizer, w)[-1] for w in spec.quality_words]
        self.flaw_ids = sorted({i for w in spec.flaw_words for i in _first_ids(self.tokenizer, w)})
        self.refusal_ids = {how: _first_ids(self.tokenizer, how.partition(":")[2])
                            for how in spec.aspects.values() if how.startswith("refusal:")}

    def completion_ids(self, text: str) -> list[int]:
        """The text as an answer (trailing full stop dropped: the suffix supplies it), then the suffix."""
        body = text.strip()
        body = body[:-1] if body.endswith(".") else body
        return self.tokenizer.encode(body + self.spec.suffix, add_special_tokens=False)

    def read(self, rows: list[tuple[list, str]], aspects: list[str] | None = None) -> dict[str, AspectReadout]:
        """rows: (images, text) per row, images RGB and bounded. Returns aspect -> readout (mean = value)."""
        aspects = list(aspects or self.spec.aspects)
        values = {a: [] for a in aspects}
        for i in range(0, len(rows), self.batch_size):
            for row_values in self._batch(rows[i : i + self.batch_size]):
                for a in aspects:
                    values[a].append(row_values[a])
        out = {}
        for a in aspects:
            v = np.clip(np.asarray(values[a], dtype=np.float64), 0.0, 1.0)
            out[a] = AspectReadout(np.stack([1.0 - v, v], axis=1) if len(v) else np.zeros((0, 2)), VALUES)
        return out

    def _batch(self, rows: list[tuple[list, str]]) -> list[dict[str, float]]:
        import torch

        if not rows:
            return []
        enc = self.processor(text=[self.prompt] * len(rows), images=[list(imgs) for imgs, _ in rows],
                             add_special_tokens=False, padding=False)
        seqs, mms, starts = [], [], []
        for k, (_, text) in enumerate(rows):
            prompt_ids = list(enc["input_ids"][k])
            comp = self.completion_ids(text)
            seqs.append(prompt_ids + comp)
            starts.append(len(prompt_ids))
            if "mm_token_type_ids" in enc:
                mms.append(list(enc["mm_token_type_ids"][k]) + [0] * len(comp))
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        dev = self.model.device
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=dev)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=dev)
        kwargs = {}
        if mms:
            kwargs["mm_token_type_ids"] = torch.tensor([m + [0] * (width - len(m)) for m in mms], device=dev)
        pixels = torch.as_tensor(enc["pixel_values"]).to(dev, next(self.model.parameters()).dtype)
        with torch.no_grad():
            logits = self.model(input_ids=ids, attention_mask=mask, pixel_values=pixels,
                                image_grid_thw=torch.as_tensor(enc["image_grid_thw"], device=dev), **kwargs).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        # Positions start-1 .. end-2 predict the completion's tokens; the last one (after the
        # suffix) predicts the quality word.
        return [self._row_values(logp[k, starts[k] - 1 : len(seqs[k])], ids[k, starts[k] : len(seqs[k])])
                for k in range(len(rows))]

    def _row_values(self, logp, target) -> dict[str, float]:
        """Aspect values of one row from its completion positions' log-probabilities (`logp[t]`
        predicts `target[t]`; `logp[-1]`, after the suffix, the quality word)."""
        import torch

        spec = self.spec
        quality_lp, logp = logp[-1], logp[:-1]
        tok_lp = logp.gather(1, target[:, None])[:, 0]
        p_tok = tok_lp.exp()
        p_flaw = logp[:, self.flaw_ids].exp().sum(1) if self.flaw_ids else torch.zeros_like(p_tok)
        text_lp = tok_lp - torch.log1p(-p_flaw.clamp(max=1 - 1e-6))
        out: dict[str, float] = {}
        for name, how in spec.aspects.items():
            base = how.partition(":")[0]
            if base == "text":
                out[name] = float(text_lp.min().exp())
            elif base == "flaws":
                ratio = p_flaw / (p_flaw + p_tok + 1e-12)
                out[name] = float(1.0 - ratio.max()) if self.flaw_ids else 1.0
            elif base == "refusal":
                out[name] = float(1.0 - logp[0, self.refusal_ids[how]].exp().sum())
            elif base == "quality":
                out[name] = float(torch.softmax(quality_lp[self.quality_ids], 0)[0])
        product = float(np.prod(list(out.values()))) if out else 1.0
        for name, how in spec.aspects.items():
            if how == "product":
                out[name] = product
        return out

"""The prompt and answer layout of a judge, saved beside its weights as `reward_model.json`.

A judge answers one *aspect* per question (ImgReward: overall, alignment, fidelity; EditReward:
compliance, consistency, quality, overall). Every question shares the same prefix (system
prompt, images, caption or instruction) and differs only in the trailing question text, so the
readout can score every aspect of a row in one forward pass (see `readout.py`). The answer is

    <think>{rationale}</think><answer>{token}</answer>

where `{token}` is one of `answer_tokens` (digits 0-9 for ImgReward, yes/no for EditReward)
and each token has a value in [0, 1]. A *describe-then-answer* layout (`describe_question` set)
fills `{rationale}` with the judge's own description of each image, generated greedily from
one user turn that holds only that image and `describe_question` (see `describe.py`); the
score is then read from the answer tokens after it. Otherwise the rationale is the fixed
`readout_rationale` (the direct readout). Training (SFT targets, GRPO parsing) and the readout all
go through this one object, so a checkpoint trained with one layout is read with that layout,
whatever the model size.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

IMAGE_SLOT = "<image>"
"""A user block that is an image placeholder (filled in order from the row's images)."""

READOUT_VERSION = 1
"""Bumped whenever the readout's meaning changes (recorded on every scored row)."""


@dataclass
class JudgeLayout:
    """Prompts and answer tokens of one judge."""

    kind: str
    """`img_reward` or `edit_reward`."""
    system_prompt: str
    """System message: the task and the required `<think>`/`<answer>` form."""
    user_blocks: list[str]
    """User content in order: `IMAGE_SLOT` for each image, else text formatted with {prompt} and {question}.
    Every image must come before the first block that uses {question}."""
    aspects: dict[str, str]
    """Aspect name -> question text, in readout order."""
    answer_tokens: list[str]
    """The tokens the answer may hold, exactly as written after the prefix (e.g. " yes" with its space);
    each must be one token in that context."""
    answer_values: list[float]
    """Value in [0, 1] of each answer token (the readout is their probability-weighted mean)."""
    score_aspect: str = "overall"
    """The aspect whose readout is the judge's overall score."""
    think_prefix: str = "<think>"
    """Opens the rationale."""
    readout_rationale: str = ""
    """Rationale text teacher-forced by the deterministic readout (empty: the non-thinking form)."""
    answer_open: str = "</think><answer>"
    """Text between the rationale and the answer token."""
    answer_close: str = "</answer>"
    """Text after the answer token."""
    readout_version: int = READOUT_VERSION
    """Version of the readout rule (see module doc)."""
    describe_question: str = ""
    """Describe-then-answer: the question each image is described with before judging (empty: the
    direct readout with `readout_rationale`)."""
    describe_labels: list[str] = field(default_factory=list)
    """Text put before each image's description in the rationale (one per image; empty: none)."""
    describe_max_new_tokens: int = 96
    """Longest description generated per image."""
    likelihood: dict = field(default_factory=dict)
    """The likelihood readout (`likelihood.LikelihoodSpec` as JSON; empty: none): when set, the
    scorer reads the caption or instruction's likelihood under the judge's describer by default,
    and the answer-token readouts above stay available (`readout_mode`)."""
    extra: dict = field(default_factory=dict)
    """Free-form notes (e.g. training recipe) kept with the layout."""

    # -- text ------------------------------------------------------------------------------

    def messages(self, prompt: str, aspect: str, n_images: int | None = None) -> list[dict]:
        """Conversational prompt for one (row, aspect), with `{"type": "image"}` placeholders."""
        question = self.aspects[aspect]
        content: list[dict] = []
        for block in self.user_blocks:
            if block == IMAGE_SLOT:
                content.append({"type": "image"})
            else:
                content.append({"type": "text", "text": block.format(prompt=prompt, question=question)})
        if n_images is not None and n_images != self.n_images:
            raise ValueError(f"layout {self.kind} expects {self.n_images} images, got {n_images}")
        return [
            {"role": "system", "content": [{"type": "text", "text": self.system_prompt}]},
            {"role": "user", "content": content},
        ]

    @property
    def n_images(self) -> int:
        return sum(1 for b in self.user_blocks if b == IMAGE_SLOT)

    def readout_prefix(self) -> str:
        """Assistant text teacher-forced before the answer token."""
        return f"{self.think_prefix}{self.readout_rationale}{self.answer_open}"

    @property
    def describes(self) -> bool:
        """True for a describe-then-answer layout."""
        return bool(self.describe_question)

    def rationale_from(self, descriptions: list[str]) -> str:
        """The `<think>` text made of one description per image (in image order)."""
        labels = self.describe_labels or [""] * len(descriptions)
        if len(labels) != len(descriptions):
            raise ValueError(f"layout {self.kind} labels {len(labels)} images, got {len(descriptions)} descriptions")
        return "".join(f"{label}{d}" for label, d in zip(labels, descriptions))

    def answer_text(self, token: str, rationale: str | None = None) -> str:
        """A complete target answer (SFT completions, warm-up targets)."""
        rationale = self.readout_rationale if rationale is None else rationale
        return f"{self.think_prefix}{rationale}{self.answer_open}{token}{self.answer_close}"

    def value_to_token(self, value: float) -> str:
        """The answer token whose value is nearest to `value` (a target in [0, 1])."""
        i = min(range(len(self.answer_values)), key=lambda j: abs(self.answer_values[j] - value))
        return self.answer_tokens[i]

    # -- parsing generated text -------------------------------------------------------------

    def format_ok(self, text: str) -> bool:
        """True when `text` is exactly `<think>…</think><answer>…</answer>` (whitespace allowed between)."""
        return re.fullmatch(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", text, flags=re.DOTALL) is not None

    def parse_value(self, text: str) -> float | None:
        """Value of the first answer token inside the last `<answer>…</answer>`, or None."""
        found = re.findall(r"<answer>(.*?)</answer>", text, flags=re.DOTALL)
        if not found:
            return None
        body = found[-1].strip()
        # Longest token first so "10" would never be read as "1".
        for token in sorted(self.answer_tokens, key=lambda t: len(t.strip()), reverse=True):
            word = token.strip()
            if re.match(rf"{re.escape(word)}\b", body, flags=re.IGNORECASE):
                return self.answer_values[self.answer_tokens.index(token)]
        return None

    def parse_rationale(self, text: str) -> str:
        found = re.search(r"<think>(.*?)</think>", text, flags=re.DOTALL)
        return found.group(1).strip() if found else ""

    # -- persistence ------------------------------------------------------------------------

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "JudgeLayout":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        if self.describe_labels and len(self.describe_labels) != self.n_images:
            raise ValueError(f"describe_labels has {len(self.describe_labels)} labels for {self.n_images} images")
        if len(self.answer_tokens) != len(self.answer_values):
            raise ValueError("answer_tokens and answer_values differ in length")
        if any(not 0.0 <= v <= 1.0 for v in self.answer_values):
            raise ValueError("answer_values must lie in [0, 1]")
        if self.score_aspect not in self.aspects:
            raise ValueError(f"score_aspect {self.score_aspect!r} is not one of {list(self.aspects)}")
        # The spec itself is checked where it is read (`likelihood.LikelihoodReadout`).
        if self.likelihood and self.score_aspect not in self.likelihood.get("aspects", {}):
            raise ValueError(f"score_aspect {self.score_aspect!r} is not a likelihood aspect "
                             f"{list(self.likelihood.get('aspects', {}))}")
        seen_question = False
        for block in self.user_blocks:
            if block == IMAGE_SLOT and seen_question:
                raise ValueError("every image must come before the {question} text (shared-prefix readout)")
            if block != IMAGE_SLOT and "{question}" in block:
                seen_question = True
        if not seen_question:
            raise ValueError("no user block uses {question}")


def with_describe(layout: JudgeLayout, question: str) -> JudgeLayout:
    """The same layout read describe-then-answer: each image described with `question` first."""
    from dataclasses import replace

    return replace(layout, describe_question=question)


LAYOUT_FILE = "reward_model.json"


def save_layout(folder: str | os.PathLike, layout: JudgeLayout, **extra) -> Path:
    """Write `reward_model.json` (the layout plus any extra top-level keys, e.g. `eval`)."""
    layout.validate()
    path = Path(folder) / LAYOUT_FILE
    data = {**layout.to_json(), **extra}
    path.write_text(json.dumps(data, indent=2, sort_keys=False))
    return path


def load_layout(folder: str | os.PathLike, default: JudgeLayout, kind: str) -> JudgeLayout:
    """The layout saved beside a checkpoint, or `default` when there is none (e.g. a bare hub model)."""
    path = Path(folder) / LAYOUT_FILE
    if not path.exists():
        return default
    data = json.loads(path.read_text())
    if data.get("kind") not in (None, kind):
        raise ValueError(f"{folder}: reward_model.json is kind {data.get('kind')!r}, expected {kind!r}")
    merged = {**default.to_json(), **{k: v for k, v in data.items() if k in JudgeLayout.__dataclass_fields__}}
    layout = JudgeLayout.from_json(merged)
    layout.validate()
    return layout

"""Prompt text and token ids for the three tasks.

The published model was trained on Qwen's chat format without a system turn:
`<|im_start|>user\\n{input}<|im_end|>\\n<|im_start|>assistant\\n`. Image features enter the
LLM at the positions of a special `<image>` token: the user turn is
`<image> x K` + "\\n" + text, where K is the number of image features (the source image's
MAR tokens plus buffers for editing; SigLIP patches, or MAR tokens plus buffers, for
understanding). Batches are left-padded; positions come from the attention mask, so left
and right padding give the same result.

Captions, instructions, questions and answers are stripped of surrounding whitespace before
they are tokenized, as the published training datasets and scripts do (`text.strip()` in
`text2image.py`'s datasets, `prompt.strip()` in `image_edit.py`, question/answer `.strip()` in the
understanding datasets), so " a cat\n" and "a cat" give the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

USER_PREFIX = "<|im_start|>user\n"
ASSISTANT_PREFIX = "<|im_end|>\n<|im_start|>assistant\n"
END_OF_TURN = "<|im_end|>"

T2I_TEMPLATE = "Generate an image: {}"
T2I_UNCONDITIONAL = "Generate an image."
EDIT_UNCONDITIONAL = "Repeat this image."
DEFAULT_QUESTION = "Describe the image in detail."


def t2i_text(caption: str) -> str:
    """'Generate an image: {caption}' with the caption stripped (published training and scripts)."""
    return T2I_TEMPLATE.format(caption.strip())


@dataclass
class TokenBatch:
    """Left-padded token ids with their attention mask (and labels for training)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor | None = None

    def to(self, device) -> "TokenBatch":
        labels = None if self.labels is None else self.labels.to(device)
        return TokenBatch(self.input_ids.to(device), self.attention_mask.to(device), labels)


class PromptBuilder:
    """Builds token batches for generation, editing and understanding from one tokenizer."""

    def __init__(self, tokenizer, image_token: str = "<image>"):
        self.tokenizer = tokenizer
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise ValueError(f"tokenizer has no {image_token!r} token; add it as a special token")
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.end_of_turn_id = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self._prefix = self._ids(USER_PREFIX)
        self._suffix = self._ids(ASSISTANT_PREFIX)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def user_turn(self, text: str, image_tokens: int = 0, max_text_tokens: int | None = None) -> list[int]:
        """Token ids of one user turn (optionally with K image placeholders) and the assistant header.

        `text` is stripped first, as the published code strips prompts and instructions."""
        body = self._ids(("\n" if image_tokens else "") + text.strip())
        if max_text_tokens is not None:
            body = body[:max_text_tokens]
        return self._prefix + [self.image_token_id] * image_tokens + body + self._suffix

    def pad(self, rows: Sequence[list[int]], label_rows: Sequence[list[int]] | None = None) -> TokenBatch:
        """Left-pad rows of ids (and labels with -100) into a TokenBatch."""
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        labels = None if label_rows is None else torch.full((len(rows), width), -100, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
            mask[i, width - len(row):] = 1
            if labels is not None:
                labels[i, width - len(row):] = torch.tensor(label_rows[i], dtype=torch.long)
        return TokenBatch(ids, mask, labels)

    # ------------------------------------------------------------------ tasks
    def text_to_image(self, captions: Sequence[str], max_text_tokens: int | None = None) -> TokenBatch:
        """'Generate an image: {caption}' prompts."""
        return self.pad([self.user_turn(t2i_text(c), 0, max_text_tokens) for c in captions])

    def text_to_image_unconditional(self, n: int) -> TokenBatch:
        """The real unconditional prompt 'Generate an image.' (also the caption-dropout target)."""
        return self.pad([self.user_turn(T2I_UNCONDITIONAL)] * n)

    def edit(self, instructions: Sequence[str], image_tokens: int) -> TokenBatch:
        """Source-image placeholders then the instruction."""
        return self.pad([self.user_turn(t, image_tokens) for t in instructions])

    def edit_unconditional(self, n: int, image_tokens: int) -> TokenBatch:
        """The source image with 'Repeat this image.'."""
        return self.pad([self.user_turn(EDIT_UNCONDITIONAL, image_tokens)] * n)

    def understanding(self, questions: Sequence[str], image_tokens: Sequence[int] | int,
                      answers: Sequence[str] | None = None) -> TokenBatch:
        """Question prompts; with answers, the answer and its end-of-turn token are the only labels."""
        counts = [image_tokens] * len(questions) if isinstance(image_tokens, int) else list(image_tokens)
        rows = [self.user_turn(q, k) for q, k in zip(questions, counts)]
        if answers is None:
            return self.pad(rows)
        full, labels = [], []
        for row, answer in zip(rows, answers):
            target = self._ids(answer.strip()) + [self.end_of_turn_id]
            full.append(row + target)
            labels.append([-100] * len(row) + target)
        return self.pad(full, labels)

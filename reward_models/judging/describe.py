"""A judge's own description of its images: batched greedy generation, deterministic.

Describe-then-answer judges (see `readout.py`) first describe each image, from one user turn
holding that image and the describe question, with no caption or instruction in sight (so the
description can only come from the pixels, never be copied from the text it is checked
against); the description becomes the judge's `<think>` and the score is read from the answer
tokens after it. The base VLM learns exactly this turn (`reward_models.base_vlm`).
"""

from __future__ import annotations

DEFAULT_MAX_NEW_TOKENS = 96


def describe_turn(question: str, n_images: int = 1) -> list[dict]:
    """One user turn: the image(s), then the question (the base VLM's and VQAScore's turn, no system
    message); two images for a question about a pair (the change question: first, then second)."""
    return [{"role": "user", "content": [{"type": "image"}] * n_images + [{"type": "text", "text": question}]}]


def image_question_row(image, question: str, answer: str) -> dict:
    """One prompt/completion SFT row: `describe_turn(question)` about `image` (or a list of images,
    in order), answered with `answer`."""
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    return {"images": images, "prompt": describe_turn(question, len(images)),
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}]}


class Describer:
    """Greedy descriptions of single images with a model + processor, in left-padded batches.

    Greedy decoding with no sampling is deterministic; batched it equals one-at-a-time
    `generate` (tested), since left padding is masked and positions are computed per row.
    """

    def __init__(self, model, processor, question: str, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 batch_size: int = 32, n_images: int = 1):
        self.model = model
        self.processor = processor
        self.question = question
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.n_images = int(n_images)
        self.text = processor.apply_chat_template(describe_turn(question, self.n_images), add_generation_prompt=True,
                                                  tokenize=False)

    def describe(self, images: list) -> list[str]:
        """One description per image (images already RGB and within the pixel budget); with
        `n_images` > 1 each item is a list of that many images."""
        out: list[str] = []
        for i in range(0, len(images), self.batch_size):
            out += self._batch(images[i : i + self.batch_size])
        return out

    def _batch(self, images: list) -> list[str]:
        import torch

        if not images:
            return []
        tok = self.processor.tokenizer
        groups = [list(im) if self.n_images > 1 else [im] for im in images]
        enc = self.processor(text=[self.text] * len(images), images=groups, return_tensors="pt",
                             padding=True, add_special_tokens=False).to(self.model.device)
        if "pixel_values" in enc:
            enc["pixel_values"] = enc["pixel_values"].to(next(self.model.parameters()).dtype)
        with torch.no_grad():
            gen = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        new = gen[:, enc["input_ids"].shape[1]:]
        return [tok.decode(row, skip_special_tokens=True).strip() for row in new]


class DescriptionCache:
    """Descriptions of many images, each distinct picture described once (keyed by its pixels).

    Training rows of describe-then-answer judges need the starting model's own description of
    every training image (it becomes the `<think>` target); pairs and constructed negatives share
    images, so the cache avoids describing one picture many times.
    """

    def __init__(self, describer: Describer):
        self.describer = describer
        self.found: dict[str, str] = {}

    @staticmethod
    def key(image) -> str:
        import hashlib

        return hashlib.sha1(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()

    def describe_all(self, images: list) -> None:
        """Describe every image not seen yet (one batched pass)."""
        todo: dict[str, object] = {}
        for im in images:
            k = self.key(im)
            if k not in self.found and k not in todo:
                todo[k] = im
        if not todo:
            return
        for k, text in zip(todo, self.describer.describe(list(todo.values()))):
            self.found[k] = text

    def __getitem__(self, image) -> str:
        return self.found[self.key(image)]

    def replay_rows(self, images: list) -> list[dict]:
        """Describe-turn SFT rows (image -> its own description), one per distinct image: mixed into a
        judge's training so that learning to judge does not wear away describing."""
        seen, rows = set(), []
        for im in images:
            k = self.key(im)
            if k in seen or k not in self.found:  # never described (a reading copy's blank picture)
                continue
            seen.add(k)
            rows.append(image_question_row(im, self.describer.question, self.found[k]))
        return rows


def rationales_for(layout, cache: DescriptionCache | None, groups: list[list]) -> list[str | None]:
    """The `<think>` text of each group of images (describe layouts), or None per group (direct)."""
    if cache is None or not layout.describes:
        return [None] * len(groups)
    cache.describe_all([im for g in groups for im in g])
    return [layout.rationale_from([cache[im] for im in g]) for g in groups]

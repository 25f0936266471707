"""Deterministic readout: every aspect of a row from one forward pass.

For each row and aspect the judge's prompt is `shared prefix + question_k + answer prefix`, and
the score is the expected value of the answer-token distribution at the last position
(Q-Align style: softmax restricted to the answer tokens, dotted with their values).

The aspects share the prefix (system prompt, images, caption), so instead of K sequences per
row we build ONE sequence, `prefix + branch_1 + ... + branch_K`, with

- a 4D attention mask in which each branch sees the prefix and itself but no other branch, and
- each branch's tokens at the (multimodal RoPE) positions they would have in their own sequence.

Every branch's logits are then exactly those of its own separate sequence (checked in the
tests to ~1e-5), the images go through the vision tower once, and no aspect is conditioned on
another's answer (which a single "overall: 7, alignment: 8" answer would do). Attention
implementations that ignore custom 4D masks (flash-attention) fall back to `mode="separate"`:
K ordinary left-padded sequences in one batch, same numbers.

Rows are left-padded; logits are computed only at the K read positions (`logits_to_keep`).

Describe-then-answer layouts (`JudgeLayout.describes`): before the forward pass each image is
described greedily by the same model (`describe.Describer`, no caption in sight) and the
descriptions become the row's rationale, teacher-forced between `<think>` and `</think><answer>`
in every branch. Greedy decoding makes the whole readout deterministic; `describe=False` reads
the same checkpoint directly (the fixed `readout_rationale`), for ablations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reward_models.images import bounded_resize, to_rgb
from reward_models.judging.describe import DescriptionCache, Describer, rationales_for
from reward_models.judging.layout import JudgeLayout


@dataclass
class AspectReadout:
    """Answer-token distributions for n rows and one aspect."""

    probs: np.ndarray
    """(n, n_answer_tokens) probabilities (restricted softmax), rows sum to 1."""
    values: np.ndarray
    """(n_answer_tokens,) the tokens' values in [0, 1]."""

    @property
    def mean(self) -> np.ndarray:
        """Expected value in [0, 1] per row: the score."""
        return np.clip(self.probs @ self.values, 0.0, 1.0)

    @property
    def var(self) -> np.ndarray:
        """Variance of the value per row (used by the Thurstone ranking reward)."""
        return np.maximum(self.probs @ (self.values**2) - self.mean**2, 0.0)


def answer_token_ids(tokenizer, layout: JudgeLayout) -> list[int]:
    """Ids of the layout's answer tokens as they follow the readout prefix.

    Each answer token must be exactly one token *in context*: tokenising prefix + token must
    give the prefix's ids plus one id (what training saw). A BPE that merges the token with the
    prefix (e.g. ">yes") would otherwise be read at the wrong token.
    """
    prefix = layout.readout_prefix()
    base = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    ids = []
    for token in layout.answer_tokens:
        joint = tokenizer(prefix + token, add_special_tokens=False)["input_ids"]
        if joint[: len(base)] != base or len(joint) != len(base) + 1:
            raise ValueError(
                f"answer token {token!r} is not a single token after {prefix!r} for this tokenizer "
                f"({len(joint) - len(base)} tokens); the readout needs single tokens "
                "(choose other answer_tokens in reward_model.json)"
            )
        ids.append(joint[-1])
    if len(set(ids)) != len(ids):
        raise ValueError(f"answer tokens {layout.answer_tokens} do not map to distinct token ids")
    return ids


def prepare_images(images, max_pixels: int | None):
    """RGB and the pixel budget, before the processor sees them."""
    return [bounded_resize(to_rgb(img), max_pixels) for img in images]


class BranchReadout:
    """Scores (images, prompt) rows on every aspect of a layout with one forward pass per row."""

    def __init__(self, model, processor, layout: JudgeLayout, mode: str = "auto", describe: bool | None = None,
                 describe_batch_size: int = 32):
        self.model = model
        self.processor = processor
        self.layout = layout
        self.tokenizer = processor.tokenizer
        self.answer_ids = answer_token_ids(self.tokenizer, layout)
        self.values = np.asarray(layout.answer_values, dtype=np.float64)
        self.prefix_ids = self.tokenizer(layout.readout_prefix(), add_special_tokens=False)["input_ids"]
        self.describe = layout.describes if describe is None else bool(describe)
        if self.describe and not layout.describes:
            raise ValueError(f"layout {layout.kind} has no describe_question: it can only be read directly")
        self.describer = (Describer(model, processor, layout.describe_question, layout.describe_max_new_tokens,
                                    describe_batch_size) if self.describe else None)
        attn = getattr(getattr(model, "config", None), "_attn_implementation", "sdpa") or "sdpa"
        has_rope_index = hasattr(getattr(model, "model", None), "get_rope_index")
        if mode == "auto":
            mode = "branched" if ("flash" not in attn and has_rope_index) else "separate"
        if mode not in ("branched", "separate"):
            raise ValueError(f"readout mode {mode!r}: use auto, branched or separate")
        self.mode = mode

    # -- tokenisation ------------------------------------------------------------------------

    def rationales(self, rows: list[tuple[list, str]]) -> list[str] | None:
        """The rationale of each row: its images' descriptions (describe mode), else None (fixed text)."""
        if not self.describe:
            return None
        return rationales_for(self.layout, DescriptionCache(self.describer), [list(imgs) for imgs, _ in rows])

    def _prefix_ids(self, rationale: str | None) -> list[int]:
        if rationale is None:
            return self.prefix_ids
        text = f"{self.layout.think_prefix}{rationale}{self.layout.answer_open}"
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _encode(self, images, prompt: str, aspects: list[str], rationale: str | None = None) -> dict:
        """Prompt + answer-prefix ids for each aspect of one row (same tokenisation as TRL's SFT collator)."""
        texts = [
            self.processor.apply_chat_template(
                self.layout.messages(prompt, a, len(images)), add_generation_prompt=True, tokenize=False
            )
            for a in aspects
        ]
        enc = self.processor(
            text=texts, images=[list(images)] * len(aspects), add_special_tokens=False, padding=False
        )
        out = []
        prefix = self._prefix_ids(rationale)
        for k in range(len(aspects)):
            ids = list(enc["input_ids"][k]) + prefix
            mm = list(enc["mm_token_type_ids"][k]) + [0] * len(prefix) if "mm_token_type_ids" in enc else None
            out.append({"ids": ids, "mm": mm})
        row = {"branches": out, "pixel_values": None, "image_grid_thw": None}
        if len(images):
            import torch

            # The processor ran once per aspect with the same images: keep one copy of the pixels.
            grid = torch.as_tensor(enc["image_grid_thw"])[: len(images)]
            row["image_grid_thw"] = grid
            row["pixel_values"] = torch.as_tensor(enc["pixel_values"])[: int(grid.prod(dim=1).sum())]
            image_token = self.tokenizer.convert_tokens_to_ids(getattr(self.processor, "image_token", "<|image_pad|>"))
            row["last_image_token"] = max(i for i, t in enumerate(out[0]["ids"]) if t == image_token)
        return row

    def _rope(self, ids: list[int], mm: list[int] | None, grid):
        """(3, len) multimodal positions of one unpadded sequence."""
        import torch

        kwargs = {}
        if mm is not None:
            kwargs["mm_token_type_ids"] = torch.tensor([mm], dtype=torch.int32, device=self.model.device)
        pos, _ = self.model.model.get_rope_index(
            torch.tensor([ids], device=self.model.device),
            image_grid_thw=None if grid is None else torch.as_tensor(grid, device=self.model.device),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.model.device),
            **kwargs,
        )
        return pos[:, 0, :]

    # -- forward ---------------------------------------------------------------------------

    def read(self, rows: list[tuple[list, str]], aspects: list[str] | None = None,
             rationales: list[str] | None = None) -> dict[str, AspectReadout]:
        """rows: (images, prompt) per row, images already RGB and bounded. Returns aspect -> readout.
        `rationales`: the rows' descriptions when already made (else described here in describe mode)."""
        import torch

        aspects = list(aspects or self.layout.aspects)
        if not rows:
            return {a: AspectReadout(np.zeros((0, len(self.values))), self.values) for a in aspects}
        if rationales is None:
            rationales = self.rationales(rows)
        rationales = rationales if rationales is not None else [None] * len(rows)
        with torch.no_grad():
            if self.mode == "branched":
                logits = self._forward_branched(rows, aspects, rationales)
            else:
                logits = self._forward_separate(rows, aspects, rationales)
        probs = torch.softmax(logits.float(), dim=-1).double().cpu().numpy()  # (n, K, n_answer)
        return {a: AspectReadout(probs[:, k, :], self.values) for k, a in enumerate(aspects)}

    def _answer_logits(self, logits):
        return logits[..., self.answer_ids]

    def _forward_separate(self, rows, aspects, rationales):
        """Reference path: one left-padded sequence per (row, aspect)."""
        import torch

        enc_rows = [self._encode(imgs, prompt, aspects, r) for (imgs, prompt), r in zip(rows, rationales)]
        seqs = [b for r in enc_rows for b in r["branches"]]
        L = max(len(s["ids"]) for s in seqs)
        pad = self.tokenizer.pad_token_id
        dev = self.model.device
        ids = torch.full((len(seqs), L), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), L), dtype=torch.long)
        mm = torch.zeros((len(seqs), L), dtype=torch.int32)
        for i, s in enumerate(seqs):
            n = len(s["ids"])
            ids[i, L - n :] = torch.tensor(s["ids"])
            mask[i, L - n :] = 1
            if s["mm"] is not None:
                mm[i, L - n :] = torch.tensor(s["mm"], dtype=torch.int32)
        kwargs = self._pixel_kwargs(enc_rows, repeat=len(aspects))
        if seqs[0]["mm"] is not None:
            kwargs["mm_token_type_ids"] = mm.to(dev)
        out = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), logits_to_keep=1, **kwargs)
        logits = self._answer_logits(out.logits[:, -1, :])
        return logits.view(len(rows), len(aspects), -1)

    def _pixel_kwargs(self, enc_rows, repeat: int = 1):
        import torch

        dev = self.model.device
        pv = [r["pixel_values"] for r in enc_rows for _ in range(repeat) if r["pixel_values"] is not None]
        if not pv:
            return {}
        grids = [r["image_grid_thw"] for r in enc_rows for _ in range(repeat) if r["image_grid_thw"] is not None]
        dtype = next(self.model.parameters()).dtype
        return {
            "pixel_values": torch.cat([torch.as_tensor(p) for p in pv]).to(dev, dtype),
            "image_grid_thw": torch.cat([torch.as_tensor(g) for g in grids]).to(dev),
        }

    def _forward_branched(self, rows, aspects, rationales):
        import torch

        dev = self.model.device
        enc_rows = [self._encode(imgs, prompt, aspects, r) for (imgs, prompt), r in zip(rows, rationales)]
        built = []
        for r in enc_rows:
            branches = r["branches"]
            # Every branch keeps at least its last token (a single aspect is then a plain sequence).
            shared = min(_common_prefix_len([b["ids"] for b in branches]), min(len(b["ids"]) for b in branches) - 1)
            if len(branches) > 1 and r.get("last_image_token", -1) >= shared:
                raise ValueError("the aspect questions must come after every image (see JudgeLayout.user_blocks)")
            positions = [self._rope(b["ids"], b["mm"], r["image_grid_thw"]) for b in branches]
            ids = list(branches[0]["ids"][:shared])
            mm = None if branches[0]["mm"] is None else list(branches[0]["mm"][:shared])
            pos = [positions[0][:, :shared]]
            owner = [0] * shared  # 0 = shared prefix, k+1 = branch k
            reads = []
            for k, b in enumerate(branches):
                tail = b["ids"][shared:]
                if not tail:
                    raise ValueError("aspect questions must differ in their text (empty branch)")
                ids += tail
                if mm is not None:
                    mm += b["mm"][shared:]
                pos.append(positions[k][:, shared:])
                owner += [k + 1] * len(tail)
                reads.append(len(ids) - 1)
            built.append({"ids": ids, "mm": mm, "pos": torch.cat(pos, dim=1), "owner": owner, "reads": reads})
        L = max(len(b["ids"]) for b in built)
        n = len(built)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((n, L), pad, dtype=torch.long)
        mm = torch.zeros((n, L), dtype=torch.int32)
        pos = torch.zeros((3, n, L), dtype=torch.long)
        owner = torch.full((n, L), -1, dtype=torch.long)  # -1 = padding
        read_at = torch.zeros((n, len(aspects)), dtype=torch.long)
        for i, b in enumerate(built):
            m = len(b["ids"])
            ids[i, L - m :] = torch.tensor(b["ids"])
            if b["mm"] is not None:
                mm[i, L - m :] = torch.tensor(b["mm"], dtype=torch.int32)
            pos[:, i, L - m :] = b["pos"].cpu()
            owner[i, L - m :] = torch.tensor(b["owner"])
            read_at[i] = torch.tensor(b["reads"]) + (L - m)
        # Query q may see key j when j <= q, j is not padding, and j is in the prefix or q's own branch.
        q_owner, k_owner = owner[:, :, None], owner[:, None, :]
        causal = torch.ones(L, L, dtype=torch.bool).tril()[None]
        allowed = causal & (k_owner >= 0) & ((k_owner == 0) | (k_owner == q_owner))
        # Padding queries see only themselves (avoids all-masked rows; their outputs are never read).
        eye = torch.eye(L, dtype=torch.bool)[None]
        allowed = allowed | (eye & (q_owner < 0))
        dtype = next(self.model.parameters()).dtype
        mask4d = torch.zeros((n, 1, L, L), dtype=dtype)
        mask4d.masked_fill_(~allowed[:, None], torch.finfo(dtype).min)
        keep = torch.unique(read_at.flatten())
        kwargs = self._pixel_kwargs(enc_rows)
        if built[0]["mm"] is not None:
            kwargs["mm_token_type_ids"] = mm.to(dev)
        out = self.model(
            input_ids=ids.to(dev),
            attention_mask=mask4d.to(dev),
            position_ids=pos.to(dev),
            logits_to_keep=keep.to(dev),
            **kwargs,
        )
        # out.logits: (n, len(keep), V); map each read position to its column in `keep`.
        col = torch.searchsorted(keep, read_at)
        logits = out.logits[torch.arange(n)[:, None], col.to(out.logits.device)]
        return self._answer_logits(logits)


def _common_prefix_len(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        t = seqs[0][i]
        if any(s[i] != t for s in seqs[1:]):
            return i
    return n

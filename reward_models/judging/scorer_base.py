"""What ImgRewardScorer and EditRewardScorer share: loading, layout, batching, generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reward_models.calibration import Calibration
from reward_models.loading import LoadedModel, LoadSpec, load_vl_model
from reward_models.judging.layout import JudgeLayout, load_layout
from reward_models.judging.readout import AspectReadout, BranchReadout, prepare_images


class JudgeScorer:
    """Loads a judge folder (or hub id) once and reads every aspect of a batch in one forward pass per row."""

    kind = ""
    needs_source_image = False
    sub_score_names: tuple[str, ...] = ()
    """The sub-scores `score()` returns (aspects of the layout); the scoring job writes one
    `<stage>_<name>` column for each and maps it to a failure mode (`curation/judges.py`)."""
    info_keys = ("readout", "calibrated")
    """`info` entries the scoring job stores as columns (which readout, whether calibrated)."""

    def __init__(self, loaded: LoadedModel | None = None, *, spec: LoadSpec | None = None,
                 max_pixels: int | None = None, batch_size: int = 16, layout: JudgeLayout | None = None,
                 readout_mode: str = "auto", describe: bool | None = None, calibrate: bool = True):
        """`describe`: None follows the layout (describe-then-answer when it has a describe question),
        False reads directly; `calibrate`: apply the folder's `calibration.json` when there is one."""
        if loaded is None:
            if spec is None:
                raise ValueError(f"{type(self).__name__} needs a LoadedModel or a LoadSpec")
            loaded = load_vl_model(spec)
        self.loaded = loaded
        self.model_id = loaded.model_id
        self.model_revision = loaded.revision
        folder = Path(loaded.model_id)
        self.layout = layout or (load_layout(folder, self.default_layout(), self.kind) if folder.is_dir()
                                 else self.default_layout())
        # Bound images the way the processor would anyway, before it sees them.
        self.max_pixels = max_pixels or getattr(loaded.processor.image_processor, "max_pixels", None)
        self.batch_size = max(1, int(batch_size))
        self.readout = BranchReadout(loaded.model, loaded.processor, self.layout, mode=readout_mode,
                                     describe=describe, describe_batch_size=self.batch_size)
        self.calibration = Calibration.load(folder) if (calibrate and folder.is_dir()) else None

    @staticmethod
    def default_layout() -> JudgeLayout:
        raise NotImplementedError

    @property
    def info(self) -> dict[str, str]:
        return {"readout": f"{self.layout.kind}/v{self.layout.readout_version}/{self.readout.mode}/"
                           f"{'describe' if self.readout.describe else 'direct'}",
                "aspects": ",".join(self.layout.aspects),
                "calibrated": "yes" if self.calibration is not None else "no"}

    def calibrated(self, aspect: str, raw: np.ndarray) -> np.ndarray:
        """`raw` readout values of `aspect` through the judge's calibration map (if any)."""
        return raw if self.calibration is None else self.calibration.apply(aspect, raw)

    def read_rows(self, rows: list[tuple[list, str]], aspects: list[str] | None = None) -> dict[str, AspectReadout]:
        """Readouts of (images, prompt) rows in chunks of `batch_size` (images are prepared here)."""
        aspects = list(aspects or self.layout.aspects)
        parts: dict[str, list] = {a: [] for a in aspects}
        for i in range(0, len(rows), self.batch_size):
            chunk = [(prepare_images(imgs, self.max_pixels), p) for imgs, p in rows[i : i + self.batch_size]]
            res = self.readout.read(chunk, aspects)
            for a in aspects:
                parts[a].append(res[a].probs)
        values = np.asarray(self.layout.answer_values, dtype=np.float64)
        return {a: AspectReadout(np.concatenate(parts[a]) if parts[a] else np.zeros((0, len(values))), values)
                for a in aspects}

    def generate(self, images: list, prompt: str, aspect: str, max_new_tokens: int = 256) -> dict:
        """Generative mode (greedy): the full `<think>…</think><answer>…</answer>` text, its rationale and value."""
        import torch

        proc, model = self.loaded.processor, self.loaded.model
        msgs = self.layout.messages(prompt, aspect, len(images))
        text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        enc = proc(text=[text], images=[prepare_images(images, self.max_pixels)], return_tensors="pt",
                   add_special_tokens=False).to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        completion = proc.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        return {"text": completion, "rationale": self.layout.parse_rationale(completion),
                "value": self.layout.parse_value(completion), "format_ok": self.layout.format_ok(completion)}

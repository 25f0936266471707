"""What ImgRewardScorer and EditRewardScorer share: loading, layout, batching, generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reward_models.calibration import Calibration
from reward_models.loading import LoadedModel, LoadSpec, load_vl_model
from reward_models.judging.layout import JudgeLayout, load_layout
from reward_models.judging.likelihood import LikelihoodReadout, LikelihoodSpec
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
        """`readout_mode`: `auto` reads the layout's likelihood readout when it has one, else its
        answer tokens (`branched` or `separate`, as `BranchReadout` picks); `likelihood` insists on
        the likelihood readout; `answer` (or `branched`/`separate`) on the answer tokens.
        `describe` (answer tokens only): None follows the layout (describe-then-answer when it has a
        describe question), False reads directly; `calibrate`: apply the folder's
        `calibration.json` when there is one (its maps were fitted for the readout the folder ships)."""
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
        use_likelihood = readout_mode == "likelihood" or (readout_mode == "auto" and bool(self.layout.likelihood)
                                                          and describe is None)
        if use_likelihood:
            if not self.layout.likelihood:
                raise ValueError(f"{self.model_id}: its layout has no likelihood readout")
            self.readout = LikelihoodReadout(loaded.model, loaded.processor,
                                             LikelihoodSpec.from_json(self.layout.likelihood), self.batch_size)
        else:
            mode = "auto" if readout_mode == "answer" else readout_mode
            self.readout = BranchReadout(loaded.model, loaded.processor, self.layout, mode=mode,
                                         describe=describe, describe_batch_size=self.batch_size)
        # Calibration maps belong to the readout they were fitted on: the shipped one (the default).
        default_readout = readout_mode == "auto" and describe is None
        self.calibration = Calibration.load(folder) if (calibrate and default_readout and folder.is_dir()) else None

    @staticmethod
    def default_layout() -> JudgeLayout:
        raise NotImplementedError

    @property
    def aspects(self) -> list[str]:
        """The aspects the readout in use reads (the likelihood spec's, or the layout's questions)."""
        if isinstance(self.readout, LikelihoodReadout):
            return list(self.readout.spec.aspects)
        return list(self.layout.aspects)

    @property
    def info(self) -> dict[str, str]:
        how = "likelihood" if isinstance(self.readout, LikelihoodReadout) else (
            f"{self.readout.mode}/{'describe' if self.readout.describe else 'direct'}")
        return {"readout": f"{self.layout.kind}/v{self.layout.readout_version}/{how}",
                "aspects": ",".join(self.aspects),
                "calibrated": "yes" if self.calibration is not None else "no"}

    def calibrated(self, aspect: str, raw: np.ndarray) -> np.ndarray:
        """`raw` readout values of `aspect` through the judge's calibration map (if any)."""
        return raw if self.calibration is None else self.calibration.apply(aspect, raw)

    def read_rows(self, rows: list[tuple[list, str]], aspects: list[str] | None = None) -> dict[str, AspectReadout]:
        """Readouts of (images, prompt) rows in chunks of `batch_size` (images are prepared here)."""
        aspects = list(aspects or self.aspects)
        parts: dict[str, list] = {a: [] for a in aspects}
        values = np.asarray(self.layout.answer_values, dtype=np.float64)
        for i in range(0, len(rows), self.batch_size):
            chunk = [(prepare_images(imgs, self.max_pixels), p) for imgs, p in rows[i : i + self.batch_size]]
            res = self.readout.read(chunk, aspects)
            for a in aspects:
                parts[a].append(res[a].probs)
                values = res[a].values
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

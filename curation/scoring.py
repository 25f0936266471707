"""Scoring stages: Ray Data callable classes that host one or more judges.

One actor pool per checkpoint: judges that name the same checkpoint (e.g. VQAScore on the
ImgReward weights) go into the same stage and share one loaded model (`ModelCache`), so the
job loads it once per actor. Each judge scores only the rows it applies to (its tasks, no
error, not already rejected by a cheap check); images are decoded and downscaled here,
inside the actor, and a row whose image cannot be decoded, or on which a judge raises,
gets an error message while the rest of the batch is scored.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from reward_models.interface import ScoreBatch

from . import judges
from . import schema as S
from .images import decode_image

log = logging.getLogger(__name__)


@dataclass
class JudgeSpec:
    """A judge as the actor builds it (plain data: it crosses to Ray workers)."""

    stage: str
    """The judge's registry name (`curation/judges.py`), its output column prefix."""
    scorer: str
    """Registered scorer name (see `build_scorer`)."""
    model: str
    revision: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    max_pixels: int = judges.DEFAULT_MAX_PIXELS
    batch_size: int = 16
    template: str | None = None
    answer: str | None = None
    t2v_model: str = "clip-flant5-xxl"
    t2v_python: str | None = None
    tasks: tuple[str, ...] = ()
    sub_score_names: tuple[str, ...] = ()
    """Filled on the driver from the scorer class, so every block gets the same columns."""
    info_keys: tuple[str, ...] = ()

    @property
    def text_column(self) -> str:
        return judges.get(self.stage).text_column

    def checkpoint_key(self) -> tuple:
        """Judges with equal keys share a stage (and a loaded model)."""
        if self.scorer == "t2v_metrics":
            return ("t2v_metrics", self.t2v_model, self.model, self.dtype, self.t2v_python)
        return (os.path.abspath(self.model) if os.path.exists(self.model) else self.model,
                self.revision, self.dtype, self.device, self.trust_remote_code)


def declared_columns(spec: JudgeSpec) -> JudgeSpec:
    """Fix the columns a judge adds before any actor starts, so every block has the same schema:
    the sub-scores and info keys its scorer class declares (`sub_score_names`, `info_keys`)."""
    cls = judges.scorer_class(spec.scorer)
    subs = tuple(cls.sub_score_names)
    info = tuple(cls.info_keys)
    return JudgeSpec(**{**asdict(spec), "sub_score_names": subs, "info_keys": info})


def t2v_metrics_config(spec: JudgeSpec):
    """The t2v-metrics backend's options for a VQAScore stage: `t2v_model` names the package's entry;
    `model`, when given, is a local folder (or hub id) loaded instead of the entry's weights."""
    from reward_models.vqascore.t2v_backend import T2VMetricsConfig

    return T2VMetricsConfig(model=spec.t2v_model, template=spec.template, answer=spec.answer,
                            device="cuda" if spec.device == "auto" else spec.device, python=spec.t2v_python,
                            checkpoint=spec.model or None, dtype=None if spec.dtype == "auto" else spec.dtype)


def build_scorer(spec: JudgeSpec, cache):
    """Instantiate a judge; checkpoints come from the actor's shared cache."""
    from reward_models.loading import LoadSpec

    cls = judges.scorer_class(spec.scorer)
    if spec.scorer == "t2v_metrics":
        return cls(t2v_metrics_config(spec))
    loaded = cache.get(LoadSpec(spec.model, spec.revision, spec.device, spec.dtype, spec.trust_remote_code))
    if spec.scorer == "vqascore":
        from reward_models.vqascore import VQAScoreConfig
        from reward_models.vqascore.config import DEFAULT_ANSWER, DEFAULT_TEMPLATE

        cfg = VQAScoreConfig(template=spec.template or DEFAULT_TEMPLATE, answer=spec.answer or DEFAULT_ANSWER,
                             batch_size=spec.batch_size, max_pixels=spec.max_pixels or None)
        return cls(loaded, config=cfg)
    return cls(loaded, max_pixels=spec.max_pixels or None)


def stage_columns(spec: JudgeSpec) -> dict[str, pa.DataType]:
    """Columns a judge adds to every row (null where it did not score)."""
    cols = {S.stage_column(spec.stage, "score"): pa.float64()}
    for sub in spec.sub_score_names:
        cols[S.stage_column(spec.stage, sub)] = pa.float64()
    cols[S.stage_column(spec.stage, "model_id")] = pa.string()
    cols[S.stage_column(spec.stage, "model_revision")] = pa.string()
    for key in spec.info_keys:
        cols[S.stage_column(spec.stage, key)] = pa.string()
    return cols


@dataclass
class _RowState:
    """Mutable per-batch view of the columns a stage reads and updates."""

    task: list
    error: list
    notes: list
    modes: list
    decoded: dict = field(default_factory=dict)


class ScoringStage:
    """Ray Data actor: loads its judges once, then scores batches (pyarrow in, pyarrow out)."""

    def __init__(self, judges: list[dict], decode_pixel_limit: int) -> None:
        from reward_models.loading import ModelCache

        self.specs = [JudgeSpec(**{**j, "tasks": tuple(j["tasks"]), "sub_score_names": tuple(j["sub_score_names"]),
                                   "info_keys": tuple(j["info_keys"])}) for j in judges]
        self.cache = ModelCache()
        self.scorers = [build_scorer(s, self.cache) for s in self.specs]
        self.decode_pixel_limit = decode_pixel_limit
        log.info("stage ready: %s (%d checkpoint(s) loaded)", [s.stage for s in self.specs], len(self.cache))

    def __call__(self, batch: pa.Table) -> pa.Table:
        st = _RowState(
            task=batch.column(S.TASK_HIVE).to_pylist(),
            error=batch.column(S.ERROR).to_pylist(),
            notes=[list(n or []) for n in batch.column(S.NOTES).to_pylist()],
            modes=[list(m or []) for m in batch.column(S.FAILURE_MODES_COL).to_pylist()],
        )
        new_columns: dict[str, tuple[pa.DataType, list]] = {}
        for spec, scorer in zip(self.specs, self.scorers):
            for name, values in self._run_judge(spec, scorer, batch, st).items():
                new_columns[name] = (stage_columns(spec)[name], values)
        batch = _replace(batch, S.ERROR, pa.array(st.error, pa.string()))
        batch = _replace(batch, S.NOTES, pa.array(st.notes, pa.list_(pa.string())))
        batch = _replace(batch, S.FAILURE_MODES_COL, pa.array(st.modes, pa.list_(pa.string())))
        for name, (tp, values) in new_columns.items():
            batch = _replace(batch, name, pa.array(values, tp))
        return batch

    # ------------------------------------------------------------------ internals
    def _eligible(self, spec: JudgeSpec, st: _RowState) -> list[int]:
        return [i for i in range(len(st.task)) if st.task[i] in spec.tasks and st.error[i] is None and not st.modes[i]]

    def _decode(self, batch: pa.Table, column: str, i: int, st: _RowState, max_pixels: int):
        key = (column, i, max_pixels)
        if key not in st.decoded:
            cell = batch.column(column)[i].as_py()
            try:
                img, notes = decode_image(cell["bytes"], max_pixels, self.decode_pixel_limit)
                prefix = "" if column == S.IMAGE else f"{column}: "
                for n in notes:
                    if prefix + n not in st.notes[i]:
                        st.notes[i].append(prefix + n)
                st.decoded[key] = img
            except ValueError as e:
                st.decoded[key] = e
        return st.decoded[key]

    def _run_judge(self, spec: JudgeSpec, scorer, batch: pa.Table, st: _RowState) -> dict[str, list]:
        n = batch.num_rows
        cols = {name: [None] * n for name in stage_columns(spec)}
        rows, images, sources, texts = [], [], [], []
        text_values = batch.column(spec.text_column).to_pylist()
        for i in self._eligible(spec, st):
            img = self._decode(batch, S.IMAGE, i, st, spec.max_pixels)
            if isinstance(img, Exception):
                st.error[i] = f"image: {img}"
                continue
            src = None
            if getattr(scorer, "needs_source_image", False):
                src = self._decode(batch, S.SOURCE_IMAGE, i, st, spec.max_pixels)
                if isinstance(src, Exception):
                    st.error[i] = f"source_image: {src}"
                    continue
                if src.size == img.size and np.array_equal(np.asarray(src), np.asarray(img)):
                    st.modes[i].append("edit_noncompliance")
                    st.notes[i].append("edited image is pixel-identical to the source image")
                    continue
            rows.append(i)
            images.append(img)
            sources.append(src)
            texts.append(text_values[i])
        if rows:
            sb = ScoreBatch(texts, images, sources if getattr(scorer, "needs_source_image", False) else None)
            self._score_isolating_failures(spec, scorer, sb, rows, cols, st)
        return cols

    def _score_isolating_failures(self, spec, scorer, sb: ScoreBatch, rows: list[int], cols, st) -> None:
        """Score; if the judge raises, split the batch until the failing rows are isolated."""
        try:
            out = scorer.score(sb)
        except Exception as e:  # noqa: BLE001 - one bad row must not stop the batch
            if len(rows) == 1:
                st.error[rows[0]] = f"{spec.stage} failed: {type(e).__name__}: {e}"
                return
            mid = len(rows) // 2
            for part in (list(range(mid)), list(range(mid, len(rows)))):
                self._score_isolating_failures(spec, scorer, sb.subset(part), [rows[k] for k in part], cols, st)
            return
        for k, i in enumerate(rows):
            cols[S.stage_column(spec.stage, "score")][i] = float(out.score[k])
            for sub in spec.sub_score_names:
                if sub in out.sub_scores:
                    cols[S.stage_column(spec.stage, sub)][i] = float(out.sub_scores[sub][k])
            cols[S.stage_column(spec.stage, "model_id")][i] = out.model_id
            cols[S.stage_column(spec.stage, "model_revision")][i] = out.model_revision
            for key in spec.info_keys:
                cols[S.stage_column(spec.stage, key)][i] = out.info.get(key)


def _replace(table: pa.Table, name: str, values: Any) -> pa.Table:
    idx = table.schema.get_field_index(name)
    if idx >= 0:
        return table.set_column(idx, name, values)
    return table.append_column(name, values)

"""The scoring job's configuration: one typed dataclass, loadable from YAML and flags.

`ScoreJobConfig.hash()` covers every field that can change a score or a decision (columns,
thresholds, limits, models, templates, dtypes, partitioning); it leaves out what only
changes speed or placement (batch sizes, actor counts, GPUs, devices, output path), so a
resumed run may use a bigger cluster. The hash is stored on every output row and in the run
manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from reward_models.config_io import coerce, from_dict

from . import judges
from .schema import FAILURE_MODES


@dataclass
class ColumnMap:
    """Which input column holds each schema field (for data that names them differently)."""

    sample_id: str = "sample_id"
    """Stable id column; rows without one get an id derived from a content hash."""
    task: str = "task"
    """`t2i` or `edit`; when the column is absent every row gets `InputConfig.default_task`."""
    prompt: str = "prompt"
    """Caption (t2i) or edit instruction (edit). Pick-a-Pic: `caption`."""
    image: str = "image"
    """Generated or edited image. Pick-a-Pic: `jpg_0`."""
    source_image: str = "source_image"
    """Image before the edit (edit rows only)."""
    source: str = "source"
    """Dataset name; when absent every row gets `InputConfig.default_source`."""
    meta: str = "meta"
    """Optional JSON object (string or struct) with extra per-sample facts."""
    target_description: str | None = None
    """Optional column describing the edited image (e.g. HumanEdit OUTPUT_DESCRIPTION); it is
    copied into `meta.target_description`, which VQAScore asks about on edit rows."""


@dataclass
class InputConfig:
    """What to read."""

    paths: list[str] = field(default_factory=list)
    """Parquet files/folders/globs (hive partitions understood), JSONL files, or folders
    written by `datasets.Dataset.save_to_disk`."""
    format: str = "auto"
    """`auto`, `parquet`, `jsonl` or `hf_disk`."""
    columns: ColumnMap = field(default_factory=ColumnMap)
    """Column mapping."""
    default_task: str | None = None
    """Task for every row when the data has no task column."""
    default_source: str | None = None
    """Dataset name when the data has no source column (default: the input folder's name)."""
    rows_per_partition: int = 50_000
    """Rows per input partition: the unit of resume and of output files. Small input files
    are packed together up to this size; large ones are split at row-group boundaries."""


@dataclass
class LimitsConfig:
    """Guards against bad input."""

    max_image_pixels: int = 89_478_485
    """Images whose header declares more pixels are errors (decompression bombs). PIL's
    default limit."""
    max_prompt_chars: int = 2_000
    """Longer prompts are truncated for scoring (with a note); the output keeps the original."""
    max_image_bytes: int = 64 << 20
    """Image files larger than this are errors."""


@dataclass
class RemoteConfig:
    """Image cells that are remote URIs (http(s)://, s3://, gs://, hf://, ...). Off by default: a
    dataset must not make the job fetch arbitrary addresses."""

    enabled: bool = False
    """Fetch remote image URIs at all (`--allow-remote-images`); off, such a cell is an error row."""
    schemes: list[str] = field(default_factory=lambda: ["https"])
    """URI schemes that may be fetched (`--remote-scheme`)."""
    hosts: list[str] = field(default_factory=list)
    """Hosts (for s3/gs: buckets) that may be fetched (`--remote-host`): an exact name, or
    `*.example.com` for its subdomains. Empty: nothing is fetched even when enabled."""
    timeout_s: float = 10.0
    """Connect and read timeout, and the deadline for a whole fetch."""
    max_bytes: int = 32 << 20
    """A fetched body larger than this is an error (never read past it)."""


@dataclass
class ThresholdConfig:
    """The keep rule and how rejects are attributed to failure modes."""

    reward: float = 0.9
    """Keep iff the task's reward score (ImgReward on t2i, EditReward on edit) >= this ..."""
    vqa: float = 0.5
    """... and VQAScore >= this."""
    sub_score: float = 0.5
    """A sub-score below this tags its failure mode on a rejected row."""
    vqa_modes: dict[str, str] = field(default_factory=lambda: dict(judges.get("vqa").low_score_modes))
    """Mode for a failed VQAScore check, per task (default: the registry's, `curation/judges.py`):
    on an edit, VQAScore asks whether the output shows the target description, so a failure
    means the edit was not carried out."""
    sub_score_modes: dict[str, str] = field(default_factory=judges.sub_score_modes)
    """Sub-score column -> failure mode it stands for (default: every judge's, from the registry)."""
    residual_modes: dict[str, str] = field(default_factory=judges.residual_modes)
    """Mode for a reward-rejected row whose sub-scores all pass: the judge dislikes the
    sample for a reason that is neither a prompt mismatch nor artifacts."""

    def __post_init__(self) -> None:
        for col, mode in self.sub_score_modes.items():
            if mode not in FAILURE_MODES:
                raise ValueError(f"sub_score_modes[{col!r}] = {mode!r} is not one of {FAILURE_MODES}")
        for task, mode in [*self.residual_modes.items(), *self.vqa_modes.items()]:
            if mode not in FAILURE_MODES:
                raise ValueError(f"residual_modes[{task!r}] = {mode!r} is not one of {FAILURE_MODES}")


@dataclass
class StageConfig:
    """One scoring model run as a Ray Data actor pool."""

    model: str = ""
    """Local folder or hub id (`from_pretrained`). Empty disables the stage."""
    scorer: str = ""
    """Scorer class: empty for the judge's own (its registry entry), or another registered name
    (`judges.SCORERS`; e.g. `vqascore` to use a yes/no judge as a reward)."""
    revision: str | None = None
    """Hub revision to pin (ignored for local folders)."""
    backend: str = "native"
    """VQAScore only: `native` (transformers, batched) or `t2v_metrics` (the package)."""
    t2v_model: str = "clip-flant5-xxl"
    """VQAScore with backend t2v_metrics: the package's model name."""
    t2v_python: str | None = None
    """VQAScore with backend t2v_metrics: a prebuilt interpreter that has the package (Ray
    `py_executable`); unset, Ray builds a pip environment for the stage."""
    template: str | None = None
    """VQAScore question template (None: t2v-metrics' default for the backend)."""
    answer: str | None = None
    """VQAScore answer (None: "Yes")."""
    max_pixels: int = judges.DEFAULT_MAX_PIXELS
    """Images are downscaled to at most this many pixels inside the actor; 0: not at all, the
    scorer prepares them (the registry sets each judge's default: VQAScore's is 0, i.e.
    t2v-metrics' own preprocessing, recorded per row as `vqa_preprocess`)."""
    dtype: str = "auto"
    """`auto` (bf16 on GPU, fp32 on CPU), `float32`, `bfloat16`, `float16`."""
    trust_remote_code: bool = False
    """Run code shipped with the checkpoint (off unless you ask)."""
    # --- placement only (not part of the config hash) ---
    batch_size: int = 16
    """Rows per Ray batch sent to an actor."""
    num_actors: int = 1
    """Actors in the pool."""
    num_gpus: float | str = "auto"
    """GPUs per actor: a number, or `auto` (1 when the cluster has GPUs, else 0)."""
    device: str = "auto"
    """`auto`, `cpu`, `cuda`."""

    PLACEMENT_FIELDS: typing.ClassVar[tuple[str, ...]] = ("batch_size", "num_actors", "num_gpus", "device")


@dataclass
class OutputConfig:
    """Where and how shards are written."""

    path: str = ""
    """Output folder."""
    overwrite: bool = False
    """Replace a previous run with different inputs or config (otherwise the job refuses)."""
    row_group_rows: int = 100_000
    """Upper bound on rows per Parquet row group (DuckDB parallelises over row groups)."""
    row_group_bytes: int = 128 << 20
    """Upper bound on a row group's in-memory size (image columns make rows large)."""


@dataclass
class RayConfig:
    """How to reach Ray."""

    address: str | None = None
    """Cluster address; None starts Ray in-process (or joins RAY_ADDRESS, e.g. under
    `ray job submit`)."""
    num_cpus: int | None = None
    """CPUs for an in-process Ray (None: all)."""
    num_gpus: int | None = None
    """GPUs for an in-process Ray (None: detected)."""


def _judge_sections(cls):
    """Give `cls` one `StageConfig` field per registered judge, after `output` (`img_reward`,
    `edit_reward`, `vqa`: see `curation/judges.py`), before `@dataclass` reads the fields."""
    ann = {}
    for name, tp in cls.__annotations__.items():
        ann[name] = tp
        if name == "output":
            for j in judges.JUDGES:
                ann[j.stage] = "StageConfig"
                setattr(cls, j.stage, field(default_factory=lambda j=j: StageConfig(max_pixels=j.max_pixels)))
    cls.__annotations__ = ann
    return cls


@dataclass
@_judge_sections
class ScoreJobConfig:
    """Everything the scoring job needs. Besides the fields below, one `StageConfig` per judge
    in the registry (`cfg.img_reward`, `cfg.edit_reward`, `cfg.vqa`)."""

    input: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    thresholds: ThresholdConfig = field(default_factory=ThresholdConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    """Remote image URIs: off unless enabled, then allow-listed, time- and size-limited."""
    ray: RayConfig = field(default_factory=RayConfig)

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScoreJobConfig":
        return from_dict(cls, data or {}, "config")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ScoreJobConfig":
        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def set(self, dotted: str, value: Any) -> None:
        """Set a field by dotted path (`thresholds.reward`), converting strings to the field's type."""
        obj: Any = self
        parts = dotted.split(".")
        for p in parts[:-1]:
            if not dataclasses.is_dataclass(obj) or not hasattr(obj, p):
                raise KeyError(f"unknown config key {dotted!r}")
            obj = getattr(obj, p)
        name = parts[-1]
        fmap = {f.name: f for f in fields(obj)} if dataclasses.is_dataclass(obj) else {}
        if name not in fmap:
            raise KeyError(f"unknown config key {dotted!r}")
        hints = typing.get_type_hints(type(obj))
        setattr(obj, name, coerce(value, hints[name], dotted))

    # ------------------------------------------------------------------ hashing
    def hash_payload(self) -> dict[str, Any]:
        """The fields that can change results (see module docstring)."""
        d = self.to_dict()
        d.pop("output")
        d.pop("ray")
        d["input"].pop("paths")
        for stage in judges.STAGES:
            for k in StageConfig.PLACEMENT_FIELDS:
                d[stage].pop(k)
        return d

    def hash(self) -> str:
        blob = json.dumps(self.hash_payload(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

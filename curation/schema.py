"""The sample schema shared by every part of the project.

Candidates in (one schema for both tasks):

| column         | type                          | meaning                                                    |
|----------------|-------------------------------|------------------------------------------------------------|
| `sample_id`    | string                        | stable id; derived from a content hash when absent         |
| `task`         | string                        | `t2i` or `edit`                                            |
| `prompt`       | string                        | the caption (t2i) or the edit instruction (edit)           |
| `image`        | image cell                    | the generated image (t2i) or the edited image (edit)       |
| `source_image` | image cell                    | the image before the edit (edit only)                      |
| `source`       | string                        | dataset name                                               |
| `meta`         | JSON object (string or struct)| optional; `target_description` is used by VQAScore on edits |

An *image cell* may be the Hugging Face `{bytes, path}` struct, raw bytes, or a path/URI
relative to the input file. Other input columns are carried through unchanged.

Shards out: every input column (image cells written as the `{bytes, path}` struct with the
Hugging Face `Image` feature in the Parquet metadata), plus the columns in `OUTPUT_COLUMNS`,
plus one group of score columns per scoring stage (`<stage>_score`, `<stage>_<sub-score>`,
`<stage>_model_id`, `<stage>_model_revision`), hive-partitioned as
`task=<task>/decision=<decision>/part-<input partition>.parquet`.
"""

from __future__ import annotations

import pyarrow as pa

# --- vocabularies -----------------------------------------------------------------------

TASKS = ("t2i", "edit")
"""Tasks the job scores. Any other value is an error row."""

DECISIONS = ("keep", "reject", "error")
"""Every output row has exactly one decision."""

FAILURE_MODES = (
    "instruction_alignment",
    "visual_artifacts",
    "semantic_inconsistency",
    "edit_noncompliance",
)
"""The fixed failure-mode vocabulary of the UniPic report (section 3.3)."""

INVALID_TASK_PARTITION = "invalid"
"""Hive value for rows whose task is missing or not a safe folder name (an unknown but safe
value such as `video` keeps its own folder, `task=video`)."""

# --- candidate columns --------------------------------------------------------------------

ID = "sample_id"
TASK = "task"
PROMPT = "prompt"
IMAGE = "image"
SOURCE_IMAGE = "source_image"
SOURCE = "source"
META = "meta"

CANDIDATE_COLUMNS = (ID, TASK, PROMPT, IMAGE, SOURCE_IMAGE, SOURCE, META)
IMAGE_COLUMNS = (IMAGE, SOURCE_IMAGE)

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
"""Arrow type of an image cell in the output (the Hugging Face `Image` feature's storage)."""

# --- columns the job adds ------------------------------------------------------------------

DECISION = "decision"
FAILURE_MODES_COL = "failure_modes"
ERROR = "error"
NOTES = "notes"
REWARD_SCORE = "reward_score"
DUPLICATE_COUNT = "duplicate_count"
RUN_ID = "run_id"
CONFIG_HASH = "config_hash"
SCORED_AT = "scored_at"
INPUT_PARTITION = "input_partition"
INPUT_FILE = "input_file"
INPUT_ROW = "input_row"
IMAGE_WIDTH = "image_width"
IMAGE_HEIGHT = "image_height"
VQA_TEXT = "vqa_text"  # what VQAScore asks about: the caption, or the target description on edits
PROMPT_SCORED = "_prompt_scored"  # internal: the prompt as judges read it (truncated if too long)
TASK_HIVE = "task_hive"  # internal: the task folder a row is written under (`task=<task_hive>`)
EXTRA = "_extra"  # internal: the input's own columns, pickled, unpacked when the shard is written
CHECKS = "_checks"  # internal: names of the cheap checks that failed on the row (counted per partition)

OUTPUT_COLUMNS: dict[str, pa.DataType] = {
    REWARD_SCORE: pa.float64(),  # the task's reward model score (ImgReward for t2i, EditReward for edit)
    DECISION: pa.string(),  # keep | reject | error
    FAILURE_MODES_COL: pa.list_(pa.string()),  # subset of FAILURE_MODES; non-empty on every reject
    ERROR: pa.string(),  # why the row is an error (null unless decision == error)
    NOTES: pa.list_(pa.string()),  # non-fatal remarks: truncation, colour conversion, duplicates
    DUPLICATE_COUNT: pa.int64(),  # how many input rows carried this sample_id (1 = unique)
    IMAGE_WIDTH: pa.int64(),  # original size of `image`, when its header could be read
    IMAGE_HEIGHT: pa.int64(),
    INPUT_FILE: pa.string(),  # input file the row came from (relative to the input root)
    INPUT_ROW: pa.int64(),  # row index within that file
    INPUT_PARTITION: pa.string(),  # the job's input partition (unit of resume)
    RUN_ID: pa.string(),
    CONFIG_HASH: pa.string(),
    SCORED_AT: pa.timestamp("us", tz="UTC"),
}

AUDIT_COLUMNS = ("filename", "shard_file", "run_index", "run_dir", "run")
"""Columns the audit views add to every shard row (`curation/audits/view.py`). An input column with
one of these names (or a name in `OUTPUT_COLUMNS`) is renamed on the way in (`input_<name>`, see
`RENAMED_INPUT_PREFIX`), so audits never see two columns of one name."""

RENAMED_INPUT_PREFIX = "input_"
"""Prefix of a renamed input column; when `input_<name>` is taken too, a number is appended
(`input_<name>_2`, ...), so an existing column is never overwritten."""

STAGE_COLUMNS_SUFFIXES = ("score", "model_id", "model_revision")
"""Every scoring stage writes `<stage>_score`, `<stage>_model_id`, `<stage>_model_revision`
and one `<stage>_<name>` float column per sub-score."""


def stage_column(stage: str, name: str) -> str:
    """Name of a stage's output column, e.g. `stage_column("vqa", "score") == "vqa_score"`."""
    return f"{stage}_{name}"


# --- the pipeline's own blocks (between preparation and writing) ----------------------------

PIPELINE_SCHEMA = pa.schema(
    [
        (ID, pa.string()),
        (TASK, pa.string()),
        (TASK_HIVE, pa.string()),
        (PROMPT, pa.string()),
        (IMAGE, IMAGE_STRUCT),
        (SOURCE_IMAGE, IMAGE_STRUCT),
        (SOURCE, pa.string()),
        (META, pa.string()),
        (VQA_TEXT, pa.string()),
        (PROMPT_SCORED, pa.string()),
        (IMAGE_WIDTH, pa.int64()),
        (IMAGE_HEIGHT, pa.int64()),
        (ERROR, pa.string()),
        (NOTES, pa.list_(pa.string())),
        (FAILURE_MODES_COL, pa.list_(pa.string())),
        (DUPLICATE_COUNT, pa.int64()),
        (INPUT_FILE, pa.string()),
        (INPUT_ROW, pa.int64()),
        (INPUT_PARTITION, pa.string()),
        (EXTRA, pa.binary()),
        (CHECKS, pa.list_(pa.string())),
    ]
)
"""Columns of every block between preparation and writing (fixed, so blocks concatenate)."""

INTERNAL_COLUMNS = (TASK_HIVE, PROMPT_SCORED, EXTRA, CHECKS)
"""Pipeline-only columns, dropped (or unpacked) when shards are written."""

ID_SCHEMA = pa.schema([(INPUT_PARTITION, pa.string()), (INPUT_FILE, pa.string()),
                       (INPUT_ROW, pa.int64()), (ID, pa.string())])
"""Every input row's id (`.run/input_ids.pq`): the input side of the conservation audit."""

"""Reading an input partition into the job's row schema, with the cheap checks.

Runs as a Ray task per partition (CPU only). For every input row it yields exactly one
output row (or none, for a later copy of a duplicated sample_id, which is counted on the
first copy instead): the schema fields under their own names, image cells resolved to bytes,
and everything that needs no model already decided: missing/empty/unsupported/bomb images,
empty prompts, unknown tasks, edits without a source, paths outside the input root are
errors; long prompts are truncated with a note; an edit whose output bytes equal its source
is tagged `edit_noncompliance`. Columns the schema does not know travel in `_extra` and are
restored as top-level columns when the shard is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from reward_models.vqascore.native import vqa_text_for

from . import schema as S
from .config import ColumnMap, LimitsConfig
from .images import inspect_header, resolve_cell
from .inputs import Chunk, Partition

PIPELINE_SCHEMA = pa.schema(
    [
        (S.ID, pa.string()),
        (S.TASK, pa.string()),
        ("task_hive", pa.string()),
        (S.PROMPT, pa.string()),
        (S.IMAGE, S.IMAGE_STRUCT),
        (S.SOURCE_IMAGE, S.IMAGE_STRUCT),
        (S.SOURCE, pa.string()),
        (S.META, pa.string()),
        ("vqa_text", pa.string()),
        ("_prompt_scored", pa.string()),
        (S.IMAGE_WIDTH, pa.int64()),
        (S.IMAGE_HEIGHT, pa.int64()),
        (S.ERROR, pa.string()),
        (S.NOTES, pa.list_(pa.string())),
        (S.FAILURE_MODES_COL, pa.list_(pa.string())),
        (S.DUPLICATE_COUNT, pa.int64()),
        (S.INPUT_FILE, pa.string()),
        (S.INPUT_ROW, pa.int64()),
        (S.INPUT_PARTITION, pa.string()),
        ("_extra", pa.binary()),
    ]
)
"""Columns of every block between preparation and writing (fixed, so blocks concatenate)."""

INTERNAL_COLUMNS = ("task_hive", "_prompt_scored", "_extra")
"""Pipeline-only columns, dropped (or unpacked) when shards are written."""

ID_SCHEMA = pa.schema([(S.INPUT_PARTITION, pa.string()), (S.INPUT_FILE, pa.string()),
                      (S.INPUT_ROW, pa.int64()), (S.ID, pa.string())])

_SAFE_HIVE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")

DROP = -1
"""Duplicate code: a later copy of a sample_id (not written; counted on the first copy)."""


@dataclass
class PrepareContext:
    """What a prepare task needs besides the partition."""

    root: str
    """Input root: relative image paths may not escape it."""
    columns: ColumnMap
    default_task: str | None
    default_source: str | None
    limits: LimitsConfig
    batch_rows: int = 256
    """Rows per yielded block."""


# ----------------------------------------------------------------------------- raw rows


def iter_raw_rows(chunk: Chunk, batch_rows: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """(row index in file, row dict) for rows [start, stop) of a chunk, in batches."""
    f = chunk.file
    hive = dict(f.hive)
    if f.format == "parquet":
        yield from _parquet_rows(chunk, batch_rows, hive)
    elif f.format == "jsonl":
        yield from _jsonl_rows(chunk, batch_rows, hive)
    else:
        with pa.memory_map(f.path) as src:
            table = pa.ipc.open_stream(src).read_all().slice(chunk.start, chunk.stop - chunk.start)
        yield from _table_rows(table, chunk.start, batch_rows, hive)


def _with_hive(row: dict, hive: dict) -> dict:
    for k, v in hive.items():
        row.setdefault(k, v)
    return row


def _parquet_rows(chunk: Chunk, batch_rows: int, hive: dict):
    pf = pq.ParquetFile(chunk.file.path)
    offsets, groups, pos = [], [], 0
    for i, n in enumerate(chunk.file.row_groups):
        if pos + n > chunk.start and pos < chunk.stop:
            groups.append(i)
            offsets.append(pos)
        pos += n
    if not groups:
        return
    row = offsets[0]
    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=groups):
        out = []
        for r in batch.to_pylist():
            if chunk.start <= row < chunk.stop:
                out.append((row, _with_hive(r, hive)))
            row += 1
        if out:
            yield out
        if row >= chunk.stop:
            return


def _table_rows(table: pa.Table, first_row: int, batch_rows: int, hive: dict):
    row = first_row
    for batch in table.to_batches(max_chunksize=batch_rows):
        out = []
        for r in batch.to_pylist():
            out.append((row, _with_hive(r, hive)))
            row += 1
        yield out


def _jsonl_rows(chunk: Chunk, batch_rows: int, hive: dict):
    out: list[tuple[int, dict]] = []
    row = -1
    with open(chunk.file.path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            row += 1
            if row < chunk.start:
                continue
            if row >= chunk.stop:
                break
            try:
                value = json.loads(line)
                if not isinstance(value, dict):
                    raise ValueError(f"expected a JSON object, got {type(value).__name__}")
                out.append((row, _with_hive(value, hive)))
            except ValueError as e:
                out.append((row, {"__json_error__": f"invalid JSON on line {row + 1}: {e}", "__raw__": line}))
            if len(out) >= batch_rows:
                yield out
                out = []
    if out:
        yield out


# ----------------------------------------------------------------------------- ids


def derive_sample_id(task: Any, prompt: Any, image: bytes | str | None, source: bytes | str | None) -> str:
    """A stable id from the content: same task, prompt and image bytes give the same id."""
    h = hashlib.sha256()
    for part in (task, prompt, image, source):
        if part is None:
            h.update(b"\x00none")
        elif isinstance(part, bytes):
            h.update(b"\x01" + len(part).to_bytes(8, "little") + part)
        else:
            s = str(part).encode()
            h.update(b"\x02" + len(s).to_bytes(8, "little") + s)
    return "h" + h.hexdigest()[:31]


def _raw_id(row: dict, cols: ColumnMap) -> str | None:
    v = row.get(cols.sample_id)
    if v is None:
        return None
    s = str(v).strip()
    return s or None


# ----------------------------------------------------------------------------- normalise


def _norm_meta(row: dict, cols: ColumnMap) -> tuple[str | None, str | None]:
    """(meta as a JSON string or None, a note when the meta could not be parsed)."""
    value = row.get(cols.meta)
    note = None
    meta: Any = None
    if isinstance(value, dict):
        meta = value
    elif isinstance(value, str) and value.strip():
        try:
            meta = json.loads(value)
        except ValueError:
            meta, note = {"raw": value}, "meta is not valid JSON: kept under meta.raw"
    elif value is not None:
        meta = {"raw": value}
    if cols.target_description and row.get(cols.target_description) not in (None, ""):
        meta = dict(meta) if isinstance(meta, dict) else ({} if meta is None else {"raw": meta})
        meta["target_description"] = str(row[cols.target_description])
    if meta is None:
        return None, note
    return json.dumps(meta, default=_json_default, sort_keys=True), note


def _json_default(v):
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes>"
    return str(v)


def _mapped_names(cols: ColumnMap) -> set[str]:
    names = {cols.sample_id, cols.task, cols.prompt, cols.image, cols.source_image, cols.source, cols.meta}
    if cols.target_description:
        names.add(cols.target_description)
    return names


RESERVED = set(PIPELINE_SCHEMA.names) | set(S.OUTPUT_COLUMNS)


JSONL_SCHEMA_SAMPLE = 1000
"""Lines of each JSONL input read to learn its extra columns' names and types."""


def _file_schema(f) -> pa.Schema:
    """An input file's own columns (plus its hive keys as strings), without reading its rows
    (a JSONL file: its first JSONL_SCHEMA_SAMPLE lines)."""
    if f.format == "parquet":
        schema = pq.read_schema(f.path)
    elif f.format == "jsonl":
        records = []
        with open(f.path, "rb") as fh:
            for line in fh:
                if len(records) >= JSONL_SCHEMA_SAMPLE:
                    break
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    records.append(rec)
        keys = list(dict.fromkeys(k for r in records for k in r))
        fields = []
        for k in keys:
            try:
                fields.append(pa.field(k, pa.array([r.get(k) for r in records]).type))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                fields.append(pa.field(k, pa.string()))
        schema = pa.schema(fields)
    else:
        with pa.memory_map(f.path) as src:
            schema = pa.ipc.open_stream(src).schema
    for k, _ in f.hive:
        if k not in schema.names:
            schema = schema.append(pa.field(k, pa.string()))
    return schema


def planned_extra_schema(files, cols: ColumnMap) -> pa.Schema:
    """The input columns the schema does not name, over every input file, with one type each.

    Every shard of a run gets exactly these columns in this order (null where a row's file lacks
    one), so all shards share one schema and `datasets.load_dataset("parquet", ...)` reads any set
    of them together. Types are unified across files (ints widen to floats); a column whose types
    cannot be unified, or that is null in every file, is stored as strings."""
    mapped = _mapped_names(cols)
    types: dict[str, list[pa.DataType]] = {}
    for f in files:
        for field_ in _file_schema(f):
            if field_.name in mapped or field_.name.startswith("__"):
                continue
            name = f"input_{field_.name}" if field_.name in RESERVED else field_.name
            types.setdefault(name, []).append(field_.type)
    fields = []
    for name, ts in types.items():
        known = [t for t in ts if not pa.types.is_null(t)]
        try:
            merged = pa.unify_schemas([pa.schema([pa.field(name, t)]) for t in known],
                                      promote_options="permissive").field(name).type if known else pa.string()
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            merged = pa.string()
        fields.append(pa.field(name, merged))
    return pa.schema(fields)


def _extra_columns(row: dict, cols: ColumnMap) -> bytes | None:
    """Input columns the schema does not name, pickled (our own data, read back by us)."""
    mapped = _mapped_names(cols)
    extra = {}
    for k, v in row.items():
        if k in mapped or k.startswith("__"):
            continue
        extra[f"input_{k}" if k in RESERVED else k] = v
    return pickle.dumps(extra, protocol=5) if extra else None


def normalise_row(
    file_rel: str, base_dir: str, row_index: int, row: dict, ctx: PrepareContext, pid: str, dup_code: int | None
) -> dict[str, Any]:
    """One input row -> one pipeline row with every cheap check applied."""
    cols, limits = ctx.columns, ctx.limits
    errors: list[str] = []
    notes: list[str] = []
    modes: list[str] = []
    out: dict[str, Any] = {
        S.INPUT_FILE: file_rel,
        S.INPUT_ROW: row_index,
        S.INPUT_PARTITION: pid,
        S.NOTES: notes,
        S.FAILURE_MODES_COL: modes,
        S.DUPLICATE_COUNT: 1,
    }
    if "__json_error__" in row:
        out.update({S.ID: _raw_id({}, cols) or derive_sample_id(None, None, row["__raw__"], None),
                    S.TASK: None, "task_hive": S.INVALID_TASK_PARTITION, S.ERROR: row["__json_error__"]})
        return out

    task = row.get(cols.task)
    if task is None:
        task = ctx.default_task
    prompt = row.get(cols.prompt)
    image_ref = resolve_cell(row.get(cols.image), base_dir, ctx.root, limits.max_image_bytes)
    source_ref = resolve_cell(row.get(cols.source_image), base_dir, ctx.root, limits.max_image_bytes)

    sid = _raw_id(row, cols)
    if sid is None:
        sid = derive_sample_id(
            task, prompt,
            None if image_ref is None else (image_ref.data if image_ref.data is not None else image_ref.path),
            None if source_ref is None else (source_ref.data if source_ref.data is not None else source_ref.path),
        )
    out[S.ID] = sid
    out[S.TASK] = None if task is None else str(task)
    out[S.PROMPT] = prompt if isinstance(prompt, str) or prompt is None else str(prompt)
    source_name = row.get(cols.source) if cols.source in row else None
    out[S.SOURCE] = str(source_name) if source_name is not None else (
        ctx.default_source or os.path.basename(os.path.normpath(ctx.root)))
    out[S.META], meta_note = _norm_meta(row, cols)
    if meta_note:
        notes.append(meta_note)
    out["_extra"] = _extra_columns(row, cols)

    # task
    if task is None or (isinstance(task, str) and not task.strip()):
        errors.append("missing task (no task value and no --task default)")
        out["task_hive"] = S.INVALID_TASK_PARTITION
    elif str(task) not in S.TASKS:
        errors.append(f"unknown task {str(task)!r}: expected one of {', '.join(S.TASKS)}")
        # The hive folder keeps the raw value when it is a safe folder name, so hive-aware
        # readers (which take the folder's value) still show it.
        out["task_hive"] = str(task) if _SAFE_HIVE.fullmatch(str(task)) else S.INVALID_TASK_PARTITION
    else:
        out["task_hive"] = str(task)

    # prompt
    scored_prompt = None
    if prompt is None:
        errors.append("missing prompt")
    elif not isinstance(prompt, str):
        errors.append(f"prompt is a {type(prompt).__name__}, not text")
    elif not prompt.strip():
        errors.append("empty prompt (only whitespace)")
    else:
        scored_prompt = prompt.strip()
        if len(scored_prompt) > limits.max_prompt_chars:
            notes.append(
                f"prompt truncated from {len(scored_prompt)} to {limits.max_prompt_chars} characters for scoring"
            )
            scored_prompt = scored_prompt[: limits.max_prompt_chars]
    out["_prompt_scored"] = scored_prompt

    # images
    out[S.IMAGE] = _cell_struct(image_ref)
    if image_ref is None:
        errors.append("missing image")
    elif image_ref.error:
        errors.append(image_ref.error)
    else:
        info = inspect_header(image_ref.data, limits.max_image_pixels)
        out[S.IMAGE_WIDTH], out[S.IMAGE_HEIGHT] = info.width, info.height
        notes.extend(info.notes)
        if info.error:
            errors.append(info.error)
    out[S.SOURCE_IMAGE] = _cell_struct(source_ref)
    if out["task_hive"] == "edit":
        if source_ref is None:
            errors.append("edit row has no source_image")
        elif source_ref.error:
            errors.append(f"source_image: {source_ref.error}")
        else:
            info = inspect_header(source_ref.data, limits.max_image_pixels)
            notes.extend(f"source_image: {n}" for n in info.notes)
            if info.error:
                errors.append(f"source_image: {info.error}")
        if (not errors and image_ref is not None and source_ref is not None
                and image_ref.data == source_ref.data):
            modes.append("edit_noncompliance")
            notes.append("edited image is byte-identical to the source image")
    elif out["task_hive"] == "t2i" and source_ref is not None:
        notes.append("source_image ignored on a t2i row")

    if dup_code is not None and dup_code > 1:
        out[S.DUPLICATE_COUNT] = dup_code
        notes.append(f"sample_id appears {dup_code} times in the input: the first copy is scored, later copies are "
                     "counted here and not written")
    out[S.ERROR] = "; ".join(errors) if errors else None
    if scored_prompt is not None and out["task_hive"] in S.TASKS:
        out["vqa_text"] = vqa_text_for(out["task_hive"], scored_prompt, out[S.META])
    return out


def _cell_struct(ref) -> dict | None:
    if ref is None:
        return None
    return {"bytes": ref.data, "path": ref.path}


# ----------------------------------------------------------------------------- tasks


def prepare_partition(
    partition: Partition, ctx: PrepareContext, duplicates: dict[tuple[str, int], int] | None = None
) -> Iterator[pa.Table]:
    """Pipeline blocks for one partition (one row per input row, duplicates collapsed)."""
    duplicates = duplicates or {}
    for chunk in partition.chunks:
        base_dir = os.path.dirname(chunk.file.path)
        for batch in iter_raw_rows(chunk, ctx.batch_rows):
            rows = []
            for row_index, row in batch:
                code = duplicates.get((chunk.file.rel, row_index))
                if code == DROP:
                    continue
                rows.append(normalise_row(chunk.file.rel, base_dir, row_index, row, ctx, partition.pid, code))
            if rows:
                yield pa.Table.from_pylist(rows, schema=PIPELINE_SCHEMA)


def partition_ids(partition: Partition, ctx: PrepareContext) -> pa.Table:
    """(partition, file, row, sample_id) of every input row: the input side of conservation."""
    parts, files, rows, ids = [], [], [], []
    cols = ctx.columns
    for chunk in partition.chunks:
        base_dir = os.path.dirname(chunk.file.path)
        for batch in iter_raw_rows(chunk, ctx.batch_rows):
            for row_index, row in batch:
                sid = None if "__json_error__" in row else _raw_id(row, cols)
                if sid is None:
                    # Same derivation as normalise_row, so both passes agree on derived ids.
                    sid = normalise_row(chunk.file.rel, base_dir, row_index, row, ctx, partition.pid, None)[S.ID]
                parts.append(partition.pid)
                files.append(chunk.file.rel)
                rows.append(row_index)
                ids.append(sid)
    return pa.table([parts, files, rows, ids], schema=ID_SCHEMA)

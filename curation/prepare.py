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
from .config import ColumnMap, LimitsConfig, RemoteConfig
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
        (S.VQA_TEXT, pa.string()),
        (S.PROMPT_SCORED, pa.string()),
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

INTERNAL_COLUMNS = ("task_hive", S.PROMPT_SCORED, "_extra")
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
    """Common input root (each file's own `InputFile.root` is what image paths may not leave)."""
    columns: ColumnMap
    default_task: str | None
    default_source: str | None
    limits: LimitsConfig
    batch_rows: int = 256
    """Rows per yielded block."""
    remote: RemoteConfig | None = None
    """Remote image URIs (None: refused)."""
    rename: dict[str, str] | None = None
    """Input column -> output name for extra columns (`plan_extra_columns`); names it does not
    know are renamed by the same rule (`extra_name`)."""
    reserved: frozenset[str] = frozenset()
    """Further output names input columns may not take (the judges' columns)."""


class RowError:
    """A row that could not be read at all (invalid JSON, unreadable record): its message and,
    when there is one, the raw text (the id of such a row is derived from it)."""

    __slots__ = ("message", "raw")

    def __init__(self, message: str, raw: bytes | None = None) -> None:
        self.message = message
        self.raw = raw


# ----------------------------------------------------------------------------- raw rows


def iter_raw_rows(chunk: Chunk, batch_rows: int) -> Iterator[list[tuple[int, "dict[str, Any] | RowError"]]]:
    """(row index in file, row dict or RowError) for every row in [start, stop) of a chunk, in
    batches. Never raises for bad data and never skips a row: when the file cannot be read past
    some row, each remaining row of the chunk comes back as a RowError with the reason."""
    f = chunk.file
    hive = dict(f.hive)
    next_row = chunk.start
    try:
        if f.format == "parquet":
            rows = _parquet_rows(chunk, batch_rows, hive)
        elif f.format == "jsonl":
            rows = _jsonl_rows(chunk, batch_rows, hive)
        else:
            rows = _arrow_rows(chunk, batch_rows, hive)
        for batch in rows:
            batch = [(i, r) for i, r in batch if i >= next_row]
            if batch:
                next_row = batch[-1][0] + 1
                yield batch
    except Exception as e:  # noqa: BLE001 - an unreadable stretch of a file is its rows' error
        message = f"cannot read row from {f.rel}: {type(e).__name__}: {_clip(str(e))}"
        for start in range(next_row, chunk.stop, batch_rows):
            yield [(i, RowError(message)) for i in range(start, min(chunk.stop, start + batch_rows))]
        return
    if next_row < chunk.stop:  # the file is shorter than it was when planned
        message = f"row missing from {f.rel}: the file changed after the job planned it"
        for start in range(next_row, chunk.stop, batch_rows):
            yield [(i, RowError(message)) for i in range(start, min(chunk.stop, start + batch_rows))]


def _clip(text: str, limit: int = 300) -> str:
    text = clean_text(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _arrow_rows(chunk: Chunk, batch_rows: int, hive: dict):
    with pa.memory_map(chunk.file.path) as src:
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


def clean_text(text: str) -> str:
    """`text` with lone surrogates (valid in JSON as escapes, not encodable as UTF-8) replaced by
    U+FFFD, so Arrow, hashing and Parquet can take it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def clean_json(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) passed through `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def _jsonl_rows(chunk: Chunk, batch_rows: int, hive: dict):
    out: list[tuple[int, dict]] = []
    row = -1
    with open(chunk.file.path, "rb") as f:
        for line in f:
            if not line.strip():
                continue  # blank lines are not rows (`inputs._count_lines` skips them too)
            row += 1
            if row < chunk.start:
                continue
            if row >= chunk.stop:
                break
            try:
                value = clean_json(json.loads(line))
                if not isinstance(value, dict):
                    raise ValueError(f"expected a JSON object, got {type(value).__name__}")
                out.append((row, _with_hive(value, hive)))
            except (ValueError, RecursionError) as e:
                out.append((row, RowError(f"invalid JSON on line {row + 1}: {_clip(str(e))}", line)))
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


RESERVED = set(PIPELINE_SCHEMA.names) | set(S.OUTPUT_COLUMNS) | set(S.AUDIT_COLUMNS)
"""Output names an input column may not keep: it is renamed (`extra_name`)."""


def extra_name(name: str, rename: dict[str, str] | None, reserved: frozenset[str] | set[str] = frozenset()) -> str:
    """Output name of the extra input column `name`: itself, or, when that is a name the job or
    the audits use, `input_<name>` (then `input_<name>_2`, ... when taken), never the name of
    another column. `rename` is the plan of the run (`plan_extra_columns`)."""
    if rename and name in rename:
        return rename[name]
    taken = set(rename.values()) if rename else set()
    blocked = RESERVED | set(reserved)
    if name not in blocked and name not in taken:
        return name
    base = f"{S.RENAMED_INPUT_PREFIX}{name}"
    candidate, i = base, 2
    while candidate in blocked or candidate in taken or (rename and candidate in rename):
        candidate, i = f"{base}_{i}", i + 1
    return candidate


JSONL_SCHEMA_SAMPLE = 1000
"""Lines of each JSONL input read to learn its extra columns' names and types."""


def _file_schema(f) -> pa.Schema:
    """An input file's own columns (plus its hive keys as strings), without reading its rows
    (a JSONL file: its first JSONL_SCHEMA_SAMPLE lines). A file that cannot be read gives no
    columns here (its rows become error rows when prepared)."""
    try:
        if f.format == "parquet":
            schema = pq.read_schema(f.path)
        elif f.format == "jsonl":
            schema = _jsonl_schema(f.path)
        else:
            with pa.memory_map(f.path) as src:
                schema = pa.ipc.open_stream(src).schema
    except Exception:  # noqa: BLE001 - planning must not stop on one bad file
        schema = pa.schema([])
    for k, _ in f.hive:
        if k not in schema.names:
            schema = schema.append(pa.field(k, pa.string()))
    return schema


def _jsonl_schema(path: str) -> pa.Schema:
    records = []
    with open(path, "rb") as fh:
        for line in fh:
            if len(records) >= JSONL_SCHEMA_SAMPLE:
                break
            try:
                rec = clean_json(json.loads(line))
            except (ValueError, RecursionError):
                continue
            if isinstance(rec, dict):
                records.append(rec)
    keys = list(dict.fromkeys(k for r in records for k in r))
    fields = []
    for k in keys:
        try:
            fields.append(pa.field(k, pa.array([r.get(k) for r in records]).type))
        except Exception:  # noqa: BLE001 - values Arrow cannot type together are stored as text
            fields.append(pa.field(k, pa.string()))
    return pa.schema(fields)


def plan_extra_columns(files, cols: ColumnMap, reserved=()) -> tuple[pa.Schema, dict[str, str]]:
    """The input columns the schema does not name, over every input file, with one type each,
    and how each is named in the shards.

    Every shard of a run gets exactly these columns in this order (null where a row's file lacks
    one), so all shards share one schema and `datasets.load_dataset("parquet", ...)` reads any set
    of them together. Types are unified across files (ints widen to floats); a column whose types
    cannot be unified, or that is null in every file, is stored as strings. A column whose name
    the job or the audits use (`RESERVED`, `reserved`) is renamed (`extra_name`)."""
    mapped = _mapped_names(cols)
    types: dict[str, list[pa.DataType]] = {}
    for f in files:
        for field_ in _file_schema(f):
            if field_.name in mapped or field_.name.startswith("__"):
                continue
            types.setdefault(field_.name, []).append(field_.type)
    blocked = RESERVED | set(reserved)
    rename: dict[str, str] = {}
    for name in types:  # names that stay first, so a renamed column never takes one of them
        if name not in blocked:
            rename[name] = name
    for name in types:
        if name in blocked:
            rename[name] = extra_name(name, rename, frozenset(reserved))
    fields = []
    for name, ts in types.items():
        known = [t for t in ts if not pa.types.is_null(t)]
        try:
            merged = pa.unify_schemas([pa.schema([pa.field(name, t)]) for t in known],
                                      promote_options="permissive").field(name).type if known else pa.string()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            merged = pa.string()
        fields.append(pa.field(rename[name], merged))
    return pa.schema(fields), rename


def planned_extra_schema(files, cols: ColumnMap, reserved=()) -> pa.Schema:
    """The shard schema part of `plan_extra_columns`."""
    return plan_extra_columns(files, cols, reserved)[0]


def _extra_columns(row: dict, cols: ColumnMap, rename: dict[str, str] | None = None,
                   reserved: frozenset[str] = frozenset()) -> bytes | None:
    """Input columns the schema does not name, pickled (our own data, read back by us)."""
    mapped = _mapped_names(cols)
    extra = {}
    for k, v in row.items():
        if k in mapped or k.startswith("__"):
            continue
        name, i = extra_name(k, rename, reserved), 2
        while name in extra:  # two unplanned names that map to one (never overwrite a column)
            name, i = f"{extra_name(k, rename, reserved)}_{i}", i + 1
        extra[name] = v
    return pickle.dumps(extra, protocol=5) if extra else None


def normalise_row(
    file_rel: str, base_dir: str, row_index: int, row: "dict | RowError", ctx: PrepareContext, pid: str,
    dup_code: int | None, root: str | None = None,
) -> dict[str, Any]:
    """One input row -> one pipeline row with every cheap check applied. `root`: the root of the
    input the row came from (default `ctx.root`); image paths may not leave it."""
    cols, limits = ctx.columns, ctx.limits
    root = root or ctx.root
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
    if isinstance(row, RowError):
        out.update({S.ID: derive_sample_id(None, None, row.raw, None) if row.raw is not None
                    else position_id(file_rel, row_index),
                    S.TASK: None, "task_hive": S.INVALID_TASK_PARTITION, S.ERROR: row.message})
        if dup_code is not None and dup_code > 1:
            out[S.DUPLICATE_COUNT] = dup_code
        return out
    if not isinstance(row, dict):
        raise TypeError(f"row is a {type(row).__name__}, not a record")

    task = row.get(cols.task)
    if task is None:
        task = ctx.default_task
    prompt = row.get(cols.prompt)
    image_ref = resolve_cell(row.get(cols.image), base_dir, root, limits.max_image_bytes, ctx.remote)
    source_ref = resolve_cell(row.get(cols.source_image), base_dir, root, limits.max_image_bytes, ctx.remote)

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
        ctx.default_source or os.path.basename(os.path.normpath(root)))
    out[S.META], meta_note = _norm_meta(row, cols)
    if meta_note:
        notes.append(meta_note)
    out["_extra"] = _extra_columns(row, cols, ctx.rename, ctx.reserved)

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
    out[S.PROMPT_SCORED] = scored_prompt

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
        out[S.VQA_TEXT] = vqa_text_for(out["task_hive"], scored_prompt, out[S.META])
    return out


def _cell_struct(ref) -> dict | None:
    if ref is None:
        return None
    return {"bytes": ref.data, "path": ref.path}


# ----------------------------------------------------------------------------- tasks


def position_id(file_rel: str, row_index: int) -> str:
    """Id of a row nothing can be read from: derived from where it is (unique, stable)."""
    return derive_sample_id("unreadable row", file_rel, str(row_index), None)


def error_row(file_rel: str, row_index: int, row: Any, ctx: PrepareContext, pid: str, message: str,
              dup_code: int | None = None) -> dict[str, Any]:
    """The pipeline row of an input row whose handling raised: an error row with the message,
    keeping what can safely be kept (its own id, a valid task)."""
    sid = None
    task = None
    if isinstance(row, dict):
        try:
            sid = _raw_id(row, ctx.columns)
            if sid is not None:
                sid = clean_text(sid)
                sid.encode("utf-8")
        except Exception:  # noqa: BLE001 - no usable id: the position gives one
            sid = None
        t = row.get(ctx.columns.task, ctx.default_task)
        task = t if isinstance(t, str) and t in S.TASKS else None
    return {S.ID: sid or position_id(file_rel, row_index), S.TASK: task,
            "task_hive": task or S.INVALID_TASK_PARTITION, S.ERROR: message, S.NOTES: [], S.FAILURE_MODES_COL: [],
            S.DUPLICATE_COUNT: dup_code if dup_code is not None and dup_code > 1 else 1,
            S.INPUT_FILE: file_rel, S.INPUT_ROW: row_index, S.INPUT_PARTITION: pid}


def safe_normalise_row(file_rel: str, base_dir: str, row_index: int, row: Any, ctx: PrepareContext, pid: str,
                       dup_code: int | None, root: str | None = None) -> dict[str, Any]:
    """`normalise_row`, but any exception becomes this row's error (with its message)."""
    try:
        out = normalise_row(file_rel, base_dir, row_index, row, ctx, pid, dup_code, root)
        out[S.ID] = clean_text(str(out[S.ID]))
        return out
    except Exception as e:  # noqa: BLE001 - one bad row must never stop the job
        return error_row(file_rel, row_index, row, ctx, pid,
                         f"cannot process this row: {type(e).__name__}: {_clip(str(e))}", dup_code)


def rows_to_table(rows: list[dict[str, Any]], raw: list[Any], ctx: PrepareContext) -> pa.Table:
    """A pipeline block; a row Arrow cannot take becomes an error row instead of failing the block."""
    try:
        return pa.Table.from_pylist(rows, schema=PIPELINE_SCHEMA)
    except Exception:  # noqa: BLE001 - find the offending rows
        fixed = []
        for r, original in zip(rows, raw):
            try:
                pa.Table.from_pylist([r], schema=PIPELINE_SCHEMA)
                fixed.append(r)
            except Exception as e:  # noqa: BLE001
                err = error_row(r[S.INPUT_FILE], r[S.INPUT_ROW], original, ctx, r[S.INPUT_PARTITION],
                                f"cannot store this row: {type(e).__name__}: {_clip(str(e))}",
                                r.get(S.DUPLICATE_COUNT))
                if isinstance(r.get(S.ID), str):
                    err[S.ID] = r[S.ID]  # the id the pre-pass derived for it
                fixed.append(err)
        return pa.Table.from_pylist(fixed, schema=PIPELINE_SCHEMA)


def prepare_partition(
    partition: Partition, ctx: PrepareContext, duplicates: dict[tuple[str, int], int] | None = None
) -> Iterator[pa.Table]:
    """Pipeline blocks for one partition (one row per input row, duplicates collapsed)."""
    duplicates = duplicates or {}
    for chunk in partition.chunks:
        base_dir = os.path.dirname(chunk.file.path)
        for batch in iter_raw_rows(chunk, ctx.batch_rows):
            rows, raw = [], []
            for row_index, row in batch:
                code = duplicates.get((chunk.file.rel, row_index))
                if code == DROP:
                    continue
                rows.append(safe_normalise_row(chunk.file.rel, base_dir, row_index, row, ctx, partition.pid, code,
                                               chunk.file.root or None))
                raw.append(row)
            if rows:
                yield rows_to_table(rows, raw, ctx)


def row_sample_id(chunk: Chunk, row_index: int, row: Any, ctx: PrepareContext, pid: str) -> str:
    """The sample_id preparation gives this row (the id pre-pass and preparation must agree)."""
    sid = None
    if isinstance(row, dict):
        try:
            sid = _raw_id(row, ctx.columns)
        except Exception:  # noqa: BLE001 - same fallback as safe_normalise_row
            sid = None
    if sid is not None:
        sid = clean_text(sid)
    if sid is None:
        sid = safe_normalise_row(chunk.file.rel, os.path.dirname(chunk.file.path), row_index, row, ctx, pid, None,
                                 chunk.file.root or None)[S.ID]
    return sid


def partition_ids(partition: Partition, ctx: PrepareContext) -> pa.Table:
    """(partition, file, row, sample_id) of every input row: the input side of conservation."""
    parts, files, rows, ids = [], [], [], []
    for chunk in partition.chunks:
        for batch in iter_raw_rows(chunk, ctx.batch_rows):
            for row_index, row in batch:
                parts.append(partition.pid)
                files.append(chunk.file.rel)
                rows.append(row_index)
                ids.append(row_sample_id(chunk, row_index, row, ctx, partition.pid))
    return pa.table([parts, files, rows, ids], schema=ID_SCHEMA)

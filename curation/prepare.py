"""Reading an input partition into the job's row schema, with the cheap checks.

Runs as a Ray task per partition (CPU only). For every input row it yields exactly one
output row (or none, for a later copy of a duplicated sample_id, which is counted on the
first copy instead): the schema fields under their own names, image cells resolved to bytes,
and everything that needs no model already decided by the named cheap checks
(`curation/checks.py`): missing/empty/unsupported/bomb images, empty prompts, unknown tasks,
edits without a source, paths outside the input root are errors; long prompts are truncated
with a note; an edit whose output bytes equal its source is tagged `edit_noncompliance`.
Reading rows is `curation/inputs.py`; columns the schema does not know travel in
`schema.EXTRA` (`curation/extras.py`) and are restored as top-level columns when the shard
is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Iterator

import pyarrow as pa

from reward_models.vqascore.native import vqa_text_for

from . import schema as S
from .checks import UNREADABLE, Candidate, run_checks
from .config import ColumnMap, LimitsConfig, RemoteConfig
from .extras import pack_extra_columns
from .images import resolve_cell
from .inputs import Chunk, Partition, RowError, clean_text, clip, iter_raw_rows

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
    """Input column -> output name for extra columns (`extras.plan_extra_columns`); names it does
    not know are renamed by the same rule (`extras.extra_name`)."""
    reserved: frozenset[str] = frozenset()
    """Further output names input columns may not take (the judges' columns)."""


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


# ----------------------------------------------------------------------------- one row


def checked_row(
    file_rel: str, base_dir: str, row_index: int, row: "dict | RowError", ctx: PrepareContext, pid: str,
    dup_code: int | None, root: str | None = None,
) -> dict[str, Any]:
    """One input row -> one pipeline row, after running every cheap check on it
    (`checks.CHECKS`). `root`: the root of the input the row came from (default `ctx.root`);
    image paths may not leave it."""
    cols, limits = ctx.columns, ctx.limits
    root = root or ctx.root
    out: dict[str, Any] = {
        S.INPUT_FILE: file_rel,
        S.INPUT_ROW: row_index,
        S.INPUT_PARTITION: pid,
        S.NOTES: [],
        S.FAILURE_MODES_COL: [],
        S.DUPLICATE_COUNT: 1,
    }
    if isinstance(row, RowError):
        out.update({S.ID: derive_sample_id(None, None, row.raw, None) if row.raw is not None
                    else position_id(file_rel, row_index),
                    S.TASK: None, S.TASK_HIVE: S.INVALID_TASK_PARTITION, S.ERROR: row.message,
                    S.CHECKS: [UNREADABLE]})
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
    out[S.EXTRA] = pack_extra_columns(row, cols, ctx.rename, ctx.reserved)

    candidate = Candidate(task=task, prompt=prompt, image=image_ref, source_image=source_ref, limits=limits,
                          notes=[meta_note] if meta_note else [])
    result = run_checks(candidate)
    notes = candidate.notes
    out.update({S.TASK_HIVE: candidate.task_hive, S.PROMPT_SCORED: candidate.scored_prompt,
                S.IMAGE: _cell_struct(image_ref), S.SOURCE_IMAGE: _cell_struct(source_ref),
                S.NOTES: notes, S.FAILURE_MODES_COL: result.modes, S.CHECKS: result.failed})
    if image_ref is not None and not image_ref.error:
        out[S.IMAGE_WIDTH], out[S.IMAGE_HEIGHT] = candidate.image_width, candidate.image_height
    if dup_code is not None and dup_code > 1:
        out[S.DUPLICATE_COUNT] = dup_code
        notes.append(f"sample_id appears {dup_code} times in the input: the first copy is scored, later copies are "
                     "counted here and not written")
    out[S.ERROR] = "; ".join(result.errors) if result.errors else None
    if candidate.scored_prompt is not None and candidate.task_hive in S.TASKS:
        out[S.VQA_TEXT] = vqa_text_for(candidate.task_hive, candidate.scored_prompt, out[S.META])
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
            S.TASK_HIVE: task or S.INVALID_TASK_PARTITION, S.ERROR: message, S.NOTES: [], S.FAILURE_MODES_COL: [],
            S.DUPLICATE_COUNT: dup_code if dup_code is not None and dup_code > 1 else 1,
            S.INPUT_FILE: file_rel, S.INPUT_ROW: row_index, S.INPUT_PARTITION: pid, S.CHECKS: []}


def safe_checked_row(file_rel: str, base_dir: str, row_index: int, row: Any, ctx: PrepareContext, pid: str,
                       dup_code: int | None, root: str | None = None) -> dict[str, Any]:
    """`checked_row`, but any exception becomes this row's error (with its message)."""
    try:
        out = checked_row(file_rel, base_dir, row_index, row, ctx, pid, dup_code, root)
        out[S.ID] = clean_text(str(out[S.ID]))
        return out
    except Exception as e:  # noqa: BLE001 - one bad row must never stop the job
        return error_row(file_rel, row_index, row, ctx, pid,
                         f"cannot process this row: {type(e).__name__}: {clip(str(e))}", dup_code)


def rows_to_table(rows: list[dict[str, Any]], raw: list[Any], ctx: PrepareContext) -> pa.Table:
    """A pipeline block; a row Arrow cannot take becomes an error row instead of failing the block."""
    try:
        return pa.Table.from_pylist(rows, schema=S.PIPELINE_SCHEMA)
    except Exception:  # noqa: BLE001 - find the offending rows
        fixed = []
        for r, original in zip(rows, raw):
            try:
                pa.Table.from_pylist([r], schema=S.PIPELINE_SCHEMA)
                fixed.append(r)
            except Exception as e:  # noqa: BLE001
                err = error_row(r[S.INPUT_FILE], r[S.INPUT_ROW], original, ctx, r[S.INPUT_PARTITION],
                                f"cannot store this row: {type(e).__name__}: {clip(str(e))}",
                                r.get(S.DUPLICATE_COUNT))
                if isinstance(r.get(S.ID), str):
                    err[S.ID] = r[S.ID]  # the id the pre-pass derived for it
                fixed.append(err)
        return pa.Table.from_pylist(fixed, schema=S.PIPELINE_SCHEMA)


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
                rows.append(safe_checked_row(chunk.file.rel, base_dir, row_index, row, ctx, partition.pid, code,
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
        except Exception:  # noqa: BLE001 - same fallback as safe_checked_row
            sid = None
    if sid is not None:
        sid = clean_text(sid)
    if sid is None:
        sid = safe_checked_row(chunk.file.rel, os.path.dirname(chunk.file.path), row_index, row, ctx, pid, None,
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
    return pa.table([parts, files, rows, ids], schema=S.ID_SCHEMA)

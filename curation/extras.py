"""The input's own columns: which ones a run carries, under which names, with which types.

Columns the schema does not name (`ColumnMap`) travel through the pipeline pickled in
`schema.EXTRA` (`pack_extra_columns`) and are unpacked into top-level shard columns when a
shard is written (`shards.restore_extra`). `plan_extra_columns` fixes, before any row is read,
the columns every shard of a run gets and their types (from each file's schema, or a sample of
a JSONL file's lines), and renames a column whose name the job or the audits use.
"""

from __future__ import annotations

import pickle

import pyarrow as pa

from . import schema as S
from .config import ColumnMap
from .inputs import file_schema


def mapped_names(cols: ColumnMap) -> set[str]:
    names = {cols.sample_id, cols.task, cols.prompt, cols.image, cols.source_image, cols.source, cols.meta}
    if cols.target_description:
        names.add(cols.target_description)
    return names


RESERVED = set(S.PIPELINE_SCHEMA.names) | set(S.OUTPUT_COLUMNS) | set(S.AUDIT_COLUMNS)
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


def plan_extra_columns(files, cols: ColumnMap, reserved=()) -> tuple[pa.Schema, dict[str, str]]:
    """The input columns the schema does not name, over every input file, with one type each,
    and how each is named in the shards.

    Every shard of a run gets exactly these columns in this order (null where a row's file lacks
    one), so all shards share one schema and `datasets.load_dataset("parquet", ...)` reads any set
    of them together. Types are unified across files (ints widen to floats); a column whose types
    cannot be unified, or that is null in every file, is stored as strings. A column whose name
    the job or the audits use (`RESERVED`, `reserved`) is renamed (`extra_name`)."""
    mapped = mapped_names(cols)
    types: dict[str, list[pa.DataType]] = {}
    for f in files:
        for field_ in file_schema(f):
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


def pack_extra_columns(row: dict, cols: ColumnMap, rename: dict[str, str] | None = None,
                   reserved: frozenset[str] = frozenset()) -> bytes | None:
    """Input columns the schema does not name, pickled (our own data, read back by us)."""
    mapped = mapped_names(cols)
    extra = {}
    for k, v in row.items():
        if k in mapped or k.startswith("__"):
            continue
        name, i = extra_name(k, rename, reserved), 2
        while name in extra:  # two unplanned names that map to one (never overwrite a column)
            name, i = f"{extra_name(k, rename, reserved)}_{i}", i + 1
        extra[name] = v
    return pickle.dumps(extra, protocol=5) if extra else None

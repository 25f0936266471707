"""Writing shards: one file per (input partition, task, decision), atomically.

Layout under the output folder:

    task=<t2i|edit|invalid>/decision=<keep|reject|error>/part-<partition id>.parquet
    .run/manifest.json  run id, config hash, input fingerprint, finished partitions
    .run/summary.json   written at the end of every run
    .run/input_ids.pq   every input row's (partition, file, row, sample_id) (Parquet)
    .run/tmp/           spills of partitions in flight
    .lock               the writer's pid and host while a run is writing

Only shards end in `.parquet`, and everything else lives under names starting with a dot, so
the natural queries see shards and nothing else: DuckDB's
`read_parquet('<out>/**/*.parquet', hive_partitioning=true)` (DuckDB globs dot folders too,
hence `.pq`) and `datasets.load_dataset("parquet", data_dir=<out>)` (which skips dot names
but would read any other file). Folders of the older layout (`_manifest.json`,
`summary.json`, `_run/input_ids.parquet`) are moved into `.run/` when a run resumes them.

Rows arrive from Ray in any order. The writer buffers each partition's rows per (task,
decision) (spilling to `_tmp/` past a size limit) until the partition's last row arrives,
then writes each group to a temporary name, renames it into place, and only then records the
partition as finished in the manifest. A crash can therefore leave final files of an
unfinished partition, never a finished partition without its files; on resume such files
are deleted and the partition is scored again.

Shards keep every input column (image cells as the `{bytes, path}` struct, with the Hugging
Face `Image` feature in the Parquet metadata so `datasets.load_dataset("parquet", ...)`
decodes them), plus the job's columns. Row groups are as large as `row_group_rows` and
`row_group_bytes` allow, for DuckDB.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema as S

RUN_DIR = ".run"
"""Run metadata folder inside an output folder (a dot name: `datasets` skips it)."""
MANIFEST = f"{RUN_DIR}/manifest.json"
SUMMARY = f"{RUN_DIR}/summary.json"
INPUT_IDS = f"{RUN_DIR}/input_ids.pq"
"""Parquet, but not named `*.parquet`: DuckDB's `**/*.parquet` would read it as a shard."""
TMP = f"{RUN_DIR}/tmp"
MEASUREMENT = f"{RUN_DIR}/measurement.json"
"""A measurement against known truth (`curation.measure`), when one was made."""
LOCK = ".lock"
SHARD_GLOB = "task=*/decision=*/*.parquet"
"""Every shard of an output folder, relative to it."""
LEGACY = {"_manifest.json": MANIFEST, "summary.json": SUMMARY, "_run/input_ids.parquet": INPUT_IDS}
"""Older layout -> current (moved on resume)."""
SPILL_BYTES = 256 << 20


@dataclass
class OutputLayout:
    """Paths inside an output folder."""

    root: Path

    def shard(self, task_hive: str, decision: str, pid: str) -> Path:
        return self.root / f"task={task_hive}" / f"decision={decision}" / f"part-{pid}.parquet"

    def all_shards(self) -> list[Path]:
        return sorted(self.root.glob(SHARD_GLOB))

    def shards(self, task: str | None = None, decision: str | None = None) -> list[Path]:
        """The shards of one task and/or decision (None: any)."""
        return sorted(self.root.glob(f"task={task or '*'}/decision={decision or '*'}/*.parquet"))

    @property
    def shard_glob(self) -> str:
        """Every shard as one glob (for readers that glob, e.g. DuckDB's `read_parquet`)."""
        return str(self.root / SHARD_GLOB)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def input_ids(self) -> Path:
        return self.root / INPUT_IDS

    @property
    def measurement(self) -> Path:
        return self.root / MEASUREMENT

    @property
    def tmp(self) -> Path:
        return self.root / TMP

    @property
    def lock(self) -> Path:
        return self.root / LOCK

    def find_manifest(self) -> Path | None:
        """The manifest file of this folder, in the current or the older layout, if any."""
        for p in (self.manifest, self.root / "_manifest.json"):
            if p.is_file():
                return p
        return None

    def find_summary(self) -> Path | None:
        """The summary file, in the current or the older layout, if any."""
        for p in (self.summary, self.root / "summary.json"):
            if p.is_file():
                return p
        return None

    def find_input_ids(self) -> Path | None:
        """The input-id index (Parquet), in the current or the older layout, if any."""
        for p in (self.input_ids, self.root / "_run" / "input_ids.parquet"):
            if p.is_file():
                return p
        return None

    def migrate_legacy(self) -> list[str]:
        """Move metadata of the older layout (root-level `_manifest.json`, ...) into `.run/`."""
        moved = []
        for old, new in LEGACY.items():
            src, dst = self.root / old, self.root / new
            if src.exists() and not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                moved.append(old)
        for old in ("_run", "_tmp"):
            if (self.root / old).is_dir():
                shutil.rmtree(self.root / old, ignore_errors=True)
        return moved

    def clean_partial(self, finished: set[str]) -> list[Path]:
        """Delete temp files and shards of partitions not recorded as finished."""
        removed = []
        for p in self.root.glob("task=*/decision=*/.*.tmp"):
            p.unlink(missing_ok=True)
            removed.append(p)
        for p in self.all_shards():
            pid = p.stem[len("part-"):]
            if pid not in finished:
                p.unlink()
                removed.append(p)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return removed


def shard_glob(root: str | Path) -> str:
    """The shards of the output folder `root` as a glob."""
    return OutputLayout(Path(root)).shard_glob


def shard_key(path: str | Path) -> tuple[str, str, str]:
    """(task folder, decision, partition id) of a shard file, from its path."""
    path = Path(path)
    task, decision = (p.name.split("=", 1)[1] for p in (path.parent.parent, path.parent))
    return task, decision, path.stem[len("part-"):]


def write_shards(root: str | Path, table: pa.Table, pid: str = "00000", row_group_rows: int = 100_000,
                 row_group_bytes: int = 128 << 20) -> list[Path]:
    """Write already decided rows as one partition's shards: one file per (task, decision) at
    `task=<task>/decision=<decision>/part-<pid>.parquet`, atomically, with the Hugging Face
    image feature. The task folder is `schema.TASK_HIVE` when the table has it, else `task`.
    For rows decided outside the job (fixtures, oracle decisions, benchmarks); the job writes
    through `ShardWriter`."""
    layout = OutputLayout(Path(root))
    task_col = S.TASK_HIVE if S.TASK_HIVE in table.column_names else S.TASK
    keys = list(zip(table.column(task_col).to_pylist(), table.column(S.DECISION).to_pylist()))
    by: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(keys):
        by.setdefault(key, []).append(i)
    written = []
    for (task, decision), idx in sorted(by.items()):
        part = table.take(pa.array(idx))
        part = part.drop_columns([c for c in S.INTERNAL_COLUMNS if c in part.column_names])
        path = layout.shard(task, decision, pid)
        write_table_atomic(part, path, row_group_rows, row_group_bytes)
        written.append(path)
    return written


def open_shards(root: str | Path, task: str | None = None, decision: str | None = None,
                columns: list[str] | None = None) -> pa.Table:
    """The rows of an output folder's shards (of one task and/or decision), `task` and `decision`
    taken from the folders, other columns unified by name across files (null where a file
    lacks one)."""
    tables = []
    for f in OutputLayout(Path(root)).shards(task, decision):
        t, d, _ = shard_key(f)
        names = pq.read_schema(f).names
        cols = [c for c in (columns or names) if c in names and c not in (S.TASK, S.DECISION)]
        tab = pq.read_table(f, columns=cols)
        tab = tab.append_column(S.TASK, pa.array([t] * tab.num_rows, pa.string()))
        tab = tab.append_column(S.DECISION, pa.array([d] * tab.num_rows, pa.string()))
        tables.append(tab)
    if not tables:
        return pa.table({S.TASK: pa.array([], pa.string()), S.DECISION: pa.array([], pa.string())})
    return pa.concat_tables(tables, promote_options="permissive")


def write_json_atomic(path: Path, data: dict) -> None:
    """Temp file in the same folder, fsync, rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def hf_metadata(schema: pa.Schema) -> dict[bytes, bytes]:
    """Hugging Face `datasets` features for a shard schema, image columns as `Image()`."""
    from datasets import Features, Image

    features = Features.from_arrow_schema(schema.remove_metadata())
    for col in S.IMAGE_COLUMNS:
        if col in features:
            features[col] = Image()
    return {b"huggingface": json.dumps({"info": {"features": features.to_dict()}}).encode()}


def restore_extra(table: pa.Table, planned: pa.Schema | None = None) -> pa.Table:
    """Unpack `schema.EXTRA` (the input's own columns) into top-level columns; drop internals.

    `planned` (`extras.planned_extra_schema`) fixes which extra columns every shard has and
    their types, so shards of one run share a schema; columns it does not name follow, typed
    from their values."""
    extras = table.column(S.EXTRA).to_pylist() if S.EXTRA in table.column_names else [None] * table.num_rows
    table = table.drop_columns([c for c in S.INTERNAL_COLUMNS if c in table.column_names])
    dicts = [_unpickle(b) for b in extras]
    planned = planned if planned is not None else pa.schema([])
    keys = list(planned.names) + [k for k in dict.fromkeys(k for d in dicts for k in d) if k not in planned.names]
    for k in keys:
        name = k
        if name in table.column_names:  # a job column this run adds: keep both, never drop or overwrite
            base, i = f"{S.RENAMED_INPUT_PREFIX}{k}", 2
            name = base
            while name in table.column_names or name in keys:
                name, i = f"{base}_{i}", i + 1
        values = [d.get(k) for d in dicts]
        arr = None
        if k in planned.names:
            try:
                arr = pa.array(values, planned.field(k).type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                if pa.types.is_string(planned.field(k).type):
                    arr = pa.array([None if v is None else str(v) for v in values], pa.string())
        if arr is None:
            try:
                arr = pa.array(values)
            except Exception:  # noqa: BLE001 - values Arrow cannot type together are stored as text
                arr = pa.array([None if v is None else _text(v) for v in values], pa.string())
        table = table.append_column(name, arr)
    return table


def _unpickle(blob: bytes | None) -> dict:
    if not blob:
        return {}
    try:
        value = pickle.loads(blob)  # our own data (extras.pack_extra_columns), never input bytes
    except Exception:  # noqa: BLE001 - a row's extras must not stop the write
        return {}
    return value if isinstance(value, dict) else {}


def _row_group_rows(table: pa.Table, max_rows: int, max_bytes: int) -> int:
    if table.num_rows == 0:
        return max_rows
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, min(max_rows, max_bytes // per_row))


def _text(v) -> str:
    try:
        return str(v).encode("utf-8", "replace").decode("utf-8")
    except Exception:  # noqa: BLE001
        return repr(v)


def write_table_atomic(table: pa.Table, path: Path, max_rows: int, max_bytes: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table = table.replace_schema_metadata(hf_metadata(table.schema))
    pq.write_table(table, tmp, row_group_size=_row_group_rows(table, max_rows, max_bytes), compression="zstd")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class _Group:
    tables: list[pa.Table] = field(default_factory=list)
    nbytes: int = 0
    spills: list[Path] = field(default_factory=list)


class ShardWriter:
    """Collects decided rows and writes each partition when its last row has arrived.

    `on_partition_done(pid, files, rows, checks)` is called after a partition's files are in
    place; `checks` counts its rows per failed cheap check (`schema.CHECKS`)."""

    def __init__(
        self,
        layout: OutputLayout,
        expected_rows: dict[str, int],
        on_partition_done: Callable[[str, list[Path], int, dict[str, int]], None],
        row_group_rows: int = 100_000,
        row_group_bytes: int = 128 << 20,
        extra_schema: pa.Schema | None = None,
    ) -> None:
        self.extra_schema = extra_schema
        self.layout = layout
        self.expected = dict(expected_rows)
        self.seen: dict[str, int] = {pid: 0 for pid in expected_rows}
        self.groups: dict[str, dict[tuple[str, str], _Group]] = {}
        self.checks: dict[str, dict[str, int]] = {}
        self.on_done = on_partition_done
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        for pid, n in self.expected.items():
            if n == 0:
                self._finish(pid)

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        pids = table.column(S.INPUT_PARTITION).to_pylist()
        if S.CHECKS in table.column_names:
            for pid, failed in zip(pids, table.column(S.CHECKS).to_pylist()):
                counts = self.checks.setdefault(pid, {})
                for name in failed or ():
                    counts[name] = counts.get(name, 0) + 1
        keys = list(zip(table.column(S.TASK_HIVE).to_pylist(), table.column(S.DECISION).to_pylist()))
        by: dict[tuple[str, tuple[str, str]], list[int]] = {}
        for i, (pid, key) in enumerate(zip(pids, keys)):
            by.setdefault((pid, key), []).append(i)
        touched = set()
        for (pid, key), idx in by.items():
            if pid not in self.expected:
                raise RuntimeError(f"row for unknown partition {pid}")
            part = table.take(pa.array(idx))
            group = self.groups.setdefault(pid, {}).setdefault(key, _Group())
            group.tables.append(part)
            group.nbytes += part.nbytes
            if group.nbytes > SPILL_BYTES:
                self._spill(pid, key, group)
            self.seen[pid] += len(idx)
            touched.add(pid)
        for pid in touched:
            if self.seen[pid] > self.expected[pid]:
                raise RuntimeError(f"partition {pid}: {self.seen[pid]} rows arrived, expected {self.expected[pid]}")
            if self.seen[pid] == self.expected[pid]:
                self._finish(pid)

    @property
    def pending(self) -> list[str]:
        return [pid for pid, n in self.expected.items() if self.seen.get(pid, 0) < n]

    def _spill(self, pid: str, key: tuple[str, str], group: _Group) -> None:
        path = self.layout.tmp / pid / f"{key[0]}-{key[1]}-{len(group.spills):05d}.pq"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(group.tables, promote_options="default"), path)
        group.spills.append(path)
        group.tables, group.nbytes = [], 0

    def _finish(self, pid: str) -> None:
        written = []
        for (task_hive, decision), group in sorted(self.groups.pop(pid, {}).items()):
            parts = [pq.read_table(p) for p in group.spills] + group.tables
            table = pa.concat_tables(parts, promote_options="default")
            table = table.sort_by([(S.INPUT_FILE, "ascending"), (S.INPUT_ROW, "ascending")])
            table = restore_extra(table, self.extra_schema)
            path = self.layout.shard(task_hive, decision, pid)
            write_table_atomic(table, path, self.row_group_rows, self.row_group_bytes)
            written.append(path)
        shutil.rmtree(self.layout.tmp / pid, ignore_errors=True)
        self.on_done(pid, written, self.expected[pid], dict(sorted(self.checks.pop(pid, {}).items())))

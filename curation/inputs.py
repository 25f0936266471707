"""Finding input files and cutting them into deterministic input partitions.

Also the readers: `iter_raw_rows` yields a chunk's rows (Parquet, JSONL, Arrow stream) as
dicts, or a `RowError` for a row that cannot be read, and `file_schema` reads an input file's
columns without its rows.

An input partition is a list of row ranges of input files, about `rows_per_partition` rows
long. It is the unit of resume (the manifest records finished partitions) and of output
files (`part-<partition id>.parquet` in each task/decision folder). Its id is a hash of the
files' relative paths and row ranges, so the same inputs always give the same partitions
and file names. Large files are split at Parquet row-group boundaries; small files of the
same format are packed together.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("parquet", "jsonl", "hf_disk")


@dataclass(frozen=True)
class InputFile:
    """One input file."""

    path: str
    """Absolute path."""
    rel: str
    """Path relative to the input root (recorded on every output row)."""
    format: str
    """parquet | jsonl | hf_disk (an Arrow stream file of a save_to_disk folder)."""
    num_rows: int
    size: int
    mtime_ns: int
    hive: tuple[tuple[str, str], ...] = ()
    """`key=value` folders between the root and the file (hive partitioning)."""
    row_groups: tuple[int, ...] = ()
    """Rows per Parquet row group (for splitting at row-group boundaries)."""
    root: str = ""
    """Root of the input this file came from (the folder given, or the folder of a file or of a
    glob's fixed part): image paths in its rows may not leave it."""


@dataclass(frozen=True)
class Chunk:
    """Rows [start, stop) of one input file."""

    file: InputFile
    start: int
    stop: int


@dataclass
class Partition:
    """A deterministic group of chunks: the unit of resume and of output files."""

    pid: str
    chunks: list[Chunk] = field(default_factory=list)

    @property
    def num_rows(self) -> int:
        return sum(c.stop - c.start for c in self.chunks)

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "chunks": [_chunk_dict(c) for c in self.chunks]})

    @classmethod
    def from_json(cls, text: str) -> "Partition":
        d = json.loads(text)
        chunks = []
        for c in d["chunks"]:
            f = dict(c["file"])
            f["hive"] = tuple(tuple(kv) for kv in f["hive"])
            f["row_groups"] = tuple(f["row_groups"])
            chunks.append(Chunk(InputFile(**f), c["start"], c["stop"]))
        return cls(d["pid"], chunks)


def _chunk_dict(c: Chunk) -> dict:
    return {"file": asdict(c.file), "start": c.start, "stop": c.stop}


@dataclass
class InputPlan:
    """All input files, their partitions, and a fingerprint of the inputs."""

    root: str
    """Common folder of all inputs (`InputFile.rel` is relative to it). Not a security boundary:
    each file's own `InputFile.root` is."""
    files: list[InputFile]
    partitions: list[Partition]
    sources: list[str] = field(default_factory=list)
    """Each input as given, resolved: a file, or a folder (a glob's fixed part)."""

    @property
    def num_rows(self) -> int:
        return sum(f.num_rows for f in self.files)

    def fingerprint(self) -> str:
        """Changes when any input file is added, removed, resized or rewritten."""
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.rel}\0{f.format}\0{f.size}\0{f.mtime_ns}\0{f.num_rows}\n".encode())
        return h.hexdigest()[:16]


class InputError(ValueError):
    """The inputs cannot be read as asked (bad path, unknown format, missing column)."""


def plan_inputs(paths: list[str], fmt: str = "auto", rows_per_partition: int = 50_000) -> InputPlan:
    """Expand paths/globs, read each file's row count and cut partitions."""
    if not paths:
        raise InputError("no input given (use --input PATH)")
    if fmt not in ("auto", *FORMATS):
        raise InputError(f"unknown input format {fmt!r}: use auto, {', '.join(FORMATS)}")
    root = _common_root(paths)
    found: list[tuple[str, str, str]] = []
    for p in paths:
        own_root = input_root(p)
        found.extend((path, f, own_root) for path, f in _expand(p, fmt))
    if not found:
        raise InputError(f"no input files found in {', '.join(paths)}")
    files = []
    seen = set()
    for path, f, own_root in sorted(set(found)):
        if path in seen:
            continue
        seen.add(path)
        files.append(_describe(path, f, root, own_root))
    sources = [os.path.realpath(_fixed_part(p)) for p in paths]
    return InputPlan(root=root, files=files, partitions=cut_partitions(files, rows_per_partition), sources=sources)


def _fixed_part(p: str) -> str:
    """The path before the first glob character (the whole path when there is none)."""
    base = p.split("*")[0].split("?")[0].split("[")[0]
    if base != p:
        base = base if base.endswith(os.sep) or not base else os.path.dirname(base)
    return os.path.abspath(base) if base else os.getcwd()


def input_root(p: str) -> str:
    """The folder an input's image paths must stay inside: the folder given, the folder of a
    file, or the fixed folder part of a glob."""
    base = _fixed_part(p)
    return base if os.path.isdir(base) else os.path.dirname(base)


def _common_root(paths: list[str]) -> str:
    return os.path.commonpath([input_root(p) for p in paths])


def _expand(p: str, fmt: str) -> list[tuple[str, str]]:
    """(absolute path, format) for every data file under a path, folder or glob."""
    if any(ch in p for ch in "*?["):
        out = []
        for m in sorted(glob.glob(p, recursive=True)):
            out.extend(_expand(m, fmt))
        return out
    path = os.path.abspath(p)
    if not os.path.exists(path):
        raise InputError(f"input path does not exist: {p}")
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "state.json")) or os.path.exists(os.path.join(path, "dataset_dict.json")):
            return _hf_disk_files(path)
        out = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            if "state.json" in filenames and fmt in ("auto", "hf_disk"):
                out.extend(_hf_disk_files(dirpath))
                dirnames[:] = []
                continue
            for name in sorted(filenames):
                if name.startswith((".", "_")):
                    continue
                f = _format_of(name, fmt)
                if f:
                    out.append((os.path.join(dirpath, name), f))
        return out
    f = _format_of(os.path.basename(path), fmt)
    if not f:
        raise InputError(f"cannot tell the format of {p}: use a .parquet or .jsonl file, or --input-format")
    return [(path, f)]


def _format_of(name: str, fmt: str) -> str | None:
    lower = name.lower()
    if fmt == "parquet" or (fmt == "auto" and lower.endswith((".parquet", ".pq"))):
        return "parquet"
    if fmt == "jsonl" or (fmt == "auto" and lower.endswith((".jsonl", ".ndjson"))):
        return "jsonl"
    if fmt == "hf_disk" and lower.endswith(".arrow"):
        return "hf_disk"
    return None


def _hf_disk_files(folder: str) -> list[tuple[str, str]]:
    """Arrow files of a `save_to_disk` folder (a Dataset, or every split of a DatasetDict)."""
    dd = os.path.join(folder, "dataset_dict.json")
    if os.path.exists(dd):
        splits = json.loads(Path(dd).read_text()).get("splits", [])
        out = []
        for s in splits:
            out.extend(_hf_disk_files(os.path.join(folder, s)))
        return out
    state = json.loads(Path(folder, "state.json").read_text())
    return [(os.path.join(folder, d["filename"]), "hf_disk") for d in state.get("_data_files", [])]


def _describe(path: str, fmt: str, root: str, own_root: str | None = None) -> InputFile:
    st = os.stat(path)
    rel = os.path.relpath(path, root)
    own_rel = os.path.relpath(path, own_root or root)
    hive = tuple(
        tuple(part.split("=", 1)) for part in Path(own_rel).parent.parts if "=" in part and not part.startswith("=")
    )
    row_groups: tuple[int, ...] = ()
    if fmt == "parquet":
        try:
            md = pq.ParquetFile(path).metadata
        except Exception as e:  # noqa: BLE001 - a broken input file stops the job with its name
            raise InputError(f"cannot read Parquet file {rel}: {e}") from e
        row_groups = tuple(md.row_group(i).num_rows for i in range(md.num_row_groups))
        n = md.num_rows
    elif fmt == "jsonl":
        n = _count_lines(path)
    else:
        import pyarrow as pa

        try:
            with pa.memory_map(path) as src:
                n = pa.ipc.open_stream(src).read_all().num_rows
        except Exception as e:  # noqa: BLE001 - a broken input file stops the job with its name
            raise InputError(f"cannot read Arrow file {rel}: {e}") from e
    return InputFile(path, rel, fmt, n, st.st_size, st.st_mtime_ns, hive, row_groups, own_root or root)


def _count_lines(path: str) -> int:
    """Non-blank lines: each is a row (a malformed one becomes an error row)."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                n += 1
    return n


def cut_partitions(files: list[InputFile], rows_per_partition: int) -> list[Partition]:
    """Split big files, pack small ones; ids hash the chunks so names are stable."""
    target = max(1, rows_per_partition)
    groups: list[list[Chunk]] = []
    current: list[Chunk] = []
    current_rows = 0
    for f in files:
        for start, stop in _file_ranges(f, target):
            rows = stop - start
            if current and (current_rows + rows > target or current[-1].file.format != f.format):
                groups.append(current)
                current, current_rows = [], 0
            current.append(Chunk(f, start, stop))
            current_rows += rows
    if current:
        groups.append(current)
    partitions = []
    for i, chunks in enumerate(groups):
        h = hashlib.sha256("|".join(f"{c.file.rel}:{c.start}:{c.stop}" for c in chunks).encode()).hexdigest()
        partitions.append(Partition(f"{i:05d}-{h[:10]}", chunks))
    return partitions


def _file_ranges(f: InputFile, target: int) -> list[tuple[int, int]]:
    """Row ranges of about `target` rows; Parquet ranges end on row-group boundaries."""
    if f.num_rows == 0:
        return [(0, 0)]
    if f.format == "parquet" and f.row_groups:
        ranges, start, acc = [], 0, 0
        for rg in f.row_groups:
            if acc and acc + rg > target:
                ranges.append((start, start + acc))
                start, acc = start + acc, 0
            acc += rg
        ranges.append((start, start + acc))
        # A single huge row group still gets split by rows.
        out = []
        for a, b in ranges:
            out.extend((s, min(b, s + target)) for s in range(a, b, target))
        return out
    return [(s, min(f.num_rows, s + target)) for s in range(0, f.num_rows, target)]


# ----------------------------------------------------------------------------- readers


class RowError:
    """A row that could not be read at all (invalid JSON, unreadable record): its message and,
    when there is one, the raw text (the id of such a row is derived from it)."""

    __slots__ = ("message", "raw")

    def __init__(self, message: str, raw: bytes | None = None) -> None:
        self.message = message
        self.raw = raw


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
        message = f"cannot read row from {f.rel}: {type(e).__name__}: {clip(str(e))}"
        for start in range(next_row, chunk.stop, batch_rows):
            yield [(i, RowError(message)) for i in range(start, min(chunk.stop, start + batch_rows))]
        return
    if next_row < chunk.stop:  # the file is shorter than it was when planned
        message = f"row missing from {f.rel}: the file changed after the job planned it"
        for start in range(next_row, chunk.stop, batch_rows):
            yield [(i, RowError(message)) for i in range(start, min(chunk.stop, start + batch_rows))]


def clip(text: str, limit: int = 300) -> str:
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
                out.append((row, RowError(f"invalid JSON on line {row + 1}: {clip(str(e))}", line)))
            if len(out) >= batch_rows:
                yield out
                out = []
    if out:
        yield out


JSONL_SCHEMA_SAMPLE = 1000
"""Lines of each JSONL input read to learn its extra columns' names and types."""


def file_schema(f) -> pa.Schema:
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

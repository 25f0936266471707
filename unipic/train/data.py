"""Training data streamed from Parquet: curated shards (t2i, edit) and understanding rows.

One `BatchStream` per task reads a source (the scoring job's hive-partitioned shards, plain
Parquet files or globs) with `pyarrow.dataset`: partition and row filters (`decision ==
'keep'` by default, optional `reward_score >= x`, `vqa_score >= y`, the task), column
projection, `to_batches`. Nothing holds more than one shuffle window of rows.

The stream is the same on every worker and independent of the number of workers:

1. Epoch e visits the fragments (files) in a seeded permutation of (seed, e); rows keep
   their file order within a fragment, and are numbered 0, 1, ... across the epoch.
2. Rows are cut into windows of `shuffle_buffer` rows (rounded up to a multiple of the
   global batch); each window is permuted by a generator seeded with (seed, e, window). This
   is the bounded shuffle buffer.
3. Within a window, rows go to resolution buckets by aspect ratio (read from the image
   header; unreadable images are skipped); every `global_batch` rows of one bucket form a
   global batch. Rows left in a bucket at the end of a window are dropped (with one bucket
   and a window that is a multiple of the batch, only the epoch's last partial window is).
4. Worker r of W takes rows r, r + W, ... of each global batch and decodes only those.

So a global batch is the same rows whatever W is (the 1-worker and 2-worker runs see the
same data), each worker decodes and trains on 1/W of it, and the position (epoch, window,
batches taken from the window) is all a checkpoint needs: resuming seeks to the window's
first row (whole fragments are skipped by their row counts), re-reads one window and skips
the batches already taken. The price of W-independence is that every worker reads (but
does not decode) every row's bytes.

Per-sample randomness (caption dropout here, masks and diffusion noise in `losses.py`) is
derived from the row's (epoch, index) or from (step, position in the global batch), never
from a worker's generator.
"""

from __future__ import annotations

import glob
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image

GEN_TASKS = ("t2i", "edit")
TASKS = ("und", "t2i", "edit")
DEFAULT_BUCKETS = ((1, 1), (4, 3), (3, 4))
"""Aspect ratios (width:height) of the resolution buckets."""


def seeded_rng(*keys: int | str) -> np.random.Generator:
    """A numpy generator from a tuple of ints/strings (strings are hashed stably)."""
    import zlib

    ints = [k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in ints])


# ---------------------------------------------------------------------- sources
@dataclass
class SourceConfig:
    """Where a task's rows come from and which rows count."""

    paths: list[str]
    """Folders (hive-partitioned, e.g. the scoring job's output), Parquet files or globs."""
    task: str
    """`t2i`, `edit` or `und`. t2i/edit rows are selected by the `task` column when there is one."""
    decision: str | None = "keep"
    """Keep rows whose `decision` is this; None reads every row (e.g. raw candidates)."""
    min_reward: float | None = None
    """Keep rows with `reward_score` >= this."""
    min_vqa: float | None = None
    """Keep rows with `vqa_score` >= this."""

    def to_dict(self) -> dict[str, Any]:
        return {"paths": list(self.paths), "task": self.task, "decision": self.decision,
                "min_reward": self.min_reward, "min_vqa": self.min_vqa}


def _columns_for(task: str) -> tuple[str, ...]:
    if task == "t2i":
        return ("prompt", "image")
    if task == "edit":
        return ("prompt", "image", "source_image")
    if task == "und":
        return ("image", "question", "answer")
    raise ValueError(f"unknown task {task!r}")


def open_dataset(paths: Sequence[str]):
    """A pyarrow dataset over folders (their `*.parquet` files, hive partitioning, `_`/`.` paths
    ignored), files or globs."""
    import pyarrow.dataset as ds

    parts = []
    for path in paths:
        if any(ch in path for ch in "*?["):
            files = sorted(glob.glob(path, recursive=True))
            if not files:
                raise FileNotFoundError(f"no files match {path}")
            parts.append(_hive(files, _glob_base(path)))
        elif os.path.isdir(path):
            # Parquet files only (the job's folder also holds _manifest.json, summary.json, .tmp files).
            files = sorted(str(f) for f in Path(path).rglob("*.parquet")
                           if not any(part.startswith(("_", ".")) for part in f.relative_to(path).parts))
            if not files:
                raise FileNotFoundError(f"no Parquet files under {path}")
            parts.append(_hive(files, path))
        elif os.path.exists(path):
            parts.append(_hive([path], os.path.dirname(path)))
        else:
            raise FileNotFoundError(path)
    return parts[0] if len(parts) == 1 else ds.dataset(parts)


def _hive(files: list[str], base: str):
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    first = ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=base)
    schema = pa.unify_schemas([first.schema] + [pq.read_schema(f) for f in files], promote_options="permissive")
    if schema.equals(first.schema):
        return first
    return ds.dataset(files, schema=schema, format="parquet", partitioning="hive", partition_base_dir=base)


def _glob_base(pattern: str) -> str:
    parts = Path(pattern).parts
    base = []
    for p in parts:
        if any(ch in p for ch in "*?["):
            break
        base.append(p)
    return str(Path(*base)) if base else "."


def _filter_expression(source: SourceConfig, names: set[str]):
    import pyarrow.compute as pc

    expr = None

    def add(e):
        nonlocal expr
        expr = e if expr is None else expr & e

    if source.task in GEN_TASKS and "task" in names:
        add(pc.field("task") == source.task)
    if source.decision is not None:
        if "decision" not in names:
            raise ValueError(f"{source.paths}: no `decision` column; pass decision=None to read every row")
        add(pc.field("decision") == source.decision)
    for column, threshold in (("reward_score", source.min_reward), ("vqa_score", source.min_vqa)):
        if threshold is not None:
            if column not in names:
                raise ValueError(f"{source.paths}: no `{column}` column to filter on")
            add(pc.field(column) >= threshold)
    return expr


def image_bytes(cell: Any, root: str | None = None) -> bytes | None:
    """Bytes of an image cell: the HF `{bytes, path}` struct, raw bytes, or a path."""
    if cell is None:
        return None
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return cell["bytes"]
        cell = cell.get("path")
        if not cell:
            return None
    if isinstance(cell, (bytes, bytearray)):
        return bytes(cell)
    path = Path(cell)
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    return path.read_bytes() if path.exists() else None


def image_size(data: bytes | None) -> tuple[int, int] | None:
    """(width, height) from the image header, or None if it cannot be read (PNG CRCs are checked)."""
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            size = im.size
            im.verify()
        return size
    except Exception:  # noqa: BLE001 - any unreadable image is skipped
        return None


# ---------------------------------------------------------------------- buckets
@dataclass(frozen=True)
class ResolutionBuckets:
    """Aspect-ratio buckets of about `size`^2 pixels, sides multiples of `multiple`."""

    size: int
    multiple: int
    ratios: tuple[tuple[int, int], ...] = DEFAULT_BUCKETS

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """(height, width) of each bucket."""
        out = []
        for w, h in self.ratios:
            r = w / h
            hh = max(self.multiple, round(self.size / math.sqrt(r) / self.multiple) * self.multiple)
            ww = max(self.multiple, round(self.size * math.sqrt(r) / self.multiple) * self.multiple)
            out.append((hh, ww))
        return out

    def assign(self, width: int, height: int) -> int:
        """Index of the bucket nearest in log aspect ratio."""
        r = math.log(width / height)
        return min(range(len(self.ratios)), key=lambda i: abs(r - math.log(self.ratios[i][0] / self.ratios[i][1])))


def parse_buckets(text: str) -> tuple[tuple[int, int], ...]:
    """'1:1,4:3,3:4' -> ((1, 1), (4, 3), (3, 4))."""
    out = []
    for part in text.split(","):
        w, h = part.strip().split(":")
        out.append((int(w), int(h)))
    return tuple(out)


# ---------------------------------------------------------------------- the stream
@dataclass
class GlobalBatch:
    """This worker's share of one global batch."""

    rows: list[dict[str, Any]]
    """This worker's rows (global positions rank, rank + W, ...)."""
    positions: list[int]
    """Each row's position in the global batch."""
    bucket: tuple[int, int]
    """(height, width) of the batch's images."""
    epoch: int
    window: int
    index: int
    """Batch number within the window."""


class BatchStream:
    """Endless, seekable stream of global batches of one task (see the module docstring)."""

    def __init__(self, source: SourceConfig, global_batch: int, rank: int = 0, world_size: int = 1, seed: int = 0,
                 shuffle_buffer: int = 1024, buckets: ResolutionBuckets | None = None, read_batch_rows: int = 256):
        if global_batch % world_size:
            raise ValueError(f"global batch {global_batch} is not divisible by {world_size} workers")
        self.source = source
        self.global_batch = global_batch
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.window_rows = max(1, math.ceil(shuffle_buffer / global_batch)) * global_batch
        self.buckets = buckets
        self.read_batch_rows = read_batch_rows
        self.dataset = open_dataset(source.paths)
        names = set(self.dataset.schema.names)
        missing = [c for c in _columns_for(source.task) if c not in names]
        if missing:
            raise ValueError(f"{source.paths}: missing columns {missing} for task {source.task}")
        self.columns = list(_columns_for(source.task)) + (["sample_id"] if "sample_id" in names else [])
        self.filter = _filter_expression(source, names)
        fragments = list(self.dataset.get_fragments(filter=self.filter))
        self.fragments = sorted(fragments, key=lambda f: f.path)
        self._counts: dict[int, int] = {}
        self.epoch, self.window, self.taken = 0, 0, 0
        self._pending: list[GlobalBatch] | None = None
        self.skipped_unreadable = 0
        if not self.fragments:
            raise ValueError(f"no {source.task} rows in {source.paths} (filter: {self.filter})")

    # ---------------------------------------------------------------- position
    def state_dict(self) -> dict[str, int]:
        """Where the next batch comes from: (epoch, window, batches already taken from it)."""
        return {"epoch": self.epoch, "window": self.window, "taken": self.taken}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.window, self.taken = int(state["epoch"]), int(state["window"]), int(state["taken"])
        self._pending = None

    # ---------------------------------------------------------------- reading
    def _scanner(self, i: int, columns: list[str] | None = None):
        import pyarrow.dataset as ds

        # The dataset schema lets filters name hive partition fields (task, decision).
        return ds.Scanner.from_fragment(self.fragments[i], schema=self.dataset.schema, filter=self.filter,
                                        columns=columns, batch_size=self.read_batch_rows, use_threads=False)

    def _count(self, i: int) -> int:
        if i not in self._counts:
            self._counts[i] = self._scanner(i, []).count_rows()
        return self._counts[i]

    def _fragment_order(self, epoch: int) -> list[int]:
        return [int(i) for i in seeded_rng(self.seed, "fragments", epoch).permutation(len(self.fragments))]

    def _rows_from(self, epoch: int, start: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows of the epoch's order from row `start` on, with their epoch index."""
        out: list[dict[str, Any]] = []
        skip = start
        index = start
        for i in self._fragment_order(epoch):
            n = self._count(i)
            if skip >= n:
                skip -= n
                continue
            fragment = self.fragments[i]
            root = os.path.dirname(fragment.path)
            for rb in self._scanner(i, self.columns).to_batches():
                if skip >= rb.num_rows:
                    skip -= rb.num_rows
                    continue
                rb = rb.slice(skip, limit - len(out))
                skip = 0
                for row in rb.to_pylist():
                    row["_epoch"], row["_index"], row["_root"] = epoch, index, root
                    index += 1
                    out.append(row)
                if len(out) >= limit:
                    return out
        return out

    def _bucket_of(self, row: dict[str, Any]) -> int | None:
        data = image_bytes(row["image"], row["_root"])
        size = image_size(data)
        if size is None or (self.source.task == "edit" and image_size(image_bytes(row["source_image"], row["_root"])) is None):
            return None
        return 0 if self.buckets is None else self.buckets.assign(*size)

    def _window_batches(self, epoch: int, window: int) -> list[GlobalBatch] | None:
        """Every global batch of one window, this worker's rows only; None past the epoch's end."""
        rows = self._rows_from(epoch, window * self.window_rows, self.window_rows)
        if not rows:
            return None
        perm = seeded_rng(self.seed, "window", epoch, window).permutation(len(rows))
        queues: dict[int, list] = {}
        batches = []
        for p in perm:
            row = rows[int(p)]
            b = self._bucket_of(row)
            if b is None:
                self.skipped_unreadable += 1
                continue
            queue = queues.setdefault(b, [])
            queue.append(row)
            if len(queue) == self.global_batch:
                mine = list(range(self.rank, self.global_batch, self.world_size))
                shape = self.buckets.shapes[b] if self.buckets is not None else (0, 0)
                batches.append(GlobalBatch([queue[j] for j in mine], mine, shape, epoch, window, len(batches)))
                queues[b] = []
        return batches

    def next(self) -> GlobalBatch:
        """This worker's share of the next global batch (epochs roll over forever)."""
        empty_epochs = 0
        while True:
            if self._pending is None:
                batches = self._window_batches(self.epoch, self.window)
                if batches is None:  # past the end of the epoch
                    if self.window == 0:
                        raise ValueError(f"no readable {self.source.task} rows in {self.source.paths}")
                    self.epoch, self.window, self.taken = self.epoch + 1, 0, 0
                    empty_epochs += 1
                    if empty_epochs > 1:
                        raise ValueError(f"{self.source.paths}: fewer than one global batch "
                                         f"({self.global_batch}) of {self.source.task} rows per epoch")
                    continue
                self._pending = batches
            if self.taken < len(self._pending):
                batch = self._pending[self.taken]
                self.taken += 1
                return batch
            self._pending = None
            self.window, self.taken = self.window + 1, 0


# ---------------------------------------------------------------------- decoding
def load_image(row: dict[str, Any], column: str = "image") -> Image.Image:
    data = image_bytes(row[column], row.get("_root"))
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def fit_to(image: Image.Image, shape: tuple[int, int]) -> torch.Tensor:
    """Centre-crop to the (height, width) aspect, resize, -> (3, h, w) in [-1, 1]."""
    h, w = shape
    iw, ih = image.size
    target = w / h
    if iw / ih > target:  # too wide
        cw = round(ih * target)
        image = image.crop(((iw - cw) // 2, 0, (iw - cw) // 2 + cw, ih))
    elif iw / ih < target:
        ch = round(iw / target)
        image = image.crop((0, (ih - ch) // 2, iw, (ih - ch) // 2 + ch))
    if image.size != (w, h):
        image = image.resize((w, h), Image.BICUBIC)
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)


def decode_rows(rows: list[dict[str, Any]], columns: Sequence[str], shape: tuple[int, int] | None = None,
                ) -> tuple[list[dict[str, Any]], dict[str, list], int]:
    """Decode `columns` of every row; a row that fails to decode is replaced by the first
    row that did (so the micro-batch keeps its size; counted in the returned int).

    Returns (rows, {column: tensors or PIL images}, failures).
    """
    decoded, ok, failures = [], [], 0
    for row in rows:
        try:
            images = [load_image(row, c) for c in columns]
            decoded.append([fit_to(im, shape) for im in images] if shape else images)
            ok.append(row)
        except Exception:  # noqa: BLE001 - a corrupt body behind a valid header
            decoded.append(None)
            ok.append(None)
            failures += 1
    good = next((i for i, d in enumerate(decoded) if d is not None), None)
    if good is None:
        raise ValueError("no image of the micro-batch could be decoded")
    rows = [r if r is not None else ok[good] for r in ok]
    decoded = [d if d is not None else decoded[good] for d in decoded]
    return rows, {c: [d[k] for d in decoded] for k, c in enumerate(columns)}, failures


def dropped(seed: int, row: dict[str, Any], rate: float) -> bool:
    """Caption dropout decision of a row: a function of (seed, epoch, index in the epoch) only, so
    it is the same on every worker and is redrawn every epoch."""
    if rate <= 0:
        return False
    return bool(seeded_rng(seed, "dropout", row.get("_epoch", 0), row["_index"]).random() < rate)


@dataclass
class StreamSet:
    """The batch streams of the stage's tasks, with one state dict for checkpoints."""

    streams: dict[str, BatchStream] = field(default_factory=dict)

    def state_dict(self) -> dict[str, dict]:
        return {task: s.state_dict() for task, s in self.streams.items()}

    def load_state_dict(self, state: dict[str, dict]) -> None:
        for task, s in self.streams.items():
            if task in state:
                s.load_state_dict(state[task])


def build_streams(sources: dict[str, SourceConfig], batch_sizes: dict[str, int], rank: int, world_size: int,
                  seed: int, shuffle_buffer: int, bucket_for: Callable[[str], ResolutionBuckets | None]) -> StreamSet:
    """One `BatchStream` per task in `sources` (seeds differ per task)."""
    return StreamSet({
        task: BatchStream(src, batch_sizes[task], rank, world_size, seed + 1000 * (1 + TASKS.index(task)),
                          shuffle_buffer, bucket_for(task))
        for task, src in sources.items()
    })

"""Finding and streaming a dataset's files: one file, a folder of them, or a hub id."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator


def find_files(path: str | os.PathLike, suffixes: tuple[str, ...], split: str | None = None) -> list[Path]:
    """`path` itself, or the files under it with one of `suffixes` (those naming `split` when given)."""
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(suffixes))
    if split is not None:
        named = [f for f in files if split in f.relative_to(p).as_posix()]
        files = named or files
    if not files:
        raise FileNotFoundError(f"{path}: no {'/'.join(suffixes)} files")
    return files


def iter_parquet_rows(files: list[Path], columns: list[str] | None = None, batch_rows: int = 256) -> Iterator[dict]:
    """Rows of parquet files as dicts, a few hundred at a time (images stay bytes until decoded)."""
    import pyarrow.parquet as pq

    for f in files:
        pf = pq.ParquetFile(f)
        cols = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
        for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
            yield from batch.to_pylist()


def parquet_columns(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(files[0]).schema_arrow.names)


def read_json_records(path: Path) -> list[dict]:
    """A JSON array of records, or JSON lines."""
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def is_local(path_or_id: str) -> bool:
    return Path(path_or_id).exists()


def hub_snapshot(repo_id: str, allow_patterns: list[str] | None = None, revision: str | None = None) -> Path:
    """Download (or reuse from the cache) a dataset repo's raw files; needs network on first use.

    ImageRewardDB and HPDv2 ship `datasets` loading scripts that datasets>=4 refuses to run,
    so their raw files are fetched and read with the local readers instead.
    """
    from huggingface_hub import snapshot_download

    return Path(
        snapshot_download(repo_id, repo_type="dataset", allow_patterns=allow_patterns, revision=revision)
    )

"""Where a dataset's files come from: a local file or folder, or a hub repository, read lazily.

Every reader goes through one `DataRepo`: it lists the repository's files (relative paths),
picks the ones of a split by whole split names, and fetches a file only when the reader gets to
it (`repo.local(rel)`), so a capped read (`limit`, `max_pairs_per_source`) fetches only the
shards, zips or tar members it uses. `LocalRepo` reads a folder; `HubRepo` lists a dataset repo
with `huggingface_hub` and downloads single files (`hf_hub_download`) on demand. Both record
what they fetched in `fetched`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Iterator

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class SplitNotFound(FileNotFoundError):
    """No file of a dataset names the requested split."""


def split_names(rel: str) -> set[str]:
    """The split names a file carries: every folder it is in, and every `-`-separated piece of
    its name before the first dot (`data/test_unique-00000-of-00001-ab12.parquet` -> data,
    test_unique, 00000, of, 00001, ab12; `metadata-train.parquet` -> metadata, train)."""
    parts = PurePosixPath(rel).parts
    return set(parts[:-1]) | set(parts[-1].split(".")[0].split("-"))


def matches_split(rel: str, split: str) -> bool:
    """`split` is a whole split name (`test` does not match `test_unique`, `FreeForm_1` not
    `FreeForm_10`), or a glob over split names (`FreeForm*`)."""
    names = split_names(rel)
    if any(c in split for c in "*?["):
        return any(fnmatch.fnmatchcase(n, split) for n in names)
    return split in names


def _shard_split(rel: str) -> str:
    """The split a shard file names, for error messages (`train-00000-of-00002.parquet` -> train)."""
    parts = PurePosixPath(rel).parts
    stem = parts[-1].split(".")[0]
    return stem.split("-", 1)[1] if stem.startswith("metadata-") else stem.split("-")[0]


class DataRepo:
    """A dataset's files, listed once and fetched one at a time (subclasses say how)."""

    name: str

    def __init__(self) -> None:
        self.fetched: list[str] = []
        """Relative paths fetched so far, in order (a file fetched twice appears twice)."""
        self._files: list[str] | None = None

    def _list(self) -> list[str]:
        raise NotImplementedError

    def _fetch(self, rel: str) -> Path:
        raise NotImplementedError

    def files(self) -> list[str]:
        """Every file of the repository, as sorted relative POSIX paths."""
        if self._files is None:
            self._files = sorted(self._list())
        return self._files

    def has(self, rel: str) -> bool:
        if getattr(self, "_fileset", None) is None:
            self._fileset = set(self.files())
        return rel in self._fileset

    def local(self, rel: str) -> Path:
        """A local path to `rel`, fetching it first where needed."""
        self.fetched.append(rel)
        return self._fetch(rel)

    def open_stream(self, rel: str):
        """A binary file object over `rel` read front to back (a big archive need not be whole on disk)."""
        return open(self.local(rel), "rb")

    def find(self, suffixes: tuple[str, ...], split: str | None = None) -> list[str]:
        """The files with one of `suffixes` whose names carry `split` (see `matches_split`).
        Raises `SplitNotFound`, naming the splits present, when none does."""
        files = [f for f in self.files() if f.endswith(suffixes)]
        if not files:
            raise FileNotFoundError(f"{self.name}: no {'/'.join(suffixes)} files")
        if split is None:
            return files
        named = [f for f in files if matches_split(f, split)]
        if not named:
            present = sorted({_shard_split(f) for f in files})
            raise SplitNotFound(
                f"{self.name}: no {'/'.join(suffixes)} file of split {split!r} (split names are matched whole); "
                f"the files name: {present}"
            )
        return named

    @property
    def base_dir(self) -> Path | None:
        """A folder that relative image paths in cells resolve against (local folders only)."""
        return None


class LocalRepo(DataRepo):
    """A local folder (or a single file in it)."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        self.single = p.name if p.is_file() else None
        self.root = p.parent if p.is_file() else p
        self.name = str(p)

    def _list(self) -> list[str]:
        if self.single is not None:
            return [self.single]
        return [f.relative_to(self.root).as_posix() for f in self.root.rglob("*") if f.is_file()]

    def has(self, rel: str) -> bool:
        return (self.root / rel).is_file()  # also beside a file given by name (HPDv2's json -> its tar)

    def _fetch(self, rel: str) -> Path:
        return self.root / rel

    def find(self, suffixes: tuple[str, ...], split: str | None = None) -> list[str]:
        if self.single is not None:
            return [self.single]  # a file given by name is read whatever its name says
        if split is not None and (split == self.root.name or fnmatch.fnmatchcase(self.root.name, split)):
            split = None  # the folder itself is the split's folder
        return super().find(suffixes, split)

    @property
    def base_dir(self) -> Path:
        return self.root


class HubRepo(DataRepo):
    """A Hugging Face dataset repository: listed with `HfApi.list_repo_files`, files downloaded one by
    one with `hf_hub_download` (into the usual hub cache, so a second run reuses them). Offline
    (`HF_HUB_OFFLINE=1`, or `local_files_only=True`) the listing and the files come from the cache."""

    def __init__(self, repo_id: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                 local_files_only: bool | None = None) -> None:
        super().__init__()
        self.repo_id, self.revision, self.name = repo_id, revision, repo_id
        self.cache_dir = cache_dir if cache_dir is not None else os.environ.get("HF_HUB_CACHE") or None
        if local_files_only is None:
            local_files_only = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
        self.local_files_only = local_files_only

    def _list(self) -> list[str]:
        if self.local_files_only:
            from huggingface_hub import snapshot_download

            snap = Path(snapshot_download(self.repo_id, repo_type="dataset", revision=self.revision,
                                          cache_dir=self.cache_dir, local_files_only=True))
            return [f.relative_to(snap).as_posix() for f in snap.rglob("*") if f.is_file()]
        from huggingface_hub import HfApi

        return list(HfApi().list_repo_files(self.repo_id, repo_type="dataset", revision=self.revision))

    def _fetch(self, rel: str) -> Path:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(self.repo_id, rel, repo_type="dataset", revision=self.revision,
                                    cache_dir=self.cache_dir, local_files_only=self.local_files_only))

    def open_stream(self, rel: str):
        """Offline (or already cached): the cached file. Online: an HTTP stream (`HfFileSystem`), so
        a reader that stops early downloads only what it read."""
        if self.local_files_only:
            return super().open_stream(rel)
        from huggingface_hub import HfFileSystem, try_to_load_from_cache

        cached = try_to_load_from_cache(self.repo_id, rel, cache_dir=self.cache_dir, revision=self.revision,
                                        repo_type="dataset")
        if isinstance(cached, str):
            self.fetched.append(rel)
            return open(cached, "rb")
        self.fetched.append(rel)
        at = f"@{self.revision}" if self.revision else ""
        return HfFileSystem().open(f"datasets/{self.repo_id}{at}/{rel}", "rb", block_size=16 * 2**20)


def open_repo(path_or_id: "str | os.PathLike | DataRepo") -> DataRepo:
    """A `DataRepo` for a local file/folder (when it exists) or a hub dataset id (`owner/name`)."""
    if isinstance(path_or_id, DataRepo):
        return path_or_id
    if Path(path_or_id).exists():
        return LocalRepo(path_or_id)
    if isinstance(path_or_id, str) and HUB_ID.match(path_or_id):
        return HubRepo(path_or_id)
    raise FileNotFoundError(f"{path_or_id}: no such file or folder, and not a hub dataset id (owner/name)")


def find_files(path: str | os.PathLike, suffixes: tuple[str, ...], split: str | None = None) -> list[Path]:
    """`path` itself, or the files under it with one of `suffixes` whose names carry `split` (whole
    split names; `SplitNotFound` when none does)."""
    repo = LocalRepo(path)
    return [repo.root / rel for rel in repo.find(suffixes, split)]


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
    text = Path(path).read_text()
    return parse_json_records(text)


def parse_json_records(text: str) -> list[dict]:
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cache_root() -> Path:
    """Where archives are extracted once (`REWARD_MODELS_CACHE`, default `~/.cache/reward_models`)."""
    return Path(os.environ.get("REWARD_MODELS_CACHE") or Path.home() / ".cache" / "reward_models")

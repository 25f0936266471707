"""Adapters from Pick-a-Pic v2, ImageRewardDB and HPDv2 into `PreferencePair`s.

Each reads its dataset's published layout from a local folder or, by hub id, from the hub
repository itself (`files.DataRepo`: listed, then fetched file by file as the reader gets to it,
so a capped read fetches only what it uses); randomises the order of the two images in every
pair (seeded), drops ties and skips bad rows (undecodable image, missing label) with a count in
a `SkipLog` instead of failing.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import random
import re
import shutil
import tarfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator

from reward_models.data.files import (
    DataRepo,
    LocalRepo,
    SplitNotFound,
    cache_root,
    iter_parquet_rows,
    open_repo,
    parquet_columns,
    parse_json_records,
    read_json_records,
)
from reward_models.data.images import RepoImages, UndecodableImage, decode_image_cell
from reward_models.data.schema import ColumnError, PreferencePair, SkipLog, require_columns

PICKAPIC_COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1")
IMAGEREWARDDB_COLUMNS = ("image_path", "prompt_id", "prompt", "rank")
IMAGEREWARDDB_RATINGS = {"alignment": "image_text_alignment_rating", "fidelity": "fidelity_rating"}
HPDV2_TRAIN_COLUMNS = ("prompt", "image_path", "human_preference")
"""Current `train.json`; older copies (and the dataset README, HPSv2's code) name the path list `file_path`."""
HPDV2_TEST_COLUMNS = ("prompt", "image_path", "rank")

HUB_IDS = {"pickapic": "yuvalkirstain/pickapic_v2", "imagerewarddb": "THUDM/ImageRewardDB", "hpdv2": "ymhao/HPDv2"}


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _ordered(prompt, better, worse, source, aspect, rng: random.Random) -> PreferencePair:
    """Put the preferred image first or second at random (the label follows it)."""
    if rng.random() < 0.5:
        return PreferencePair(prompt, better, worse, 1, source, aspect)
    return PreferencePair(prompt, worse, better, 0, source, aspect)


def _limited(it: Iterator[PreferencePair], limit: int | None) -> Iterator[PreferencePair]:
    return it if limit is None else itertools.islice(it, limit)


# -- Pick-a-Pic v2 ------------------------------------------------------------------------------


def read_pickapic(path: "str | os.PathLike | DataRepo", split: str = "train", seed: int = 0, limit: int | None = None,
                  skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """Pick-a-Pic v2 parquet (`caption`, `jpg_0`, `jpg_1`, `label_0`, `label_1`); ties (0.5) are dropped.

    Reads the shards of `split` (`data/{split}-NNNNN-of-NNNNN-<hash>.parquet`, split names matched
    whole: `test` is not `test_unique`) one at a time; a shard is fetched only when reached."""
    skips = skips if skips is not None else SkipLog()
    repo = open_repo(path)
    files = repo.find((".parquet",), split)
    first = repo.local(files[0])
    require_columns(parquet_columns([first]), PICKAPIC_COLUMNS, "Pick-a-Pic v2", str(first))
    rng = random.Random(seed)

    def rows() -> Iterator[PreferencePair]:
        for k, rel in enumerate(files):
            f = first if k == 0 else repo.local(rel)
            for row in iter_parquet_rows([f], [*PICKAPIC_COLUMNS, "has_label", "are_different"]):
                l0, l1 = row.get("label_0"), row.get("label_1")
                if _missing(l0) or _missing(l1) or row.get("has_label") is False:
                    skips.skip("pickapic", "missing_label")
                    continue
                if l0 == l1 or row.get("are_different") is False:
                    skips.skip("pickapic", "tie")
                    continue
                if not row.get("caption"):
                    skips.skip("pickapic", "missing_prompt")
                    continue
                try:
                    img0, img1 = decode_image_cell(row["jpg_0"]), decode_image_cell(row["jpg_1"])
                except UndecodableImage:
                    skips.skip("pickapic", "undecodable_image")
                    continue
                better, worse = (img0, img1) if l0 > l1 else (img1, img0)
                yield _ordered(row["caption"], better, worse, "pickapic", "overall", rng)

    return _limited(rows(), limit)


# -- ImageRewardDB --------------------------------------------------------------------------------


def _group_pairs(items: list[tuple], better_low: bool) -> Iterator[tuple[int, int]]:
    """Index pairs (i better than j) from one group's scores; equal scores (ties) are skipped."""
    for i, j in itertools.combinations(range(len(items)), 2):
        si, sj = items[i], items[j]
        if si == sj:
            continue
        if (si < sj) == better_low:
            yield i, j
        else:
            yield j, i


def imagerewarddb_records(repo: DataRepo, split: str = "train", skips: SkipLog | None = None,
                          required: tuple[str, ...] = IMAGEREWARDDB_COLUMNS) -> list[dict]:
    """ImageRewardDB's per-image records of `split`, each image once.

    One source only, the first present: `metadata-{split}.parquet` (the published metadata); a
    records file named after the split (`{split}.json[l]`, `metadata-{split}.json[l]`); the per-zip
    `{split}_k.json` files (loose, as unzipping in place leaves them, or inside the zips). Records
    are de-duplicated by `image_path` (a record seen twice is counted in `skips` as
    `duplicate_record`), so an image never pairs with its own copy."""
    skips = skips if skips is not None else SkipLog()
    files = repo.files()
    by_name = defaultdict(list)
    for f in files:
        by_name[PurePosixPath(f).name].append(f)
    chunk = re.compile(rf"^{re.escape(split)}_\d+\.(json|jsonl)$")
    zipped = re.compile(rf"^{re.escape(split)}_\d+\.zip$")
    sources: list[tuple[str, list[dict]]] = []
    meta = sorted(by_name.get(f"metadata-{split}.parquet", []), key=len)
    named = [f for n in (f"{split}.json", f"{split}.jsonl", f"metadata-{split}.json", f"metadata-{split}.jsonl")
             for f in by_name.get(n, [])]
    if meta:
        sources = [(meta[0], list(iter_parquet_rows([repo.local(meta[0])])))]
    elif named:
        sources = [(named[0], read_json_records(repo.local(named[0])))]
    elif loose := [f for f in files if chunk.match(PurePosixPath(f).name)]:
        sources = [(f, read_json_records(repo.local(f))) for f in loose]
    elif zips := [f for f in files if zipped.match(PurePosixPath(f).name)]:
        for z in zips:
            with zipfile.ZipFile(repo.local(z)) as zf:
                for m in zf.namelist():
                    if chunk.match(PurePosixPath(m).name):
                        sources.append((f"{z}:{m}", parse_json_records(zf.read(m).decode())))
    if not sources:
        raise SplitNotFound(
            f"ImageRewardDB: {repo.name} has no metadata-{split}.parquet, {split}.json or {split}_k.json/zip "
            f"files for split {split!r}")
    out, seen = [], set()
    for where, recs in sources:
        if recs:
            require_columns(recs[0].keys(), required, "ImageRewardDB", where)
        for rec in recs:
            key = rec.get("image_path")
            if key in seen:
                skips.skip("imagerewarddb", "duplicate_record")
                continue
            seen.add(key)
            out.append(rec)
    return out


def read_imagerewarddb(path: "str | os.PathLike | DataRepo", split: str = "train", seed: int = 0,
                       limit: int | None = None, aspects: Iterable[str] = ("overall", "alignment", "fidelity"),
                       skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """ImageRewardDB: per-prompt groups expanded into pairs (records from `imagerewarddb_records`).

    `rank` (lower is better) gives overall pairs; `image_text_alignment_rating` and
    `fidelity_rating` (higher is better) give alignment and fidelity pairs. Images are read from
    `image_path` (extracted files, or members of the published zips `images/{split}/{split}_k.zip`,
    each zip fetched when its first image is needed). Groups come in metadata order."""
    skips = skips if skips is not None else SkipLog()
    repo = open_repo(path)
    records = imagerewarddb_records(repo, split, skips)
    groups: dict = defaultdict(list)
    for rec in records:
        groups[rec["prompt_id"]].append(rec)
    images = RepoImages(repo)
    rng = random.Random(seed)
    aspects = list(aspects)

    def rows() -> Iterator[PreferencePair]:
        for group in groups.values():
            cache: dict[int, object] = {}

            def image(k):
                if k not in cache:
                    try:
                        cache[k] = images.open(group[k]["image_path"])
                    except UndecodableImage:
                        cache[k] = None
                return cache[k]

            for aspect in aspects:
                column = "rank" if aspect == "overall" else IMAGEREWARDDB_RATINGS[aspect]
                usable = [k for k, rec in enumerate(group) if not _missing(rec.get(column))]
                for k in range(len(group)):
                    if k not in usable:
                        skips.skip("imagerewarddb", f"missing_{column}")
                scores = [group[k][column] for k in usable]
                for i, j in _group_pairs(scores, better_low=(aspect == "overall")):
                    a, b = usable[i], usable[j]
                    ia, ib = image(a), image(b)
                    if ia is None or ib is None:
                        skips.skip("imagerewarddb", "undecodable_image")
                        continue
                    yield _ordered(group[a]["prompt"], ia, ib, "imagerewarddb", aspect, rng)

    return _limited(rows(), limit)


@dataclass
class RatedImage:
    """One image with an absolute human rating on one aspect (ImageRewardDB's 1-7 ratings)."""

    prompt: str
    image: object
    aspect: str
    rating: float
    source: str = "imagerewarddb"


IMAGEREWARDDB_RATING_COLUMNS = {"overall": "overall_rating", **IMAGEREWARDDB_RATINGS}


def read_imagerewarddb_ratings(path: "str | os.PathLike | DataRepo | None" = None, split: str = "train",
                               limit: int | None = None,
                               aspects: Iterable[str] = ("overall", "alignment", "fidelity"),
                               skips: SkipLog | None = None) -> Iterator[RatedImage]:
    """ImageRewardDB's absolute ratings, one `RatedImage` per (image, aspect): `overall_rating`,
    `image_text_alignment_rating` and `fidelity_rating` (1-7, higher is better). Pointwise
    targets that pairs cannot give: an image's own level, not only its order within the group.
    Same files, same resolution (local folder or hub id) and same de-duplication as the pairs."""
    skips = skips if skips is not None else SkipLog()
    repo = open_repo(path or HUB_IDS["imagerewarddb"])
    records = imagerewarddb_records(repo, split, skips, required=("image_path", "prompt"))
    images = RepoImages(repo)
    aspects = list(aspects)

    def rows() -> Iterator[RatedImage]:
        for rec in records:
            wanted = [(a, rec.get(IMAGEREWARDDB_RATING_COLUMNS[a])) for a in aspects]
            wanted = [(a, r) for a, r in wanted if not _missing(r)]
            if not wanted or not rec.get("prompt"):
                skips.skip("imagerewarddb", "missing_rating")
                continue
            try:
                img = images.open(rec["image_path"])
            except UndecodableImage:
                skips.skip("imagerewarddb", "undecodable_image")
                continue
            for a, r in wanted:
                yield RatedImage(rec["prompt"], img, a, float(r))

    return _limited(rows(), limit)


# -- HPDv2 --------------------------------------------------------------------------------------------


def _member(name: str, split: str) -> str:
    """A tar member's path relative to `{split}/` (`./train/x.jpg`, `train/x.jpg`, `x.jpg` -> `x.jpg`)."""
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    if parts and parts[0] == split:
        parts = parts[1:]
    return "/".join(parts)


class TarImages:
    """HPDv2's images inside `{split}.tar.gz`, extracted once into a cache folder.

    The archive is read as a stream front to back (gzip cannot seek), extracting the members asked
    for, with a progress bar over the compressed bytes; it stops as soon as it has them all, so a
    capped read only streams as far as its images. Extracted files stay in
    `cache_root()/hpdv2/<archive key>/` and are reused by later reads; a member the archive does
    not hold is known after one full pass."""

    def __init__(self, repo: DataRepo, tar_rel: str, split: str) -> None:
        self.repo, self.tar_rel, self.split = repo, tar_rel, split
        if isinstance(repo, LocalRepo):
            st = (repo.root / tar_rel).stat()
            key = f"{(repo.root / tar_rel).resolve()}|{st.st_size}|{st.st_mtime_ns}"
        else:
            key = f"hub|{repo.name}|{getattr(repo, 'revision', None) or 'main'}|{tar_rel}"
        self.dir = cache_root() / "hpdv2" / hashlib.sha1(key.encode()).hexdigest()[:16]
        self.complete = self.dir / ".complete"
        self.passes = 0
        """How many times the archive was streamed by this object."""

    def path(self, name: str) -> Path:
        return self.dir / name

    def ensure(self, names: Iterable[str]) -> None:
        """Extract the members `names` (paths relative to `{split}/`) that are not in the cache yet."""
        missing = {n for n in names if not self.path(n).is_file()}
        if not missing or self.complete.exists():
            return
        from tqdm.auto import tqdm

        self.dir.mkdir(parents=True, exist_ok=True)
        self.passes += 1
        with self.repo.open_stream(self.tar_rel) as raw:
            size = getattr(raw, "size", None) or _size(raw)
            with tqdm(total=size, unit="B", unit_scale=True, desc=f"HPDv2 {self.tar_rel}: extracting",
                      disable=None) as bar, tarfile.open(fileobj=_Counted(raw, bar), mode="r|*") as tf:
                for m in tf:
                    if not m.isfile():
                        continue
                    name = _member(m.name, self.split)
                    target = self.path(name)
                    if name in missing or not target.is_file():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        tmp = target.with_name(target.name + ".part")
                        with tf.extractfile(m) as src, open(tmp, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        tmp.replace(target)
                    missing.discard(name)
                    if not missing:
                        return
        self.complete.touch()  # one full pass: everything the archive holds is here

    def open(self, name: str):
        self.ensure([name])
        return decode_image_cell(str(self.path(name)))


def _size(f) -> int | None:
    try:
        return os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return None


class _Counted(io.RawIOBase):
    """A read-only stream that moves a progress bar by the bytes read."""

    def __init__(self, raw, bar) -> None:
        self.raw, self.bar = raw, bar

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.bar.update(n)
        return n


class FolderImages:
    """HPDv2's images already extracted under `{split}/` beside the JSON."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def ensure(self, names: Iterable[str]) -> None:
        pass

    def open(self, name: str):
        return decode_image_cell(str(self.folder / name))


def _hpdv2_pairs(rec: dict, is_test: bool, path_key: str) -> tuple[list[tuple[int, int]] | None, str | None]:
    """A record's (better, worse) index pairs, or None and the reason it is skipped."""
    paths = rec.get(path_key) or []
    labels = rec.get("rank" if is_test else "human_preference")
    if _missing(labels) or not labels or len(labels) != len(paths) or not rec.get("prompt"):
        return None, "missing_label"
    if is_test:
        pairs = list(_group_pairs(labels, better_low=True))
    else:
        winners = [k for k, v in enumerate(labels) if v == 1]
        if len(winners) != 1:
            return None, "tie"
        pairs = [(winners[0], k) for k in range(len(paths)) if k != winners[0]]
    return (pairs, None) if pairs else (None, "tie")


def read_hpdv2(path: "str | os.PathLike | DataRepo", split: str = "train", seed: int = 0, limit: int | None = None,
               skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """HPDv2: `train.json` (`prompt`, `image_path` or the older `file_path`, `human_preference`,
    1 = preferred) or `test.json` (`prompt`, `image_path`, `rank`, lower is better).

    Images (paths relative to `{split}/`) come from an extracted `{split}/` folder beside the JSON
    when there is one, otherwise straight from `{split}.tar.gz` (the published layout), extracted
    once into a cache (see `TarImages`); a capped read extracts only the images of the records it
    uses."""
    skips = skips if skips is not None else SkipLog()
    repo = open_repo(path)
    if isinstance(repo, LocalRepo) and repo.single is not None:
        json_rel = repo.single
    else:
        json_rel = f"{split}.json"
        if not repo.has(json_rel):
            raise FileNotFoundError(f"HPDv2: {json_rel} not found in {repo.name} (expected {split}.json)")
    records = read_json_records(repo.local(json_rel))
    is_test = bool(records) and "rank" in records[0] and "human_preference" not in records[0]
    path_key = "image_path"
    if records and not is_test and "image_path" not in records[0] and "file_path" in records[0]:
        path_key = "file_path"
    if records:
        required = HPDV2_TEST_COLUMNS if is_test else ("prompt", path_key, "human_preference")
        try:
            require_columns(records[0].keys(), required, "HPDv2", json_rel)
        except ColumnError as e:
            raise ColumnError(f"{e} (the train path list may be named image_path or file_path)") from None
    base = PurePosixPath(json_rel).parent
    folder = (base / split).as_posix()
    tar = next((t for t in ((base / f"{split}{ext}").as_posix() for ext in (".tar.gz", ".tgz", ".tar"))
                if repo.has(t)), None)
    if isinstance(repo, LocalRepo) and (repo.root / folder).is_dir():
        images = FolderImages(repo.root / folder)
    elif tar is not None:
        images = TarImages(repo, tar, split)
    elif isinstance(repo, LocalRepo):
        images = FolderImages(repo.root / base)  # images beside the JSON
    else:
        raise FileNotFoundError(f"HPDv2: {repo.name} has neither {folder}/ nor {split}.tar.gz")
    planned = []  # (record, pairs) or (None, skip reason)
    for rec in records:
        pairs, why = _hpdv2_pairs(rec, is_test, path_key)
        planned.append((rec, pairs) if pairs else (None, why))
    rng = random.Random(seed)

    def needed(upto: int | None) -> set[str]:
        names, n = set(), 0
        for rec, pairs in planned:
            if rec is None:
                continue
            names |= {rec[path_key][k] for pr in pairs for k in pr}
            n += len(pairs)
            if upto is not None and n >= upto:
                break
        return names

    def rows() -> Iterator[PreferencePair]:
        images.ensure(needed(limit))  # one pass over the archive for everything a capped read uses
        for rec, pairs in planned:
            if rec is None:
                skips.skip("hpdv2", pairs)
                continue
            paths = rec[path_key]
            try:
                imgs = {k: images.open(paths[k]) for k in {x for pr in pairs for x in pr}}
            except UndecodableImage:
                skips.skip("hpdv2", "undecodable_image")
                continue
            for i, j in pairs:
                yield _ordered(rec["prompt"], imgs[i], imgs[j], "hpdv2", "overall", rng)

    return _limited(rows(), limit)


# -- one entry for all -----------------------------------------------------------------------------------

READERS = {"pickapic": read_pickapic, "imagerewarddb": read_imagerewarddb, "hpdv2": read_hpdv2}


def read_preferences(source: str, path_or_id: "str | DataRepo | None", split: str = "train", seed: int = 0,
                     limit: int | None = None, skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """Pairs from `source` (pickapic, imagerewarddb, hpdv2): a local path, or a hub id (the dataset's
    own repository by default), whose files are fetched one by one as the reader reaches them."""
    if source not in READERS:
        raise ValueError(f"unknown preference source {source!r}: use one of {sorted(READERS)}")
    repo = open_repo(path_or_id or HUB_IDS[source])
    return READERS[source](repo, split=split, seed=seed, limit=limit, skips=skips)

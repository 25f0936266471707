"""Adapters from Pick-a-Pic v2, ImageRewardDB and HPDv2 into `PreferencePair`s.

Each reads local files in the dataset's published layout (or a hub id, fetched as raw files),
randomises the order of the two images in every pair (seeded), drops ties and skips bad rows
(undecodable image, missing label) with a count in a `SkipLog` instead of failing.
"""

from __future__ import annotations

import itertools
import math
import os
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from reward_models.data.files import (
    find_files,
    hub_snapshot,
    is_local,
    iter_parquet_rows,
    parquet_columns,
    read_json_records,
)
from reward_models.data.images import UndecodableImage, decode_image
from reward_models.data.schema import PreferencePair, SkipLog, require_columns

PICKAPIC_COLUMNS = ("caption", "jpg_0", "jpg_1", "label_0", "label_1")
IMAGEREWARDDB_COLUMNS = ("image_path", "prompt_id", "prompt", "rank")
IMAGEREWARDDB_RATINGS = {"alignment": "image_text_alignment_rating", "fidelity": "fidelity_rating"}
HPDV2_TRAIN_COLUMNS = ("prompt", "file_path", "human_preference")
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


def read_pickapic(path: str | os.PathLike, split: str = "train", seed: int = 0, limit: int | None = None,
                  skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """Pick-a-Pic v2 parquet (`caption`, `jpg_0`, `jpg_1`, `label_0`, `label_1`); ties (0.5) are dropped."""
    skips = skips if skips is not None else SkipLog()
    files = find_files(path, (".parquet",), split)
    require_columns(parquet_columns(files), PICKAPIC_COLUMNS, "Pick-a-Pic v2", str(files[0]))
    rng = random.Random(seed)

    def rows() -> Iterator[PreferencePair]:
        for row in iter_parquet_rows(files, [*PICKAPIC_COLUMNS, "has_label", "are_different"]):
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
                img0, img1 = decode_image(row["jpg_0"]), decode_image(row["jpg_1"])
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


def read_imagerewarddb(path: str | os.PathLike, split: str = "train", seed: int = 0, limit: int | None = None,
                       aspects: Iterable[str] = ("overall", "alignment", "fidelity"),
                       skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """ImageRewardDB: per-prompt groups (`metadata-{split}.parquet` or a JSON list of per-image records).

    `rank` (lower is better) gives overall pairs; `image_text_alignment_rating` and
    `fidelity_rating` (higher is better) give alignment and fidelity pairs. Images are read
    from `image_path` relative to the dataset folder (plain files or the published zips).
    """
    skips = skips if skips is not None else SkipLog()
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    files = find_files(path, (".parquet", ".json", ".jsonl"), split)
    files = [f for f in files if f.suffix == ".parquet" or "metadata" in f.name or split in f.name] or files
    records = []
    for f in files:
        recs = list(iter_parquet_rows([f])) if f.suffix == ".parquet" else read_json_records(f)
        if recs:
            require_columns(recs[0].keys(), IMAGEREWARDDB_COLUMNS, "ImageRewardDB", str(f))
        records += recs
    groups: dict = defaultdict(list)
    for rec in records:
        groups[rec["prompt_id"]].append(rec)
    rng = random.Random(seed)
    aspects = list(aspects)

    def rows() -> Iterator[PreferencePair]:
        for _, group in sorted(groups.items(), key=lambda kv: str(kv[0])):
            cache: dict[int, object] = {}

            def image(k):
                if k not in cache:
                    try:
                        cache[k] = decode_image(group[k]["image_path"], root)
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


def read_imagerewarddb_ratings(path: str | os.PathLike, split: str = "train", limit: int | None = None,
                               aspects: Iterable[str] = ("overall", "alignment", "fidelity"),
                               skips: SkipLog | None = None) -> Iterator[RatedImage]:
    """ImageRewardDB's absolute ratings, one `RatedImage` per (image, aspect): `overall_rating`,
    `image_text_alignment_rating` and `fidelity_rating` (1-7, higher is better). Pointwise
    targets that pairs cannot give: an image's own level, not only its order within the group."""
    skips = skips if skips is not None else SkipLog()
    root = Path(path) if Path(path).is_dir() else Path(path).parent
    files = find_files(path, (".parquet", ".json", ".jsonl"), split)
    files = [f for f in files if f.suffix == ".parquet" or "metadata" in f.name or split in f.name] or files
    aspects = list(aspects)

    def rows() -> Iterator[RatedImage]:
        for f in files:
            recs = list(iter_parquet_rows([f])) if f.suffix == ".parquet" else read_json_records(f)
            if recs:
                require_columns(recs[0].keys(), ("image_path", "prompt"), "ImageRewardDB", str(f))
            for rec in recs:
                wanted = [(a, rec.get(IMAGEREWARDDB_RATING_COLUMNS[a])) for a in aspects]
                wanted = [(a, r) for a, r in wanted if not _missing(r)]
                if not wanted or not rec.get("prompt"):
                    skips.skip("imagerewarddb", "missing_rating")
                    continue
                try:
                    img = decode_image(rec["image_path"], root)
                except UndecodableImage:
                    skips.skip("imagerewarddb", "undecodable_image")
                    continue
                for a, r in wanted:
                    yield RatedImage(rec["prompt"], img, a, float(r))

    return _limited(rows(), limit)


# -- HPDv2 --------------------------------------------------------------------------------------------


def read_hpdv2(path: str | os.PathLike, split: str = "train", seed: int = 0, limit: int | None = None,
               skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """HPDv2: `train.json` (`prompt`, `file_path`, `human_preference`, 1 = preferred) or `test.json`
    (`prompt`, `image_path`, `rank`, lower is better). Images are under `{split}/` beside the JSON."""
    skips = skips if skips is not None else SkipLog()
    p = Path(path)
    json_file = p if p.is_file() else p / f"{split}.json"
    if not json_file.exists():
        raise FileNotFoundError(f"HPDv2: {json_file} not found (expected {split}.json in {path})")
    root = json_file.parent
    records = read_json_records(json_file)
    is_test = bool(records) and "rank" in records[0] and "human_preference" not in records[0]
    required = HPDV2_TEST_COLUMNS if is_test else HPDV2_TRAIN_COLUMNS
    if records:
        require_columns(records[0].keys(), required, "HPDv2", str(json_file))
    rng = random.Random(seed)
    image_root = root / split if (root / split).is_dir() else root

    def rows() -> Iterator[PreferencePair]:
        for rec in records:
            paths = rec.get("image_path" if is_test else "file_path") or []
            labels = rec.get("rank" if is_test else "human_preference")
            if _missing(labels) or not labels or len(labels) != len(paths) or not rec.get("prompt"):
                skips.skip("hpdv2", "missing_label")
                continue
            if is_test:
                pairs = list(_group_pairs(labels, better_low=True))
            else:
                winners = [k for k, v in enumerate(labels) if v == 1]
                if len(winners) != 1:
                    skips.skip("hpdv2", "tie")
                    continue
                pairs = [(winners[0], k) for k in range(len(paths)) if k != winners[0]]
            if not pairs:
                skips.skip("hpdv2", "tie")
                continue
            try:
                imgs = {k: decode_image(paths[k], image_root) for k in {x for pr in pairs for x in pr}}
            except UndecodableImage:
                skips.skip("hpdv2", "undecodable_image")
                continue
            for i, j in pairs:
                yield _ordered(rec["prompt"], imgs[i], imgs[j], "hpdv2", "overall", rng)

    return _limited(rows(), limit)


# -- one entry for all -----------------------------------------------------------------------------------

READERS = {"pickapic": read_pickapic, "imagerewarddb": read_imagerewarddb, "hpdv2": read_hpdv2}


def read_preferences(source: str, path_or_id: str | None, split: str = "train", seed: int = 0,
                     limit: int | None = None, skips: SkipLog | None = None) -> Iterator[PreferencePair]:
    """Pairs from `source` (pickapic, imagerewarddb, hpdv2): a local path, or a hub id when there is network."""
    if source not in READERS:
        raise ValueError(f"unknown preference source {source!r}: use one of {sorted(READERS)}")
    where = path_or_id or HUB_IDS[source]
    if not is_local(where):
        patterns = {
            "pickapic": [f"data/{split}-*"],
            "imagerewarddb": [f"metadata-{split}.parquet", f"images/{split}/*"],
            "hpdv2": [f"{split}.json", f"{split}.tar.gz", f"{split}/*"],
        }[source]
        where = str(hub_snapshot(where, patterns))
    return READERS[source](where, split=split, seed=seed, limit=limit, skips=skips)

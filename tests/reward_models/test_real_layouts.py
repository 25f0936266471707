"""Every adapter reads a fixture in its dataset's real layout (the `synthetic` writers) and gets the
pair / example counts computed here independently from the raw files; split names are matched
whole; a capped read fetches only the files it uses, from a local folder and through the hub code
path (an offline hub cache in the `huggingface_hub` layout, read by the real library)."""

from __future__ import annotations

import io
import itertools
import json
import shutil
import tarfile
import zipfile
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from reward_models.data import ColumnError, SkipLog, read_edits, read_preferences
from reward_models.data.files import HubRepo, LocalRepo, SplitNotFound, open_repo
from reward_models.data.preference import read_imagerewarddb_ratings
from synthetic import write_hpdv2, write_humanedit, write_imagerewarddb, write_pickapic, write_ultraedit

# -- independent counts from the raw files ---------------------------------------------------------------


def _pickapic_pairs(files) -> int:
    """Rows with a label that is not a tie, read straight from the parquet files."""
    n = 0
    for f in files:
        for r in pq.read_table(f, columns=["label_0", "label_1", "has_label"]).to_pylist():
            n += r["has_label"] and r["label_0"] is not None and r["label_0"] != r["label_1"]
    return n


def _distinct_pairs(values) -> int:
    return sum(a != b for a, b in itertools.combinations(values, 2))


def _irdb_pairs(metadata: Path) -> dict[str, int]:
    return _irdb_pairs_of(pq.read_table(metadata).to_pylist())


def _irdb_pairs_of(rows) -> dict[str, int]:
    """Per aspect, pairs of images of one prompt whose rank (or rating) differs."""
    groups = defaultdict(list)
    for r in rows:
        groups[r["prompt_id"]].append(r)
    cols = {"overall": "rank", "alignment": "image_text_alignment_rating", "fidelity": "fidelity_rating"}
    return {a: sum(_distinct_pairs([r[c] for r in g]) for g in groups.values()) for a, c in cols.items()}


def _by_aspect(pairs) -> dict[str, int]:
    out = defaultdict(int)
    for p in pairs:
        out[p.aspect] += 1
    return dict(out)


def _hub_cache(cache: Path, repo_id: str, folder: Path) -> None:
    """`folder` as the cached snapshot of dataset `repo_id` in the huggingface_hub cache layout."""
    base = cache / f"datasets--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    shutil.copytree(folder, base / "snapshots" / commit)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An offline hub cache: datasets put there are read by hub id through HubRepo."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("REWARD_MODELS_CACHE", str(tmp_path / "extracted"))
    return lambda repo_id, folder: _hub_cache(cache, repo_id, folder)


# -- Pick-a-Pic v2 ------------------------------------------------------------------------------------------


def test_pickapic_all_splits_whole_names_and_counts(tmp_path):
    root = tmp_path / "pickapic"
    write_pickapic(root, 60, seed=1, rows_per_shard=16, eval_rows=12)
    data = root / "data"
    by_split = {s: sorted(data.glob(f"{s}-*.parquet"))
                for s in ("train", "validation", "test", "validation_unique", "test_unique")}
    assert len(by_split["train"]) == 4 and all(by_split.values())
    for split, files in by_split.items():
        got = list(read_preferences("pickapic", str(root), split=split))
        assert len(got) == _pickapic_pairs(files) > 0, split
    # `test` alone, not test + test_unique (a substring match read both)
    assert _pickapic_pairs(by_split["test"]) != _pickapic_pairs(by_split["test"] + by_split["test_unique"])
    with pytest.raises(SplitNotFound, match=r"'dev'.*test_unique"):
        read_preferences("pickapic", str(root), split="dev")
    # a train-only folder asked for test fails instead of reading train
    only_train = tmp_path / "only_train" / "data"
    only_train.mkdir(parents=True)
    for f in by_split["train"]:
        shutil.copy(f, only_train)
    with pytest.raises(SplitNotFound, match="'test'"):
        read_preferences("pickapic", str(only_train.parent), split="test")


def test_pickapic_fixture_is_what_datasets_sees_on_the_hub(tmp_path):
    """The real `datasets` library infers the five splits from the fixture's file names."""
    import datasets

    root = tmp_path / "pickapic"
    write_pickapic(root, 20, seed=2, eval_rows=4)
    ds = datasets.load_dataset(str(root), cache_dir=str(tmp_path / "hf"))
    assert set(ds) == {"train", "validation", "test", "validation_unique", "test_unique"}
    assert ds.num_rows["train"] == 20 and ds.num_rows["test"] == 4


def _needed_shards(files, limit) -> int:
    total = 0
    for k, f in enumerate(files, 1):
        total += _pickapic_pairs([f])
        if total >= limit:
            return k
    return len(files)


def test_capped_pickapic_read_fetches_only_the_shards_it_uses(tmp_path, offline_hub):
    root = tmp_path / "pickapic"
    write_pickapic(root, 80, seed=3, rows_per_shard=8, eval_rows=2)
    train = sorted((root / "data").glob("train-*.parquet"))
    assert len(train) == 10
    limit = 11
    k = _needed_shards(train, limit)
    assert k == 2
    local = LocalRepo(root)
    assert len(list(read_preferences("pickapic", local, limit=limit))) == limit
    assert local.fetched == [f"data/{f.name}" for f in train[:k]]
    # the hub code path: hub id -> list the repo's files -> fetch only the shards needed
    offline_hub("yuvalkirstain/pickapic_v2", root)
    hub = open_repo("yuvalkirstain/pickapic_v2")
    assert isinstance(hub, HubRepo) and hub.local_files_only
    got = list(read_preferences("pickapic", hub, limit=limit))
    assert len(got) == limit and hub.fetched == local.fetched
    full = LocalRepo(root)
    assert len(list(read_preferences("pickapic", full))) == _pickapic_pairs(train)
    assert full.fetched == [f"data/{f.name}" for f in train]
    # None means the dataset's own hub id
    assert len(list(read_preferences("pickapic", None, limit=3))) == 3


# -- ImageRewardDB ------------------------------------------------------------------------------------------


def test_imagerewarddb_zips_counted_once_in_every_layout(tmp_path):
    root = tmp_path / "irdb"
    meta, *zips = write_imagerewarddb(root, 7, seed=4, prompts_per_zip=3)
    want = _irdb_pairs(meta)
    n_images = pq.read_metadata(meta).num_rows
    assert len(zips) == 3 and sum(want.values()) > 0

    def check(folder: Path) -> None:
        skips = SkipLog()
        assert _by_aspect(read_preferences("imagerewarddb", str(folder), skips=skips)) == want
        assert skips.total == 0, skips
        assert len(list(read_imagerewarddb_ratings(str(folder)))) == 3 * n_images

    check(root)  # the published layout: metadata + zips
    # the common recipe: unzip each zip into a folder of its name, which leaves {split}_k.json inside
    unzipped = tmp_path / "unzipped"
    shutil.copytree(root, unzipped)
    for z in sorted((unzipped / "images" / "train").glob("*.zip")):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(z.with_suffix(""))
        z.unlink()
    assert len(list(unzipped.rglob("train_*.json"))) == 3
    check(unzipped)
    # without the metadata parquet: the per-zip JSONs, loose or inside the zips, each image once
    for folder in (unzipped, root):
        (folder / "metadata-train.parquet").unlink()
        check(folder)
    with pytest.raises(SplitNotFound, match="validation"):
        read_preferences("imagerewarddb", str(root), split="validation")


def test_imagerewarddb_duplicate_records_are_dropped(tmp_path):
    root = tmp_path / "irdb"
    meta, *_ = write_imagerewarddb(root, 3, seed=5)
    want = _irdb_pairs(meta)
    rows = pq.read_table(meta).to_pylist()
    (root / "metadata-train.parquet").unlink()
    (root / "train.json").write_text(json.dumps(rows + rows[:4]))  # four records twice
    skips = SkipLog()
    assert _by_aspect(read_preferences("imagerewarddb", str(root), skips=skips)) == want
    assert skips.as_dict() == {"imagerewarddb:duplicate_record": 4}


def test_imagerewarddb_by_hub_id_pairs_and_ratings_fetch_only_needed_zips(tmp_path, offline_hub):
    root = tmp_path / "irdb"
    meta, *zips = write_imagerewarddb(root, 8, seed=6, prompts_per_zip=2)
    assert len(zips) == 4
    offline_hub("THUDM/ImageRewardDB", root)
    first = [r for r in pq.read_table(meta).to_pylist() if r["image_path"].startswith("images/train/train_1/")]
    in_first = sum(_irdb_pairs_of(first).values())
    hub = HubRepo("THUDM/ImageRewardDB")
    pairs = list(read_preferences("imagerewarddb", hub, limit=in_first))
    assert len(pairs) == in_first
    assert hub.fetched == ["metadata-train.parquet", "images/train/train_1.zip"]
    # ratings by the same hub id (it raised FileNotFoundError while pairs accepted the id)
    ratings = HubRepo("THUDM/ImageRewardDB")
    got = list(read_imagerewarddb_ratings(ratings, limit=3 * len(first)))
    assert len(got) == 3 * len(first) and ratings.fetched == hub.fetched
    assert len(list(read_imagerewarddb_ratings("THUDM/ImageRewardDB"))) == 3 * pq.read_metadata(meta).num_rows
    assert _by_aspect(read_preferences("imagerewarddb", "THUDM/ImageRewardDB")) == _irdb_pairs(meta)


# -- HPDv2 ---------------------------------------------------------------------------------------------------


def _tar_files(tar: Path) -> dict[str, bytes]:
    with tarfile.open(tar) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}


def test_hpdv2_reads_images_straight_from_the_tar(tmp_path, monkeypatch):
    cache = tmp_path / "extracted"
    monkeypatch.setenv("REWARD_MODELS_CACHE", str(cache))
    root = tmp_path / "hpdv2"
    train_json, train_tar = write_hpdv2(root, 12, seed=7)
    test_json, _ = write_hpdv2(root, 4, seed=7, split="test")
    assert not (root / "train").exists() and not (root / "test").exists()
    train = json.loads(train_json.read_text())
    want_train = sum(len(r["image_path"]) - 1 for r in train if r["human_preference"].count(1) == 1)
    want_test = sum(_distinct_pairs(r["rank"]) for r in json.loads(test_json.read_text()))
    pairs = list(read_preferences("hpdv2", str(root), seed=0))
    assert len(pairs) == want_train == 12
    assert len(list(read_preferences("hpdv2", str(root), split="test"))) == want_test > 0
    # the preferred image is the tar member the JSON marks with 1
    members = _tar_files(train_tar)
    for rec, p in zip(train, pairs):
        best = rec["image_path"][rec["human_preference"].index(1)]
        preferred = p.image_a if p.label == 1 else p.image_b
        assert preferred.tobytes() == Image.open(io.BytesIO(members[f"train/{best}"])).convert("RGB").tobytes()
    # extracted once: a second read rewrites nothing
    extracted = {f: f.stat().st_mtime_ns for f in cache.rglob("*.png")}
    assert len(extracted) == 24 + sum(len(r["image_path"]) for r in json.loads(test_json.read_text()))
    assert len(list(read_preferences("hpdv2", str(root)))) == 12
    assert len(list(read_preferences("hpdv2", str(train_json)))) == 12  # the JSON by name, its tar beside it
    assert {f: f.stat().st_mtime_ns for f in cache.rglob("*.png")} == extracted


def test_hpdv2_older_file_path_key_and_capped_extraction(tmp_path, monkeypatch):
    monkeypatch.setenv("REWARD_MODELS_CACHE", str(tmp_path / "extracted"))
    old = tmp_path / "old"
    write_hpdv2(old, 10, seed=8, path_key="file_path")
    assert len(list(read_preferences("hpdv2", str(old)))) == 10
    cache = tmp_path / "capped"
    monkeypatch.setenv("REWARD_MODELS_CACHE", str(cache))
    assert len(list(read_preferences("hpdv2", str(old), limit=3))) == 3
    assert len(list(cache.rglob("*.png"))) == 6  # three records' two images, nothing else
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "train.json").write_text(json.dumps([{"prompt": "x", "paths": ["a"], "human_preference": [1]}]))
    with pytest.raises(ColumnError, match="image_path or file_path"):
        read_preferences("hpdv2", str(bad))


def test_hpdv2_by_hub_id(tmp_path, offline_hub):
    root = tmp_path / "hpdv2"
    write_hpdv2(root, 6, seed=9)
    offline_hub("ymhao/HPDv2", root)
    hub = HubRepo("ymhao/HPDv2")
    assert len(list(read_preferences("hpdv2", hub))) == 6
    assert hub.fetched == ["train.json", "train.tar.gz"]


# -- edit datasets ---------------------------------------------------------------------------------------------


def test_ultraedit_splits_null_columns_and_default_split(tmp_path):
    root = tmp_path / "ultraedit"
    splits = tuple(f"FreeForm_{j}" for j in range(11))
    write_ultraedit(root, 33, seed=10, splits=splits)
    files = {s: sorted((root / "data").glob(f"{s}-*.parquet")) for s in splits}
    t = pq.read_table(files["FreeForm_0"][0])
    assert all(t.column(c).null_count == t.num_rows > 0 for c in ("edit_object", "mask_image"))
    rows = {s: pq.read_table(fs[0], columns=["idx"]).column("idx").to_pylist() for s, fs in files.items()}
    # train (the trainers' default) means the free-form splits: all 33 rows
    assert sorted(e.meta["idx"] for e in read_edits("ultraedit", str(root))) == list(range(33))
    # FreeForm_1 is not FreeForm_10
    assert [e.meta["idx"] for e in read_edits("ultraedit", str(root), split="FreeForm_1")] == rows["FreeForm_1"]
    assert len(rows["FreeForm_1"]) == 3
    with pytest.raises(SplitNotFound, match="RegionBased"):
        read_edits("ultraedit", str(root), split="RegionBased")
    # UltraEdit_500k: one split, FreeForm
    big = tmp_path / "ultraedit_500k"
    write_ultraedit(big, 9, seed=11, splits=("FreeForm",), null_columns=False, rows_per_shard=2)
    assert len(list(read_edits("ultraedit", str(big)))) == 9
    repo = LocalRepo(big)
    assert len(list(read_edits("ultraedit", repo, limit=3))) == 3
    assert len(repo.fetched) == 2  # shards of two rows: the cap fetched two of five


def test_humanedit_real_layout_counts(tmp_path, offline_hub):
    root = tmp_path / "humanedit"
    (path,) = write_humanedit(root, 10, seed=12)
    assert path.relative_to(root).as_posix().startswith("data/train-")
    assert len(list(read_edits("humanedit", str(root)))) == pq.read_metadata(path).num_rows == 10
    offline_hub("BryanW/HumanEdit", root)
    assert len(list(read_edits("humanedit", "BryanW/HumanEdit"))) == 10

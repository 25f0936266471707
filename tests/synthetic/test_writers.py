"""Writers produce the real datasets' layouts; outputs re-read and are consistent with the truth."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from synthetic import matches, parse_caption, preference_pairs
from synthetic.writers import (
    IMAGE_STRUCT,
    jpeg_bytes,
    write_candidates,
    write_hpdv2,
    write_humanedit,
    write_imagerewarddb,
    write_pickapic,
    write_ultraedit,
    write_understanding,
    write_vqa,
)

PICKAPIC_TYPES = {
    "are_different": pa.bool_(), "best_image_uid": pa.string(), "caption": pa.string(),
    "created_at": pa.timestamp("ns"), "has_label": pa.bool_(), "image_0_uid": pa.string(),
    "image_0_url": pa.string(), "image_1_uid": pa.string(), "image_1_url": pa.string(), "jpg_0": pa.binary(),
    "jpg_1": pa.binary(), "label_0": pa.float64(), "label_1": pa.float64(), "model_0": pa.string(),
    "model_1": pa.string(), "ranking_id": pa.int64(), "user_id": pa.int64(),
    "num_example_per_prompt": pa.int64(), "__index_level_0__": pa.int64(),
}


def _types(path: Path) -> dict[str, pa.DataType]:
    schema = pq.read_schema(path)
    return {f.name: f.type for f in schema}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def _img(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_pickapic_layout_and_labels(tmp_path):
    n = 40
    paths = write_pickapic(tmp_path, n, seed=2)
    path = paths[0]
    assert [p.name.rsplit("-", 1)[0] for p in paths] == [
        f"{s}-00000-of-00001" for s in ("train", "validation", "validation_unique", "test", "test_unique")]
    assert all(p.parent == tmp_path / "data" and _types(p) == PICKAPIC_TYPES for p in paths)
    assert _types(path) == PICKAPIC_TYPES and list(_types(path)) == list(PICKAPIC_TYPES)
    rows = pq.read_table(path).to_pylist()
    pairs = preference_pairs(n, seed=2)
    ties = [r for r in rows if r["label_0"] == 0.5]
    assert len(ties) == 2 and all(r["label_1"] == 0.5 for r in ties)
    for r, p in zip(rows, pairs):
        assert r["caption"] == p.prompt and r["label_0"] + r["label_1"] == 1.0
        if r["label_0"] == 0.5:
            continue
        best = 0 if r["label_0"] == 1.0 else 1
        assert r[f"jpg_{best}"] == jpeg_bytes(p.preferred) and r[f"jpg_{1 - best}"] == jpeg_bytes(p.rejected)
        assert r["best_image_uid"] == r[f"image_{best}_uid"]
        if p.mode == "instruction_alignment":
            assert matches(_img(r[f"jpg_{best}"]), r["caption"])["all_ok"]
            assert not matches(_img(r[f"jpg_{1 - best}"]), r["caption"])["all_ok"]
    assert {r["label_0"] for r in rows} == {0.0, 0.5, 1.0}  # the preferred side is randomised


def test_imagerewarddb_layout(tmp_path):
    path, *zips = write_imagerewarddb(tmp_path, 12, seed=3, prompts_per_zip=5)
    assert path == tmp_path / "metadata-train.parquet"
    assert [z.relative_to(tmp_path).as_posix() for z in zips] == [f"images/train/train_{k}.zip" for k in (1, 2, 3)]
    members = {}
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            names = zf.namelist()
            assert all("/" not in m for m in names) and f"{z.stem}.json" in names  # flat, JSON inside
            members.update({f"images/train/{z.stem}/{m}": zf.read(m) for m in names})
    assert _types(path) == {
        "image_path": pa.string(), "prompt_id": pa.string(), "prompt": pa.string(), "classification": pa.string(),
        "image_amount_in_total": pa.int64(), "rank": pa.int64(), "overall_rating": pa.int64(),
        "image_text_alignment_rating": pa.int64(), "fidelity_rating": pa.int64(),
    }
    rows = pq.read_table(path).to_pylist()
    by_prompt: dict[str, list] = {}
    for r in rows:
        assert r["image_path"].startswith("images/train/train_")
        Image.open(io.BytesIO(members[r["image_path"]])).load()
        by_prompt.setdefault(r["prompt_id"], []).append(r)
    assert len(by_prompt) == 12
    for group in by_prompt.values():
        assert all(r["image_amount_in_total"] == len(group) for r in group)
        for a in group:
            for b in group:
                assert (a["rank"] < b["rank"]) == (a["overall_rating"] > b["overall_rating"])
        best = min(group, key=lambda r: r["rank"])
        assert best["rank"] == 1
        assert matches(Image.open(io.BytesIO(members[best["image_path"]])).convert("RGB"), best["prompt"])["all_ok"]
    in_zips = [r for z in zips for r in json.loads(members[f"images/train/{z.stem}/{z.stem}.json"])]
    assert in_zips == rows and not list(tmp_path.rglob("*.webp"))


def test_hpdv2_layout(tmp_path):
    train, tar = write_hpdv2(tmp_path, 10, seed=4)
    assert tar == tmp_path / "train.tar.gz" and not (tmp_path / "train").exists()
    with tarfile.open(tar) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
    pairs = preference_pairs(10, seed=4)
    for rec, p in zip(json.loads(train.read_text()), pairs):
        assert set(rec) == {"human_preference", "prompt", "image_path"} and rec["prompt"] == p.prompt
        assert sorted(rec["human_preference"]) == [0, 1] and len(rec["image_path"]) == 2
        best = rec["image_path"][rec["human_preference"].index(1)]
        assert Image.open(io.BytesIO(files[f"train/{best}"])).tobytes() == p.preferred.tobytes()
    old, _ = write_hpdv2(tmp_path / "old", 3, seed=4, path_key="file_path")
    assert all(set(rec) == {"human_preference", "prompt", "file_path"} for rec in json.loads(old.read_text()))
    test, tar = write_hpdv2(tmp_path, 6, seed=4, split="test")
    assert test == tmp_path / "test.json"
    with tarfile.open(tar) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf if m.isfile()}
    for rec in json.loads(test.read_text()):
        assert set(rec) == {"prompt", "image_path", "rank", "raw_annotations"}
        assert sorted(rec["rank"]) == list(range(len(rec["image_path"])))
        assert all(sorted(a["rank"]) == sorted(rec["rank"]) and a["user_hash"] for a in rec["raw_annotations"])
        best = rec["image_path"][rec["rank"].index(0)]
        assert matches(Image.open(io.BytesIO(files[f"test/{best}"])).convert("RGB"), rec["prompt"])["all_ok"]


def test_humanedit_layout(tmp_path):
    (path,) = write_humanedit(tmp_path, 12, seed=5)
    assert path == tmp_path / "data" / "train-00000-of-00001.parquet"
    assert _types(path) == {
        "IMAGE_ID": pa.string(), "EDITING_TYPE": pa.string(), "CORE": pa.int32(), "MASK": pa.int32(),
        "EDITING_INSTRUCTION": pa.string(), "OUTPUT_DESCRIPTION": pa.string(),
        "INPUT_CAPTION_BY_LLAMA": pa.string(), "OUTPUT_CAPTION_BY_LLAMA": pa.string(),
        "INPUT_IMG": IMAGE_STRUCT, "MASK_IMG": IMAGE_STRUCT, "OUTPUT_IMG": IMAGE_STRUCT,
    }
    for r in pq.read_table(path).to_pylist():
        src, out, mask = (_img(r[k]["bytes"]) for k in ("INPUT_IMG", "OUTPUT_IMG", "MASK_IMG"))
        assert r["EDITING_TYPE"] in {"Add", "Remove", "Replace", "Relation"}
        assert matches(src, r["INPUT_CAPTION_BY_LLAMA"])["all_ok"] and matches(out, r["OUTPUT_DESCRIPTION"])["all_ok"]
        assert mask.getextrema()[0][1] == 255
        parse_caption(r["OUTPUT_CAPTION_BY_LLAMA"])


def test_candidates_layout_truth_and_hf_loading(tmp_path):
    paths = write_candidates(tmp_path, 30, seed=6, shards=3)
    assert [p.name for p in paths] == [f"candidates-{k:05d}.parquet" for k in range(3)] + ["truth.parquet"]
    want = {"sample_id": pa.string(), "task": pa.string(), "prompt": pa.string(), "image": IMAGE_STRUCT,
            "source_image": IMAGE_STRUCT, "source": pa.string(), "meta": pa.string()}
    rows = []
    for p in paths[:-1]:
        assert _types(p) == want
        rows += pq.read_table(p).to_pylist()
    truth = pq.read_table(paths[-1]).to_pylist()
    assert _types(paths[-1]) == {"sample_id": pa.string(), "task": pa.string(), "planted_mode": pa.string(),
                                 "fault": pa.string(), "clean": pa.bool_()}
    assert [t["sample_id"] for t in truth] == [r["sample_id"] for r in rows]
    for r, t in zip(rows, truth):
        m = json.loads(r["meta"])
        assert (t["planted_mode"], t["fault"], t["clean"]) == (m["planted_mode"], m["fault"], m["clean"])
        assert r["image"]["path"] is None and (r["source_image"] is None) == (r["task"] == "t2i")
    import datasets

    ds = datasets.load_dataset("parquet", data_files=[str(p) for p in paths[:-1]], split="train",
                               cache_dir=str(tmp_path / "hf_cache"))
    assert len(ds) == 30 and set(ds.column_names) == set(want)


def test_vqa_and_understanding_layout(tmp_path):
    (vqa,) = write_vqa(tmp_path / "vqa", 10, seed=7)
    (und,) = write_understanding(tmp_path / "und", 10, seed=7, split="validation")
    assert vqa.name == "train-00000-of-00001.parquet" and und.name == "validation-00000-of-00001.parquet"
    assert _types(vqa)["image"] == IMAGE_STRUCT and {"text", "label"} <= set(_types(vqa))
    assert {"image", "question", "answer"} <= set(_types(und))
    for r in pq.read_table(vqa).to_pylist():
        assert matches(_img(r["image"]["bytes"]), r["text"])["all_ok"] == (r["label"] == "yes")
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(und), split="train", cache_dir=str(tmp_path / "hf_cache"))
    assert ds[0]["image"].size == (64, 64)  # the HF Image feature in the metadata decodes it


def test_writers_are_byte_deterministic(tmp_path):
    for name, write, kw in [
        ("cand", write_candidates, {}),
        ("pick", write_pickapic, {}),
        ("irdb", write_imagerewarddb, {}),
        ("hpd", write_hpdv2, {}),
        ("hpdt", write_hpdv2, {"split": "test"}),
        ("he", write_humanedit, {}),
        ("ue", write_ultraedit, {}),
    ]:
        write(tmp_path / f"{name}_a", 8, 11, **kw)
        write(tmp_path / f"{name}_b", 8, 11, **kw)
        write(tmp_path / f"{name}_c", 8, 12, **kw)
        assert _digest(tmp_path / f"{name}_a") == _digest(tmp_path / f"{name}_b")
        assert _digest(tmp_path / f"{name}_a") != _digest(tmp_path / f"{name}_c")


def test_cli_writes_a_set(tmp_path, capsys):
    from pipelines.make_world import main

    paths = main(["--set", "candidates", "--n", "12", "--seed", "1", "--size", "48", "--out", str(tmp_path / "c")])
    assert paths[-1] == tmp_path / "c" / "truth.parquet"
    assert "wrote" in capsys.readouterr().out
    truth = {t["sample_id"]: t for t in pq.read_table(paths[-1]).to_pylist()}
    row = next(r for r in pq.read_table(paths[0]).to_pylist() if truth[r["sample_id"]]["clean"])
    assert _img(row["image"]["bytes"]).size == (48, 48)


def test_cli_as_subprocess(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "pipelines" / "make_world.py"), "--set", "hpdv2", "--n", "3", "--seed", "0",
         "--out", str(tmp_path / "h"), "--split", "test"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    assert "test.json" in out.stdout and (tmp_path / "h" / "test.json").exists()

"""World sets on disk, in the exact layouts of the real datasets (Pick-a-Pic v2, ImageRewardDB,
HPDv2, HumanEdit, UltraEdit) and the project's own (candidates, VQA, understanding); the rows
come from `synthetic.sets`. Same seed + arguments => byte-identical files.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from .faults import nearly_unchanged
from .sets import (
    _plan,
    _rng,
    _uid,
    candidates,
    edit_triplets,
    imagereward_groups,
    png_bytes,
    preference_pairs,
    understanding_rows,
    vqa_rows,
)

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
HUMANEDIT_TYPES = {"change_colour": "Replace", "add": "Add", "remove": "Remove", "move": "Relation"}


def jpeg_bytes(image: Image.Image, quality: int = 95) -> bytes:
    """JPEG at 4:4:4 so 14-px objects keep their colour edges."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def _hf_features(features: dict[str, Any]) -> dict[bytes, bytes]:
    """Parquet schema metadata the `datasets` library reads to decode image structs as images."""
    return {b"huggingface": json.dumps({"info": {"features": features}}, sort_keys=True).encode()}


def _value(dtype: str) -> dict[str, str]:
    return {"dtype": dtype, "_type": "Value"}


def _write(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _image_cell(image: Image.Image | bytes | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {"bytes": image if isinstance(image, bytes) else png_bytes(image), "path": None}


PICKAPIC_SCHEMA = pa.schema([
    ("are_different", pa.bool_()), ("best_image_uid", pa.string()), ("caption", pa.string()),
    ("created_at", pa.timestamp("ns")), ("has_label", pa.bool_()), ("image_0_uid", pa.string()),
    ("image_0_url", pa.string()), ("image_1_uid", pa.string()), ("image_1_url", pa.string()),
    ("jpg_0", pa.binary()), ("jpg_1", pa.binary()), ("label_0", pa.float64()), ("label_1", pa.float64()),
    ("model_0", pa.string()), ("model_1", pa.string()), ("ranking_id", pa.int64()), ("user_id", pa.int64()),
    ("num_example_per_prompt", pa.int64()), ("__index_level_0__", pa.int64()),
])
IMAGEREWARDDB_SCHEMA = pa.schema([
    ("image_path", pa.string()), ("prompt_id", pa.string()), ("prompt", pa.string()), ("classification", pa.string()),
    ("image_amount_in_total", pa.int64()), ("rank", pa.int64()), ("overall_rating", pa.int64()),
    ("image_text_alignment_rating", pa.int64()), ("fidelity_rating", pa.int64()),
])
HUMANEDIT_SCHEMA = pa.schema(
    [("IMAGE_ID", pa.string()), ("EDITING_TYPE", pa.string()), ("CORE", pa.int32()), ("MASK", pa.int32()),
     ("EDITING_INSTRUCTION", pa.string()), ("OUTPUT_DESCRIPTION", pa.string()),
     ("INPUT_CAPTION_BY_LLAMA", pa.string()), ("OUTPUT_CAPTION_BY_LLAMA", pa.string()),
     ("INPUT_IMG", IMAGE_STRUCT), ("MASK_IMG", IMAGE_STRUCT), ("OUTPUT_IMG", IMAGE_STRUCT)],
    metadata=_hf_features({
        **{k: _value("string") for k in ("IMAGE_ID", "EDITING_TYPE", "EDITING_INSTRUCTION", "OUTPUT_DESCRIPTION",
                                          "INPUT_CAPTION_BY_LLAMA", "OUTPUT_CAPTION_BY_LLAMA")},
        "CORE": _value("int32"), "MASK": _value("int32"),
        **{k: {"_type": "Image"} for k in ("INPUT_IMG", "MASK_IMG", "OUTPUT_IMG")},
    }),
)
CANDIDATE_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("task", pa.string()), ("prompt", pa.string()), ("image", IMAGE_STRUCT),
    ("source_image", IMAGE_STRUCT), ("source", pa.string()), ("meta", pa.string()),
])
TRUTH_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("task", pa.string()), ("planted_mode", pa.string()), ("fault", pa.string()),
    ("clean", pa.bool_()),
])


def _image_table_schema(text_columns: tuple[str, ...]) -> pa.Schema:
    """An `image` struct column plus string columns, with the HF Image feature in the metadata."""
    return pa.schema(
        [("image", IMAGE_STRUCT)] + [(k, pa.string()) for k in text_columns],
        metadata=_hf_features({"image": {"_type": "Image"}, **{k: _value("string") for k in text_columns}}),
    )


VQA_SCHEMA = _image_table_schema(("text", "label", "fault", "scene"))
UNDERSTANDING_SCHEMA = _image_table_schema(("question", "answer", "kind", "scene"))


PICKAPIC_SPLITS = ("train", "validation", "test", "validation_unique", "test_unique")


def _shard_names(prefix: str, n_rows: int, rows_per_shard: int, tag: str) -> list[str]:
    """`{prefix}-{k:05d}-of-{N:05d}-{hash}.parquet` names, as the hub's parquet shards are named."""
    total = max(1, -(-n_rows // max(1, rows_per_shard)))
    return [f"{prefix}-{k:05d}-of-{total:05d}-{zlib.crc32(f'{tag}-{k}'.encode()):08x}.parquet" for k in range(total)]


def _write_shards(rows: list[dict], schema: pa.Schema, folder: Path, prefix: str, rows_per_shard: int,
                  tag: str) -> list[Path]:
    names = _shard_names(prefix, len(rows), rows_per_shard, tag)
    step = max(1, rows_per_shard)
    return [_write(pa.Table.from_pylist(rows[k * step:(k + 1) * step], schema=schema), folder / name)
            for k, name in enumerate(names)]


def _pickapic_rows(n: int, seed: int, size: int, split: str, offset: int = 0) -> list[dict]:
    stream = "pairs" if split == "train" else f"pairs-{split}"
    pairs = preference_pairs(n, seed, size, stream=stream)
    tag = "" if split == "train" else f"-{split}"
    ties = _plan(n, round(0.05 * n), _rng(seed, f"pickapic-ties{tag}"))
    t0 = datetime(2023, 4, 1)
    rows = []
    for i, p in enumerate(pairs):
        rng = _rng(seed, f"pickapic{tag}", i)
        uids = [_uid(rng), _uid(rng)]
        if ties[i]:
            imgs = [p.preferred, nearly_unchanged(p.preferred, rng)[0]]
            labels, models, best = [0.5, 0.5], ["synthetic_world/clean"] * 2, ""
        else:
            flip = bool(rng.random() < 0.5)
            imgs = [p.rejected, p.preferred] if flip else [p.preferred, p.rejected]
            labels = [0.0, 1.0] if flip else [1.0, 0.0]
            bad = f"synthetic_world/{p.fault}"
            models = [bad, "synthetic_world/clean"] if flip else ["synthetic_world/clean", bad]
            best = uids[1] if flip else uids[0]
        rows.append({
            "are_different": True, "best_image_uid": best, "caption": p.prompt,
            "created_at": t0 + timedelta(seconds=37 * (i + offset)), "has_label": True,
            "image_0_uid": uids[0], "image_0_url": f"https://synthetic.invalid/images/{uids[0]}.jpg",
            "image_1_uid": uids[1], "image_1_url": f"https://synthetic.invalid/images/{uids[1]}.jpg",
            "jpg_0": jpeg_bytes(imgs[0]), "jpg_1": jpeg_bytes(imgs[1]), "label_0": labels[0], "label_1": labels[1],
            "model_0": models[0], "model_1": models[1], "ranking_id": int(seed) * 1_000_000 + offset + i,
            "user_id": int(rng.integers(1, 64)), "num_example_per_prompt": 1, "__index_level_0__": i,
        })
    return rows


def write_pickapic(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train",
                   rows_per_shard: int = 500, eval_rows: int | None = None) -> list[Path]:
    """Pick-a-Pic v2 layout: `data/{split}-NNNNN-of-NNNNN-<hash>.parquet` shards (`rows_per_shard`
    rows each), all columns, JPEG q95 bytes. label_k = 1.0 for the preferred side (randomised),
    0.5/0.5 on ~5 % ties (two correct renders, one shifted a pixel; best_image_uid is "" there).

    With split="train" the other published splits are written too, as on the hub: `validation` and
    `test` (`eval_rows` rows each, default max(2, n // 20), other scenes than train) and
    `validation_unique` / `test_unique` (their first row per caption). Returns the `split` shards
    first, then the others."""
    data = Path(out_dir) / "data"
    main = _pickapic_rows(n, seed, size, split)
    paths = _write_shards(main, PICKAPIC_SCHEMA, data, split, rows_per_shard, f"{seed}-{split}")
    if split != "train":
        return paths
    n_eval = eval_rows if eval_rows is not None else max(2, n // 20)
    for k, name in enumerate(("validation", "test")):
        rows = _pickapic_rows(n_eval, seed, size, name, offset=(k + 1) * 10_000_000)
        paths += _write_shards(rows, PICKAPIC_SCHEMA, data, name, rows_per_shard, f"{seed}-{name}")
        seen, unique = set(), []
        for r in rows:
            if r["caption"] not in seen:
                seen.add(r["caption"])
                unique.append(r)
        paths += _write_shards(unique, PICKAPIC_SCHEMA, data, f"{name}_unique", rows_per_shard,
                               f"{seed}-{name}_unique")
    return paths


def _webp_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="WEBP", lossless=True, quality=100, method=4, exact=True)
    return buf.getvalue()


def _zip_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A member with a fixed date, so the same content gives the same zip bytes."""
    info = zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compress_type=zipfile.ZIP_STORED)


def write_imagerewarddb(
    out_dir: str | Path, n_prompts: int, seed: int, size: int = 64, split: str = "train",
    prompts_per_zip: int = 250,
) -> list[Path]:
    """ImageRewardDB layout: `metadata-{split}.parquet` (one row per image) and the images in zips
    `images/{split}/{split}_{k}.zip` (`prompts_per_zip` prompts each) whose members are flat:
    `<uuid>.webp` (lossless) plus `{split}_{k}.json` (that zip's records) at the zip root.
    image_path is `images/{split}/{split}_{k}/<uuid>.webp`, relative to out_dir: where the image
    lands when the zip is extracted into a folder of its own name. Returns the metadata, then the zips."""
    out = Path(out_dir)
    rows, chunks = [], {}
    for gi, g in enumerate(imagereward_groups(n_prompts, seed, size)):
        rng = _rng(seed, "imagerewarddb-names", gi)
        chunk = f"{split}_{gi // max(1, prompts_per_zip) + 1}"
        for it in g.items:
            name = f"{_uid(rng)}.webp"
            row = {"image_path": f"images/{split}/{chunk}/{name}", "prompt_id": g.prompt_id, "prompt": g.prompt,
                   "classification": g.classification, "image_amount_in_total": len(g.items), "rank": it.rank,
                   "overall_rating": it.overall_rating,
                   "image_text_alignment_rating": it.image_text_alignment_rating,
                   "fidelity_rating": it.fidelity_rating}
            rows.append(row)
            chunks.setdefault(chunk, []).append((name, _webp_bytes(it.image), row))
    paths = [_write(pa.Table.from_pylist(rows, schema=IMAGEREWARDDB_SCHEMA), out / f"metadata-{split}.parquet")]
    for chunk, members in chunks.items():
        zpath = out / "images" / split / f"{chunk}.zip"
        zpath.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(zpath, "w") as zf:
            for name, data, _ in members:
                _zip_member(zf, name, data)
            _zip_member(zf, f"{chunk}.json", json.dumps([r for *_, r in members], indent=1).encode())
        paths.append(zpath)
    return paths


def _tar_gz(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A gzip'd tar with fixed times and owners (same content -> same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def write_hpdv2(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train",
                path_key: str = "image_path") -> list[Path]:
    """HPDv2 layout: `{split}.json` and the images in `{split}.tar.gz` (members `{split}/<name>`, PNG;
    names in the JSON are relative to `{split}/`, as in the real release).
    train: [{human_preference: [1,0]|[0,1] (1 = preferred), prompt, image_path: [name, name]}]
    (`path_key="file_path"` writes the older key name); test: [{prompt, image_path, rank (0 = best,
    distinct), raw_annotations: [{rank, user_hash}]}]. Returns the JSON, then the tar."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records, members = [], []
    if split == "train":
        for i, p in enumerate(preference_pairs(n, seed, size)):
            flip = bool(_rng(seed, "hpdv2-side", i).random() < 0.5)
            names = [f"{2 * i:08d}.png", f"{2 * i + 1:08d}.png"]
            for name, img in zip(names, [p.rejected, p.preferred] if flip else [p.preferred, p.rejected]):
                members.append((f"{split}/{name}", png_bytes(img)))
            records.append({"human_preference": [0, 1] if flip else [1, 0], "prompt": p.prompt, path_key: names})
    else:
        counter = 0
        for gi, g in enumerate(imagereward_groups(n, seed, size)):
            rng = _rng(seed, "hpdv2-test", gi)
            k = len(g.items)
            # distinct base order: overall rating, then the sum of the sub-ratings, then position
            its = g.items
            order = sorted(range(k), key=lambda j: (-its[j].overall_rating,
                                                    -(its[j].image_text_alignment_rating + its[j].fidelity_rating), j))
            base = np.empty(k, dtype=int)
            base[order] = np.arange(k)
            raw = []
            for _ in range(3):  # annotators agree on the best image, may swap two faulty ones
                r = base.copy()
                if k > 2 and rng.random() < 0.5:
                    a = int(rng.integers(1, k - 1))
                    ia, ib = int(np.nonzero(r == a)[0][0]), int(np.nonzero(r == a + 1)[0][0])
                    r[ia], r[ib] = a + 1, a
                raw.append({"rank": r.tolist(), "user_hash": rng.bytes(8).hex()})
            mean = np.mean([a["rank"] for a in raw], axis=0)
            final = np.empty(k, dtype=int)
            final[sorted(range(k), key=lambda j: (mean[j], base[j]))] = np.arange(k)
            names = []
            for it in g.items:
                names.append(f"{counter:08d}.png")
                members.append((f"{split}/{names[-1]}", png_bytes(it.image)))
                counter += 1
            records.append({"prompt": g.prompt, "image_path": names, "rank": final.tolist(), "raw_annotations": raw})
    path = out / f"{split}.json"
    path.write_text(json.dumps(records))
    return [path, _tar_gz(out / f"{split}.tar.gz", members)]


def _change_mask(a: Image.Image, b: Image.Image, pad: int = 2) -> Image.Image:
    """L-mode mask (255 inside) of the padded box around every changed pixel."""
    diff = np.any(np.asarray(a) != np.asarray(b), axis=-1)
    m = np.zeros(diff.shape, dtype=np.uint8)
    if diff.any():
        ys, xs = np.nonzero(diff)
        m[max(0, ys.min() - pad) : ys.max() + pad + 1, max(0, xs.min() - pad) : xs.max() + pad + 1] = 255
    return Image.fromarray(m)


def write_humanedit(out_dir: str | Path, n: int, seed: int, size: int = 64) -> list[Path]:
    """HumanEdit layout: `data/train-00000-of-00001.parquet`, images as {bytes, path} structs
    (PNG, path null) with the `datasets` Image feature in the schema metadata."""
    rows = []
    for i, t in enumerate(edit_triplets(n, seed, size)):
        rng = _rng(seed, "humanedit", i)
        rows.append({
            "IMAGE_ID": f"world{seed}_{i:06d}", "EDITING_TYPE": HUMANEDIT_TYPES[t.kind],
            "CORE": int(rng.random() < 0.1), "MASK": 1, "EDITING_INSTRUCTION": t.instruction,
            "OUTPUT_DESCRIPTION": t.target_description, "INPUT_CAPTION_BY_LLAMA": t.source_caption,
            "OUTPUT_CAPTION_BY_LLAMA": t.target_description, "INPUT_IMG": _image_cell(t.source),
            "MASK_IMG": _image_cell(_change_mask(t.source, t.edited)), "OUTPUT_IMG": _image_cell(t.edited),
        })
    table = pa.Table.from_pylist(rows, schema=HUMANEDIT_SCHEMA)
    return [_write(table, Path(out_dir) / "data" / "train-00000-of-00001.parquet")]


ULTRAEDIT_SCHEMA = pa.schema(
    [("clip_sim_source", pa.float64()), ("clip_sim_target", pa.float64()), ("clip_sim_dir", pa.float64()),
     ("clip_sim_image", pa.float64()), ("dinov2_sim", pa.float64()), ("ssim", pa.float64()),
     ("source_caption", pa.string()), ("target_caption", pa.string()), ("idx", pa.int64()),
     ("edit_prompt", pa.string()), ("edit_object", pa.string()), ("source_image", IMAGE_STRUCT),
     ("edited_image", IMAGE_STRUCT), ("mask_image", IMAGE_STRUCT)],
    metadata=_hf_features({
        **{k: _value("float64") for k in ("clip_sim_source", "clip_sim_target", "clip_sim_dir", "clip_sim_image",
                                           "dinov2_sim", "ssim")},
        **{k: _value("string") for k in ("source_caption", "target_caption", "edit_prompt", "edit_object")},
        "idx": _value("int64"), **{k: {"_type": "Image"} for k in ("source_image", "edited_image", "mask_image")},
    }),
)
ULTRAEDIT_NULL_COLUMNS = ("edit_object", "mask_image")
"""All null in UltraEdit's free-form splits (they belong to its region-based edits)."""


def write_ultraedit(out_dir: str | Path, n: int, seed: int, size: int = 64,
                    splits: tuple[str, ...] = ("FreeForm_0", "FreeForm_1"), rows_per_shard: int = 500,
                    null_columns: bool = True) -> list[Path]:
    """UltraEdit layout: no `train` split. By default `BleachNick/UltraEdit`'s free-form splits
    `data/FreeForm_{j}-NNNNN-of-NNNNN-<hash>.parquet` with its two all-null columns `edit_object`
    and `mask_image`; `splits=("FreeForm",), null_columns=False` is `BleachNick/UltraEdit_500k`.
    The n edits are dealt over `splits` in order (split j gets rows j, j+len(splits), ...);
    similarity columns are drawn per row (clip_sim_dir in [0.1, 0.4])."""
    schema = ULTRAEDIT_SCHEMA if null_columns else pa.schema(
        [f for f in ULTRAEDIT_SCHEMA if f.name not in ULTRAEDIT_NULL_COLUMNS])
    per_split: dict[str, list[dict]] = {sp: [] for sp in splits}
    for i, t in enumerate(edit_triplets(n, seed, size)):
        rng = _rng(seed, "ultraedit", i)
        row = {"clip_sim_source": float(rng.uniform(0.2, 0.35)), "clip_sim_target": float(rng.uniform(0.2, 0.35)),
               "clip_sim_dir": float(rng.uniform(0.1, 0.4)), "clip_sim_image": float(rng.uniform(0.7, 0.95)),
               "dinov2_sim": float(rng.uniform(0.6, 0.95)), "ssim": float(rng.uniform(0.5, 0.9)),
               "source_caption": t.source_caption, "target_caption": t.target_description, "idx": i,
               "edit_prompt": t.instruction, "source_image": _image_cell(t.source),
               "edited_image": _image_cell(t.edited)}
        if null_columns:
            row.update(edit_object=None, mask_image=None)
        per_split[splits[i % len(splits)]].append(row)
    paths = []
    for sp, rows in per_split.items():
        paths += _write_shards(rows, schema, Path(out_dir) / "data", sp, rows_per_shard, f"{seed}-{sp}")
    return paths


def write_candidates(out_dir: str | Path, n: int, seed: int, size: int = 64, shards: int = 2, **kw: Any) -> list[Path]:
    """Candidate shards `candidates-{k:05d}.parquet` (image cells as {bytes, path} structs,
    path null; no HF metadata) plus `truth.parquet` (sample_id, task, planted_mode, fault, clean)."""
    out = Path(out_dir)
    rows = candidates(n, seed, size, **kw)
    paths = []
    for k, idx in enumerate(np.array_split(np.arange(len(rows)), max(1, shards))):
        part = [dict(rows[i], image=_image_cell(rows[i]["image"]), source_image=_image_cell(rows[i]["source_image"]))
                for i in idx]
        paths.append(_write(pa.Table.from_pylist(part, schema=CANDIDATE_SCHEMA), out / f"candidates-{k:05d}.parquet"))
    truth = []
    for r in rows:
        m = json.loads(r["meta"])
        truth.append({"sample_id": r["sample_id"], "task": r["task"], "planted_mode": m["planted_mode"],
                      "fault": m["fault"], "clean": m["clean"]})
    paths.append(_write(pa.Table.from_pylist(truth, schema=TRUTH_SCHEMA), out / "truth.parquet"))
    return paths


def _write_image_table(rows: list[dict[str, Any]], schema: pa.Schema, path: Path) -> list[Path]:
    rows = [dict(r, image=_image_cell(r["image"]), scene=json.dumps(r["scene"], sort_keys=True)) for r in rows]
    return [_write(pa.Table.from_pylist(rows, schema=schema), path)]


def write_vqa(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`{split}-00000-of-00001.parquet`: image struct, text, label (yes/no), fault, scene (JSON)."""
    return _write_image_table(vqa_rows(n, seed, size), VQA_SCHEMA, Path(out_dir) / f"{split}-00000-of-00001.parquet")


def write_understanding(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`{split}-00000-of-00001.parquet`: image struct, question, answer, kind, scene (JSON)."""
    path = Path(out_dir) / f"{split}-00000-of-00001.parquet"
    return _write_image_table(understanding_rows(n, seed, size), UNDERSTANDING_SCHEMA, path)


WRITERS = {
    "candidates": write_candidates,
    "pickapic": write_pickapic,
    "imagerewarddb": write_imagerewarddb,
    "hpdv2": write_hpdv2,
    "humanedit": write_humanedit,
    "ultraedit": write_ultraedit,
    "vqa": write_vqa,
    "understanding": write_understanding,
}

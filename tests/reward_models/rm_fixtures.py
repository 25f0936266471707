"""Small files in each dataset's published layout, with a few bad rows planted; the pictures, captions
and edits come from the synthetic world."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from synthetic import caption, edit_triplets, preference_pairs, random_scene, render, t2i_fault

CORRUPT = b"\x89PNG not really an image"


def png(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def image_struct(img: Image.Image | None, path: str | None = None) -> dict:
    return {"bytes": CORRUPT if img is None else png(img), "path": path}


def write_pickapic(folder: Path, n: int = 12, seed: int = 0, pairs=None) -> Path:
    """`data/train-00000-of-00001.parquet` with the v2 columns; +1 tie, +1 missing label, +1 corrupt image."""
    pairs = pairs if pairs is not None else preference_pairs(n, seed)
    rows = []
    for i, p in enumerate(pairs):
        first_good = i % 2 == 0
        a, b = (p.preferred, p.rejected) if first_good else (p.rejected, p.preferred)
        rows.append(dict(are_different=True, best_image_uid=f"u{i}", caption=p.prompt, created_at="2023-01-01",
                         has_label=True, image_0_uid=f"a{i}", image_0_url="", image_1_uid=f"b{i}", image_1_url="",
                         jpg_0=png(a, "JPEG"), jpg_1=png(b, "JPEG"), label_0=1.0 if first_good else 0.0,
                         label_1=0.0 if first_good else 1.0, model_0="m0", model_1="m1", ranking_id=i, user_id=1,
                         num_example_per_prompt=1))
    base = dict(rows[0])
    rows.append({**base, "label_0": 0.5, "label_1": 0.5})  # tie
    rows.append({**base, "label_0": None, "label_1": None, "has_label": False})  # missing label
    rows.append({**base, "jpg_1": CORRUPT})  # undecodable
    out = folder / "data" / "train-00000-of-00001.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out)
    return folder


def write_imagerewarddb(folder: Path, n_prompts: int = 4, per_prompt: int = 3, seed: int = 0) -> Path:
    """`metadata-train.parquet` + `images/train/train_1.zip` (member `train_1/<id>.webp`)."""
    rng = np.random.default_rng(seed)
    records = []
    zpath = folder / "images" / "train" / "train_1.zip"
    zpath.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zpath, "w") as zf:
        for pid in range(n_prompts):
            scene = random_scene(rng)
            imgs = [render(scene),  # best
                    t2i_fault(scene, "blur", rng).image,  # aligned, low fidelity
                    t2i_fault(scene, "wrong_colour", rng).image]  # sharp, misaligned
            ratings = [(7, 7, 7), (4, 7, 2), (3, 1, 7)]  # overall, alignment, fidelity
            for k in range(per_prompt):
                name = f"train_1/{pid}_{k}.webp"
                zf.writestr(name, png(imgs[k], "WEBP"))
                o, a, f = ratings[k]
                records.append(dict(image_path=f"images/train/{name}", prompt_id=f"p{pid}", prompt=caption(scene),
                                    classification="simple", image_amount_in_total=per_prompt, rank=k + 1,
                                    overall_rating=o, image_text_alignment_rating=a, fidelity_rating=f))
    records.append({**records[0], "image_path": "images/train/train_1/missing.webp", "rank": 9})  # missing file
    pq.write_table(pa.Table.from_pylist(records), folder / "metadata-train.parquet")
    return folder


def write_hpdv2(folder: Path, n: int = 6, seed: int = 0) -> Path:
    """`train.json` + `train/*.jpg` and `test.json` + `test/*.jpg`; +1 row without a winner."""
    pairs = preference_pairs(n, seed)
    (folder / "train").mkdir(parents=True, exist_ok=True)
    (folder / "test").mkdir(parents=True, exist_ok=True)
    train = []
    for i, p in enumerate(pairs):
        names = [f"{i:05d}_0.jpg", f"{i:05d}_1.jpg"]
        first_good = i % 2 == 1
        (p.preferred if first_good else p.rejected).save(folder / "train" / names[0])
        (p.rejected if first_good else p.preferred).save(folder / "train" / names[1])
        train.append({"human_preference": [1, 0] if first_good else [0, 1], "prompt": p.prompt, "file_path": names})
    train.append({"human_preference": [0, 0], "prompt": "a tie", "file_path": train[0]["file_path"]})
    (folder / "train.json").write_text(json.dumps(train))
    test = []
    for i, p in enumerate(pairs[:2]):
        names = [f"t{i}_0.jpg", f"t{i}_1.jpg", f"t{i}_2.jpg"]
        p.preferred.save(folder / "test" / names[0])
        p.rejected.save(folder / "test" / names[1])
        p.rejected.save(folder / "test" / names[2])
        test.append({"prompt": p.prompt, "image_path": names, "rank": [0, 1, 1],
                     "raw_annotations": [{"rank": [0, 1, 1], "user_hash": "x"}]})
    (folder / "test.json").write_text(json.dumps(test))
    return folder


def _edit_rows(n: int, seed: int):
    return edit_triplets(n, seed)


def write_humanedit(folder: Path, n: int = 8, seed: int = 0) -> Path:
    rows = []
    for i, t in enumerate(_edit_rows(n, seed)):
        rows.append(dict(IMAGE_ID=f"h{i}", EDITING_TYPE="Replace", CORE=1, MASK=0, EDITING_INSTRUCTION=t.instruction,
                         OUTPUT_DESCRIPTION="", INPUT_CAPTION_BY_LLAMA="", OUTPUT_CAPTION_BY_LLAMA="",
                         INPUT_IMG=image_struct(t.source, f"h{i}_in.png"), MASK_IMG=image_struct(t.source),
                         OUTPUT_IMG=image_struct(t.edited, f"h{i}_out.png")))
    rows.append({**rows[0], "OUTPUT_IMG": image_struct(None)})  # undecodable
    rows.append({**rows[0], "EDITING_INSTRUCTION": ""})  # missing instruction
    out = folder / "data" / "train-00000-of-00001.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out)
    return folder


def write_ultraedit(folder: Path, n: int = 8, seed: int = 0) -> Path:
    rows = []
    for i, t in enumerate(_edit_rows(n, seed)):
        rows.append(dict(clip_sim_source=0.3, clip_sim_target=0.3, clip_sim_dir=0.1 if i == 0 else 0.3,
                         clip_sim_image=0.8, dinov2_sim=0.7, ssim=0.6, source_caption="", target_caption="",
                         idx=i, edit_prompt=t.instruction, source_image=image_struct(t.source),
                         edited_image=image_struct(t.edited)))
    out = folder / "FreeForm" / "FreeForm-00000.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out)
    return folder


def write_superedit(folder: Path, n: int = 8, seed: int = 0, input_column: str = "input_image") -> Path:
    rows = []
    for i, t in enumerate(_edit_rows(n, seed)):
        rows.append({input_column: image_struct(t.source), "edit_prompts": [t.instruction, t.instruction + " please"],
                     "edited_image": image_struct(t.edited), "neg_prompts": ["make it a photo of a dog"]})
    out = folder / "data" / "train-00000.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), out)
    return folder

"""Builders for job inputs: good rows and every kind of bad input the issue names."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgb(seed: int, size=(48, 40)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def png(seed: int, size=(48, 40)) -> bytes:
    return encode(rgb(seed, size))


def header_bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid 1x1 PNG whose IHDR claims width x height pixels (CRC fixed up)."""
    data = png(0, (1, 1))
    ihdr_start = 8  # after the signature: length(4) type(4) data(13) crc(4)
    body = bytearray(data[ihdr_start + 8 : ihdr_start + 8 + 13])
    body[0:4] = struct.pack(">I", width)
    body[4:8] = struct.pack(">I", height)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(body)) & 0xFFFFFFFF)
    return data[: ihdr_start + 8] + bytes(body) + crc + data[ihdr_start + 8 + 13 + 4 :]


def modes_images() -> dict[str, bytes]:
    """Images in modes that must be converted and scored, not rejected as errors."""
    base = rgb(7, (40, 40))
    gif = io.BytesIO()
    frames = [rgb(i, (32, 32)).convert("P") for i in range(3)]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    i16 = Image.fromarray(np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40)  # mode I;16
    return {
        "gray": encode(base.convert("L")),
        "cmyk": encode(base.convert("CMYK"), "JPEG"),
        "rgba": encode(base.convert("RGBA")),
        "i16": encode(i16),
        "palette": encode(base.convert("P")),
        "animated": gif.getvalue(),
    }


def row(sid, task, prompt, image, source_image=None, meta=None, source="unit"):
    return {"sample_id": sid, "task": task, "prompt": prompt, "image": image, "source_image": source_image,
            "source": source, "meta": None if meta is None else json.dumps(meta)}


def struct_cell(data: bytes | None, path: str | None = None) -> dict:
    return {"bytes": data, "path": path}


def write_mixed_input(root: Path, n_good: int = 12) -> dict:
    """A folder with Parquet (struct and raw-bytes cells) and JSONL (path cells) inputs that
    includes every bad-input kind. Returns {"ids": [...], "expect": {sample_id: kind}}."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}
    rows = []
    for i in range(n_good):
        rows.append(row(f"good-t2i-{i}", "t2i", f"a picture number {i}", struct_cell(png(i))))
        expect[f"good-t2i-{i}"] = "scored"
    for i in range(n_good // 2):
        rows.append(row(f"good-edit-{i}", "edit", "make it brighter", struct_cell(png(100 + i)),
                        struct_cell(png(200 + i)), meta={"target_description": "a brighter picture"}))
        expect[f"good-edit-{i}"] = "scored"
    for name, data in modes_images().items():
        rows.append(row(f"mode-{name}", "t2i", f"an image in mode {name}", struct_cell(data)))
        expect[f"mode-{name}"] = "scored"
    bad = {
        "undecodable": row("bad-undecodable", "t2i", "x", struct_cell(b"this is not an image at all")),
        "truncated": row("bad-truncated", "t2i", "x", struct_cell(png(5, (64, 64))[:120])),
        "unsupported": row("bad-unsupported", "t2i", "x", struct_cell(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")),
        "bomb": row("bad-bomb", "t2i", "x", struct_cell(header_bomb_png())),
        "empty-prompt": row("bad-empty-prompt", "t2i", "", struct_cell(png(6))),
        "space-prompt": row("bad-space-prompt", "t2i", "   \n\t ", struct_cell(png(6))),
        "edit-no-source": row("bad-edit-no-source", "edit", "make it red", struct_cell(png(8))),
        "unknown-task": row("bad-unknown-task", "video", "a clip", struct_cell(png(9))),
        "zero-bytes-cell": row("bad-zero-bytes-cell", "t2i", "x", struct_cell(b"")),
    }
    for kind, r in bad.items():
        rows.append(r)
        expect[r["sample_id"]] = f"error:{kind}"
    long_prompt = "a very long prompt " * 600
    rows.append(row("long-prompt", "t2i", long_prompt, struct_cell(png(11))))
    expect["long-prompt"] = "scored:truncated"
    same = png(12)
    rows.append(row("edit-identical", "edit", "change nothing", struct_cell(same), struct_cell(same)))
    expect["edit-identical"] = "reject:edit_noncompliance"
    # a duplicated id: first copy scored, second copy counted on it
    rows.append(row("dup-id", "t2i", "first copy", struct_cell(png(13))))
    rows.append(row("dup-id", "t2i", "second copy", struct_cell(png(14))))
    expect["dup-id"] = "scored:duplicate"
    # rows without ids get content-hash ids
    rows.append(row(None, "t2i", "no id here", struct_cell(png(15))))
    half = len(rows) // 2
    schema = pa.schema([("sample_id", pa.string()), ("task", pa.string()), ("prompt", pa.string()),
                        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                        ("source_image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                        ("source", pa.string()), ("meta", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows[:half], schema=schema), root / "part-a.parquet", row_group_size=8)
    pq.write_table(pa.Table.from_pylist(rows[half:], schema=schema), root / "part-b.parquet", row_group_size=8)
    # raw-bytes cells in a third file
    raw = pa.table({"sample_id": ["raw-bytes-0", "raw-bytes-1"], "task": ["t2i", "t2i"],
                    "prompt": ["raw bytes image", "raw bytes image two"], "image": [png(30), png(31)],
                    "extra_label": [0.25, 0.75]})
    pq.write_table(raw, root / "raw-bytes.parquet")
    expect["raw-bytes-0"] = expect["raw-bytes-1"] = "scored"
    # path cells (JSONL): relative, missing, zero-byte, outside the root
    imgdir = root / "images"
    imgdir.mkdir(exist_ok=True)
    (imgdir / "ok.png").write_bytes(png(40))
    (imgdir / "src.png").write_bytes(png(41))
    (imgdir / "empty.png").write_bytes(b"")
    (root.parent / "outside.png").write_bytes(png(42))
    lines = [
        {"sample_id": "path-ok", "task": "t2i", "prompt": "from a path", "image": "images/ok.png"},
        {"sample_id": "path-edit-ok", "task": "edit", "prompt": "edit from paths", "image": "images/ok.png",
         "source_image": "images/src.png"},
        {"sample_id": "bad-missing-path", "task": "t2i", "prompt": "x", "image": "images/nope.png"},
        {"sample_id": "bad-zero-byte-file", "task": "t2i", "prompt": "x", "image": "images/empty.png"},
        {"sample_id": "bad-outside-root", "task": "t2i", "prompt": "x", "image": "../outside.png"},
    ]
    expect.update({"path-ok": "scored", "path-edit-ok": "scored", "bad-missing-path": "error:missing-path",
                   "bad-zero-byte-file": "error:zero-byte-file", "bad-outside-root": "error:outside-root"})
    (root / "paths.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n")
    return {"expect": expect, "n_input_rows": len(rows) + 2 + len(lines) + 1}

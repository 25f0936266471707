"""Decoding the image cells found in dataset files (bytes, {bytes, path} structs, paths, zips)."""

from __future__ import annotations

import io
import os
import zipfile
from functools import lru_cache
from pathlib import Path

from PIL import Image

from reward_models.images import to_rgb


class UndecodableImage(ValueError):
    """The cell holds no image PIL can open."""


def decode_image_cell(cell, base_dir: str | os.PathLike | None = None) -> Image.Image:
    """An RGB, fully loaded PIL image from a PIL image, raw bytes, a `{bytes, path}` struct or a path."""
    try:
        if isinstance(cell, Image.Image):
            img = cell
        elif isinstance(cell, (bytes, bytearray, memoryview)):
            img = Image.open(io.BytesIO(bytes(cell)))
        elif isinstance(cell, dict):
            if cell.get("bytes"):
                img = Image.open(io.BytesIO(bytes(cell["bytes"])))
            elif cell.get("path"):
                return decode_image_cell(str(cell["path"]), base_dir)
            else:
                raise UndecodableImage("empty image struct")
        elif isinstance(cell, (str, os.PathLike)):
            img = open_path(str(cell), base_dir)
        else:
            raise UndecodableImage(f"unsupported image cell type {type(cell).__name__}")
        img.load()
        return to_rgb(img)
    except UndecodableImage:
        raise
    except Exception as e:  # PIL raises many types for corrupt data
        raise UndecodableImage(f"{type(e).__name__}: {e}") from e


def open_path(path: str, base_dir: str | os.PathLike | None) -> Image.Image:
    """Open `path` as a file, relative to `base_dir`, or as a member of a zip beside it.

    ImageRewardDB and HPDv2 ship images in zips (`images/train/train_1.zip` holding
    `train_1/xxx.webp`, ...): a path `a/b/c.webp` is looked up as a file first, then in
    `a/b.zip` (member `b/c.webp` or `c.webp`), then in `a.zip`.
    """
    candidates = [Path(path)] if base_dir is None else [Path(base_dir) / path, Path(path)]
    for p in candidates:
        if p.is_file():
            return Image.open(p)
    root = Path(base_dir) if base_dir is not None else Path(".")
    parts = Path(path).parts
    for cut in range(len(parts) - 1, 0, -1):
        zpath = root.joinpath(*parts[:cut]).with_suffix(".zip")
        if zpath.is_file():
            zf = _zip(str(zpath))
            names = set(zf.namelist())
            for member in ("/".join(parts[cut - 1 :]), "/".join(parts[cut:]), "/".join(parts)):
                if member in names:
                    return Image.open(io.BytesIO(zf.read(member)))
    raise UndecodableImage(f"image file not found: {path} (under {base_dir})")


@lru_cache(maxsize=64)
def _zip(path: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(path)


class RepoImages:
    """Dataset-relative image paths resolved through a `DataRepo`: the file itself when the repository
    has it (an extracted folder), else a member of the zip that stands for one of its folders
    (`images/train/train_1/x.webp` -> `images/train/train_1.zip`, member `x.webp`, the real flat
    layout, or `train_1/x.webp`). A zip is fetched the first time one of its images is needed."""

    def __init__(self, repo) -> None:
        self.repo = repo
        self._zips: dict[str, tuple[zipfile.ZipFile, set[str]]] = {}

    def zip(self, rel: str) -> tuple[zipfile.ZipFile, set[str]]:
        if rel not in self._zips:
            zf = zipfile.ZipFile(self.repo.local(rel))
            self._zips[rel] = (zf, set(zf.namelist()))
        return self._zips[rel]

    def open(self, rel: str) -> Image.Image:
        if self.repo.has(rel):
            return decode_image_cell(str(self.repo.local(rel)))
        parts = Path(rel).parts
        for cut in range(len(parts) - 1, 0, -1):
            zrel = "/".join(parts[:cut]) + ".zip"
            if self.repo.has(zrel):
                zf, names = self.zip(zrel)
                for member in ("/".join(parts[cut:]), "/".join(parts[cut - 1:]), "/".join(parts)):
                    if member in names:
                        return decode_image_cell(zf.read(member))
                raise UndecodableImage(f"{rel}: not in {zrel}")
        raise UndecodableImage(f"image file not found: {rel} (in {self.repo.name})")

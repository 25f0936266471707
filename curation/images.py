"""Image cells: resolving them to bytes, cheap header checks, and decoding inside actors.

A cell may be the Hugging Face `{bytes, path}` struct, raw bytes, or a path/URI. Paths are
resolved against the input file's folder and must stay inside the input root (a dataset
must not make the job read /etc/passwd). Every problem becomes a message recorded against
the row; nothing here raises for bad data.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageFile, UnidentifiedImageError

from reward_models.images import bounded_resize, to_rgb

REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "hf://")


@dataclass
class ImageRef:
    """An image cell resolved to bytes (or to why it could not be)."""

    data: bytes | None
    path: str | None
    error: str | None = None


@dataclass
class HeaderInfo:
    """What the image header says, read without decoding pixels."""

    width: int | None = None
    height: int | None = None
    format: str | None = None
    mode: str | None = None
    frames: int = 1
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def resolve_cell(cell, base_dir: str, root: str, max_bytes: int) -> ImageRef | None:
    """Bytes for an image cell; None when the cell is empty."""
    if cell is None:
        return None
    if isinstance(cell, dict):
        data, path = cell.get("bytes"), cell.get("path")
        if data is not None:
            return ImageRef(bytes(data), path)
        if path:
            return _read_path(str(path), base_dir, root, max_bytes)
        return None
    if isinstance(cell, (bytes, bytearray, memoryview)):
        return ImageRef(bytes(cell), None)
    if isinstance(cell, str):
        if not cell.strip():
            return None
        return _read_path(cell.strip(), base_dir, root, max_bytes)
    return ImageRef(None, None, f"unsupported image cell of type {type(cell).__name__}")


def _read_path(path: str, base_dir: str, root: str, max_bytes: int) -> ImageRef:
    if path.startswith(REMOTE_SCHEMES):
        try:
            import fsspec

            with fsspec.open(path, "rb") as f:
                data = f.read(max_bytes + 1)
        except Exception as e:  # noqa: BLE001 - any fetch failure is this row's error
            return ImageRef(None, path, f"cannot read image URI {path}: {type(e).__name__}: {e}")
        return _check_size(ImageRef(data, path), max_bytes)
    local = path[len("file://") :] if path.startswith("file://") else path
    full = local if os.path.isabs(local) else os.path.join(base_dir, local)
    real = os.path.realpath(full)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        return ImageRef(None, path, f"image path is outside the input root {root}: {path}")
    if not os.path.exists(real):
        return ImageRef(None, path, f"image file not found: {path}")
    if not os.path.isfile(real):
        return ImageRef(None, path, f"image path is not a file: {path}")
    size = os.path.getsize(real)
    if size == 0:
        return ImageRef(None, path, f"image file is empty (0 bytes): {path}")
    if size > max_bytes:
        return ImageRef(None, path, f"image file is {size} bytes, over the {max_bytes}-byte limit: {path}")
    with open(real, "rb") as f:
        return ImageRef(f.read(), path)


def _check_size(ref: ImageRef, max_bytes: int) -> ImageRef:
    if ref.data is not None and len(ref.data) > max_bytes:
        return ImageRef(None, ref.path, f"image is over the {max_bytes}-byte limit")
    return ref


def inspect_header(data: bytes, max_pixels: int) -> HeaderInfo:
    """Format, size and mode from the header alone; flags bombs and unsupported files."""
    if not data:
        return HeaderInfo(error="image is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                info = HeaderInfo(width=im.width, height=im.height, format=im.format, mode=im.mode)
                info.frames = int(getattr(im, "n_frames", 1) or 1)
    except UnidentifiedImageError:
        return HeaderInfo(error="unsupported or unrecognised image format (PIL cannot identify it)")
    except Image.DecompressionBombError as e:
        return HeaderInfo(error=f"decompression bomb: {e}")
    except Exception as e:  # noqa: BLE001 - a header PIL cannot parse is this row's error
        return HeaderInfo(error=f"cannot read image header: {type(e).__name__}: {e}")
    if info.width * info.height > max_pixels:
        info.error = (
            f"image declares {info.width}x{info.height} = {info.width * info.height} pixels, over the "
            f"{max_pixels}-pixel limit (decompression bomb guard)"
        )
    elif info.frames > 1:
        info.notes.append(f"animated image with {info.frames} frames: the first frame is scored")
    return info


def decode_image(data: bytes, max_pixels: int, bomb_limit: int) -> tuple[Image.Image, list[str]]:
    """Decode fully, take the first frame, convert to RGB and downscale to the pixel budget.

    Raises ValueError with a readable message for truncated or corrupt data.
    """
    notes: list[str] = []
    Image.MAX_IMAGE_PIXELS = bomb_limit
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not half an image
    try:
        im = Image.open(io.BytesIO(data))
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im.load()
    except Image.DecompressionBombError as e:
        raise ValueError(f"decompression bomb: {e}") from e
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as e:
        raise ValueError(f"cannot decode image: {type(e).__name__}: {e}") from e
    if im.mode != "RGB":
        notes.append(f"converted {im.mode} image to RGB")
    return bounded_resize(to_rgb(im), max_pixels), notes

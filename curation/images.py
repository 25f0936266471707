"""Image cells: resolving them to bytes, cheap header checks, and decoding inside actors.

A cell may be the Hugging Face `{bytes, path}` struct, raw bytes, or a path/URI. Paths are
resolved against the input file's folder and must stay inside the root of the input the row
came from (a dataset must not make the job read /etc/passwd). Bytes given as text (JSONL) are
base64. Remote URIs are refused unless `RemoteConfig.enabled`, then fetched only from
allow-listed schemes and hosts, with a timeout and a size cap, and kept only if they decode
as an image. Every problem becomes a message recorded against the row; nothing here raises
for bad data.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageFile, UnidentifiedImageError

from reward_models.images import bounded_resize, to_rgb

REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "hf://")
REMOTE_DISABLED = "remote URIs are disabled; enable with --allow-remote-images and allow hosts with --remote-host"
"""Error of a remote image URI when `remote.enabled` is off (the default)."""


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


def _show(path: str, limit: int = 200) -> str:
    """A path for a message: printable, and short."""
    text = path.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(path)} characters)"


def resolve_cell(cell, base_dir: str, root: str, max_bytes: int, remote=None) -> ImageRef | None:
    """Bytes for an image cell; None when the cell is empty. Never raises: any problem with the
    cell (odd type, bad base64, unreadable path, failed fetch) is returned as `ImageRef.error`."""
    try:
        return _resolve(cell, base_dir, root, max_bytes, remote)
    except Exception as e:  # noqa: BLE001 - one bad cell is this row's error, never the job's
        path = cell.get("path") if isinstance(cell, dict) else (cell if isinstance(cell, str) else None)
        return ImageRef(None, path if isinstance(path, str) else None,
                        f"cannot read image cell: {type(e).__name__}: {_show(str(e))}")


def _resolve(cell, base_dir: str, root: str, max_bytes: int, remote) -> ImageRef | None:
    if cell is None:
        return None
    if isinstance(cell, dict):
        data, path = cell.get("bytes"), cell.get("path")
        if path is not None and not isinstance(path, str):
            return ImageRef(None, None, f"image cell path is a {type(path).__name__}, not text")
        if data is not None:
            if isinstance(data, str):
                return _check_size(_from_text(data, path), max_bytes)
            if not isinstance(data, (bytes, bytearray, memoryview)):
                return ImageRef(None, path, f"image cell bytes are a {type(data).__name__}, not bytes or base64 text")
            return _check_size(ImageRef(bytes(data), path), max_bytes)
        if path:
            return _read_path(path, base_dir, root, max_bytes, remote)
        return None
    if isinstance(cell, (bytes, bytearray, memoryview)):
        return _check_size(ImageRef(bytes(cell), None), max_bytes)
    if isinstance(cell, str):
        if not cell.strip():
            return None
        if cell.startswith("data:"):
            return _check_size(_from_text(cell, None), max_bytes)
        return _read_path(cell.strip(), base_dir, root, max_bytes, remote)
    return ImageRef(None, None, f"unsupported image cell of type {type(cell).__name__}")


def _from_text(text: str, path: str | None) -> ImageRef:
    """Image bytes given as text (JSONL has no bytes type): base64, or a `data:...;base64,` URI."""
    body = text.strip()
    if body.startswith("data:"):
        head, sep, body = body.partition(",")
        if not sep or not head.endswith(";base64"):
            return ImageRef(None, path, "image data URI is not base64 (expected data:<type>;base64,<data>)")
    body = "".join(body.split())
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        try:
            data = base64.urlsafe_b64decode(body) if body and set(body) <= _URLSAFE else None
        except (binascii.Error, ValueError):
            data = None
        if data is None:
            return ImageRef(None, path, f"image bytes are text that is not valid base64 ({len(text)} characters)")
    return ImageRef(data, path)


_URLSAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def _read_path(path: str, base_dir: str, root: str, max_bytes: int, remote=None) -> ImageRef:
    if "\x00" in path:
        return ImageRef(None, path, f"image path contains a NUL byte: {_show(path)}")
    scheme = path.split("://", 1)[0].lower() + "://" if "://" in path else ""
    if scheme in REMOTE_SCHEMES or (scheme and scheme != "file://"):
        return fetch_remote(path, remote)
    local = path[len("file://") :] if path.startswith("file://") else path
    full = local if os.path.isabs(local) else os.path.join(base_dir, local)
    real = os.path.realpath(full)
    real_root = os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        return ImageRef(None, path, f"image path is outside the input root {root}: {_show(path)}")
    if not os.path.exists(real):
        return ImageRef(None, path, f"image file not found: {_show(path)}")
    if not os.path.isfile(real):
        return ImageRef(None, path, f"image path is not a file: {_show(path)}")
    size = os.path.getsize(real)
    if size == 0:
        return ImageRef(None, path, f"image file is empty (0 bytes): {_show(path)}")
    if size > max_bytes:
        return ImageRef(None, path, f"image file is {size} bytes, over the {max_bytes}-byte limit: {_show(path)}")
    with open(real, "rb") as f:
        return ImageRef(f.read(max_bytes + 1), path)


def _check_size(ref: ImageRef, max_bytes: int) -> ImageRef:
    if ref.data is not None and len(ref.data) > max_bytes:
        return ImageRef(None, ref.path, f"image is over the {max_bytes}-byte limit")
    return ref


# ----------------------------------------------------------------------------- remote URIs


def host_allowed(host: str, allowed: list[str]) -> bool:
    """`host` equals an allowed name, or is a subdomain of an allowed `*.name`."""
    host = host.lower().rstrip(".")
    for a in allowed:
        a = a.lower().rstrip(".")
        if a.startswith("*.") and (host.endswith(a[1:]) and len(host) > len(a) - 1):
            return True
        if host == a:
            return True
    return False


def check_remote(uri: str, remote) -> str | None:
    """Why `uri` may not be fetched under `remote` (a `RemoteConfig`), or None."""
    if remote is None or not remote.enabled:
        return REMOTE_DISABLED
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in [s.lower().rstrip(":/") for s in remote.schemes]:
        return (f"remote scheme {scheme}:// is not allowed (allowed: {', '.join(remote.schemes) or 'none'}; "
                "see --remote-scheme)")
    host = parts.hostname or parts.netloc
    if not host or not host_allowed(host, list(remote.hosts)):
        return f"remote host {host!r} is not in the allow-list (allowed: {', '.join(remote.hosts) or 'none'}; see --remote-host)"
    return None


def fetch_remote(uri: str, remote) -> ImageRef:
    """Fetch an allow-listed URI with a timeout and a size cap; store it only if it is an image."""
    why = check_remote(uri, remote)
    if why:
        return ImageRef(None, uri, f"{why}: {_show(uri)}")
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    try:
        if scheme in ("http", "https"):
            data = _fetch_http(uri, remote)
        else:
            data = _fetch_fsspec(uri, remote)
    except Exception as e:  # noqa: BLE001 - any fetch failure is this row's error
        return ImageRef(None, uri, f"cannot fetch image URI {_show(uri)}: {type(e).__name__}: {_show(str(e))}")
    if len(data) > remote.max_bytes:
        return ImageRef(None, uri, f"remote image is over the {remote.max_bytes}-byte limit: {_show(uri)}")
    if not data:
        return ImageRef(None, uri, f"remote image is empty (0 bytes): {_show(uri)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
    except Exception:  # noqa: BLE001 - not an image: nothing of it is stored
        return ImageRef(None, uri, f"remote URI did not return an image ({len(data)} bytes, not a known image "
                                   f"format): {_show(uri)}")
    return ImageRef(data, uri)


class _AllowListRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, remote) -> None:
        self.remote = remote

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        why = check_remote(newurl, self.remote)
        if why:
            raise urllib.error.URLError(f"redirect to {_show(newurl)} refused: {why}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch_http(uri: str, remote) -> bytes:
    deadline = time.monotonic() + float(remote.timeout_s)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _AllowListRedirects(remote))
    req = urllib.request.Request(uri, headers={"User-Agent": "unipic-curation"})
    with opener.open(req, timeout=float(remote.timeout_s)) as resp:
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > remote.max_bytes:
            raise ValueError(f"Content-Length {length} is over the {remote.max_bytes}-byte limit")
        chunks, total = [], 0
        while total <= remote.max_bytes:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fetch took longer than {remote.timeout_s} s")
            chunk = resp.read(min(1 << 16, remote.max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)


def _fetch_fsspec(uri: str, remote) -> bytes:
    """s3://, gs://, hf://, ...: through fsspec in a worker thread, abandoned at the deadline."""
    import concurrent.futures

    def read() -> bytes:
        import fsspec

        with fsspec.open(uri, "rb") as f:
            return f.read(remote.max_bytes + 1)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(read).result(timeout=float(remote.timeout_s))
    except concurrent.futures.TimeoutError as e:
        raise TimeoutError(f"fetch took longer than {remote.timeout_s} s") from e
    finally:
        pool.shutdown(wait=False)


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
    except Exception as e:  # noqa: BLE001 - whatever PIL raises on bad data is this row's error
        raise ValueError(f"cannot decode image: {type(e).__name__}: {e}") from e
    if im.mode != "RGB":
        notes.append(f"converted {im.mode} image to RGB")
    try:
        return bounded_resize(to_rgb(im), max_pixels), notes
    except Exception as e:  # noqa: BLE001 - an image mode or size the converters cannot take
        raise ValueError(f"cannot convert image ({im.mode}, {im.width}x{im.height}) to RGB: {type(e).__name__}: {e}") from e

"""Image preparation shared by every judge: RGB and a pixel budget."""

from __future__ import annotations

import math

from PIL import Image


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, LA, P, CMYK, RGBA, I;16, ...) to RGB.

    Transparent pixels are composited over white, 16-bit and float images are scaled to
    8 bits, palette images are expanded (with their transparency, if any).
    """
    if img.mode == "RGB":
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0, 0, 255).astype("uint8")
        img = Image.fromarray(arr, mode="L")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return background
    return img.convert("RGB")


def bounded_resize(img: Image.Image, max_pixels: int | None, min_side: int = 1) -> Image.Image:
    """Downscale (keeping the aspect ratio) so width*height <= max_pixels; never upscale."""
    if not max_pixels:
        return img
    w, h = img.size
    if w * h <= max_pixels:
        return img
    scale = math.sqrt(max_pixels / (w * h))
    nw, nh = max(min_side, int(w * scale)), max(min_side, int(h * scale))
    return img.resize((nw, nh), Image.Resampling.BICUBIC)

"""Conversions between PIL images and the model's [-1, 1] tensors."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image


def center_crop_square(image: Image.Image) -> Image.Image:
    """The largest centred square (how editing sources and generation targets are framed)."""
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side))


def pad_square(image: Image.Image, fill: tuple[int, int, int] = (127, 127, 127)) -> Image.Image:
    """Pad to a square with grey, keeping the whole image (how understanding inputs are framed)."""
    w, h = image.size
    side = max(w, h)
    out = Image.new("RGB", (side, side), fill)
    out.paste(image, ((side - w) // 2, (side - h) // 2))
    return out


def to_tensor(images: Sequence[Image.Image], size: int, frame: str = "crop") -> torch.Tensor:
    """PIL images -> (B, 3, size, size) in [-1, 1]; `frame` is 'crop' (centre square) or 'pad'."""
    out = []
    for image in images:
        image = image.convert("RGB")
        image = center_crop_square(image) if frame == "crop" else pad_square(image)
        image = image.resize((size, size), Image.BICUBIC)
        array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0
        out.append(torch.from_numpy(array).permute(2, 0, 1))
    return torch.stack(out)


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(B, 3, H, W) in [-1, 1] -> PIL images."""
    array = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(a.permute(1, 2, 0).cpu().numpy()) for a in array]

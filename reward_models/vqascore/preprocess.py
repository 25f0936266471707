"""Image preprocessing for VQAScore: t2v-metrics' own by default, a pixel budget as a speed option.

t2v-metrics 3.0 (`qwen2vl_model.py`) hands each image to `qwen_vl_utils.process_vision_info`
before the processor. For a still image that is `fetch_image`: RGB, then a "smart resize" to
the 28-pixel grid (the Qwen2-VL patch 14 times the 2x2 merge) that keeps the aspect ratio and
the pixel count within [4 * 28 * 28, 16384 * 28 * 28], resampled with PIL's `Image.resize`
default (bicubic, computed as the Pillow 10.0.0 that t2v-metrics pins computes it). The
processor then runs with its own settings (t2v-metrics 3.0 does not turn its resize off), which
for a real Qwen2.5-VL processor is the identity on such an image.

`prepare_image(img, max_pixels=None)` does exactly that first step, so the native backend's
scores are the published metric. `max_pixels=N` instead shrinks the image to an N-pixel budget
(aspect kept, never enlarged) and lets the processor resize: cheaper on large images, but not
t2v-metrics' numbers (up to a few 1e-3 apart on a trained judge); `describe_preprocessing`
names which one scored a row.
"""

from __future__ import annotations

import math

from PIL import Image

from ..images import bounded_resize, to_rgb

GRID = 28
"""qwen_vl_utils' IMAGE_FACTOR: patch 14 x spatial merge 2."""
MIN_PIXELS = 4 * GRID * GRID
"""qwen_vl_utils' MIN_PIXELS (4 visual tokens)."""
MAX_PIXELS = 16384 * GRID * GRID
"""qwen_vl_utils' MAX_PIXELS (16384 visual tokens)."""
MAX_ASPECT = 200
"""qwen_vl_utils refuses images more elongated than this."""

T2V_METRICS = "t2v-metrics"
"""`describe_preprocessing` value of the default (t2v-metrics' own) preprocessing."""


def _nearest_multiple(x: float, step: int) -> int:
    # Python's round (half to even), as qwen_vl_utils' round_by_factor uses it.
    return round(x / step) * step


def grid_size(height: int, width: int, grid: int = GRID, min_pixels: int = MIN_PIXELS,
              max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(height, width) after qwen_vl_utils' smart resize: multiples of `grid`, aspect kept,
    pixel count within [min_pixels, max_pixels]."""
    short, long = min(height, width), max(height, width)
    if short <= 0:
        raise ValueError(f"empty image {width}x{height}")
    if long / short > MAX_ASPECT:
        raise ValueError(f"aspect ratio {long / short:.1f} exceeds {MAX_ASPECT} (t2v-metrics refuses it too)")
    h = max(grid, _nearest_multiple(height, grid))
    w = max(grid, _nearest_multiple(width, grid))
    if h * w > max_pixels:
        shrink = math.sqrt(height * width / max_pixels)
        h = math.floor(height / shrink / grid) * grid
        w = math.floor(width / shrink / grid) * grid
    elif h * w < min_pixels:
        grow = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * grow / grid) * grid
        w = math.ceil(width * grow / grid) * grid
    return h, w


def bicubic_as_pillow10(img: Image.Image, width: int, height: int) -> Image.Image:
    """`img.resize((width, height))` as Pillow 10.0.0 (which t2v-metrics 3.0 pins) computes it.

    `Image.resize`'s default filter on RGB is bicubic. Pillow 10 resamples in two passes,
    horizontal then vertical, rounding to 8 bits in between; newer Pillow may run the vertical
    pass first, which changes pixels by up to ~20 levels when one side shrinks while the other
    grows (640x480 -> 644x476). Running the two passes explicitly gives Pillow 10's pixels on any
    version (a pass is skipped when its side does not change, as in Pillow).
    """
    if img.width != width:
        img = img.resize((width, img.height), Image.Resampling.BICUBIC)
    if img.height != height:
        img = img.resize((width, height), Image.Resampling.BICUBIC)
    return img


def t2v_metrics_image(img: Image.Image) -> Image.Image:
    """The image t2v-metrics' Qwen2(.5)-VL scorer hands to the processor."""
    img = to_rgb(img)
    h, w = grid_size(img.height, img.width)
    return bicubic_as_pillow10(img, w, h)


def prepare_image(img: Image.Image, max_pixels: int | None = None) -> Image.Image:
    """t2v-metrics' preprocessing (`max_pixels=None`), or the pixel-budget speed option."""
    if max_pixels:
        return bounded_resize(to_rgb(img), max_pixels)
    return t2v_metrics_image(img)


def describe_preprocessing(max_pixels: int | None) -> str:
    """What a row's `preprocess` info says: `t2v-metrics` or `pixel-budget:<N>`."""
    return f"pixel-budget:{int(max_pixels)}" if max_pixels else T2V_METRICS

"""Planted faults, each tagged with the UniPic failure mode it stands for.

- instruction_alignment: the picture of a *different* scene (one attribute changed), caption kept.
- visual_artifacts: the right scene, degraded (noise, 8x8 DCT blocking, motion smear).
- semantic_inconsistency: the caption's objects and colours are there, but one object is broken
  (sliced with displaced halves, half one colour / half another, a ghost duplicate under it).
- edit_noncompliance: the edit was not done (unchanged / nearly unchanged) or done wrongly.
Every fault is measurable with `synthetic.truth` or pixel statistics (see tests/synthetic).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image

from .prompts import Edit, caption
from .scene import COLOURS, SHAPES, Scene, object_diameter, paint, random_scene, render, render_array, shape_mask

T2I_FAULTS: dict[str, tuple[str, ...]] = {
    "instruction_alignment": ("wrong_colour", "wrong_shape", "wrong_count", "wrong_position"),
    "visual_artifacts": ("noise", "blocking", "blur"),
    "semantic_inconsistency": ("sliced", "two_tone", "ghost"),
}
EDIT_FAULTS: dict[str, tuple[str, ...]] = {
    "edit_noncompliance": ("unchanged", "nearly_unchanged", "wrong_edit"),
    "visual_artifacts": ("noise", "blocking", "blur"),
    "semantic_inconsistency": ("other_scene",),
}
WRONG_EDIT = {
    "change_colour": "wrong_colour_edit",
    "add": "wrong_object_added",
    "remove": "wrong_object_removed",
    "move": "wrong_move",
}
"""`wrong_edit` is recorded under a kind-specific name."""
FAULT_MODE: dict[str, str] = {f: m for table in (T2I_FAULTS, EDIT_FAULTS) for m, fs in table.items() for f in fs}
FAULT_MODE.update({name: "edit_noncompliance" for name in WRONG_EDIT.values()})
FAULT_MODE["noisier"] = "visual_artifacts"

NOISE_SIGMA = 35.0
"""Strong noise: obvious at 64 px, objects still recognisable."""
BLOCK_KEEP, BLOCK_STEP = 1, 16.0
"""Blocking keeps each 8x8 block's mean and first gradients only (a very low-quality JPEG)."""
BLUR_FRACTION = 0.2
"""Motion-smear length as a fraction of the image side (13 px at 64 px)."""
GHOST_ALPHA = 0.75
"""Ghost opacity: a visibly lighter copy, yet above the analyser's 60 % chroma cut, so it merges with the object."""


@dataclass
class FaultResult:
    """A faulty image and what was planted."""

    image: Image.Image
    fault: str
    mode: str
    detail: dict[str, Any] = field(default_factory=dict)
    rendered: Scene | None = None
    """The scene actually drawn, when one describes the picture exactly."""


def _pick(rng: np.random.Generator, items) -> Any:
    items = list(items)
    return items[int(rng.integers(len(items)))]


# --- instruction_alignment ----------------------------------------------------------------


def attribute_fault(scene: Scene, fault: str, rng: np.random.Generator) -> tuple[Scene, dict[str, Any]]:
    """The scene with exactly one attribute changed (colour, shape, count or position)."""
    objs = list(scene.objects)
    i = int(rng.integers(len(objs)))
    if fault == "wrong_colour":
        new = _pick(rng, [c for c in COLOURS if c != objs[i].colour])
        detail = {"object": i, "from": objs[i].colour, "to": new}
        objs[i] = replace(objs[i], colour=new)
    elif fault == "wrong_shape":
        new = _pick(rng, [s for s in SHAPES if s != objs[i].shape])
        detail = {"object": i, "from": objs[i].shape, "to": new}
        objs[i] = replace(objs[i], shape=new)
    elif fault == "wrong_count":
        free = scene.free_positions()
        add = len(objs) == 1 or (len(objs) == 2 and rng.random() < 0.5)
        if add and free:
            dup = replace(objs[i], position=_pick(rng, free))
            detail = {"change": "added_duplicate", "object": i, "at": dup.position}
            objs.append(dup)
        else:
            detail = {"change": "removed", "object": i, "removed": asdict(objs[i])}
            objs.pop(i)
    elif fault == "wrong_position":
        new = _pick(rng, scene.free_positions())
        detail = {"object": i, "from": objs[i].position, "to": new}
        objs[i] = replace(objs[i], position=new)
    else:
        raise ValueError(f"not an attribute fault: {fault!r}")
    return scene.with_objects(objs), detail


# --- visual_artifacts ---------------------------------------------------------------------


def add_noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    """Per-pixel, per-channel gaussian noise (0..255 scale), clipped."""
    a = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(a + rng.normal(0.0, sigma, a.shape)), 0, 255).astype(np.uint8))


_K = np.arange(8)
_DCT = np.sqrt(np.where(_K[:, None] == 0, 1 / 8, 2 / 8)) * np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / 16)


def jpeg_blocking(image: Image.Image, keep: int = BLOCK_KEEP, step: float = BLOCK_STEP) -> Image.Image:
    """JPEG-style 8x8 blocking: each block's DCT keeps only coefficients with u + v <= keep,
    quantised (DC step 8, AC step `step`). Flat-ish blocks with visible seams. Pure numpy, so it
    does not depend on the libjpeg build."""
    a = np.asarray(image, dtype=np.float64) - 128.0
    h, w, _ = a.shape
    a = np.pad(a, ((0, -h % 8), (0, -w % 8), (0, 0)), mode="edge")
    blocks = a.reshape(a.shape[0] // 8, 8, a.shape[1] // 8, 8, 3).transpose(0, 2, 4, 1, 3)
    coef = _DCT @ blocks @ _DCT.T
    q = np.full((8, 8), float(step))
    q[0, 0] = 8.0
    kept = (_K[:, None] + _K[None, :]) <= keep
    back = _DCT.T @ (np.round(coef / q) * q * kept) @ _DCT
    out = back.transpose(0, 3, 1, 4, 2).reshape(a.shape)[:h, :w] + 128.0
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def motion_blur(image: Image.Image, length: int, axis: int) -> Image.Image:
    """Box smear of `length` px along `axis` (1 = horizontal, 0 = vertical), edges replicated."""
    a = np.asarray(image, dtype=np.float64)
    pad = [(0, 0)] * 3
    pad[axis] = (length // 2, length - 1 - length // 2)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis)
    c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
    n = a.shape[axis]
    out = (np.take(c, np.arange(length, length + n), axis=axis) - np.take(c, np.arange(n), axis=axis)) / length
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def artifact(image: Image.Image, fault: str, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """Apply one visual artifact; returns the image and its parameters."""
    size = min(image.size)
    if fault == "noise":
        return add_noise(image, NOISE_SIGMA, rng), {"sigma": NOISE_SIGMA}
    if fault == "blocking":
        return jpeg_blocking(image), {"keep": BLOCK_KEEP, "step": BLOCK_STEP}
    if fault == "blur":
        length, axis = max(3, round(BLUR_FRACTION * size)), int(rng.integers(2))
        return motion_blur(image, length, axis), {"length": length, "axis": "horizontal" if axis else "vertical"}
    raise ValueError(f"not an artifact: {fault!r}")


# --- semantic_inconsistency -----------------------------------------------------------------


def shift_mask(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate a mask, filling with False (no wrap-around)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    out[max(0, dy) : h + min(0, dy), max(0, dx) : w + min(0, dx)] = mask[
        max(0, -dy) : h + min(0, -dy), max(0, -dx) : w + min(0, -dx)
    ]
    return out


def _fits(mask: np.ndarray, dx: int, dy: int) -> bool:
    return int(shift_mask(mask, dx, dy).sum()) == int(mask.sum())


def broken_object(scene: Scene, fault: str, rng: np.random.Generator, size: int) -> tuple[Image.Image, dict[str, Any]]:
    """Draw one object broken, beneath the others, so every other object stays intact."""
    i = int(rng.integers(len(scene.objects)))
    obj = scene.objects[i]
    canvas = render_array(replace(scene, objects=()), size)  # background and word only
    mask = shape_mask(obj.shape, obj.position, size)
    d = object_diameter(size)
    xs = np.nonzero(mask.any(0))[0]
    cut = (xs.min() + xs.max() + 1) // 2
    left = mask & (np.arange(size)[None, :] < cut)
    right = mask & ~left
    rgb = COLOURS[obj.colour]
    if fault == "sliced":
        # Halves slide vertically in opposite directions with a small gap between them.
        dy, gap = max(1, round(0.3 * d)), max(1, round(0.08 * d))
        sign = 1 if rng.random() < 0.5 else -1
        if not (_fits(left, -gap, -sign * dy) and _fits(right, gap, sign * dy)):
            sign = -sign
        paint(canvas, shift_mask(left, -gap, -sign * dy), rgb)
        paint(canvas, shift_mask(right, gap, sign * dy), rgb)
        detail = {"object": i, "shift": dy, "gap": 2 * gap}
    elif fault == "two_tone":
        other = _pick(rng, [c for c in COLOURS if c != obj.colour])
        flip = rng.random() < 0.5
        paint(canvas, right if flip else left, rgb)
        paint(canvas, left if flip else right, COLOURS[other])
        detail = {"object": i, "second_colour": other}
    elif fault == "ghost":
        ox, oy = max(2, round(0.45 * d)), max(1, round(0.3 * d))
        ox *= 1 if rng.random() < 0.5 else -1
        oy *= 1 if rng.random() < 0.5 else -1
        if not _fits(mask, ox, oy):
            ox = -ox if not _fits(mask, ox, 0) else ox
            oy = -oy if not _fits(mask, 0, oy) else oy
        paint(canvas, shift_mask(mask, ox, oy), rgb, alpha=GHOST_ALPHA)
        paint(canvas, mask, rgb)
        detail = {"object": i, "offset": [ox, oy], "alpha": GHOST_ALPHA}
    else:
        raise ValueError(f"not a composition fault: {fault!r}")
    for k, other in enumerate(scene.objects):
        if k != i:
            paint(canvas, shape_mask(other.shape, other.position, size), COLOURS[other.colour])
    return Image.fromarray(canvas), detail


# --- entry points -------------------------------------------------------------------------


def t2i_fault(scene: Scene, fault: str, rng: np.random.Generator, size: int = 64) -> FaultResult:
    """A faulty picture for the prompt `caption(scene)`."""
    mode = FAULT_MODE[fault]
    if mode == "instruction_alignment":
        drawn, detail = attribute_fault(scene, fault, rng)
        return FaultResult(render(drawn, size), fault, mode, detail, drawn)
    if mode == "visual_artifacts":
        img, detail = artifact(render(scene, size), fault, rng)
        return FaultResult(img, fault, mode, detail, None)
    img, detail = broken_object(scene, fault, rng, size)
    return FaultResult(img, fault, mode, detail, None)


def nearly_unchanged(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    """The input re-encoded (JPEG q90) and shifted 1-2 px: bytes differ, content does not."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90, subsampling=0)
    a = np.asarray(Image.open(buf).convert("RGB"))
    dx, dy = (0, 0)
    while (dx, dy) == (0, 0):
        dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
    h, w, _ = a.shape
    p = np.pad(a, ((2, 2), (2, 2), (0, 0)), mode="edge")
    out = p[2 - dy : 2 - dy + h, 2 - dx : 2 - dx + w]
    return Image.fromarray(np.ascontiguousarray(out)), {"jpeg_quality": 90, "shift": [dx, dy]}


def wrong_edit(edit: Edit, rng: np.random.Generator) -> tuple[Scene, dict[str, Any]]:
    """A scene where the instruction was carried out wrongly (wrong colour/object/place)."""
    src, objs, i = edit.source, list(edit.source.objects), edit.index
    if edit.kind == "change_colour":
        bad = _pick(rng, [c for c in COLOURS if c not in (src.objects[i].colour, edit.detail["to"])])
        objs[i] = replace(objs[i], colour=bad)
        return src.with_objects(objs), {"asked": edit.detail["to"], "got": bad}
    if edit.kind == "add":
        want = edit.target.objects[i]
        if rng.random() < 0.5:
            got = replace(want, colour=_pick(rng, [c for c in COLOURS if c != want.colour]))
        else:
            got = replace(want, shape=_pick(rng, [s for s in SHAPES if s != want.shape]))
        return src.with_objects(objs + [got]), {"asked": asdict(want), "got": asdict(got)}
    if edit.kind == "remove":
        j = _pick(rng, [k for k in range(len(objs)) if k != i])
        gone = objs.pop(j)
        return src.with_objects(objs), {"asked": asdict(src.objects[i]), "removed": asdict(gone)}
    if edit.kind == "move":
        dest = edit.detail["to"]
        others = [p for p in src.free_positions() if p != dest]
        if others:
            objs[i] = replace(objs[i], position=_pick(rng, others))
            return src.with_objects(objs), {"asked": dest, "got": objs[i].position}
        j = _pick(rng, [k for k in range(len(objs)) if k != i])
        objs[j] = replace(objs[j], position=dest)
        return src.with_objects(objs), {"asked": dest, "moved_instead": asdict(src.objects[j])}
    raise ValueError(f"unknown edit kind {edit.kind!r}")


def edit_fault(edit: Edit, fault: str, rng: np.random.Generator, size: int = 64) -> FaultResult:
    """A faulty output for an edit (`fault` from EDIT_FAULTS; `wrong_edit` gets a kind-specific name)."""
    mode = FAULT_MODE[fault]
    if fault == "unchanged":
        return FaultResult(render(edit.source, size), fault, mode, {}, edit.source)
    if fault == "nearly_unchanged":
        img, detail = nearly_unchanged(render(edit.source, size), rng)
        return FaultResult(img, fault, mode, detail, None)
    if fault == "wrong_edit":
        drawn, detail = wrong_edit(edit, rng)
        return FaultResult(render(drawn, size), WRONG_EDIT[edit.kind], mode, detail, drawn)
    if mode == "visual_artifacts":
        img, detail = artifact(render(edit.target, size), fault, rng)
        return FaultResult(img, fault, mode, detail, None)
    if fault == "other_scene":
        avoid = {frozenset(edit.source.objects), frozenset(edit.target.objects)}
        other = random_scene(rng)
        while frozenset(other.objects) in avoid:  # must differ in its objects, not just backdrop
            other = random_scene(rng)
        return FaultResult(render(other, size), fault, mode, {"other_caption": caption(other)}, other)
    raise ValueError(f"unknown edit fault {fault!r}")


__all__ = [
    "EDIT_FAULTS", "FAULT_MODE", "T2I_FAULTS", "WRONG_EDIT", "FaultResult", "add_noise", "artifact",
    "attribute_fault", "broken_object", "edit_fault", "jpeg_blocking", "motion_blur", "nearly_unchanged",
    "shift_mask", "t2i_fault", "wrong_edit",
]

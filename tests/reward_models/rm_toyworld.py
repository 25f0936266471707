"""A second, older toy world (one centred shape on grey) still used by some reward-model tests.

New tests use `synthetic` (the project's one world). What remains here: `CORPUS`, the tiny
judges' tokenizer text (`conftest.py`), and the pairs and triplets of `rm_fixtures.py`,
`test_scorers.py` and `test_training.py`, whose thresholds were tuned on these images; moving
them to `synthetic` means re-tuning those thresholds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 40), "blue": (30, 60, 220), "yellow": (230, 210, 30)}
SHAPES = ("circle", "square", "triangle")


def draw(colour: str, shape: str, size: int = 64, rng: random.Random | None = None) -> Image.Image:
    rng = rng or random.Random(0)
    img = Image.new("RGB", (size, size), (235, 235, 235))
    d = ImageDraw.Draw(img)
    r = size * rng.uniform(0.25, 0.35)
    cx, cy = size / 2 + rng.uniform(-4, 4), size / 2 + rng.uniform(-4, 4)
    box = [cx - r, cy - r, cx + r, cy + r]
    if shape == "circle":
        d.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        d.rectangle(box, fill=COLOURS[colour])
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[colour])
    return img


def degrade(img: Image.Image, kind: str, rng: random.Random) -> Image.Image:
    if kind == "blur":
        return img.filter(ImageFilter.GaussianBlur(3))
    arr = np.asarray(img).astype(np.float32)
    arr += np.random.default_rng(rng.randrange(1 << 30)).normal(0, 60, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@dataclass
class Pair:
    prompt: str
    preferred: Image.Image
    rejected: Image.Image
    fault: str
    mode: str


def preference_pairs(n: int, seed: int, size: int = 64) -> list[Pair]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        good = draw(colour, shape, size, rng)
        fault = rng.choice(["colour", "shape", "blur", "noise"])
        if fault == "colour":
            bad = draw(rng.choice([c for c in COLOURS if c != colour]), shape, size, rng)
        elif fault == "shape":
            bad = draw(colour, rng.choice([s for s in SHAPES if s != shape]), size, rng)
        else:
            bad = degrade(draw(colour, shape, size, rng), fault, rng)
        mode = "alignment" if fault in ("colour", "shape") else "fidelity"
        out.append(Pair(f"a {colour} {shape}", good, bad, fault, mode))
    return out


@dataclass
class Triplet:
    source: Image.Image
    instruction: str
    edited: Image.Image
    kind: str


def edit_triplets(n: int, seed: int, size: int = 64) -> list[Triplet]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        state = random.Random(rng.randrange(1 << 30))
        src = draw(colour, shape, size, random.Random(state.random()))
        if rng.random() < 0.5:
            new = rng.choice([c for c in COLOURS if c != colour])
            ins, out_img, kind = f"make the {shape} {new}", draw(new, shape, size, random.Random(0)), "recolour"
        else:
            new = rng.choice([s for s in SHAPES if s != shape])
            ins, out_img, kind = f"turn the {shape} into a {new}", draw(colour, new, size, random.Random(0)), "reshape"
        out.append(Triplet(src, ins, out_img, kind))
    return out


CORPUS = [f"a {c} {s}" for c in COLOURS for s in SHAPES] + [
    f"make the {s} {c}" for c in COLOURS for s in SHAPES] + [f"turn the {s} into a {t}" for s in SHAPES for t in SHAPES]

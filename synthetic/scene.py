"""Scene spec and renderer: the ground truth every synthetic image is drawn from.

A scene is 1-3 flat-coloured shapes at distinct named positions on a light, unsaturated
background, optionally with a short dark word. Keeping objects saturated and everything else
unsaturated is what lets `synthetic.truth` read the scene back from pixels alone.
Geometry scales with the image size, so the same scene can be rendered at 32..256 px.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHAPES = ("circle", "square", "triangle")
# Saturated colours chosen to be far apart in hue (0, 32, 56, 128, 228, 284 degrees), so the
# analyser can name them from hue alone even after blending with the background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 20, 20),
    "orange": (245, 130, 0),
    "yellow": (235, 220, 0),
    "green": (20, 160, 40),
    "blue": (30, 70, 220),
    "purple": (150, 40, 190),
}
POSITIONS = ("left", "right", "top", "bottom", "center")
ANCHORS: dict[str, tuple[float, float]] = {  # (x, y) as fractions of the image side
    "left": (0.2, 0.5),
    "right": (0.8, 0.5),
    "top": (0.5, 0.2),
    "bottom": (0.5, 0.8),
    "center": (0.5, 0.5),
}
# Plain light backgrounds (saturation <= 0.12, below the analyser's threshold).
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (255, 255, 255),
    "light grey": (225, 225, 225),
    "beige": (245, 238, 215),
    "light blue": (218, 232, 248),
}
GRADIENT = "soft gradient"
GRADIENT_STOPS = ((252, 252, 252), (212, 226, 244))  # top -> bottom
WORDS = ("CAT", "SUN", "DOG", "SKY", "BOX", "MAP")
WORD_RGB = (30, 30, 30)
_COLOUR_NAMES = tuple(COLOURS)
OBJECT_SCALE = 0.22
"""Object diameter as a fraction of the image side (14 px at 64 px, with >= 4 px gaps)."""
REFERENCE_SIZE = 64
"""Size at which the bitmap font is drawn 1:1; words are rescaled to other sizes."""


@dataclass(frozen=True)
class SceneObject:
    """One shape: what the caption names and the analyser reads back."""

    shape: str
    colour: str
    position: str


@dataclass(frozen=True)
class Scene:
    """A whole picture. Positions (objects and word) are distinct."""

    objects: tuple[SceneObject, ...]
    background: str = "white"
    word: str | None = None
    word_position: str | None = None

    def __post_init__(self) -> None:
        used = [o.position for o in self.objects] + ([self.word_position] if self.word else [])
        if len(set(used)) != len(used):
            raise ValueError(f"positions collide: {used}")
        for o in self.objects:
            if o.shape not in SHAPES or o.colour not in COLOURS or o.position not in POSITIONS:
                raise ValueError(f"bad object {o}")
        if self.background not in BACKGROUNDS and self.background != GRADIENT:
            raise ValueError(f"bad background {self.background!r}")

    def free_positions(self) -> list[str]:
        """Positions not taken by an object or the word, in canonical order."""
        used = {o.position for o in self.objects} | ({self.word_position} if self.word else set())
        return [p for p in POSITIONS if p not in used]

    def with_objects(self, objects: list[SceneObject] | tuple[SceneObject, ...]) -> "Scene":
        return replace(self, objects=tuple(objects))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (objects as a list of {shape, colour, position})."""
        d = asdict(self)
        d["objects"] = list(d["objects"])
        return d

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Scene":
        return Scene(
            objects=tuple(SceneObject(**o) for o in d["objects"]),
            background=d.get("background", "white"),
            word=d.get("word"),
            word_position=d.get("word_position"),
        )


def random_scene(
    rng: np.random.Generator,
    n_objects: int | None = None,
    word_prob: float = 0.25,
    gradient_prob: float = 0.15,
) -> Scene:
    """Draw a scene: 1-3 objects (any colour/shape, repeats allowed), a background, maybe a word."""
    n = int(rng.integers(1, 4)) if n_objects is None else n_objects
    positions = [POSITIONS[i] for i in rng.permutation(len(POSITIONS))]
    objects = tuple(
        SceneObject(SHAPES[int(rng.integers(len(SHAPES)))], _COLOUR_NAMES[int(rng.integers(len(COLOURS)))], pos)
        for pos in positions[:n]
    )
    bg = GRADIENT if rng.random() < gradient_prob else list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    word = word_pos = None
    if n < len(POSITIONS) and rng.random() < word_prob:
        word, word_pos = WORDS[int(rng.integers(len(WORDS)))], positions[n]
    return Scene(objects=objects, background=bg, word=word, word_position=word_pos)


# --- geometry -----------------------------------------------------------------------------


def object_diameter(size: int) -> int:
    """Object side in pixels for an image of `size` px (at least 5 so shapes stay distinct)."""
    return max(5, round(OBJECT_SCALE * size))


def object_box(position: str, size: int) -> tuple[int, int, int, int]:
    """Inclusive pixel box (x0, y0, x1, y1) of an object at `position`."""
    d = object_diameter(size)
    ax, ay = ANCHORS[position]
    x0, y0 = round(ax * size - d / 2), round(ay * size - d / 2)
    return x0, y0, x0 + d - 1, y0 + d - 1


def shape_mask(shape: str, position: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask of one shape, drawn antialias-free with ImageDraw."""
    im = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = object_box(position, size)
    if shape == "circle":
        draw.ellipse([x0, y0, x1, y1], fill=255)
    elif shape == "square":
        draw.rectangle([x0, y0, x1, y1], fill=255)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x0, y1), (x1, y1)], fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return np.asarray(im) > 0


def word_mask(word: str, position: str, size: int) -> np.ndarray:
    """Mask of `word` in PIL's built-in bitmap font, scaled with the image, centred on `position`."""
    font = ImageFont.load_default_imagefont()  # bitmap font: identical bytes on every machine
    _, _, w, h = font.getbbox(word)
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).text((0, 0), word, fill=255, font=font)
    scale = size / REFERENCE_SIZE
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    im = im.resize((sw, sh), Image.Resampling.NEAREST)
    out = np.zeros((size, size), dtype=bool)
    ax, ay = ANCHORS[position]
    x0, y0 = round(ax * size - sw / 2), round(ay * size - sh / 2)
    src = np.asarray(im) > 0
    xs, ys = max(0, x0), max(0, y0)
    xe, ye = min(size, x0 + sw), min(size, y0 + sh)
    out[ys:ye, xs:xe] = src[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return out


# --- rendering ----------------------------------------------------------------------------


def background_array(background: str, size: int) -> np.ndarray:
    """(size, size, 3) uint8 background: a plain colour or a soft vertical gradient."""
    if background == GRADIENT:
        top, bottom = (np.array(c, dtype=np.float64) for c in GRADIENT_STOPS)
        t = np.linspace(0.0, 1.0, size)[:, None]
        rows = np.rint(top * (1 - t) + bottom * t).astype(np.uint8)
        return np.repeat(rows[:, None, :], size, axis=1)
    return np.broadcast_to(np.array(BACKGROUNDS[background], dtype=np.uint8), (size, size, 3)).copy()


def paint(canvas: np.ndarray, mask: np.ndarray, rgb: tuple[int, int, int], alpha: float = 1.0) -> None:
    """Paint `rgb` into `canvas` where `mask` (in place); alpha < 1 blends with what is there."""
    if alpha >= 1.0:
        canvas[mask] = rgb
    else:
        mixed = alpha * np.array(rgb, dtype=np.float64) + (1 - alpha) * canvas[mask].astype(np.float64)
        canvas[mask] = np.rint(mixed).astype(np.uint8)


def render_array(scene: Scene, size: int = 64, skip: int | None = None) -> np.ndarray:
    """Scene as a (size, size, 3) uint8 array; `skip` leaves out one object (faults redraw it)."""
    canvas = background_array(scene.background, size)
    if scene.word:
        paint(canvas, word_mask(scene.word, scene.word_position, size), WORD_RGB)
    for k, obj in enumerate(scene.objects):
        if k != skip:
            paint(canvas, shape_mask(obj.shape, obj.position, size), COLOURS[obj.colour])
    return canvas


def render(scene: Scene, size: int = 64) -> Image.Image:
    """Render a scene to an RGB PIL image (deterministic, antialias-free)."""
    return Image.fromarray(render_array(scene, size))

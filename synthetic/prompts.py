"""Scene -> caption, caption -> scene, and edit instructions.

The vocabulary is deliberately small and regular ("a red circle on the left, ... , on a white
background") so a caption can be parsed back into a scene (`parse_caption`) and so a model
trained on the world can learn every word of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .scene import BACKGROUNDS, COLOURS, GRADIENT, POSITIONS, SHAPES, Scene, SceneObject

POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}
MOVE_PHRASES = {p: f"to the {p}" for p in POSITION_PHRASES}
EDIT_KINDS = ("change_colour", "add", "remove", "move")


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def object_phrase(obj: SceneObject, with_position: bool = True) -> str:
    """'a red circle on the left' (or without the position)."""
    text = f"{article(obj.colour)} {obj.colour} {obj.shape}"
    return f"{text} {POSITION_PHRASES[obj.position]}" if with_position else text


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def caption(scene: Scene) -> str:
    """The scene's one canonical caption, e.g.
    'a red circle on the left and the word "SUN", on a white background'."""
    parts = [object_phrase(o) for o in scene.objects]
    text = _join(parts) if parts else "nothing"
    if scene.word:
        text += f' and the word "{scene.word}"'
    return f"{text}, on {article(scene.background)} {scene.background} background"


_OBJ_RE = re.compile(
    r"\b(?:a|an) (" + "|".join(COLOURS) + r") (" + "|".join(SHAPES) + r") ("
    + "|".join(POSITION_PHRASES.values()) + r")"
)
_WORD_RE = re.compile(r'the word "([^"]+)"')
_BG_RE = re.compile(r"on (?:a|an) ([a-z ]+?) background")


def parse_caption(text: str) -> Scene:
    """Inverse of `caption` (tolerates missing background/word). Raises ValueError if no object."""
    by_phrase = {v: k for k, v in POSITION_PHRASES.items()}
    objects = tuple(SceneObject(s, c, by_phrase[p]) for c, s, p in _OBJ_RE.findall(text))
    if not objects:
        raise ValueError(f"no object in caption {text!r}")
    word = _WORD_RE.search(text)
    bg = _BG_RE.search(text)
    background = bg.group(1) if bg and (bg.group(1) in BACKGROUNDS or bg.group(1) == GRADIENT) else "white"
    used = {o.position for o in objects}
    free = [p for p in POSITIONS if p not in used]
    return Scene(
        objects=objects,
        background=background,
        word=word.group(1) if word and free else None,
        word_position=free[0] if word and free else None,
    )


def reference(scene: Scene, index: int) -> str:
    """'the red circle', or 'the red circle on the left' when colour+shape is ambiguous."""
    obj = scene.objects[index]
    same = [o for o in scene.objects if (o.colour, o.shape) == (obj.colour, obj.shape)]
    base = f"the {obj.colour} {obj.shape}"
    return f"{base} {POSITION_PHRASES[obj.position]}" if len(same) > 1 else base


# --- edits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """An instructed edit: `target` is the source scene with exactly the instructed change."""

    kind: str
    instruction: str
    source: Scene
    target: Scene
    index: int
    """Object index in `source` (for `add`: the new object's index in `target`)."""
    detail: dict[str, Any] = field(default_factory=dict)


def _pick(rng: np.random.Generator, items: list | tuple) -> Any:
    return items[int(rng.integers(len(items)))]


def possible_kinds(scene: Scene) -> list[str]:
    """Edits that keep the world's rules (1-3 objects, distinct positions)."""
    kinds = ["change_colour"]
    free = scene.free_positions()
    if len(scene.objects) < 3 and free:
        kinds.append("add")
    if len(scene.objects) > 1:
        kinds.append("remove")
    if free:
        kinds.append("move")
    return kinds


def make_edit(scene: Scene, kind: str, rng: np.random.Generator) -> Edit:
    """Build one edit of `kind` on `scene` (kind must be in `possible_kinds(scene)`)."""
    objs = list(scene.objects)
    if kind == "change_colour":
        i = int(rng.integers(len(objs)))
        new = _pick(rng, [c for c in COLOURS if c != objs[i].colour])
        ref = reference(scene, i)
        template = _pick(rng, ["make {ref} {c}", "change the colour of {ref} to {c}"])
        objs[i] = replace(objs[i], colour=new)
        return Edit(kind, template.format(ref=ref, c=new), scene, scene.with_objects(objs), i,
                    {"from": scene.objects[i].colour, "to": new})
    if kind == "add":
        obj = SceneObject(_pick(rng, SHAPES), _pick(rng, list(COLOURS)), _pick(rng, scene.free_positions()))
        return Edit(kind, f"add {object_phrase(obj)}", scene, scene.with_objects(objs + [obj]), len(objs),
                    {"added": obj.__dict__.copy()})
    if kind == "remove":
        i = int(rng.integers(len(objs)))
        ref = reference(scene, i)
        template = _pick(rng, ["remove {ref}", "delete {ref}"])
        removed = objs.pop(i)
        return Edit(kind, template.format(ref=ref), scene, scene.with_objects(objs), i,
                    {"removed": removed.__dict__.copy()})
    if kind == "move":
        i = int(rng.integers(len(objs)))
        dest = _pick(rng, scene.free_positions())
        ref = reference(scene, i)
        objs[i] = replace(objs[i], position=dest)
        return Edit(kind, f"move {ref} {MOVE_PHRASES[dest]}", scene, scene.with_objects(objs), i,
                    {"from": scene.objects[i].position, "to": dest})
    raise ValueError(f"unknown edit kind {kind!r}")


def random_edit(scene: Scene, rng: np.random.Generator, kind: str | None = None) -> Edit:
    """A random valid edit (of `kind` when possible)."""
    kinds = possible_kinds(scene)
    return make_edit(scene, kind if kind in kinds else _pick(rng, kinds), rng)

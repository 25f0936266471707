"""Dense descriptions of world images: every slot of the picture in words.

A description names what stands at each of the five positions, in one fixed order, then the
background and the image quality, e.g.

    left: a red circle. right: nothing. top: the word "SUN". bottom: nothing.
    center: a blue square, sliced. background: white. quality: clean.

Why this shape: the order is fixed by the picture (never by a caption), every slot is keyed by
the same position word the captions use ("on the left"), and empty slots are said out loud, so
a judge that has described an image can check a caption against its description slot by slot,
missing and extra objects included. Broken objects (the semantic-inconsistency faults) and
degraded images (the visual-artifact faults) are named too, so one description carries every
kind of evidence a judge needs.

These are the pretraining targets of the base VLM (`description_rows`), and the yardstick of its
held-out perception (`parse_description`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from .faults import T2I_FAULTS, artifact, broken_object, nearly_unchanged
from .prompts import article
from .scene import POSITIONS, Scene, random_scene, render

DESCRIBE_QUESTION = "Describe the image."
"""The question the base VLM answers with a description (and the judges ask before judging)."""
QUALITY_WORDS = {None: "clean", "noise": "noisy", "blocking": "blocky", "blur": "blurred"}
"""Image quality as the description says it."""
BROKEN_WORDS = {"sliced": "sliced", "two_tone": "two-toned", "ghost": "ghosted"}
"""A broken object's suffix (the semantic-inconsistency faults)."""


def describe(scene: Scene, quality: str | None = None, broken: tuple[int, str] | None = None) -> str:
    """The description of `scene` as drawn; `quality` an artifact fault name (None: clean), `broken`
    (object index, composition fault) for one broken object."""
    slots = {p: "nothing" for p in POSITIONS}
    if scene.word:
        slots[scene.word_position] = f'the word "{scene.word}"'
    for k, o in enumerate(scene.objects):
        text = f"{article(o.colour)} {o.colour} {o.shape}"
        if broken is not None and broken[0] == k:
            text += f", {BROKEN_WORDS[broken[1]]}"
        slots[o.position] = text
    parts = [f"{p}: {slots[p]}." for p in POSITIONS]
    parts += [f"background: {scene.background}.", f"quality: {QUALITY_WORDS[quality]}."]
    return " ".join(parts)


_SLOT_RE = re.compile(r"(left|right|top|bottom|center|background|quality): ([^.]*)\.")


def parse_description(text: str) -> dict[str, str]:
    """Slot -> its text ("a red circle", "nothing", ...): for measuring description accuracy."""
    return {k: v.strip() for k, v in _SLOT_RE.findall(text)}


def description_rows(n: int, seed: int, size: int = 64, clean_fraction: float = 0.5) -> list[dict[str, Any]]:
    """Question/answer rows (world understanding layout: image, question, answer, kind, scene): the
    describe question and the image's description. `clean_fraction` of the images are clean renders
    (some re-encoded and shifted by a pixel or two, which changes nothing that is described); the
    rest carry a visual artifact or one broken object, in equal shares."""
    from .datasets import _rng

    artifacts = T2I_FAULTS["visual_artifacts"]
    composition = T2I_FAULTS["semantic_inconsistency"]
    rows = []
    for i in range(n):
        rng = _rng(seed, "describe", i)
        scene = random_scene(rng)
        u = rng.random()
        if u < clean_fraction:
            image, kind = render(scene, size), "clean"
            if rng.random() < 0.2:
                image, kind = nearly_unchanged(image, rng)[0], "reencoded"
            text = describe(scene)
        elif u < clean_fraction + (1 - clean_fraction) / 2:
            kind = artifacts[int(rng.integers(len(artifacts)))]
            image = artifact(render(scene, size), kind, rng)[0]
            text = describe(scene, quality=kind)
        else:
            kind = composition[int(rng.integers(len(composition)))]
            image, detail = broken_object(scene, kind, rng, size)
            text = describe(scene, broken=(detail["object"], kind))
        rows.append({"image": image, "question": DESCRIBE_QUESTION, "answer": text, "kind": kind,
                     "scene": scene.to_dict()})
    return rows


__all__ = ["BROKEN_WORDS", "DESCRIBE_QUESTION", "QUALITY_WORDS", "describe", "description_rows",
           "parse_description"]

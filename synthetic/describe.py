"""Dense descriptions of world images, in the captions' own words.

A description lists every object in a fixed order (by position: left, right, top, bottom,
center), each phrased exactly as a caption phrases it, then the word, the background and the
image quality, e.g.

    a red circle on the left and a sliced blue square at the top, on a white background. quality: clean.

Why this shape: the order comes from the picture (never from a caption), and a correctly drawn
object is described by the very phrase a caption uses for it ("a red circle on the left"), so a
judge that has described an image checks a caption against its description by matching phrases
(what transformers do readily: find the same words earlier in the context), not by binding words
to pixels. Broken objects (the semantic-inconsistency faults) carry an adjective ("a sliced red
circle"), degraded images (the visual-artifact faults) a quality word, so one description carries
every kind of evidence a judge needs.

These are the pretraining targets of the base VLM (`description_rows`), and the yardstick of its
held-out perception (`parse_description`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .faults import EDIT_FAULTS, T2I_FAULTS, artifact, broken_object, nearly_unchanged
from .prompts import EDIT_KINDS, POSITION_PHRASES, article, caption
from .scene import BACKGROUNDS, COLOURS, GRADIENT, POSITIONS, SHAPES, Scene, random_scene, render

DESCRIBE_QUESTION = "Describe the image."
CHANGE_QUESTION = "What was changed from the first image to the second?"
"""The question the base VLM answers about an image pair with the instruction of the change it sees."""
NO_CHANGE = "nothing changed"
"""The answer when the second image shows the first one's scene unchanged (even if re-encoded)."""
OTHER_SCENE = "another scene"
"""The answer when the second image is a different scene altogether (not an edit of the first)."""
"""The question the base VLM answers with a description (and the judges ask before judging)."""
QUALITY_WORDS = {None: "clean", "noise": "noisy", "blocking": "blocky", "blur": "blurred"}
"""Image quality as the description says it."""
BROKEN_WORDS = {"sliced": "sliced", "two_tone": "two-toned", "ghost": "ghosted"}
"""A broken object's adjective (the semantic-inconsistency faults)."""


def describe(scene: Scene, quality: str | None = None, broken: tuple[int, str] | None = None,
             order: list[int] | None = None) -> str:
    """The description of `scene` as drawn; `quality` an artifact fault name (None: clean), `broken`
    (object index, composition fault) for one broken object; `order` the objects' order (indices into
    `scene.objects`; None: by position)."""
    if order is None:
        order = sorted(range(len(scene.objects)), key=lambda k: POSITIONS.index(scene.objects[k].position))
    text = caption(replace(scene, objects=tuple(scene.objects[k] for k in order)))
    if broken is not None:
        o = scene.objects[broken[0]]
        plain = f"{article(o.colour)} {o.colour} {o.shape} {POSITION_PHRASES[o.position]}"
        adjective = BROKEN_WORDS[broken[1]]
        text = text.replace(plain, f"{article(adjective)} {adjective} {o.colour} {o.shape} {POSITION_PHRASES[o.position]}", 1)
    return f"{text}. quality: {QUALITY_WORDS[quality]}."


_OBJ_RE = re.compile(r"\b(?:a|an) (?:(" + "|".join(BROKEN_WORDS.values()) + r") )?(" + "|".join(COLOURS) + r") ("
                     + "|".join(SHAPES) + r") (" + "|".join(POSITION_PHRASES.values()) + r")")
_BG_RE = re.compile(r"on (?:a|an) (" + "|".join(list(BACKGROUNDS) + [GRADIENT]) + r") background")


def parse_description(text: str) -> dict[str, str]:
    """Position (and `word`, `background`, `quality`) -> what the description says is there
    ("red circle", "sliced red circle"; absent positions are missing): for measuring perception."""
    by_phrase = {v: k for k, v in POSITION_PHRASES.items()}
    out = {by_phrase[p]: " ".join(x for x in (b, c, s) if x) for b, c, s, p in _OBJ_RE.findall(text)}
    word = re.search(r'the word "([^"]+)"', text)
    bg = _BG_RE.search(text)
    quality = re.search(r"quality: ([a-z]+)\.", text)
    out.update({k: m.group(1) for k, m in (("word", word), ("background", bg), ("quality", quality)) if m})
    return out


def description_rows(n: int, seed: int, size: int = 64, clean_fraction: float = 0.5,
                     order: str = "position") -> list[dict[str, Any]]:
    """Question/answer rows (world understanding layout: image, question, answer, kind, scene): the
    describe question and the image's description. `clean_fraction` of the images are clean renders
    (some re-encoded and shifted by a pixel or two, which changes nothing that is described); the
    rest carry a visual artifact or one broken object, in equal shares. `order`: `position` (objects
    listed left, right, top, bottom, center) or `random` (a random order per row, drawn from its own
    stream: every order a caption may use, so the model gives any caption of the picture its likelihood)."""
    from .sets import _rng

    artifacts = T2I_FAULTS["visual_artifacts"]
    composition = T2I_FAULTS["semantic_inconsistency"]
    rows = []
    for i in range(n):
        rng = _rng(seed, "describe", i)
        scene = random_scene(rng)
        perm = None
        if order == "random":
            perm = [int(k) for k in _rng(seed, "describe-order", i).permutation(len(scene.objects))]
        elif order != "position":
            raise ValueError(f"order must be position or random, not {order!r}")
        u = rng.random()
        if u < clean_fraction:
            image, kind = render(scene, size), "clean"
            if rng.random() < 0.2:
                image, kind = nearly_unchanged(image, rng)[0], "reencoded"
            text = describe(scene, order=perm)
        elif u < clean_fraction + (1 - clean_fraction) / 2:
            kind = artifacts[int(rng.integers(len(artifacts)))]
            image = artifact(render(scene, size), kind, rng)[0]
            text = describe(scene, quality=kind, order=perm)
        else:
            kind = composition[int(rng.integers(len(composition)))]
            image, detail = broken_object(scene, kind, rng, size)
            text = describe(scene, broken=(detail["object"], kind), order=perm)
        rows.append({"image": image, "question": DESCRIBE_QUESTION, "answer": text, "kind": kind,
                     "scene": scene.to_dict()})
    return rows


def change_rows(n: int, seed: int, size: int = 64, clean_fraction: float = 0.75) -> list[dict[str, Any]]:
    """Image-pair rows (`source_image`, `image`, `question`, `answer`, `kind`, `scene`): the change
    question, answered with the instruction of the edit that turns the first picture into the
    second and the second picture's quality, e.g. "make the red circle blue. quality: clean.".

    Of the pairs, 70% are edits (cycling through the edit kinds, each instruction in one of its
    templates; `1 - clean_fraction` of the results degraded by a visual artifact), 20% are the
    source again (`NO_CHANGE`; half of them re-encoded and shifted by a pixel or two) and 10% are
    another scene (`OTHER_SCENE`). Every word is a target, so a model that has learned these pairs
    gives any instruction its likelihood of describing the change it sees."""
    from .sets import _rng, _edit

    artifacts = EDIT_FAULTS["visual_artifacts"]
    rows = []
    for i in range(n):
        rng = _rng(seed, "change", i)
        e = _edit(EDIT_KINDS[i % len(EDIT_KINDS)], rng)
        source = render(e.source, size)
        u, quality = rng.random(), None
        if u < 0.7:
            kind, answer, image = e.kind, e.instruction, render(e.target, size)
            if rng.random() >= clean_fraction:
                quality = artifacts[int(rng.integers(len(artifacts)))]
                image = artifact(image, quality, rng)[0]
        elif u < 0.9:
            kind, answer, image = "unchanged", NO_CHANGE, render(e.source, size)
            if rng.random() < 0.5:
                kind, image = "nearly_unchanged", nearly_unchanged(image, rng)[0]
        else:
            other = random_scene(rng)
            while frozenset(other.objects) == frozenset(e.source.objects):
                other = random_scene(rng)
            kind, answer, image = "other_scene", OTHER_SCENE, render(other, size)
        rows.append({"source_image": source, "image": image, "question": CHANGE_QUESTION,
                     "answer": f"{answer}. quality: {QUALITY_WORDS[quality]}.", "kind": kind,
                     "scene": e.source.to_dict()})
    return rows


__all__ = ["BROKEN_WORDS", "CHANGE_QUESTION", "DESCRIBE_QUESTION", "NO_CHANGE", "OTHER_SCENE", "change_rows", "QUALITY_WORDS", "describe", "description_rows",
           "parse_description"]

"""World sets in memory: preference pairs, ImageRewardDB-style rated groups, edit triplets,
candidate rows, VQA and understanding rows (`synthetic.writers` puts them on disk in the real
datasets' layouts).

Every row draws from its own generator `default_rng([seed, crc32(stream), i])`: row i is the
same whatever n is, different sets with one seed do not share scenes, and no global RNG is
touched. Same seed + arguments => the same rows.
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .faults import (
    EDIT_FAULTS,
    FAULT_MODE,
    T2I_FAULTS,
    add_noise,
    attribute_fault,
    edit_fault,
    t2i_fault,
)
from .prompts import EDIT_KINDS, caption, make_edit, possible_kinds, random_edit
from .scene import Scene, random_scene, render

SOURCE_NAME = "synthetic_world"
PAIR_FAULTS = tuple(f for fs in T2I_FAULTS.values() for f in fs) + ("noisier",)
EDIT_MODE_CYCLE = ("edit_noncompliance", "visual_artifacts", "edit_noncompliance", "semantic_inconsistency")
"""Faulty edit rows cycle through this: half are non-compliant, the rest degraded or off-scene."""
BROKEN_KINDS = ("truncated_png", "zero_bytes", "garbage")


def _rng(seed: int, stream: str, i: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), i])


def _pick(rng: np.random.Generator, items) -> Any:
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _uid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class WorldPair:
    """A world preference pair: a prompt, a better image and a worse one (the rejected one carries the
    planted fault, `mode` its failure mode), the prompted scene and the fault's detail."""

    prompt: str
    preferred: Image.Image
    rejected: Image.Image
    fault: str
    mode: str
    scene: Scene | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def preference_pairs(n: int, seed: int, size: int = 64, stream: str = "pairs") -> list[WorldPair]:
    """Clean vs faulty pairs cycling through every t2i fault, plus 'noisier' quality pairs
    (mildly noisy vs much noisier). Another `stream` gives other pairs from the same seed."""
    rot = int(_rng(seed, f"{stream}-order").integers(len(PAIR_FAULTS)))
    out = []
    for i in range(n):
        rng = _rng(seed, stream, i)
        scene = random_scene(rng)
        fault = PAIR_FAULTS[(i + rot) % len(PAIR_FAULTS)]
        clean = render(scene, size)
        if fault == "noisier":
            lo = float(rng.uniform(0.0, 6.0))
            hi = lo + float(rng.uniform(18.0, 30.0))
            preferred, rejected = add_noise(clean, lo, rng), add_noise(clean, hi, rng)
            detail = {"sigma_preferred": lo, "sigma_rejected": hi}
        else:
            res = t2i_fault(scene, fault, rng, size)
            preferred, rejected, detail = clean, res.image, res.detail
        out.append(WorldPair(caption(scene), preferred, rejected, fault, FAULT_MODE[fault], scene, detail))
    return out


@dataclass
class RatedImage:
    """One image of an ImageRewardDB-style group; ratings on a 1-7 scale, rank 1 = best."""

    image: Image.Image
    rank: int
    overall_rating: int
    image_text_alignment_rating: int
    fidelity_rating: int
    fault: str | None
    mode: str | None


@dataclass
class RatedGroup:
    """All images for one prompt (3-5: the clean render and faulty ones, shuffled)."""

    prompt_id: str
    prompt: str
    classification: str
    items: list[RatedImage]
    scene: Scene | None = None

    @property
    def images(self) -> list[Image.Image]:
        return [it.image for it in self.items]

    @property
    def ranks(self) -> list[int]:
        return [it.rank for it in self.items]


def _ratings(mode: str | None, rng: np.random.Generator) -> tuple[int, int, int]:
    """(overall, alignment, fidelity): what a careful rater would give each kind of image."""
    def hi() -> int:
        return int(rng.integers(6, 8))

    def mid() -> int:
        return int(rng.integers(5, 7))

    def low() -> int:
        return int(rng.integers(1, 3))

    if mode is None:
        return hi(), hi(), hi()
    overall = int(rng.integers(2, 4))
    if mode == "instruction_alignment":
        return overall, int(rng.integers(1, 4)), mid()
    if mode == "visual_artifacts":
        return overall, mid(), low()
    return overall, mid(), mid()  # semantic_inconsistency: looks fine, right content, broken


def imagereward_groups(n_prompts: int, seed: int, size: int = 64) -> list[RatedGroup]:
    """Per prompt: the clean render plus 2-4 faulty ones spread over the three t2i modes.
    rank = 1 + number of images with a strictly higher overall rating (ties share a rank)."""
    out = []
    for i in range(n_prompts):
        rng = _rng(seed, "imagereward", i)
        scene = random_scene(rng)
        k = int(rng.integers(3, 6))
        modes = [list(T2I_FAULTS)[j] for j in rng.permutation(len(T2I_FAULTS))]
        pools = {m: [T2I_FAULTS[m][j] for j in rng.permutation(len(T2I_FAULTS[m]))] for m in modes}
        entries: list[tuple[Image.Image, str | None, str | None]] = [(render(scene, size), None, None)]
        for j in range(k - 1):
            fault = pools[modes[j % len(modes)]].pop()
            entries.append((t2i_fault(scene, fault, rng, size).image, fault, FAULT_MODE[fault]))
        rated = [(img, f, m, *_ratings(m, rng)) for img, f, m in entries]
        items = [
            RatedImage(img, 1 + sum(o2 > o for *_, o2, _, _ in rated), o, a, fi, f, m)
            for img, f, m, o, a, fi in rated
        ]
        items = [items[j] for j in rng.permutation(len(items))]
        out.append(RatedGroup(f"{seed % 1_000_000:06d}-{i:04d}", caption(scene), "Illustrations", items, scene))
    return out


@dataclass
class EditTriplet:
    """A correct edit: source, instruction, edited image and both descriptions."""

    source: Image.Image
    instruction: str
    edited: Image.Image
    target_description: str
    source_caption: str
    kind: str
    source_scene: Scene | None = None
    target_scene: Scene | None = None


def _edit(kind: str, rng: np.random.Generator):
    """A random scene that admits `kind`, and that edit."""
    n_obj = {"add": int(rng.integers(1, 3)), "remove": int(rng.integers(2, 4))}.get(kind, int(rng.integers(1, 4)))
    scene = random_scene(rng, n_objects=n_obj)
    return make_edit(scene, kind, rng) if kind in possible_kinds(scene) else random_edit(scene, rng)


def edit_triplets(n: int, seed: int, size: int = 64) -> list[EditTriplet]:
    """Good edits, cycling through change_colour / add / remove / move."""
    rot = int(_rng(seed, "edits-order").integers(len(EDIT_KINDS)))
    out = []
    for i in range(n):
        e = _edit(EDIT_KINDS[(i + rot) % len(EDIT_KINDS)], _rng(seed, "edits", i))
        out.append(EditTriplet(render(e.source, size), e.instruction, render(e.target, size), caption(e.target),
                               caption(e.source), e.kind, e.source, e.target))
    return out


def _plan(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask with exactly k of n set, at random places."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:k]] = True
    return mask


def _broken_bytes(kind: str, image: Image.Image, rng: np.random.Generator) -> bytes:
    if kind == "truncated_png":
        data = png_bytes(image)
        return data[: len(data) // 2]
    if kind == "zero_bytes":
        return b""
    return b"\x00GARBAGE" + rng.bytes(int(rng.integers(32, 256)))


def _candidate_plan(n: int, seed: int, edit_fraction: float, fault_fraction: float, n_broken: int
                    ) -> list[tuple[str, str | None, str | None]]:
    """Per row (task, planted mode or None, broken kind or None), with exact proportions."""
    plan = _rng(seed, "candidates-plan")
    n_broken = min(n_broken, n)
    broken = _plan(n, n_broken, plan)
    rest = n - n_broken
    is_edit = iter(_plan(rest, round(edit_fraction * rest), plan))
    is_fault = iter(_plan(rest, round(fault_fraction * rest), plan))
    counts = {"t2i": 0, "edit": 0, "broken": 0}
    cycles = {"t2i": tuple(T2I_FAULTS), "edit": EDIT_MODE_CYCLE}
    out = []
    for i in range(n):
        if broken[i]:
            k = counts["broken"]
            counts["broken"] += 1
            out.append(("edit" if k % 2 else "t2i", None, BROKEN_KINDS[k % len(BROKEN_KINDS)]))
            continue
        task = "edit" if next(is_edit) else "t2i"
        mode = None
        if next(is_fault):
            mode = cycles[task][counts[task] % len(cycles[task])]
            counts[task] += 1
        out.append((task, mode, None))
    return out


def _candidate(i: int, seed: int, size: int, task: str, mode: str | None, broken_kind: str | None) -> dict[str, Any]:
    """One candidate row; the fault within `mode` is drawn from the row's own generator."""
    rng = _rng(seed, "candidates", i)
    meta: dict[str, Any] = {"planted_mode": None, "fault": None, "target_description": None, "fault_detail": {},
                            "rendered_scene": None, "size": size}
    res = None
    if task == "t2i":
        scene = random_scene(rng)
        prompt, source_image, image, drawn = caption(scene), None, render(scene, size), scene
        meta["scene"] = scene.to_dict()
        if mode:
            res = t2i_fault(scene, _pick(rng, T2I_FAULTS[mode]), rng, size)
    else:
        e = _edit(_pick(rng, EDIT_KINDS), rng)
        prompt, image, drawn = e.instruction, render(e.target, size), e.target
        source_image = png_bytes(render(e.source, size))
        meta.update(scene=e.source.to_dict(), target_scene=e.target.to_dict(), target_description=caption(e.target),
                    source_caption=caption(e.source), edit_kind=e.kind)
        if mode:
            res = edit_fault(e, _pick(rng, EDIT_FAULTS[mode]), rng, size)
    if broken_kind:
        data = _broken_bytes(broken_kind, image, rng)
        meta.update(fault="broken_file", broken_kind=broken_kind, clean=False)
    elif res:
        data = png_bytes(res.image)
        meta.update(planted_mode=res.mode, fault=res.fault, fault_detail=res.detail, clean=False,
                    rendered_scene=res.rendered.to_dict() if res.rendered else None)
    else:
        data = png_bytes(image)
        meta.update(clean=True, rendered_scene=drawn.to_dict())
    return {
        "sample_id": f"world-{seed}-{i:06d}",
        "task": task,
        "prompt": prompt,
        "image": data,
        "source_image": source_image,
        "source": SOURCE_NAME,
        "meta": json.dumps(meta, sort_keys=True),
    }


def candidates(
    n: int,
    seed: int,
    size: int = 64,
    edit_fraction: float = 0.4,
    fault_fraction: float = 0.5,
    n_broken: int = 3,
) -> list[dict[str, Any]]:
    """Rows in the project's candidate schema with the planted truth in `meta`.

    `n_broken` rows carry unreadable image bytes (truncated PNG, zero bytes, garbage). Of the
    rest exactly round(edit_fraction * rest) are edits and round(fault_fraction * rest) are
    faulty, the others clean. Faulty t2i rows cycle through the three t2i modes, faulty edit
    rows through EDIT_MODE_CYCLE; the specific fault within a mode is random.
    meta: planted_mode, fault, clean, scene (the prompted/source scene), rendered_scene (what
    was drawn, when a scene describes it), fault_detail, size; edits add target_description,
    source_caption, target_scene, edit_kind; broken rows add broken_kind.
    """
    plan = _candidate_plan(n, seed, edit_fraction, fault_fraction, n_broken)
    return [_candidate(i, seed, size, *row) for i, row in enumerate(plan)]


def vqa_rows(n: int, seed: int, size: int = 64) -> list[dict[str, Any]]:
    """Image + caption + yes/no (exactly half 'yes'); 'no' captions have one attribute changed."""
    yes = _plan(n, (n + 1) // 2, _rng(seed, "vqa-plan"))
    faults = T2I_FAULTS["instruction_alignment"]
    out = []
    for i in range(n):
        rng = _rng(seed, "vqa", i)
        scene = random_scene(rng)
        row = {"image": render(scene, size), "label": "yes" if yes[i] else "no", "fault": None,
               "scene": scene.to_dict()}
        if yes[i]:
            row["text"] = caption(scene)
        else:
            row["fault"] = faults[int(rng.integers(len(faults)))]
            row["text"] = caption(attribute_fault(scene, row["fault"], rng)[0])
        out.append(row)
    return out


QUESTION_KINDS = ("colour", "shape", "count", "position", "word", "background", "describe")


def _question(scene: Scene, kind: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """(question, answer) of `kind` about `scene`, or None if it would be ambiguous."""
    objs = scene.objects
    o = objs[int(rng.integers(len(objs)))]
    if kind == "colour" and sum(x.shape == o.shape for x in objs) == 1:
        return f"What colour is the {o.shape}?", o.colour
    if kind == "shape" and sum(x.colour == o.colour for x in objs) == 1:
        return f"What shape is the {o.colour} object?", o.shape
    if kind == "count":
        return "How many objects are there?", str(len(objs))
    if kind == "position" and sum((x.colour, x.shape) == (o.colour, o.shape) for x in objs) == 1:
        return f"Where is the {o.colour} {o.shape}?", o.position
    if kind == "word" and scene.word:
        return "What word is written in the image?", scene.word
    if kind == "background":
        return "What colour is the background?", scene.background
    if kind == "describe":
        return "Describe the image.", caption(scene)
    return None


def understanding_rows(n: int, seed: int, size: int = 64) -> list[dict[str, Any]]:
    """Question/answer pairs about world images, cycling through QUESTION_KINDS.
    Answers: a colour/shape name, a digit, a position word (left/right/top/bottom/center), the
    word, the background name, or the caption."""
    out = []
    for i in range(n):
        rng = _rng(seed, "understanding", i)
        kind = QUESTION_KINDS[i % len(QUESTION_KINDS)]
        scene = random_scene(rng, word_prob=1.0 if kind == "word" else 0.25)
        for _ in range(8):  # the picked object may be ambiguous for this kind: pick again
            qa = _question(scene, kind, rng)
            if qa:
                break
        else:
            kind, qa = "count", _question(scene, "count", rng)
        out.append({"image": render(scene, size), "question": qa[0], "answer": qa[1], "kind": kind,
                    "scene": scene.to_dict()})
    return out

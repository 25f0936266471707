"""GenEval-style evaluation of a UniPic model on the synthetic world, whose truth is known.

    python -m unipic.evaluate --checkpoint DIR [--per-category 16] [--edits-per-kind 8] [--json OUT]

GenEval (Ghosh et al. 2023; the UniPic report's Table 2) scores text-to-image on six categories
of prompts with an object detector. Here the prompts are world captions (the only language a
world model knows) and the detector is the world's read-back, `synthetic.truth.analyse`, which
turns a picture into (colour, shape, position) objects. Each category checks what GenEval
checks, in the world's terms:

- single object: one object asked; correct iff an object of that shape is found.
- two objects: two objects of different shapes; correct iff both shapes are found.
- counting: N (1-3) objects of one shape; correct iff exactly N of that shape are found.
- colours: one object; correct iff the (largest) found object of that shape has its colour.
- position: two objects of different shapes at named positions; correct iff the (largest)
  found object of each shape is at its position (world positions are absolute: left, right,
  top, bottom, center; GenEval's are relative to the other object).
- colour attribution: two objects of different shapes and colours; correct iff the (largest)
  found object of each shape has its own colour (swapped bindings fail).

Only object-sized, solid blobs count as found objects, and none in a picture that reads back as
more than MAX_BLOBS blobs (colour noise): what a detector's confidence threshold does.

A category's score is the share of its prompts that are correct; the overall score is the mean
over categories, as GenEval's. Every image also gets the world's caption-match facts
(`synthetic.truth.matches`: colour_ok, shape_ok, count_ok, position_ok, all_ok), reported as
rates over all prompts.

**The prompts are held out by rule.** `geneval_items` draws each category's scenes from
`default_rng([EVAL_SEED, crc32("geneval/<category>"), i])` (no world data set draws from that
seed or those streams), with no rendered word, and skips (draws again) any caption in `exclude`
and every caption the world learning demo trains on (one object in the centre on a white
background, `single_object_scenes`). Callers that train on other world data
pass its captions as `exclude` (the curation-pays experiment passes every candidate caption), so
the set they evaluate on is disjoint from what they trained on; the set is a pure function of
(seed, count, exclude). Edit instructions are drawn the same way from streams
`geneval/edit/<kind>`; they are not checked against training edits (a training pair equal to
one, same source scene and instruction, is possible but rare).

**Editing**: one held-out instruction per item of each kind (change colour, add, remove, move)
on a rendered source scene. The source and the edited image are both read back; the edit is
correct iff the requested change happened (at the positions the edit touches, the edited image
shows what the target scene has there) and the rest is unchanged (at every other position the
edited image shows what the source image shows).

From code, anything that maps a prompt to an image can be evaluated:

    from unipic.evaluate import evaluate_generation, model_generator, truth_generator
    evaluate_generation(truth_generator(48))                   # 1.0 in every category
    evaluate_generation(model_generator(model, options))       # a UniPic model
    evaluate_editing(model_editor(model, options))             # editing

A callable may also have a `many(prompts) -> images` method, used to batch.
"""

from __future__ import annotations

import argparse
import itertools
import json
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from PIL import Image

CATEGORIES = ("single_object", "two_objects", "counting", "colours", "position", "colour_attribution")
"""GenEval's six categories (its tags: single_object, two_object, counting, colors, position, color_attr)."""
CATEGORY_NAMES = {"single_object": "single object", "two_objects": "two objects", "counting": "counting",
                  "colours": "colours", "position": "position", "colour_attribution": "colour attribution"}
EVAL_SEED = 424242
"""Seed of the held-out evaluation scenes and edits (no world data set uses it)."""
DEFAULT_PER_CATEGORY = 16
DEFAULT_EDITS_PER_KIND = 8
FACTS = ("colour_ok", "shape_ok", "count_ok", "position_ok", "all_ok")


# ---------------------------------------------------------------------- prompts
@dataclass(frozen=True)
class EvalItem:
    """One prompt: the scene it describes and the categories its image is judged under."""

    scene: Any
    """A `synthetic.Scene`."""
    categories: tuple[str, ...] = ()

    @property
    def prompt(self) -> str:
        from synthetic import caption

        return caption(self.scene)


def _shapes(scene) -> list[str]:
    return [o.shape for o in scene.objects]


def fits(scene, category: str) -> bool:
    """Whether `scene` is a prompt of `category` (its objects have the form the category asks)."""
    objs = scene.objects
    distinct_shapes = len(set(_shapes(scene))) == len(objs)
    if category in ("single_object", "colours"):
        return len(objs) == 1
    if category in ("two_objects", "position"):
        return len(objs) == 2 and distinct_shapes
    if category == "colour_attribution":
        return len(objs) == 2 and distinct_shapes and objs[0].colour != objs[1].colour
    if category == "counting":
        return len(objs) >= 1 and len(set(_shapes(scene))) == 1
    raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")


def categories_of(scene) -> tuple[str, ...]:
    """Every category `scene` is a prompt of (a single object fits single object, colours, counting)."""
    return tuple(c for c in CATEGORIES if fits(scene, c))


def _rng(seed: int, stream: str, i: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(stream.encode()), i])


def _draw_scene(category: str, rng: np.random.Generator):
    from synthetic import COLOURS, POSITIONS, SHAPES, Scene, SceneObject
    from synthetic.scene import BACKGROUNDS, GRADIENT

    colours, backgrounds = list(COLOURS), list(BACKGROUNDS) + [GRADIENT]
    n = {"single_object": 1, "colours": 1, "counting": int(rng.integers(1, 4))}.get(category, 2)
    positions = [POSITIONS[int(i)] for i in rng.permutation(len(POSITIONS))[:n]]
    if category == "counting":
        shapes = [SHAPES[int(rng.integers(len(SHAPES)))]] * n
    else:
        shapes = [SHAPES[int(i)] for i in rng.permutation(len(SHAPES))[:n]]  # distinct shapes
    if category == "colour_attribution":
        cols = [colours[int(i)] for i in rng.permutation(len(colours))[:n]]  # distinct colours
    else:
        cols = [colours[int(rng.integers(len(colours)))] for _ in range(n)]
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    return Scene(tuple(SceneObject(s, c, p) for s, c, p in zip(shapes, cols, positions)), background=background)


def single_object_scenes(colours: Sequence[str] | None = None, shapes: Sequence[str] | None = None,
                         positions: Sequence[str] = ("center",), backgrounds: Sequence[str] = ("white",)) -> list:
    """Every single-object scene over the given colours x shapes x positions x backgrounds."""
    from synthetic import COLOURS, SHAPES, Scene, SceneObject

    colours = list(colours or COLOURS)
    shapes = list(shapes or SHAPES)
    return [Scene((SceneObject(s, c, p),), background=b)
            for c, s, p, b in itertools.product(colours, shapes, positions, backgrounds)]


def learning_demo_captions() -> set[str]:
    """Captions the world learning demo trains on (never evaluation prompts)."""
    from synthetic import caption

    return {caption(s) for s in single_object_scenes()}


def geneval_items(per_category: int | dict[str, int] = DEFAULT_PER_CATEGORY, seed: int = EVAL_SEED,
                  exclude: Iterable[str] = (), categories: Sequence[str] = CATEGORIES) -> list[EvalItem]:
    """The fixed held-out prompt set: `per_category` items per category (or a count per category;
    a category's items are always the first ones of its stream), see the module docstring."""
    from synthetic import caption

    skip = set(exclude) | learning_demo_captions()
    counts = per_category if isinstance(per_category, dict) else {c: per_category for c in categories}
    items = []
    for category in categories:
        i = found = 0
        while found < counts.get(category, 0):
            scene = _draw_scene(category, _rng(seed, f"geneval/{category}", i))
            i += 1
            if i > 1000 * (counts[category] + 1):
                raise ValueError(f"cannot draw {counts[category]} {category} prompts outside `exclude`")
            if caption(scene) in skip:
                continue
            items.append(EvalItem(scene, (category,)))
            found += 1
    return items


def split_evenly(total: int, categories: Sequence[str] = CATEGORIES) -> dict[str, int]:
    """`total` prompts spread over `categories` (the first ones get one more when it does not divide)."""
    return {c: total // len(categories) + (k < total % len(categories)) for k, c in enumerate(categories)}


def items_for_scenes(scenes: Sequence) -> list[EvalItem]:
    """Items for given scenes, each judged under every category it fits (none: facts only)."""
    return [EvalItem(s, categories_of(s)) for s in scenes]


# ---------------------------------------------------------------------- read-back and judging
@dataclass
class ReadBack:
    """What the world's read-back finds in one image of a prompt's scene."""

    objects: list
    """`synthetic.truth.DetectedObject`s that are object-sized (`is_object`), none in a picture
    of more than MAX_BLOBS blobs: what the categories judge."""
    blobs: list
    """Every blob the read-back found (what `facts` counted)."""
    facts: dict[str, bool]
    """`synthetic.truth.matches` against the scene."""


OBJECT_SIZE_TOLERANCE = 0.4
"""A read-back blob counts as an object (for the categories) when its bounding box is this close
(relative) to an object's side in both directions and it fills at least MIN_OBJECT_FILL of its
box: what a detector's confidence threshold does, so speckle and smears of colour in a noisy
picture are not objects. Clean renders are within 0.1 and fill >= 0.7 (triangles); after blur
1.0 + noise sigma 15 within 0.37 and fill >= 0.55."""
MIN_OBJECT_FILL = 0.5
MAX_BLOBS = 8
"""A picture in which the read-back finds more colour blobs than this is noise to a detector: no
object is detected in it. A world picture has at most 3 objects (degraded renders read back
exactly those); an untrained model's colour noise reads back as 14-28 blobs, some of which are
object-sized by chance."""


def is_object(det, size: int) -> bool:
    """Whether a `DetectedObject` of a `size`-px image is object-sized (see OBJECT_SIZE_TOLERANCE)."""
    from synthetic.scene import object_diameter

    d = object_diameter(size)
    x0, y0, x1, y1 = det.bbox
    tol = OBJECT_SIZE_TOLERANCE * d
    return abs(x1 - x0 + 1 - d) <= tol and abs(y1 - y0 + 1 - d) <= tol and det.fill >= MIN_OBJECT_FILL


def _background(scene) -> str | None:
    from synthetic.scene import BACKGROUNDS

    return scene.background if scene.background in BACKGROUNDS else None


def read_back(image: Image.Image | np.ndarray, scene) -> ReadBack:
    """Read an image back into objects (with the scene's plain background excluded, as
    `synthetic.truth.matches` does) and its caption-match facts."""
    from synthetic.truth import analyse, matches

    blobs = analyse(image, background=_background(scene))
    size = min(np.asarray(image).shape[:2])
    objects = [d for d in blobs if is_object(d, size)] if len(blobs) <= MAX_BLOBS else []
    return ReadBack(objects, blobs, matches(image, scene))


def _largest(objects: list, shape: str):
    found = [d for d in objects if d.shape == shape]
    return max(found, key=lambda d: d.area) if found else None


def judge(category: str, scene, objects: list) -> bool:
    """GenEval's verdict for one category, from the objects read back (see the module docstring)."""
    if not fits(scene, category):
        raise ValueError(f"scene {scene} is not a {category} prompt")
    want = scene.objects
    if category in ("single_object", "two_objects"):
        return all(_largest(objects, o.shape) is not None for o in want)
    if category == "counting":
        return sum(d.shape == want[0].shape for d in objects) == len(want)
    if category in ("colours", "colour_attribution"):
        return all((d := _largest(objects, o.shape)) is not None and d.colour == o.colour for o in want)
    if category == "position":
        return all((d := _largest(objects, o.shape)) is not None and d.position == o.position for o in want)
    raise ValueError(f"unknown category {category!r}")


def judge_image(item: EvalItem, image: Image.Image | np.ndarray) -> dict:
    """One image of `item`: the caption-match facts and a verdict per category of the item."""
    rb = read_back(image, item.scene)
    return {"prompt": item.prompt, **rb.facts,
            "categories": {c: judge(c, item.scene, rb.objects) for c in item.categories},
            "found": [(d.colour, d.shape, d.position) for d in rb.objects], "blobs": len(rb.blobs)}


def summarise(results: list[dict], categories: Sequence[str] = CATEGORIES) -> dict:
    """Per-category accuracy, the overall score (mean over categories with prompts), prompts per
    category, the rate of each caption-match fact (`FACTS`, top-level keys) and the image count."""
    per = {c: [r["categories"][c] for r in results if c in r["categories"]] for c in categories}
    scores = {c: float(np.mean(v)) for c, v in per.items() if v}
    return {"categories": scores, "overall": float(np.mean(list(scores.values()))) if scores else 0.0,
            "counts": {c: len(v) for c, v in per.items() if v},
            **{k: float(np.mean([r[k] for r in results])) if results else 0.0 for k in FACTS},
            "n": len(results)}


# ---------------------------------------------------------------------- generators
def _many(fn: Callable, *columns: Sequence) -> list:
    many = getattr(fn, "many", None)
    return list(many(*columns)) if many is not None else [fn(*args) for args in zip(*columns)]


def evaluate_generation(generate: Callable[[str], Image.Image], items: Sequence[EvalItem] | None = None,
                        per_category: int = DEFAULT_PER_CATEGORY, exclude: Iterable[str] = ()) -> dict:
    """Generate one image per item (default: `geneval_items(per_category, exclude=exclude)`) and
    judge it; returns `summarise`'s dict plus per-image `results`."""
    items = list(items) if items is not None else geneval_items(per_category, exclude=exclude)
    images = _many(generate, [it.prompt for it in items])
    if len(images) != len(items):
        raise ValueError(f"the generator returned {len(images)} images for {len(items)} prompts")
    results = [judge_image(it, image) for it, image in zip(items, images)]
    return {**summarise(results), "results": results}


def truth_generator(size: int = 48) -> Callable[[str], Image.Image]:
    """A perfect "generator": renders the scene the prompt describes with the world's renderer."""
    from synthetic import parse_caption, render

    return lambda prompt: render(parse_caption(prompt), size)


def blank_generator(size: int = 48) -> Callable[[str], Image.Image]:
    """A generator that draws nothing (a white image)."""
    return lambda prompt: Image.new("RGB", (size, size), (255, 255, 255))


class model_generator:  # noqa: N801 - used like a function
    """A UniPic model as a prompt -> image callable; `many` samples a list in batches of
    `batch_size`, the batch starting at prompt k with seed `options.seed + k`, so one list gives
    the same images on every call."""

    def __init__(self, model, options=None, batch_size: int = 32):
        from .sampling import SampleOptions

        self.model = model
        self.options = options or SampleOptions(num_iter=32, guidance_scale=3.0, temperature=0.7, seed=0)
        self.batch_size = batch_size

    def __call__(self, prompt: str) -> Image.Image:
        return self.many([prompt])[0]

    def many(self, prompts: Sequence[str]) -> list[Image.Image]:
        from .images import to_pil
        from .sampling import generate_images

        return self._run(prompts, lambda chunk, opts: to_pil(generate_images(self.model, chunk, opts)))

    def _run(self, rows: Sequence, fn: Callable) -> list:
        was_training = self.model.training
        self.model.eval()
        out = []
        try:
            for start in range(0, len(rows), self.batch_size):
                seed = self.options.seed
                opts = replace(self.options, seed=None if seed is None else seed + start)
                out += fn(list(rows[start:start + self.batch_size]), opts)
        finally:
            self.model.train(was_training)
        return out


class model_editor(model_generator):  # noqa: N801
    """A UniPic model as a (source image, instruction) -> image callable (batched by `many`)."""

    def __call__(self, source: Image.Image, instruction: str) -> Image.Image:
        return self.many([source], [instruction])[0]

    def many(self, sources: Sequence[Image.Image], instructions: Sequence[str]) -> list[Image.Image]:
        from .images import to_pil, to_tensor
        from .sampling import edit_images

        size = self.options.image_size or self.model.config.image_size

        def fn(chunk, opts):
            srcs = to_tensor([s for s, _ in chunk], size).to(self.model.device, self.model.dtype)
            return to_pil(edit_images(self.model, srcs, [t for _, t in chunk], opts))

        return self._run(list(zip(sources, instructions)), fn)


# ---------------------------------------------------------------------- editing
EDIT_KINDS = ("change_colour", "add", "remove", "move")


def edit_items(per_kind: int = DEFAULT_EDITS_PER_KIND, seed: int = EVAL_SEED) -> list:
    """Held-out edits (`synthetic.Edit`): `per_kind` of each kind, on scenes without words; every
    one requires a change."""
    from synthetic import make_edit, random_scene
    from synthetic.prompts import possible_kinds

    out = []
    for kind in EDIT_KINDS:
        i = 0
        while sum(e.kind == kind for e in out) < per_kind:
            rng = _rng(seed, f"geneval/edit/{kind}", i)
            i += 1
            n = {"add": int(rng.integers(1, 3)), "remove": int(rng.integers(2, 4))}.get(kind, int(rng.integers(1, 4)))
            scene = random_scene(rng, n_objects=n, word_prob=0.0)
            if kind in possible_kinds(scene):
                out.append(make_edit(scene, kind, rng))
    return out


def touched_positions(edit) -> set[str]:
    """Positions an edit changes (the rest of the picture must stay as it was)."""
    if edit.kind == "add":
        return {edit.target.objects[edit.index].position}
    if edit.kind == "move":
        return {edit.detail["from"], edit.detail["to"]}
    return {edit.source.objects[edit.index].position}


def judge_edit(edit, source: Image.Image | np.ndarray, edited: Image.Image | np.ndarray) -> dict:
    """Did the requested change happen, and is the rest unchanged? From the read-back of both."""
    src = read_back(source, edit.source).objects
    out = read_back(edited, edit.target).objects
    touched = touched_positions(edit)

    def at(objects, inside: bool) -> Counter:
        return Counter((d.position, d.colour, d.shape) for d in objects if (d.position in touched) == inside)

    changed = at(out, True) == at(edit.target.objects, True)
    kept = at(out, False) == at(src, False)
    return {"kind": edit.kind, "instruction": edit.instruction, "changed": changed, "unchanged_rest": kept,
            "correct": changed and kept}


def evaluate_editing(edit_fn: Callable[[Image.Image, str], Image.Image], edits: Sequence | None = None,
                     per_kind: int = DEFAULT_EDITS_PER_KIND, size: int = 48) -> dict:
    """Render each edit's source at `size`, edit it, judge it; accuracy per kind, the overall
    score (mean over kinds), the rates of `changed` and `unchanged_rest`, and per-edit results."""
    from synthetic import render

    edits = list(edits) if edits is not None else edit_items(per_kind)
    sources = [render(e.source, size) for e in edits]
    edited = _many(edit_fn, sources, [e.instruction for e in edits])
    results = [judge_edit(e, s, o) for e, s, o in zip(edits, sources, edited)]
    kinds = {k: float(np.mean([r["correct"] for r in results if r["kind"] == k]))
             for k in EDIT_KINDS if any(r["kind"] == k for r in results)}
    return {"kinds": kinds, "overall": float(np.mean(list(kinds.values()))) if kinds else 0.0,
            "changed": float(np.mean([r["changed"] for r in results])) if results else 0.0,
            "unchanged_rest": float(np.mean([r["unchanged_rest"] for r in results])) if results else 0.0,
            "n": len(results), "results": results}


def truth_editor(edits: Sequence, size: int = 48) -> Callable[[Image.Image, str], Image.Image]:
    """A perfect editor for `edits`: given one of their rendered sources and its instruction, it
    renders that edit's target scene."""
    from synthetic import render

    table = {(e.instruction, render(e.source, size).tobytes()): e.target for e in edits}

    def edit(source: Image.Image, instruction: str) -> Image.Image:
        return render(table[(instruction, source.convert("RGB").tobytes())], source.size[0])

    return edit


def identity_editor(source: Image.Image, instruction: str) -> Image.Image:
    """An editor that changes nothing."""
    return source.copy()


# ---------------------------------------------------------------------- checkpoints and CLI
def resolve_checkpoint(folder: str | Path) -> tuple[Path, Path | None]:
    """(model folder, EMA weights or None) for a saved model folder, a training run folder
    (`final/ema`, else `final/model`, else its newest `checkpoints/step_*`), or a training
    checkpoint `step_*` (its `model/` with `ema.safetensors` applied when present)."""
    from .checkpoint import CONFIG_NAME

    folder = Path(folder)
    if (folder / CONFIG_NAME).exists():
        return folder, None
    for sub in ("final/ema", "final/model"):
        if (folder / sub / CONFIG_NAME).exists():
            return folder / sub, None
    if (folder / "checkpoints").is_dir():
        from .train.checkpoints import latest_checkpoint

        latest = latest_checkpoint(folder / "checkpoints")
        if latest is not None:
            folder = latest
    if (folder / "model" / CONFIG_NAME).exists():
        ema = folder / "ema.safetensors"
        return folder / "model", ema if ema.exists() else None
    raise FileNotFoundError(f"{folder}: no UniPic checkpoint (unipic_config.json, final/ema, final/model, "
                            "checkpoints/step_*/model)")


def load_checkpoint_for_eval(folder: str | Path, device: str = "auto", dtype: str = "auto"):
    """Load what `resolve_checkpoint` finds (EMA weights copied in) in eval mode."""
    from .checkpoint import load_pretrained

    path, ema = resolve_checkpoint(folder)
    model = load_pretrained(path, device=device, dtype=dtype)
    if ema is not None:
        from safetensors.torch import load_file

        shadow = load_file(str(ema))
        params = dict(model.named_parameters())
        for name, value in shadow.items():
            params[name].data.copy_(value.to(params[name].dtype))
    return model, path, ema


def format_table(report: dict) -> str:
    gen = report["generation"]
    lines = [f"{'category':<20} {'accuracy':>8} {'n':>4}"]
    for c in CATEGORIES:
        if c in gen["categories"]:
            lines.append(f"{CATEGORY_NAMES[c]:<20} {gen['categories'][c]:>8.3f} {gen['counts'][c]:>4}")
    lines.append(f"{'overall':<20} {gen['overall']:>8.3f} {gen['n']:>4}")
    if "editing" in report:
        ed = report["editing"]
        lines += ["", f"{'edit kind':<20} {'accuracy':>8}"]
        lines += [f"{k.replace('_', ' '):<20} {v:>8.3f}" for k, v in ed["kinds"].items()]
        lines += [f"{'overall':<20} {ed['overall']:>8.3f} {ed['n']:>4}",
                  f"(requested change happened {ed['changed']:.3f}, rest unchanged {ed['unchanged_rest']:.3f})"]
    return "\n".join(lines)


def read_captions(paths: Sequence[str]) -> set[str]:
    """Prompts (`prompt` column) of Parquet files or folders of them, or lines of text files."""
    out: set[str] = set()
    for p in paths:
        path = Path(p)
        if path.suffix in (".txt", ".jsonl"):
            for line in path.read_text().splitlines():
                line = line.strip()
                if line:
                    out.add(json.loads(line)["prompt"] if line.startswith("{") else line)
            continue
        import pyarrow.dataset as ds

        files = sorted(str(f) for f in path.rglob("*.parquet")) if path.is_dir() else [str(path)]
        for f in files:
            data = ds.dataset(f)
            if "prompt" in data.schema.names:
                out.update(x for x in data.to_table(columns=["prompt"]).column("prompt").to_pylist() if x)
    return out


def main(argv: list[str] | None = None) -> dict:
    from .cli_common import add_sampling_args, sample_options

    p = argparse.ArgumentParser(prog="python -m unipic.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True,
                   help="a saved model folder, a training run folder (final/ema) or a step_* checkpoint")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--per-category", type=int, default=DEFAULT_PER_CATEGORY, help="prompts per category")
    p.add_argument("--edits-per-kind", type=int, default=DEFAULT_EDITS_PER_KIND,
                   help="held-out edit instructions per kind (0: no editing evaluation)")
    p.add_argument("--eval-seed", type=int, default=EVAL_SEED, help="seed of the held-out prompts and edits")
    p.add_argument("--exclude-prompts", action="append", default=[], metavar="PATH",
                   help="training data (Parquet with a prompt column, folder of them, or text file): "
                        "its captions are never evaluation prompts (repeatable)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the report (with per-image results) here")
    add_sampling_args(p)
    p.set_defaults(num_iter=32, guidance=3.0, temperature=0.7, batch_size=32)
    args = p.parse_args(argv)

    model, path, ema = load_checkpoint_for_eval(args.checkpoint, args.device, args.dtype)
    options = sample_options(args)
    exclude = read_captions(args.exclude_prompts)
    items = geneval_items(args.per_category, args.eval_seed, exclude)
    report = {"checkpoint": str(path), "ema": str(ema) if ema else None, "eval_seed": args.eval_seed,
              "per_category": args.per_category, "excluded_captions": len(exclude),
              "options": {k: getattr(options, k) for k in ("num_iter", "guidance_scale", "temperature", "seed")},
              "generation": evaluate_generation(model_generator(model, options, args.batch_size), items)}
    if args.edits_per_kind > 0:
        size = args.image_size or model.config.image_size
        report["editing"] = evaluate_editing(model_editor(model, options, args.batch_size),
                                             edit_items(args.edits_per_kind, args.eval_seed), size=size)
    print(f"GenEval-style evaluation of {path}{' (EMA weights)' if ema else ''}: "
          f"{args.per_category} held-out prompts per category, seed {args.eval_seed}")
    print(format_table(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return report


if __name__ == "__main__":
    main()

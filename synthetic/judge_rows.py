"""World rows for training judges that the real datasets' layouts do not cover.

- `yesno_rows`: VQAScore's yes/no rows (world VQA layout: image, text, label, fault, scene). The
  text is always a scene's own caption; a `no` image is a picture that does not show it: the
  scene drawn with one attribute changed (as the candidates' alignment faults are), degraded by a
  visual artifact, or with one object broken. So the label lies in whether the picture shows
  the caption, never in the wording of the text.
- `contrast_rows`: the same yes/no layout, but two rows per picture: a scene drawn with one
  attribute changed, asked once with its own caption (yes) and once with the caption it was
  changed from (no). Only the text differs between the two, so the one way to tell them apart is
  to compare the text with the picture (the shortcut "this kind of picture is usually bad" is closed).
- `superedit_rows`: good world edits in SuperEdit-40K's training layout with `neg_prompts`: other
  instructions on the same source picture that the edited picture does NOT carry out (another
  colour, object or place), the wrong-edit negatives EditReward cannot build from HumanEdit.
- descriptions for the base VLM: `synthetic.describe.description_rows` (world understanding layout).

Writers put them where the training entry points read them (`--vqa`, `--qa`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from .sets import _edit, _pick, _rng
from .writers import (IMAGE_STRUCT, UNDERSTANDING_SCHEMA, VQA_SCHEMA, _hf_features, _image_cell, _value, _write,
                      _write_image_table)
from .describe import change_rows, description_rows
from .faults import T2I_FAULTS, artifact, attribute_fault, broken_object, nearly_unchanged
from .prompts import EDIT_KINDS, caption, make_edit, possible_kinds
from .scene import random_scene, render

YESNO_SHARES = {"yes": 0.55, "instruction_alignment": 0.29, "visual_artifacts": 0.08, "semantic_inconsistency": 0.08}
"""Share of each kind of yes/no row (a `no` row's kind is the failure mode its picture stands for)."""


ALIGNMENT_SHARES = {"yes": 0.5, "instruction_alignment": 0.5}
"""Yes/no rows about alignment only (a `no` picture is the scene with one attribute changed)."""


def yesno_rows(n: int, seed: int, size: int = 64, shares: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Yes/no rows with `shares` (default `YESNO_SHARES`; a fifth of the `yes` pictures re-encoded and
    shifted by a pixel or two, which does not change what they show)."""
    shares = shares or YESNO_SHARES
    kinds, edges, acc = list(shares), [], 0.0
    for k in kinds:
        acc += shares[k]
        edges.append(acc)
    rows = []
    for i in range(n):
        rng = _rng(seed, "yesno" if shares is YESNO_SHARES else f"yesno-{sorted(shares.items())}", i)
        scene = random_scene(rng)
        u = rng.random() * acc
        kind = next(k for k, e in zip(kinds, edges) if u < e)
        fault = None
        if kind == "yes":
            image = render(scene, size)
            if rng.random() < 0.2:
                image = nearly_unchanged(image, rng)[0]
        else:
            faults = T2I_FAULTS[kind]
            fault = faults[int(rng.integers(len(faults)))]
            if kind == "instruction_alignment":
                image = render(attribute_fault(scene, fault, rng)[0], size)
            elif kind == "visual_artifacts":
                image = artifact(render(scene, size), fault, rng)[0]
            else:
                image = broken_object(scene, fault, rng, size)[0]
        rows.append({"image": image, "text": caption(scene), "label": "yes" if kind == "yes" else "no",
                     "fault": fault, "scene": scene.to_dict()})
    return rows


PHRASE_FAULTS = ("wrong_colour", "wrong_shape", "wrong_position")


def phrase_rows(n: int, seed: int, size: int = 64) -> list[dict[str, Any]]:
    """Yes/no rows about ONE object phrase ("a red circle on the left") in a 1-3 object scene: half
    show it, half are the scene drawn with that object's colour, shape or position changed (and no
    other object matching the phrase). One binding per question is the stepping stone to a whole
    caption's."""
    from dataclasses import replace

    from .prompts import object_phrase
    from .scene import COLOURS, SHAPES

    rows = []
    for i in range(n):
        rng = _rng(seed, "phrase", i)
        scene = random_scene(rng)
        k = int(rng.integers(len(scene.objects)))
        obj = scene.objects[k]
        text, fault = object_phrase(obj), None
        if i % 2:
            options = list(PHRASE_FAULTS if scene.free_positions() else PHRASE_FAULTS[:2])
            fault = options[int(rng.integers(len(options)))]
            if fault == "wrong_colour":
                changed = replace(obj, colour=_pick(rng, [c for c in COLOURS if c != obj.colour]))
            elif fault == "wrong_shape":
                changed = replace(obj, shape=_pick(rng, [x for x in SHAPES if x != obj.shape]))
            else:
                changed = replace(obj, position=_pick(rng, scene.free_positions()))
            objs = list(scene.objects)
            objs[k] = changed
            scene = scene.with_objects(objs)  # positions are distinct, so no other object says `text`
        rows.append({"image": render(scene, size), "text": text, "label": "no" if fault else "yes", "fault": fault,
                     "scene": scene.to_dict()})
    return rows


def write_phrases(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`{split}-00000-of-00001.parquet` in the world VQA layout (see `phrase_rows`)."""
    return _write_image_table(phrase_rows(n, seed, size), VQA_SCHEMA, Path(out_dir) / f"{split}-00000-of-00001.parquet")


def write_yesno(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train",
                shares: dict[str, float] | None = None) -> list[Path]:
    """`{split}-00000-of-00001.parquet` in the world VQA layout (see `yesno_rows`)."""
    return _write_image_table(yesno_rows(n, seed, size, shares), VQA_SCHEMA,
                              Path(out_dir) / f"{split}-00000-of-00001.parquet")


def write_descriptions(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train",
                       order: str = "position") -> list[Path]:
    """`{split}-00000-of-00001.parquet` in the world understanding layout: describe question and
    dense description (see `synthetic.describe`; `order` of the objects: position or random)."""
    path = Path(out_dir) / f"{split}-00000-of-00001.parquet"
    return _write_image_table(description_rows(n, seed, size, order=order), UNDERSTANDING_SCHEMA, path)


CHANGE_SCHEMA = pa.schema(
    [("source_image", IMAGE_STRUCT), ("image", IMAGE_STRUCT)] + [(k, pa.string()) for k in ("question", "answer", "kind", "scene")],
    metadata=_hf_features({"source_image": {"_type": "Image"}, "image": {"_type": "Image"},
                           **{k: _value("string") for k in ("question", "answer", "kind", "scene")}}),
)
"""The understanding layout with a second image: `source_image` (first) and `image` (second)."""


def write_changes(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`{split}-00000-of-00001.parquet` in `CHANGE_SCHEMA`: image pairs, the change question and the
    instruction of the change (see `synthetic.describe.change_rows`)."""
    rows = [dict(r, source_image=_image_cell(r["source_image"]), image=_image_cell(r["image"]),
                 scene=json.dumps(r["scene"], sort_keys=True)) for r in change_rows(n, seed, size)]
    return [_write(pa.Table.from_pylist(rows, schema=CHANGE_SCHEMA), Path(out_dir) / f"{split}-00000-of-00001.parquet")]


def contrast_rows(n: int, seed: int, size: int = 64) -> list[dict[str, Any]]:
    """`2 n` yes/no rows on `n` pictures: each picture is a scene drawn with one attribute changed
    (colour, shape, count or position, as the candidates' alignment faults are), asked with the
    caption of what is drawn (yes) and with the caption it was changed from (no)."""
    faults = T2I_FAULTS["instruction_alignment"]
    rows = []
    for i in range(n):
        rng = _rng(seed, "contrast", i)
        scene = random_scene(rng)
        fault = faults[int(rng.integers(len(faults)))]
        drawn = attribute_fault(scene, fault, rng)[0]
        image = render(drawn, size)
        rows.append({"image": image, "text": caption(drawn), "label": "yes", "fault": None, "scene": drawn.to_dict()})
        rows.append({"image": image, "text": caption(scene), "label": "no", "fault": fault, "scene": drawn.to_dict()})
    return rows


def write_contrast(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`{split}-00000-of-00001.parquet` in the world VQA layout (see `contrast_rows`; `2 n` rows)."""
    return _write_image_table(contrast_rows(n, seed, size), VQA_SCHEMA,
                              Path(out_dir) / f"{split}-00000-of-00001.parquet")


SUPEREDIT_SCHEMA = pa.schema(
    [("input_image", IMAGE_STRUCT), ("edit_prompts", pa.list_(pa.string())), ("edited_image", IMAGE_STRUCT),
     ("neg_prompts", pa.list_(pa.string()))],
    metadata=_hf_features({"input_image": {"_type": "Image"}, "edited_image": {"_type": "Image"},
                           "edit_prompts": {"feature": _value("string"), "_type": "Sequence"},
                           "neg_prompts": {"feature": _value("string"), "_type": "Sequence"}}),
)
"""SuperEdit-40K's training columns (bytedance/SuperEdit `train_sd15.py`: prompt cells are lists)."""


def superedit_rows(n: int, seed: int, size: int = 64, n_neg: int = 2) -> list[dict[str, Any]]:
    """Good edits (cycling through the edit kinds) with up to `n_neg` negative instructions each:
    other edits of the same source picture whose result differs from the edited picture."""
    rows = []
    for i in range(n):
        rng = _rng(seed, "superedit", i)
        e = _edit(EDIT_KINDS[i % len(EDIT_KINDS)], rng)
        negs: list[str] = []
        for _ in range(8 * n_neg):
            if len(negs) == n_neg:
                break
            kinds = possible_kinds(e.source)
            # Mostly the same kind (the hard case: the right kind of change, done to another colour/object/place).
            other = make_edit(e.source, e.kind if rng.random() < 0.7 else _pick(rng, kinds), rng)
            if other.target != e.target and other.instruction not in negs and other.instruction != e.instruction:
                negs.append(other.instruction)
        rows.append({"input_image": _image_cell(render(e.source, size)), "edit_prompts": [e.instruction],
                     "edited_image": _image_cell(render(e.target, size)), "neg_prompts": negs})
    return rows


def write_superedit(out_dir: str | Path, n: int, seed: int, size: int = 64, split: str = "train") -> list[Path]:
    """`data/{split}-00000-of-00001.parquet` with SuperEdit-40K's training columns (see `superedit_rows`)."""
    table = pa.Table.from_pylist(superedit_rows(n, seed, size), schema=SUPEREDIT_SCHEMA)
    return [_write(table, Path(out_dir) / "data" / f"{split}-00000-of-00001.parquet")]

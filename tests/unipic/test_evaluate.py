"""The GenEval-style evaluation reads known scenes back correctly: a perfect generator (the
world's renderer on the prompt's scene) scores 1 in every category, a blank one 0, and each
category fails exactly the images that break what it checks; the edit check gives 1 to a perfect
editor and 0 to one that changes nothing; the CLI evaluates a saved checkpoint end to end."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from unipic.evaluate import (
    CATEGORIES,
    EDIT_KINDS,
    FACTS,
    blank_generator,
    categories_of,
    edit_items,
    evaluate_editing,
    evaluate_generation,
    geneval_items,
    identity_editor,
    learning_demo_captions,
    split_evenly,
    truth_editor,
    truth_generator,
)


@pytest.fixture(scope="module")
def items():
    return geneval_items(12)


def test_six_categories_of_fixed_seeded_held_out_prompts(items):
    assert len(CATEGORIES) == 6
    assert [it.categories[0] for it in items] == [c for c in CATEGORIES for _ in range(12)]
    for it in items:
        assert it.categories[0] in categories_of(it.scene)  # the scene has the category's form
        assert it.scene.word is None
    assert [it.prompt for it in geneval_items(12)] == [it.prompt for it in items]  # fixed
    assert {it.prompt for it in geneval_items(12, seed=1)} != {it.prompt for it in items}
    # never a prompt the learning demo trains on
    assert not {it.prompt for it in geneval_items(40)} & learning_demo_captions()
    # held out from given training captions: those are skipped, the rest of the set stays
    excluded = {it.prompt for it in items[::3]}
    again = geneval_items(12, exclude=excluded)
    assert len(again) == len(items) and not {it.prompt for it in again} & excluded
    assert {it.prompt for it in items} - excluded <= {it.prompt for it in again}
    # a total spread over categories takes each category's first items
    assert split_evenly(3, ("single_object", "colours")) == {"single_object": 2, "colours": 1}
    counts = split_evenly(8)
    assert list(counts.values()) == [2, 2, 1, 1, 1, 1]
    some = geneval_items(counts)

    def of(its, c):
        return [it.prompt for it in its if it.categories == (c,)]

    assert all(of(some, c) == of(items, c)[:counts[c]] for c in CATEGORIES)


@pytest.mark.parametrize("size", [48, 64])
def test_perfect_generator_scores_one_and_blank_zero(items, size):
    perfect = evaluate_generation(truth_generator(size), items)
    assert perfect["categories"] == {c: 1.0 for c in CATEGORIES} and perfect["overall"] == 1.0
    assert perfect["counts"] == {c: 12 for c in CATEGORIES} and perfect["n"] == len(items)
    assert all(perfect[k] == 1.0 for k in FACTS)
    blank = evaluate_generation(blank_generator(size), items)
    assert blank["categories"] == {c: 0.0 for c in CATEGORIES} and blank["overall"] == 0.0
    assert all(blank[k] == 0.0 for k in FACTS)


def test_noise_finds_no_object_and_degraded_renders_still_read_back(items):
    """Colour noise (what an untrained model draws) scores 0; the truth blurred and noised as
    generated images are still scores (nearly) 1 in every category: the object test is neither
    fooled by speckle nor too strict for imperfect pictures."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(0)
    noise = evaluate_generation(lambda p: Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)), items)
    assert noise["categories"] == {c: 0.0 for c in CATEGORIES}
    render = truth_generator(48)

    def degraded(prompt):
        a = np.asarray(render(prompt).filter(ImageFilter.GaussianBlur(1.0))).astype(float)
        return np.clip(a + rng.normal(0, 15, a.shape), 0, 255).astype(np.uint8)

    assert all(v >= 0.9 for v in evaluate_generation(degraded, items)["categories"].values())


def _render_changed(change):
    """A generator that renders the prompt's scene after `change(scene)`."""
    from synthetic import parse_caption, render

    return lambda prompt: render(change(parse_caption(prompt)), 48)


def _other(values, value):
    return next(v for v in values if v != value)


def test_each_category_fails_the_images_that_break_what_it_checks(items):
    from synthetic import COLOURS, POSITIONS, SHAPES

    def recolour(scene):  # every object another colour
        return scene.with_objects([replace(o, colour=_other(COLOURS, o.colour)) for o in scene.objects])

    def swap_colours(scene):  # bindings swapped (two objects), otherwise recoloured
        objs = scene.objects
        if len(objs) == 2 and objs[0].colour != objs[1].colour:
            a, b = objs
            return scene.with_objects([replace(a, colour=b.colour), replace(b, colour=a.colour)])
        return recolour(scene)

    def move(scene):  # every object to a free position, or the objects' positions rotated
        free = scene.free_positions()
        if len(free) >= len(scene.objects):
            return scene.with_objects([replace(o, position=p) for o, p in zip(scene.objects, free)])
        pos = [o.position for o in scene.objects]
        return scene.with_objects([replace(o, position=p) for o, p in zip(scene.objects, pos[1:] + pos[:1])])

    def drop_last(scene):
        return scene.with_objects(scene.objects[:-1]) if len(scene.objects) > 1 else scene.with_objects([])

    def add_same_shape(scene):
        free = scene.free_positions()
        return scene.with_objects(list(scene.objects) + [replace(scene.objects[0], position=free[0])])

    def reshape(scene):  # every object a shape the prompt does not name
        unused = next(s for s in SHAPES if s not in {o.shape for o in scene.objects})
        return scene.with_objects([replace(o, shape=unused) for o in scene.objects])

    assert POSITIONS  # (the world has named positions; `move` uses them)
    scores = {name: evaluate_generation(_render_changed(fn), items)["categories"]
              for name, fn in [("recolour", recolour), ("swap", swap_colours), ("move", move),
                               ("drop", drop_last), ("add", add_same_shape), ("reshape", reshape)]}
    # colour is checked only by colours and colour attribution
    assert scores["recolour"] == {**{c: 1.0 for c in CATEGORIES}, "colours": 0.0, "colour_attribution": 0.0}
    assert scores["swap"]["colour_attribution"] == 0.0 and scores["swap"]["two_objects"] == 1.0
    # position only by position
    assert scores["move"] == {**{c: 1.0 for c in CATEGORIES}, "position": 0.0}
    # a missing object fails two objects, position, attribution and counting; a single object vanishes
    assert scores["drop"] == {c: 0.0 for c in CATEGORIES}
    # one more of a shape (same colour) fails counting; presence and colour checks still pass
    assert scores["add"]["counting"] == 0.0
    assert all(scores["add"][c] == 1.0 for c in ("single_object", "two_objects", "colours", "colour_attribution"))
    # the wrong shape fails everything (every category names its objects by shape)
    assert scores["reshape"] == {c: 0.0 for c in CATEGORIES}


def test_facts_and_categories_of_arbitrary_scenes():
    from synthetic import Scene, SceneObject

    from unipic.evaluate import items_for_scenes

    one = Scene((SceneObject("circle", "red", "left"),), background="beige")
    pair = Scene((SceneObject("circle", "red", "left"), SceneObject("square", "blue", "top")))
    three = Scene((SceneObject("circle", "red", "left"), SceneObject("circle", "blue", "top"),
                   SceneObject("square", "blue", "right")))
    its = items_for_scenes([one, pair, three])
    assert [it.categories for it in its] == [("single_object", "counting", "colours"),
                                            ("two_objects", "position", "colour_attribution"), ()]
    result = evaluate_generation(truth_generator(48), its)
    assert result["n"] == 3 and result["all_ok"] == 1.0 and result["overall"] == 1.0
    assert "counting" in result["categories"] and result["counts"]["counting"] == 1


@pytest.fixture(scope="module")
def edits():
    return edit_items(6)


def test_edit_items_are_fixed_and_each_requires_a_change(edits):
    assert [e.kind for e in edits] == [k for k in EDIT_KINDS for _ in range(6)]
    assert [e.instruction for e in edit_items(6)] == [e.instruction for e in edits]
    assert all(e.source != e.target for e in edits)


@pytest.mark.parametrize("size", [48, 64])
def test_edit_check_perfect_editor_one_identity_zero(edits, size):
    perfect = evaluate_editing(truth_editor(edits, size), edits, size=size)
    assert perfect["kinds"] == {k: 1.0 for k in EDIT_KINDS} and perfect["overall"] == 1.0
    assert perfect["changed"] == 1.0 and perfect["unchanged_rest"] == 1.0
    identity = evaluate_editing(identity_editor, edits, size=size)
    assert identity["kinds"] == {k: 0.0 for k in EDIT_KINDS} and identity["overall"] == 0.0
    assert identity["changed"] == 0.0 and identity["unchanged_rest"] == 1.0  # nothing else moved either


def test_edit_check_fails_an_edit_that_disturbs_the_rest(edits):
    """The requested change done, but every other object recoloured: changed, rest not kept."""
    from synthetic import COLOURS, render

    from unipic.evaluate import touched_positions

    targets = {(e.instruction, render(e.source, 48).tobytes()): e for e in edits}

    def sloppy(source, instruction):
        e = targets[(instruction, source.tobytes())]
        touched = touched_positions(e)
        objs = [o if o.position in touched else replace(o, colour=_other(COLOURS, o.colour)) for o in e.target.objects]
        return render(e.target.with_objects(objs), 48)

    result = evaluate_editing(sloppy, edits, size=48)
    others = [len([o for o in e.source.objects if o.position not in touched_positions(e)]) > 0 for e in edits]
    assert [r["changed"] for r in result["results"]] == [True] * len(edits)
    assert [r["unchanged_rest"] for r in result["results"]] == [not o for o in others]
    assert any(others) and result["overall"] < 1.0


def test_model_generator_is_one_image_per_prompt_and_reproducible(tiny_model):
    from unipic.evaluate import model_generator
    from unipic.sampling import SampleOptions

    options = SampleOptions(num_iter=2, guidance_scale=1.0, seed=3)
    prompts = [it.prompt for it in geneval_items(1)]
    gen = model_generator(tiny_model, options, batch_size=4)
    images = gen.many(prompts)
    assert len(images) == 6 and images[0].size == (tiny_model.config.image_size,) * 2
    again = model_generator(tiny_model, options, batch_size=4).many(prompts)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    assert model_generator(tiny_model, options)(prompts[0]).size == images[0].size


def test_cli_on_a_tiny_checkpoint(tiny_folder, tmp_path, capsys):
    from unipic.evaluate import main

    out = tmp_path / "eval.json"
    first = geneval_items(2)[0].prompt
    (tmp_path / "train.txt").write_text(first + "\n")  # training data: this caption is not held out
    report = main(["--checkpoint", str(tiny_folder), "--per-category", "2", "--edits-per-kind", "1",
                   "--num-iter", "2", "--device", "cpu", "--json", str(out),
                   "--exclude-prompts", str(tmp_path / "train.txt")])
    printed = capsys.readouterr().out
    for name in ("single object", "two objects", "counting", "colours", "position", "colour attribution",
                 "overall", "change colour", "add", "remove", "move"):
        assert name in printed, name
    rows = [line.split() for line in printed.splitlines()]
    overall = next(r for r in rows if r and r[0] == "overall")
    assert float(overall[1]) == pytest.approx(report["generation"]["overall"], abs=1e-3)
    saved = json.loads(out.read_text())
    assert saved["generation"]["categories"] == pytest.approx(report["generation"]["categories"])
    assert set(saved["generation"]["categories"]) == set(CATEGORIES)
    assert saved["generation"]["n"] == 12 and saved["editing"]["n"] == 4
    assert saved["excluded_captions"] == 1 and first not in [r["prompt"] for r in saved["generation"]["results"]]
    assert saved["generation"]["overall"] == pytest.approx(np.mean(list(saved["generation"]["categories"].values())))


def test_cli_finds_the_weights_of_a_training_run(tiny_model, tmp_path):
    """A run folder evaluates its final EMA weights; a step checkpoint its model with the EMA applied."""
    import torch
    from safetensors.torch import save_file

    from unipic.checkpoint import save_pretrained
    from unipic.evaluate import load_checkpoint_for_eval, resolve_checkpoint

    run = tmp_path / "run"
    save_pretrained(tiny_model, run / "final" / "model")
    assert resolve_checkpoint(run) == (run / "final" / "model", None)
    save_pretrained(tiny_model, run / "final" / "ema")
    assert resolve_checkpoint(run) == (run / "final" / "ema", None)
    step = tmp_path / "run2" / "checkpoints" / "step_00000005"
    save_pretrained(tiny_model, step / "model")
    (step / "state.json").write_text("{}")
    name, value = next((n, p) for n, p in tiny_model.named_parameters() if n.startswith("proj_in"))
    save_file({name: torch.full_like(value, 0.5)}, str(step / "ema.safetensors"))
    assert resolve_checkpoint(tmp_path / "run2") == (step / "model", step / "ema.safetensors")
    model, _, ema = load_checkpoint_for_eval(tmp_path / "run2", device="cpu", dtype="float32")
    assert ema is not None and torch.all(dict(model.named_parameters())[name] == 0.5)
    with pytest.raises(FileNotFoundError):
        resolve_checkpoint(tmp_path)


def test_training_captions_are_read_from_parquet_folders_and_text(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from unipic.evaluate import read_captions

    part = tmp_path / "shards" / "task=t2i" / "decision=keep"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"prompt": ["a red circle on the left, on a white background", None],
                             "image": [b"x", b"y"]}), part / "part-00000.parquet")
    pq.write_table(pa.table({"other": [1]}), part / "part-00001.parquet")  # no prompt column: nothing
    (tmp_path / "p.jsonl").write_text('{"prompt": "a blue square at the top, on a beige background"}\n\n')
    assert read_captions([str(tmp_path / "shards"), str(tmp_path / "p.jsonl")]) == {
        "a red circle on the left, on a white background", "a blue square at the top, on a beige background"}

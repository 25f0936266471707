"""World descriptions (the base VLM's targets) and the judges' yes/no rows say what the pictures show."""

import numpy as np
import pytest

from synthetic.describe import DESCRIBE_QUESTION, describe, description_rows, parse_description
from synthetic.judge_rows import ALIGNMENT_SHARES, yesno_rows
from synthetic.prompts import caption, parse_caption
from synthetic.scene import POSITIONS, Scene, SceneObject, random_scene
from synthetic.truth import matches


def test_a_clean_description_uses_the_captions_phrases_in_picture_order():
    scene = Scene((SceneObject("square", "blue", "top"), SceneObject("circle", "red", "left")), "beige", "CAT", "right")
    text = describe(scene)
    assert text == 'a red circle on the left and a blue square at the top and the word "CAT", on a beige background. quality: clean.'
    assert parse_caption(text) == parse_caption(caption(scene)).with_objects(
        sorted(scene.objects, key=lambda o: POSITIONS.index(o.position)))
    assert parse_description(text) == {"left": "red circle", "top": "blue square", "word": "CAT",
                                       "background": "beige", "quality": "clean"}


def test_order_never_depends_on_the_scene_object_order():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scene = random_scene(rng)
        assert describe(scene) == describe(scene.with_objects(tuple(reversed(scene.objects))))


def test_broken_and_degraded_pictures_are_named():
    scene = Scene((SceneObject("circle", "red", "left"), SceneObject("triangle", "green", "center")))
    assert "a sliced red circle on the left" in describe(scene, broken=(0, "sliced"))
    assert "an ghosted" not in describe(scene, broken=(1, "ghost"))
    assert parse_description(describe(scene, quality="blur", broken=(1, "two_tone")))["center"] == "two-toned green triangle"
    assert describe(scene, quality="noise").endswith("quality: noisy.")


def test_description_rows_describe_their_images():
    rows = description_rows(60, 3)
    assert {r["question"] for r in rows} == {DESCRIBE_QUESTION}
    kinds = {r["kind"] for r in rows}
    assert "clean" in kinds and kinds & {"noise", "blocking", "blur"} and kinds & {"sliced", "two_tone", "ghost"}
    for r in rows:
        if r["kind"] == "clean":  # the analyser reads the same scene back from the pixels
            assert matches(r["image"], Scene.from_dict(r["scene"]))["all_ok"]
        assert parse_description(r["answer"])["quality"] in ("clean", "noisy", "blocky", "blurred")


def test_yesno_rows_say_no_exactly_when_the_picture_does_not_show_the_caption():
    rows = yesno_rows(120, 5)
    labels = [r["label"] for r in rows]
    assert 0.4 < labels.count("yes") / len(rows) < 0.7
    for r in rows:
        shown = matches(r["image"], r["text"])["all_ok"] if r["fault"] in (None, "wrong_colour",
                                                                                      "wrong_shape", "wrong_count",
                                                                                      "wrong_position") else None
        if r["label"] == "yes":
            assert r["fault"] is None and shown
        else:
            assert r["fault"] is not None and shown is not True
    only = yesno_rows(40, 5, shares=ALIGNMENT_SHARES)
    assert {r["fault"] for r in only} <= {None, "wrong_colour", "wrong_shape", "wrong_count", "wrong_position"}


def test_random_order_descriptions_list_the_same_objects_in_every_order():
    from synthetic.describe import description_rows, parse_description

    by_position = description_rows(60, seed=11)
    shuffled = description_rows(60, seed=11, order="random")
    orders = set()
    for a, b in zip(by_position, shuffled):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))  # the same pictures
        assert parse_description(a["answer"]) == parse_description(b["answer"])  # the same facts
        if len(Scene.from_dict(a["scene"]).objects) > 1:
            orders.add(a["answer"] == b["answer"])
    assert orders == {True, False}  # sometimes the position order, often another
    with pytest.raises(ValueError, match="order"):
        description_rows(1, seed=0, order="alphabetical")


def test_change_rows_answer_with_the_instruction_of_the_change_they_show():
    from synthetic.describe import CHANGE_QUESTION, NO_CHANGE, OTHER_SCENE, change_rows
    from synthetic.prompts import EDIT_KINDS

    rows = change_rows(200, seed=5)
    kinds = {r["kind"] for r in rows}
    assert set(EDIT_KINDS) | {"unchanged", "nearly_unchanged", "other_scene"} <= kinds
    for r in rows:
        assert r["question"] == CHANGE_QUESTION and r["answer"].endswith(".")
        answer, quality = r["answer"][:-1].split(". quality: ")
        same = np.array_equal(np.asarray(r["source_image"]), np.asarray(r["image"]))
        if r["kind"] == "unchanged":
            assert answer == NO_CHANGE and same and quality == "clean"
        elif r["kind"] == "nearly_unchanged":
            assert answer == NO_CHANGE and not same
        elif r["kind"] == "other_scene":
            assert answer == OTHER_SCENE
        else:
            assert answer.split()[0] in ("make", "change", "add", "remove", "delete", "move") and not same
    assert {r["answer"].rsplit(": ", 1)[1] for r in rows} == {"clean.", "noisy.", "blocky.", "blurred."}

"""Scenes, rendering and captions: valid, deterministic, and parseable back."""

from __future__ import annotations

import numpy as np
import pytest

from synthetic import Scene, caption, parse_caption, random_scene, render
from synthetic.prompts import EDIT_KINDS, make_edit, possible_kinds
from synthetic.scene import BACKGROUNDS, GRADIENT, SceneObject


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))



def test_random_scenes_are_valid_and_varied():
    scenes = [random_scene(rng(0, i)) for i in range(300)]
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert {s.background for s in scenes} == set(BACKGROUNDS) | {GRADIENT}
    assert 30 < sum(s.word is not None for s in scenes) < 120
    for s in scenes:
        used = [o.position for o in s.objects] + ([s.word_position] if s.word else [])
        assert len(set(used)) == len(used)


def test_caption_round_trips():
    for i in range(200):
        s = random_scene(rng(1, i))
        back = parse_caption(caption(s))  # the word's position is not in the caption
        assert (back.objects, back.background, back.word) == (s.objects, s.background, s.word)


def test_caption_wording():
    s = Scene((SceneObject("circle", "red", "left"), SceneObject("square", "orange", "right")), "white", "SUN", "top")
    assert caption(s) == (
        'a red circle on the left and an orange square on the right and the word "SUN", on a white background'
    )


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_render_is_deterministic_at_any_size(size):
    s = random_scene(rng(2, size), word_prob=1.0)
    a, b = render(s, size), render(s, size)
    assert a.size == (size, size) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_colliding_positions_rejected():
    with pytest.raises(ValueError):
        Scene((SceneObject("circle", "red", "left"), SceneObject("square", "blue", "left")))


def test_edits_change_only_what_they_say():
    for i in range(80):
        s = random_scene(rng(3, i))
        for kind in possible_kinds(s):
            e = make_edit(s, kind, rng(4, i))
            assert kind in EDIT_KINDS and e.instruction and e.target != s
            if kind == "add":
                assert len(e.target.objects) == len(s.objects) + 1
            elif kind == "remove":
                assert len(e.target.objects) == len(s.objects) - 1
            else:
                changed = [k for k, (a, b) in enumerate(zip(s.objects, e.target.objects)) if a != b]
                assert changed == [e.index]

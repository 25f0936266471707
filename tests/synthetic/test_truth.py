"""The analyser reads clean renders back (>= 95 %) and survives mild blur + noise (>= 85 %)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from synthetic import Scene, analyse, caption, matches, random_scene, render
from synthetic.scene import SceneObject
from synthetic.truth import components


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))



def _accuracy(degrade) -> tuple[float, float]:
    objects_ok = objects = scenes_ok = 0
    for i in range(200):
        s = random_scene(rng(10, i))
        img = degrade(render(s), rng(11, i))
        det = analyse(img)
        found = {(o.colour, o.shape, o.position) for o in det}
        objects += len(s.objects)
        objects_ok += sum((o.colour, o.shape, o.position) in found for o in s.objects)
        scenes_ok += matches(img, caption(s))["all_ok"]
    return objects_ok / objects, scenes_ok / 200


def test_clean_renders_are_read_back():
    per_object, per_scene = _accuracy(lambda img, r: img)
    assert per_object >= 0.95 and per_scene >= 0.95


def _blur_noise(img: Image.Image, r: np.random.Generator) -> Image.Image:
    a = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(a + r.normal(0, 8, a.shape)), 0, 255).astype(np.uint8))


def test_blurred_noisy_renders_are_read_back():
    per_object, per_scene = _accuracy(_blur_noise)
    assert per_object >= 0.85 and per_scene >= 0.85


def test_matches_checks_binding_not_just_bags():
    s = Scene((SceneObject("circle", "red", "left"), SceneObject("square", "blue", "right")))
    swapped = Scene((SceneObject("circle", "blue", "left"), SceneObject("square", "red", "right")))
    r = matches(render(swapped), caption(s))
    assert r["colour_ok"] and r["shape_ok"] and r["position_ok"] and r["count_ok"] and not r["all_ok"]
    assert matches(render(s), s)["all_ok"] and matches(render(s), s.to_dict())["all_ok"]


def test_words_and_backgrounds_are_not_objects():
    s = Scene((), background="soft gradient", word="CAT", word_position="center")
    assert analyse(render(s, 128)) == []


def test_components_split_and_join():
    lab = -np.ones((6, 6), dtype=int)
    lab[0:2, 0:2] = 0
    lab[0:2, 2:4] = 1  # touching but another colour: separate
    lab[4:6, 0:6] = 0  # same colour, not touching: separate
    comp = components(lab)
    assert len(np.unique(comp[comp >= 0])) == 3

"""Every planted fault is what it claims, measured with the analyser or pixel statistics."""

from __future__ import annotations


import numpy as np
import pytest

from synthetic import analyse, caption, edit_fault, matches, random_scene, render, t2i_fault
from synthetic.sets import _edit, png_bytes
from synthetic.faults import FAULT_MODE, T2I_FAULTS, WRONG_EDIT
from synthetic.prompts import EDIT_KINDS
from synthetic.truth import blockiness, high_frequency, sharpness

from synthetic.truth import object_intact as intact

N = 40


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def _cases(fault: str, key: int):
    for i in range(N):
        r = rng(key, i)
        s = random_scene(r)
        yield s, t2i_fault(s, fault, r)


ATTRIBUTE_EXPECT = {  # which checks must fail against the prompt; the rest must pass
    "wrong_colour": {"colour_ok"},
    "wrong_shape": {"shape_ok"},
    "wrong_position": {"position_ok"},
    "wrong_count": {"count_ok"},
}


@pytest.mark.parametrize("fault", sorted(ATTRIBUTE_EXPECT))
def test_attribute_faults_change_exactly_one_attribute(fault):
    for s, res in _cases(fault, 20):
        assert res.mode == "instruction_alignment"
        assert matches(res.image, res.rendered)["all_ok"]  # the image is the altered scene
        got = matches(res.image, caption(s))
        failed = {k for k, v in got.items() if not v and k != "all_ok"}
        if fault == "wrong_count":
            assert "count_ok" in failed
        else:
            assert failed == ATTRIBUTE_EXPECT[fault]
        if fault in ("wrong_colour", "wrong_shape", "wrong_position"):
            i = res.detail["object"]
            det = analyse(res.image)
            others = [o for k, o in enumerate(s.objects) if k != i]
            assert all(any(intact(d, o) for d in det) for o in others)  # nothing else moved


def _stat_pairs(fault: str, key: int):
    for s, res in _cases(fault, key):
        assert res.mode == "visual_artifacts"
        clean = render(s)
        # the content is still there (alignment high): every caption colour is still seen
        assert {o.colour for o in s.objects} <= {d.colour for d in analyse(res.image)}
        yield clean, res.image


def test_noise_raises_high_frequency():
    for clean, bad in _stat_pairs("noise", 21):
        assert high_frequency(bad) > 3 * high_frequency(clean)


def test_blocking_raises_blockiness():
    for clean, bad in _stat_pairs("blocking", 22):
        assert blockiness(bad) > blockiness(clean) + 1.5 and blockiness(bad) > 2.0


def test_blur_smears_edges():
    for clean, bad in _stat_pairs("blur", 23):
        assert sharpness(bad) < 0.6 * sharpness(clean)


@pytest.mark.parametrize("fault", T2I_FAULTS["semantic_inconsistency"])
def test_composition_faults_break_one_object_but_keep_the_content(fault):
    for s, res in _cases(fault, 24):
        assert res.mode == "semantic_inconsistency"
        det = analyse(res.image)
        assert {o.colour for o in s.objects} <= {d.colour for d in det}  # not a prompt mismatch
        broken = s.objects[res.detail["object"]]
        assert not any(intact(d, broken) for d in det)  # split, two-coloured or grown
        for k, o in enumerate(s.objects):
            if k != res.detail["object"] and o.colour != broken.colour:
                assert any(intact(d, o) for d in det)
    if fault in ("sliced", "two_tone"):  # the object falls apart into two blobs
        s, res = next(_cases(fault, 25))
        near = [d for d in analyse(res.image) if d.position == s.objects[res.detail["object"]].position]
        assert len(near) >= 2


# --- edits ----------------------------------------------------------------------------------


def _edits(key: int):
    for i in range(N):
        r = rng(key, i)
        yield _edit(EDIT_KINDS[i % len(EDIT_KINDS)], r), r


def test_good_edits_change_exactly_the_instructed_attribute():
    for e, _ in _edits(30):
        img = render(e.target)
        assert matches(img, e.target)["all_ok"] and not matches(img, e.source)["all_ok"]
        vs_source = matches(img, e.source)
        if e.kind == "change_colour":
            assert not vs_source["colour_ok"] and vs_source["shape_ok"] and vs_source["position_ok"]
        elif e.kind in ("add", "remove"):
            assert not vs_source["count_ok"]
        else:
            assert not vs_source["position_ok"] and vs_source["colour_ok"] and vs_source["shape_ok"]


def _aligned_diff(a, b, reach: int = 2) -> float:
    """Smallest mean |a - b| over shifts of up to `reach` px (interior only)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    inner = slice(reach, -reach)
    return min(
        np.abs(np.roll(a, (dy, dx), axis=(0, 1))[inner, inner] - b[inner, inner]).mean()
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    )


def test_unchanged_outputs_equal_the_source():
    for e, r in _edits(31):
        res = edit_fault(e, "unchanged", r)
        assert png_bytes(res.image) == png_bytes(render(e.source))
        near = edit_fault(e, "nearly_unchanged", r)
        assert png_bytes(near.image) != png_bytes(render(e.source))
        assert _aligned_diff(near.image, render(e.source)) < 3.0  # same picture once re-aligned (JPEG q90 noise)
        assert matches(near.image, e.source)["all_ok"] and not matches(near.image, e.target)["all_ok"]
        assert near.mode == res.mode == "edit_noncompliance"


def test_wrong_edits_do_something_else():
    for e, r in _edits(32):
        res = edit_fault(e, "wrong_edit", r)
        assert res.fault == WRONG_EDIT[e.kind] and FAULT_MODE[res.fault] == "edit_noncompliance"
        assert matches(res.image, res.rendered)["all_ok"]
        assert not matches(res.image, e.target)["all_ok"] and not matches(res.image, e.source)["all_ok"]
        if e.kind == "change_colour":  # the right object, the wrong colour
            assert matches(res.image, e.target)["shape_ok"] and not matches(res.image, e.target)["colour_ok"]


def test_edit_artifacts_and_other_scene():
    for e, r in _edits(33):
        target = render(e.target)
        noisy = edit_fault(e, "noise", r)
        assert noisy.mode == "visual_artifacts" and high_frequency(noisy.image) > 3 * high_frequency(target)
        other = edit_fault(e, "other_scene", r)
        assert other.mode == "semantic_inconsistency"
        assert not matches(other.image, e.target)["all_ok"] and not matches(other.image, e.source)["all_ok"]


def test_faults_are_deterministic():
    for fault in [f for fs in T2I_FAULTS.values() for f in fs]:
        s = random_scene(rng(40, 0))
        a, b = t2i_fault(s, fault, rng(41, 0)), t2i_fault(s, fault, rng(41, 0))
        assert png_bytes(a.image) == png_bytes(b.image)

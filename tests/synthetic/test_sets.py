"""In-memory sets: determinism, balance and consistency of the planted truth."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from PIL import Image

from curation.schema import FAILURE_MODES
from synthetic import (
    candidates,
    caption,
    edit_triplets,
    imagereward_groups,
    matches,
    preference_pairs,
    understanding_rows,
    vqa_rows,
)
from synthetic.faults import T2I_FAULTS
from synthetic.sets import PAIR_FAULTS, png_bytes


def _png(img: Image.Image) -> bytes:
    return png_bytes(img)


def test_candidates_deterministic_and_seed_dependent():
    a, b, c = candidates(24, seed=5), candidates(24, seed=5), candidates(24, seed=6)
    assert a == b
    assert [r["image"] for r in a] != [r["image"] for r in c]


def test_candidates_schema_and_truth():
    n, n_broken = 60, 3
    rows = candidates(n, seed=1, n_broken=n_broken)
    assert len(rows) == n and len({r["sample_id"] for r in rows}) == n
    assert rows[0]["sample_id"] == "world-1-000000"
    metas = [json.loads(r["meta"]) for r in rows]
    broken = [r for r, m in zip(rows, metas) if m["fault"] == "broken_file"]
    assert len(broken) == n_broken
    for r in broken:
        with pytest.raises(Exception):
            Image.open(io.BytesIO(r["image"])).load()
    ok = [(r, m) for r, m in zip(rows, metas) if m["fault"] != "broken_file"]
    assert sum(r["task"] == "edit" for r, _ in ok) == round(0.4 * (n - n_broken))
    assert sum(not m["clean"] for _, m in ok) == round(0.5 * (n - n_broken))
    assert {m["planted_mode"] for _, m in ok} - {None} <= set(FAILURE_MODES)
    assert {m["planted_mode"] for _, m in ok} - {None} == set(FAILURE_MODES)  # all four present
    for r, m in ok:
        assert r["source"] == "synthetic_world" and r["task"] in ("t2i", "edit")
        assert (m["planted_mode"] is None) == m["clean"] == (m["fault"] is None)
        img = Image.open(io.BytesIO(r["image"])).convert("RGB")
        if r["task"] == "edit":
            assert r["source_image"] and m["target_description"] and m["edit_kind"]
            Image.open(io.BytesIO(r["source_image"])).load()
        else:
            assert r["source_image"] is None and r["prompt"] == caption_of(m["scene"])
        expected = m["target_description"] if r["task"] == "edit" else r["prompt"]
        if m["clean"]:
            assert matches(img, expected)["all_ok"]
        if m["planted_mode"] in ("instruction_alignment", "edit_noncompliance") and m["rendered_scene"]:
            assert matches(img, m["rendered_scene"])["all_ok"] and not matches(img, expected)["all_ok"]


def caption_of(scene_dict):
    from synthetic import Scene

    return caption(Scene.from_dict(scene_dict))


def test_preference_pairs_mix_every_fault():
    pairs = preference_pairs(2 * len(PAIR_FAULTS), seed=3)
    assert Counter(p.fault for p in pairs) == {f: 2 for f in PAIR_FAULTS}
    for p in pairs:
        assert _png(p.preferred) != _png(p.rejected)
        if p.mode == "instruction_alignment":
            assert matches(p.preferred, p.prompt)["all_ok"] and not matches(p.rejected, p.prompt)["all_ok"]
    again = preference_pairs(2 * len(PAIR_FAULTS), seed=3)
    assert [_png(p.rejected) for p in pairs] == [_png(p.rejected) for p in again]


def test_imagereward_groups_ratings_and_ranks():
    for g in imagereward_groups(30, seed=4):
        assert 3 <= len(g.items) <= 5
        clean = [it for it in g.items if it.fault is None]
        assert len(clean) == 1 and clean[0].rank == 1 and matches(clean[0].image, g.prompt)["all_ok"]
        for a in g.items:
            assert all(1 <= v <= 7 for v in (a.overall_rating, a.image_text_alignment_rating, a.fidelity_rating))
            for b in g.items:
                if a.overall_rating > b.overall_rating:
                    assert a.rank < b.rank
                if a.overall_rating == b.overall_rating:
                    assert a.rank == b.rank
            if a.mode == "instruction_alignment":
                assert a.image_text_alignment_rating <= 3 and a.fidelity_rating >= 5
            if a.mode == "visual_artifacts":
                assert a.image_text_alignment_rating >= 5 and a.fidelity_rating <= 2
            if a.mode == "semantic_inconsistency":
                assert a.image_text_alignment_rating >= 5 and a.fidelity_rating >= 5 and a.overall_rating <= 3
        assert {it.mode for it in g.items if it.mode} <= set(T2I_FAULTS)


def test_edit_triplets_are_good_edits():
    trips = edit_triplets(24, seed=2)
    assert Counter(t.kind for t in trips) == {"change_colour": 6, "add": 6, "remove": 6, "move": 6}
    for t in trips:
        assert matches(t.source, t.source_caption)["all_ok"] and matches(t.edited, t.target_description)["all_ok"]
        assert t.source_caption == caption(t.source_scene) and t.target_description != t.source_caption


def test_vqa_rows_balanced_and_true():
    rows = vqa_rows(40, seed=1)
    assert Counter(r["label"] for r in rows) == {"yes": 20, "no": 20}
    for r in rows:
        assert matches(r["image"], r["text"])["all_ok"] == (r["label"] == "yes")


def test_understanding_rows_answer_from_the_image():
    rows = understanding_rows(42, seed=1)
    kinds = Counter(r["kind"] for r in rows)
    assert {"colour", "shape", "count", "position", "word", "background", "describe"} <= set(kinds)
    for r in rows:
        assert r["question"] and r["answer"]
        if r["kind"] == "describe":
            assert matches(r["image"], r["answer"])["all_ok"]
        if r["kind"] == "count":
            assert r["answer"] in {"1", "2", "3"}

"""The cheap checks: each a named check returning its reason, counted per check in the run summary."""

from __future__ import annotations

import io

from PIL import Image

from curation.checks import CHECKS, Candidate, run_checks
from curation.config import LimitsConfig
from curation.images import ImageRef


def _png(colour=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def _candidate(task="t2i", prompt="a red square", image=None, source=None, **limits) -> Candidate:
    img = ImageRef(_png(), None) if image is None else image
    return Candidate(task=task, prompt=prompt, image=img, source_image=source, limits=LimitsConfig(**limits))


def test_every_check_has_a_unique_name_and_a_clean_row_passes_them_all():
    assert len({c.name for c in CHECKS}) == len(CHECKS)
    c = _candidate()
    r = run_checks(c)
    assert (r.errors, r.modes, r.failed) == ([], [], [])
    assert c.task_hive == "t2i" and c.scored_prompt == "a red square" and (c.image_width, c.image_height) == (8, 8)


def test_each_failed_check_returns_its_reason_and_is_named():
    r = run_checks(_candidate(task="video", prompt="  ", image=ImageRef(b"", None)))
    assert r.failed == ["task", "prompt", "image"]
    assert r.errors[0].startswith("unknown task 'video'") and r.errors[1] == "empty prompt (only whitespace)"
    assert "0 bytes" in r.errors[2] and r.modes == []
    edit = run_checks(_candidate(task="edit"))
    assert edit.failed == ["source_image"] and edit.errors == ["edit row has no source_image"]


def test_a_rejecting_check_tags_its_mode_and_only_runs_on_otherwise_clean_rows():
    same = ImageRef(_png(), None)
    c = _candidate(task="edit", image=same, source=ImageRef(same.data, None))
    r = run_checks(c)
    assert r.failed == ["edit_changed"] and r.errors == [] and r.modes == ["edit_noncompliance"]
    assert "edited image is byte-identical to the source image" in c.notes
    broken = run_checks(_candidate(task="edit", prompt="", image=same, source=ImageRef(same.data, None)))
    assert broken.failed == ["prompt"] and broken.modes == []


def test_long_prompts_are_truncated_with_a_note_not_failed():
    c = _candidate(prompt="x" * 50, max_prompt_chars=10)
    assert run_checks(c).failed == [] and c.scored_prompt == "x" * 10 and "truncated from 50 to 10" in c.notes[0]

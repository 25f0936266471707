"""World rows for judges: contrast pairs differ only in their text; SuperEdit-layout edits carry
negative instructions the edited picture does not carry out, and the real adapter reads them."""

from __future__ import annotations

import numpy as np

from reward_models.data.edit import read_edits
from reward_models.data.schema import SkipLog
from synthetic.judge_rows import contrast_rows, superedit_rows, write_superedit
from synthetic.prompts import caption, parse_caption
from synthetic.scene import Scene


def test_contrast_pairs_share_the_picture_and_differ_in_the_text():
    rows = contrast_rows(40, seed=3)
    assert len(rows) == 80
    faults = set()
    for yes, no in zip(rows[::2], rows[1::2]):
        assert (yes["label"], no["label"]) == ("yes", "no")
        assert np.array_equal(np.asarray(yes["image"]), np.asarray(no["image"]))
        assert yes["text"] != no["text"]
        drawn = Scene.from_dict(yes["scene"])
        assert yes["text"] == caption(drawn)  # the yes text says what is drawn
        assert parse_caption(no["text"]) != parse_caption(yes["text"])
        faults.add(no["fault"])
    assert faults == {"wrong_colour", "wrong_shape", "wrong_count", "wrong_position"}


def test_superedit_negatives_are_other_edits_and_the_adapter_reads_them(tmp_path):
    rows = superedit_rows(30, seed=4)
    assert sum(bool(r["neg_prompts"]) for r in rows) >= 27
    for r in rows:
        assert r["edit_prompts"][0] not in r["neg_prompts"]
    write_superedit(tmp_path, 30, seed=4)
    read = list(read_edits("superedit", str(tmp_path), "train", 0, None, SkipLog()))
    assert len(read) == 30
    assert [e.neg_instructions for e in read] == [r["neg_prompts"] for r in rows]

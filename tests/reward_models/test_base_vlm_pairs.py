"""The base VLM also learns image pairs (the change question): the reader keeps a pair's first
picture, the SFT rows hold both pictures in turn order, and the held-out check describes pairs."""

from __future__ import annotations

import numpy as np


def test_pair_rows_are_read_trained_and_evaluated_as_two_image_turns(tmp_path, tiny_img_judge):
    from reward_models.base_vlm import evaluate_answers, qa_images, sft_rows
    from reward_models.loading import LoadSpec, load_vl_model
    from reward_models.vqascore.train import read_qa
    from synthetic.describe import CHANGE_QUESTION, DESCRIBE_QUESTION
    from synthetic.judge_rows import write_changes, write_descriptions

    write_changes(tmp_path / "changes", 6, seed=1)
    write_descriptions(tmp_path / "describe", 4, seed=1)
    rows = read_qa([str(tmp_path / "changes"), str(tmp_path / "describe")])
    pairs = [r for r in rows if r["question"] == CHANGE_QUESTION]
    singles = [r for r in rows if r["question"] == DESCRIBE_QUESTION]
    assert len(pairs) == 6 and len(singles) == 4
    assert all(len(qa_images(r)) == 2 for r in pairs) and all(len(qa_images(r)) == 1 for r in singles)
    assert not np.array_equal(np.asarray(qa_images(pairs[0])[0]), np.asarray(qa_images(pairs[0])[1])) or \
        pairs[0]["answer"].startswith("nothing")

    sft = sft_rows(rows, 64 * 64)
    for r in sft:
        n_slots = sum(c["type"] == "image" for c in r["prompt"][0]["content"])
        assert n_slots == len(r["images"]) and n_slots in (1, 2)
    assert {len(r["images"]) for r in sft} == {1, 2}

    loaded = load_vl_model(LoadSpec(str(tiny_img_judge), device="cpu", dtype="float32"))
    res = evaluate_answers(loaded.model, loaded.processor, rows, 64 * 64, max_new_tokens=4)
    assert res["n"] == 10 and 0.0 <= res["clause_accuracy"] <= 1.0

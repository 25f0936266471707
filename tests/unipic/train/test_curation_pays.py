"""The curation-pays experiment runs end to end (a few steps; the real numbers need minutes)."""

from __future__ import annotations

import json


def test_experiment_trains_both_arms_on_oracle_decisions(tmp_path, candidates_dir):
    from pipelines.exp_curation_pays import main

    out = tmp_path / "exp"
    report = main(["--candidates", str(candidates_dir), "--oracle", "--out", str(out), "--steps", "2",
                   "--batch-size", "4", "--eval-prompts", "3", "--single-object-eval", "--no-edit"])
    arms = report["arms"]
    assert arms["all"]["data"]["t2i"]["fault_share"] > 0.3  # every candidate, planted faults included
    assert arms["keep"]["data"]["t2i"]["fault_share"] == 0.0  # the answer key's clean rows only
    assert arms["keep"]["data"]["t2i"]["rows"] < arms["all"]["data"]["t2i"]["rows"]
    for arm in arms.values():
        assert arm["prompt_match"]["n"] == 3 and "edit" not in arm["data"]
    assert json.loads((out / "curation_pays.json").read_text()) == json.loads(json.dumps(report))  # the report, saved

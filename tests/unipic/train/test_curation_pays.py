"""The curation-pays experiment: each arm trains on exactly the rows it claims (counted here,
independently, against the answer key), and the whole experiment runs end to end at a tiny size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import fake_score


def _truth(candidates: Path) -> dict[str, dict]:
    return {r["sample_id"]: r for r in pq.read_table(candidates / "truth.parquet").to_pylist()}


def _ids_in(folder: Path) -> list[str]:
    """Every sample id in an arm's training shards, read with plain pyarrow (not the experiment's reader)."""
    ids = []
    for f in sorted(folder.rglob("*.parquet")):
        assert "decision=keep" in str(f)  # what the trainer reads
        ids += pq.read_table(f, columns=["sample_id"]).column("sample_id").to_pylist()
    return ids


def _check_arms(report: dict, candidates: Path, kept: set[str]) -> None:
    truth = _truth(candidates)
    readable_t2i = {i for i, t in truth.items() if t["task"] == "t2i" and t["fault"] != "broken_file"}
    expected = {"all": readable_t2i, "oracle": {i for i in readable_t2i if truth[i]["clean"]},
                "judged": readable_t2i & kept}
    for arm, ids in expected.items():
        facts = report["arms"][arm]
        assert facts["rows"] == len(ids)
        faulty = sum(not truth[i]["clean"] for i in ids)
        assert facts["faulty"] == faulty
        if not ids:
            assert "blocked" in facts and "0 of" in facts["blocked"]
            assert arm not in report["runs"]["equal_steps"]
            continue
        assert facts["fault_rate"] == round(faulty / len(ids), 4)
        got = _ids_in(Path(facts["data"]["folder"]))
        assert set(got) == ids  # exactly these rows, nothing else
        assert len(got) == len(ids) * facts["data"]["copies"]
    assert report["arms"]["oracle"]["faulty"] == 0
    assert report["arms"]["all"]["fault_rate"] > 0.3  # the world's faults are in the all arm


def _check_runs(report: dict, out: Path, seeds: list[int], steps: int) -> None:
    trained = [a for a in ("all", "judged", "oracle") if "blocked" not in report["arms"][a]]
    for budget in ("equal_steps", "equal_distinct"):
        assert set(report["runs"][budget]) == set(trained)
        for arm in trained:
            runs = report["runs"][budget][arm]
            assert sorted(runs) == sorted(str(s) for s in seeds)
            for run in runs.values():
                assert [p["step"] for p in run["curve"]][0] == 0 and run["curve"][-1]["step"] == steps
                assert set(run["final"]["geneval"]["categories"]) == {"single_object", "two_objects", "counting", "colours",
                                                           "position", "colour_attribution"}
            summary = report["summary"][budget][arm]
            assert summary["overall"]["n"] == len(seeds) and "sd" in summary["overall"]
    # equal distinct: the all arm trains on the oracle arm's number of its own rows, faults included
    distinct = report["budgets"]["equal_distinct"]["distinct_target"]
    assert distinct == report["arms"]["oracle"]["rows"]
    truth = _truth(Path(report["candidates"]))
    for run in report["runs"]["equal_distinct"]["all"].values():
        ids = _ids_in(Path(run["data"]["folder"]))
        assert len(set(ids)) == distinct and set(ids) <= set(_ids_in(Path(report["arms"]["all"]["data"]["folder"])))
        assert run["data"]["faulty"] == sum(not truth[i]["clean"] for i in set(ids))
    assert report["runs"]["equal_distinct"]["oracle"][str(seeds[0])]["same_as"] == "equal_steps"
    saved = json.loads((out / "curation_pays.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(report["summary"]))
    assert (out / "curation_pays.png").stat().st_size > 1000
    assert "| oracle |" in (out / "table.md").read_text()


def test_arms_hold_exactly_their_rows_and_the_experiment_runs(tmp_path, candidates_dir):
    """Tiny end to end (judge decisions imitated by the truth-based fake job; the real job is the slow test)."""
    from pipelines.exp_curation_pays import main

    candidates = tmp_path / "candidates"
    shutil.copytree(candidates_dir, candidates)
    shards = fake_score(candidates, tmp_path / "shards")
    # the fake job keeps the clean rows; make the judged arm differ: drop a third of its keeps
    keep = sorted(shards.glob("task=t2i/decision=keep/*.parquet"))[0]
    table = pq.read_table(keep)
    pq.write_table(table.slice(0, 2 * table.num_rows // 3), keep)
    kept = set(pq.read_table(keep, columns=["sample_id"]).column("sample_id").to_pylist())
    out = tmp_path / "exp"
    report = main(["--out", str(out), "--candidates", str(candidates), "--shards", str(shards), "--seeds", "0", "1",
                   "--steps", "2", "--eval-every", "1", "--batch-size", "4", "--per-category", "1"])
    _check_arms(report, candidates, kept)
    _check_runs(report, out, [0, 1], 2)
    assert report["budgets"]["equal_steps"]["distinct"]["judged"] == len(kept)
    assert report["scenes"] is None and set(report["runs"]["equal_steps"]["all"]["0"]["final"]) == {"step", "geneval"}


def test_an_arm_with_no_rows_is_blocked_not_trained(tmp_path, candidates_dir):
    from pipelines.exp_curation_pays import main

    shards = fake_score(candidates_dir, tmp_path / "shards")
    for f in shards.glob("task=*/decision=keep/*.parquet"):
        f.unlink()  # judges that keep nothing
    report = main(["--out", str(tmp_path / "exp"), "--candidates", str(candidates_dir), "--shards", str(shards),
                   "--seeds", "0", "1", "--steps", "1", "--batch-size", "4", "--per-category", "1", "--distinct", "0"])
    _check_arms(report, candidates_dir, set())
    assert report["arms"]["judged"]["rows"] == 0 and "judged" not in report["summary"]["equal_steps"]
    assert "blocked" in (tmp_path / "exp" / "table.md").read_text()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_default_path_runs_the_real_scoring_job(tmp_path):
    """No --shards: the experiment writes candidates, runs the scoring job with the shipped judges
    and trains on its decision=keep rows (whatever they are, blocked when none)."""
    from pipelines.exp_curation_pays import main

    out = tmp_path / "exp"
    report = main(["--out", str(out), "--n-candidates", "48", "--seeds", "0", "1", "--steps", "2",
                   "--eval-every", "2", "--batch-size", "4", "--per-category", "1"])
    candidates = out / "candidates"
    from curation.shards import OutputLayout

    kept = set()
    for f in OutputLayout(out / "shards").shards(decision="keep"):
        kept |= set(pq.read_table(f, columns=["sample_id"]).column("sample_id").to_pylist())
    _check_arms(report, candidates, kept)
    assert report["judges"]["kept"] == len(kept)
    _check_runs(report, out, [0, 1], 2)
    # the learning family: one centred object on white, never a held-out colour-shape pair
    from synthetic import parse_caption

    held = set(report["eval"]["held_out_pairs"])
    assert report["scenes"] == "learning" and len(held) == 3
    for prompt in pq.read_table(candidates / "candidates-00000.parquet", columns=["prompt"]).column("prompt").to_pylist():
        scene = parse_caption(prompt)
        assert len(scene.objects) == 1 and scene.objects[0].position == "center" and scene.background == "white"
        assert prompt not in held
    assert "held_out_pairs.colour_ok" in report["summary"]["equal_steps"]["oracle"]

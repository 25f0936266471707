"""The judge registry (`curation/judges.py`) is the one place a judge is described: its entries
match what the scorers declare, the config and CLI come from it, and every sub-score a scorer
declares reaches the shards, the audit views, the score audits and the HTML report of a real run."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from curation import judges
from curation import schema as S
from curation.audits.registry import run_audit
from curation.audits.report import build_report
from curation.audits.view import AuditView
from curation.cli import build_parser, config_from_args
from curation.config import ScoreJobConfig

from .audit_runs import manifest, real_runs, shard_files


def declared(judge: judges.Judge) -> tuple[str, ...]:
    """The sub-scores the judge's own scorer class declares (`reward_models/`)."""
    return tuple(judges.scorer_class(judge.scorer).sub_score_names)


@pytest.mark.parametrize("judge", judges.JUDGES, ids=judges.STAGES)
def test_registry_maps_exactly_the_sub_scores_its_scorer_declares(judge):
    assert set(judge.sub_score_modes) == set(declared(judge)), judge.stage
    assert all(m in S.FAILURE_MODES for m in judge.sub_score_modes.values())
    # no curation column stands for a sub-score no scorer produces (img_reward_coherence did)
    assert not any(c.endswith("_coherence") for c in judges.sub_score_modes())


def test_config_cli_and_decision_defaults_come_from_the_registry():
    cfg = ScoreJobConfig()
    assert cfg.thresholds.sub_score_modes == judges.sub_score_modes()
    assert cfg.thresholds.vqa_modes == dict(judges.get("vqa").low_score_modes)
    argv = []
    for j in judges.JUDGES:
        assert j.stage in cfg.to_dict()
        argv += [j.flag, f"/models/{j.stage}"]
    c = config_from_args(build_parser().parse_args(argv + ["--batch-size", "3"]))
    for j in judges.JUDGES:
        assert getattr(c, j.stage).model == f"/models/{j.stage}"
        assert getattr(c, j.stage).batch_size == 3
        c2 = ScoreJobConfig()
        c2.set(f"{j.stage}.model", "/other")
        assert c2.hash() != ScoreJobConfig().hash(), j.stage


def test_every_declared_sub_score_reaches_shards_audits_and_report(tmp_path_factory, ray_session, spread_vqa):
    runs = real_runs(tmp_path_factory, spread_vqa)  # the real job, tiny real judges
    run = runs["b"]
    assert {j.stage for j in judges.JUDGES} <= set(manifest(run)["config"])
    subs = {j.column(s): j for j in judges.JUDGES for s in declared(j)}
    assert subs, "the registered scorers declare sub-scores"

    # shards: every declared sub-score is a column, with a value on every scored row of its tasks
    files = shard_files(run)
    for f in files:
        names = pq.read_schema(f).names
        assert set(subs) <= set(names), (f, set(subs) - set(names))
    cols = list(subs) + [j.column("score") for j in judges.JUDGES]
    rows = [r for f in files for r in pq.read_table(f, columns=cols).to_pylist()]
    for col, j in subs.items():
        scored = [r for r in rows if r[j.column("score")] is not None]
        assert scored, f"{j.stage} scored no row"
        assert all(r[col] is not None and 0.0 <= r[col] <= 1.0 for r in scored), col

    # audit views and score audits
    with AuditView([run]) as view:
        have = {r[0] for r in view.con.execute("DESCRIBE samples").fetchall()}
        assert set(subs) <= have
        pairs = view.sql("SELECT DISTINCT score, mode FROM scores").to_pylist()
        modes = {p["score"]: p["mode"] for p in pairs if p["score"] in subs}
        # each sub-score is in the long `scores` view, standing for the mode its registry entry gives
        assert modes == {c: j.sub_score_columns[c] for c, j in subs.items()}
        for audit in ("score_histogram", "score_quantiles"):
            shown = set(run_audit(view, audit, run=0).column("score").to_pylist())
            assert set(subs) <= shown, (audit, set(subs) - shown)

    # the HTML report's score table names every sub-score
    html = build_report(run, tmp_path_factory.mktemp("judges_report"), gallery_size=1).read_text()
    for col in subs:
        assert f"<td>{col}</td>" in html, col

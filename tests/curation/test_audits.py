"""Named DuckDB audits on shards written by the real scoring job, each checked against values
computed independently here (pyarrow + pandas over the same files, no DuckDB); read-only ad-hoc
SQL; output formats; the CLI."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import judges
from curation import schema as S
from curation.audits import registry
from curation.audits.registry import run_audit
from curation.audits.render import render
from curation.audits.view import AuditView, ReadOnlyError
from curation.shards import OutputLayout

from .audit_runs import load_input_ids, load_rows, manifest, shard_files

REPO = Path(__file__).resolve().parents[2]



@pytest.fixture(scope="module")
def rows_a(runs):
    return load_rows(runs["a"])


def records(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def key(*values):
    return tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in values)


# ----------------------------------------------------------------------------- the view


def test_view_has_both_runs_and_no_image_columns_in_samples(view, runs, rows_a):
    got = records(view.sql("SELECT run_index, run, count(*) AS n FROM samples GROUP BY ALL ORDER BY run_index"))
    assert [r["n"] for r in got] == [len(rows_a), len(load_rows(runs["b"]))]
    assert [r["run"] for r in got] == [manifest(runs["a"])["run_id"], manifest(runs["b"])["run_id"]]
    cols = view.sql("DESCRIBE samples").column("column_name").to_pylist()
    assert "image" not in cols and "source_image" not in cols and "shard_file" in cols
    assert {"image", "source_image"} <= set(view.sql("DESCRIBE samples_with_images").column("column_name").to_pylist())
    # stage columns the run did not write exist as NULLs, so every audit runs on every run
    assert {"img_reward_alignment", "edit_reward_quality"} <= set(cols)


@pytest.mark.parametrize("name", sorted(registry.audits()))
def test_no_audit_reads_image_bytes(view, name):
    audit = registry.get(name)
    values = audit.bind()
    for p in audit.params:
        if p.type == "run":
            values[p.name] = view.resolve_run(values[p.name])
    plan = "\n".join(r["explain_value"] for r in records(view.execute("EXPLAIN " + audit.sql, values)))
    assert not re.search(r"\bimage\b|source_image", plan), f"{name} reads an image column"
    assert "samples_with_images" not in audit.sql


def test_window_over_hive_filter_is_correct(view, rows_a):
    # DuckDB 2.0.1's window_self_join rewrite loses the hive filter in its copied scan; the view
    # turns that optimizer off. Without it the total below would count every decision.
    got = records(view.sql(
        "SELECT task, sum(n) OVER (PARTITION BY task) AS total FROM (SELECT task, failure_modes, count(*) AS n "
        "FROM samples WHERE run_index = 0 AND decision = 'reject' GROUP BY ALL)"))
    expected = rows_a[rows_a.decision == "reject"].groupby("task").size().to_dict()
    assert {r["task"]: r["total"] for r in got} == expected


# ----------------------------------------------------------------------------- audits vs pandas


@pytest.mark.parametrize("by_source", [True, False])
def test_decisions(view, rows_a, by_source):
    df = rows_a.assign(source=rows_a.source.fillna("<none>") if by_source else "(all)")
    counts = df.groupby(["task", "source", "decision"]).size().to_dict()
    totals = df.groupby(["task", "source"]).size().to_dict()
    got = records(run_audit(view, "decisions", run=0, by_source=by_source))
    assert {(r["task"], r["source"] or "<none>", r["decision"]): r["rows"] for r in got} == counts
    for r in got:
        assert r["share"] == pytest.approx(r["rows"] / totals[(r["task"], r["source"] or "<none>")])


def _modes_expected(df: pd.DataFrame) -> dict:
    out = {}
    for (task, source), g in df.groupby(["task", "source"], dropna=False):
        rejects = g[g.decision == "reject"]
        scored = int(g.decision.isin(["keep", "reject"]).sum())
        for mode in S.FAILURE_MODES:
            has = rejects[[mode in set(m) for m in rejects.failure_modes]]
            if len(has):
                n_modes = has.failure_modes.map(lambda m: len(set(m)))
                out[key(task, source, mode)] = {"rows": len(has), "alone": int((n_modes == 1).sum()),
                                                "with_others": int((n_modes > 1).sum()), "rejects": len(rejects),
                                                "scored": scored}
    return out


@pytest.mark.parametrize("by_source", [True, False])
def test_failure_modes(view, rows_a, by_source):
    df = rows_a.assign(source=rows_a.source if by_source else "(all)")
    expected = _modes_expected(df)
    got = records(run_audit(view, "failure_modes", run=0, by_source=by_source))
    assert {key(r["task"], r["source"], r["mode"]) for r in got} == set(expected)
    for r in got:
        e = expected[key(r["task"], r["source"], r["mode"])]
        assert {k: r[k] for k in e} == e
        assert r["share_of_rejects"] == pytest.approx(e["rows"] / e["rejects"])
        assert r["share_of_scored"] == pytest.approx(e["rows"] / e["scored"])


@pytest.fixture(scope="module")
def planted(runs, tmp_path_factory):
    """A copy of run A where some rejects carry two or three modes (co-occurrence), rewritten with
    pyarrow: the real judges in this session may tag one mode per row."""
    dst = tmp_path_factory.mktemp("planted") / "run"
    shutil.copytree(runs["a"], dst)
    extra = ["visual_artifacts", "semantic_inconsistency"]
    for f in OutputLayout(dst).shards(decision="reject"):
        t = pq.read_table(f)
        modes = t.column("failure_modes").to_pylist()
        modes = [m + extra[: (i % 3)] if extra[0] not in m else m for i, m in enumerate(modes)]
        t = t.set_column(t.schema.get_field_index("failure_modes"), "failure_modes",
                         pa.array(modes, pa.list_(pa.string())))
        pq.write_table(t, f)
    return dst


def test_failure_mode_pairs_and_combos(planted):
    df = load_rows(planted)
    rej = df[df.decision == "reject"]
    pairs: dict = {}
    combos: dict = {}
    for task, modes in zip(rej.task, rej.failure_modes):
        ms = sorted(set(modes))
        for a in ms:
            for b in ms:
                if a <= b:
                    pairs[(task, a, b)] = pairs.get((task, a, b), 0) + 1
        combos[(task, " + ".join(ms))] = combos.get((task, " + ".join(ms)), 0) + 1
    assert any(a != b for _, a, b in pairs), "the planted copy must have co-occurring modes"
    with AuditView([planted]) as v:
        got = records(run_audit(v, "failure_mode_pairs"))
        assert {(r["task"], r["mode_a"], r["mode_b"]): r["rows"] for r in got} == pairs
        for r in got:
            assert r["share_of_mode_a"] == pytest.approx(pairs[(r["task"], r["mode_a"], r["mode_b"])]
                                                         / pairs[(r["task"], r["mode_a"], r["mode_a"])])
        got = records(run_audit(v, "failure_mode_combos"))
        assert {(r["task"], r["modes"]): r["rows"] for r in got} == combos
        rejects = rej.groupby("task").size()
        for r in got:
            assert r["share_of_rejects"] == pytest.approx(r["rows"] / rejects[r["task"]])
        fm = {(r["task"], r["mode"]): r for r in records(run_audit(v, "failure_modes", by_source=False))}
        assert sum(r["with_others"] for r in fm.values()) > 0
        exp = _modes_expected(df.assign(source="(all)"))
        assert {(k[0], k[2]): v["with_others"] for k, v in exp.items()} == {k: r["with_others"] for k, r in fm.items()}


def _passes(score, on: bool, threshold: float) -> bool:
    if pd.isna(score):
        return not on  # a missing score fails, unless the stage never scored this task (disabled)
    return score >= threshold


def test_threshold_sweep(view, runs, rows_a):
    got = records(run_audit(view, "threshold_sweep", run=0))
    reward_grid = [round(0.5 + i * 0.01, 6) for i in range(50)]
    vqa_grid = [round(i * 0.1, 6) for i in range(10)]
    scored = rows_a[rows_a.decision.isin(["keep", "reject"])]
    assert len(got) == len(reward_grid) * len(vqa_grid) * (1 + scored.task.nunique())
    on = {t: (g.reward_score.notna().any(), g.vqa_score.notna().any()) for t, g in scored.groupby("task")}
    items = [(t, rw, vq) for t, rw, vq in zip(scored.task, scored.reward_score, scored.vqa_score)]
    expected = {}
    for r in reward_grid:
        for v in vqa_grid:
            kept = {t: 0 for t in on} | {"(all)": 0}
            for t, rw, vq in items:
                if not (pd.isna(rw) and pd.isna(vq)) and _passes(rw, on[t][0], r) and _passes(vq, on[t][1], v):
                    kept[t] += 1
                    kept["(all)"] += 1
            for t in kept:
                n = len(scored) if t == "(all)" else int((scored.task == t).sum())
                expected[(t, r, v)] = (n, kept[t])
    for row in got:
        assert (row["scored"], row["kept"]) == expected[(row["task"], row["reward_threshold"], row["vqa_threshold"])], row
    # at the run's own thresholds the sweep keeps exactly the rows the job kept
    m = manifest(runs["a"])["config"]["thresholds"]
    current = [r for r in got if r["is_run_setting"]]
    assert {(r["reward_threshold"], r["vqa_threshold"]) for r in current} == {(m["reward"], m["vqa"])}
    keeps = rows_a[rows_a.decision == "keep"].groupby("task").size().to_dict()
    keeps["(all)"] = int((rows_a.decision == "keep").sum())
    assert {r["task"]: r["kept"] for r in current} == {t: keeps.get(t, 0) for t in {r["task"] for r in current}}
    assert all(r["kept_vs_run_setting"] == r["kept"] - keeps.get(r["task"], 0) for r in got)


def _long_scores(df: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for score, col in [("reward", "reward_score"), ("vqa", "vqa_score")] + [
            (c, c) for c in judges.sub_score_modes()]:
        if col in df:
            p = df[df[col].notna()][["task", "source", col]].rename(columns={col: "value"})
            parts.append(p.assign(score=score))
    return pd.concat(parts, ignore_index=True)


def test_score_histogram_and_quantiles(view, rows_a):
    long = _long_scores(rows_a)
    hist = records(run_audit(view, "score_histogram", run=0, bins=10))
    long["bin"] = np.clip(np.floor(long.value * 10), 0, 9).astype(int)
    expected = long.groupby(["task", "source", "score", "bin"], dropna=False).size()
    assert len(hist) == len(expected)
    for r in hist:
        assert r["rows"] == expected[(r["task"], r["source"], r["score"], r["bin"])]
        assert (r["bin_lo"], r["bin_hi"]) == pytest.approx((r["bin"] / 10, (r["bin"] + 1) / 10))
        assert r["model"]  # the judge's model id is carried
    q = records(run_audit(view, "score_quantiles", run=0, by_source=False))
    groups = long.groupby(["task", "score"])
    assert len(q) == groups.ngroups
    for r in q:
        values = groups.get_group((r["task"], r["score"])).value.to_numpy()
        assert r["n"] == len(values)
        assert r["mean"] == pytest.approx(values.mean())
        assert (r["min"], r["max"]) == pytest.approx((values.min(), values.max()))
        assert [r["p05"], r["p25"], r["p50"], r["p75"], r["p95"]] == pytest.approx(
            list(np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])))


def test_disagreement(view, rows_a):
    both = rows_a[rows_a.reward_score.notna() & rows_a.vqa_score.notna()]
    got = records(run_audit(view, "disagreement", run=0, limit=5))
    for task, g in both.groupby("task"):
        mine = [r for r in got if r["task"] == task]
        top = np.sort(np.abs((g.reward_score - g.vqa_score).to_numpy()))[::-1][:5]
        assert [abs(r["gap"]) for r in mine] == pytest.approx(list(top))  # ties may pick other ids
        by_id = g.set_index("sample_id")
        for r in mine:
            assert r["gap"] == pytest.approx(by_id.loc[r["sample_id"], "reward_score"] - by_id.loc[r["sample_id"], "vqa_score"])
    hi = records(run_audit(view, "disagreement", run=0, limit=3, direction="vqa_high"))
    for task, g in both.groupby("task"):
        top = np.sort((g.vqa_score - g.reward_score).to_numpy())[::-1][:3]
        assert [-r["gap"] for r in hi if r["task"] == task] == pytest.approx(list(top))


def test_errors(view, rows_a):
    err = rows_a[rows_a.decision == "error"]
    got = records(run_audit(view, "errors", run=0))
    expected = err.groupby("error").sample_id.apply(sorted).to_dict()
    assert {r["error"]: r["rows"] for r in got} == {e: len(ids) for e, ids in expected.items()}
    for r in got:
        assert r["examples"] == expected[r["error"]][:3]
        assert r["share_of_errors"] == pytest.approx(r["rows"] / len(err))
        assert r["tasks"] == sorted(set(err[err.error == r["error"]].task))
    assert sum(r["rows"] for r in got) == len(err) > 0


# ----------------------------------------------------------------------------- conservation


def _conservation(run_dir: Path, **params) -> dict[str, dict]:
    with AuditView([run_dir]) as v:
        return {r["check"]: r for r in records(run_audit(v, "conservation", **params))}


def test_conservation_on_a_clean_run(runs, rows_a):
    ids = load_input_ids(runs["a"])
    copies = ids.groupby("sample_id").size()
    m = manifest(runs["a"])
    # independent expectations
    assert rows_a.sample_id.is_unique
    assert set(rows_a.sample_id) == set(ids.sample_id)
    assert (rows_a.set_index("sample_id").duplicate_count == copies.reindex(rows_a.sample_id).to_numpy()).all()
    got = _conservation(runs["a"])
    assert all(r["ok"] for r in got.values()), [r for r in got.values() if not r["ok"]]
    assert got["input_rows_indexed"]["observed"] == len(ids) == sum(m["partitions"].values())
    assert got["output_rows"]["observed"] == len(rows_a) == copies.size
    assert got["copies_add_up"]["observed"] == int(rows_a.duplicate_count.sum()) == len(ids)
    assert len(ids) > len(rows_a)  # the input has a duplicated id, collapsed into one row
    assert got["decisions_add_up"]["observed"] == len(rows_a)
    assert got["partitions_finished"]["observed"] == len(m["partitions"])


def test_conservation_flags_a_deleted_shard(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["a"], run)
    victim = max(shard_files(run), key=lambda f: pq.read_metadata(f).num_rows)
    lost = set(pq.read_table(victim, columns=["sample_id"]).column("sample_id").to_pylist())
    victim.unlink()
    got = _conservation(run)
    bad = {k for k, r in got.items() if not r["ok"]}
    assert {"missing_input_ids", "output_rows", "copies_add_up", "partition_row_counts",
            "shard_files_match_manifest"} <= bad
    assert got["missing_input_ids"]["observed"] == len(lost)
    assert set(got["missing_input_ids"]["detail"].split(", ")) <= lost
    assert "missing: " + str(victim.relative_to(run)) in got["shard_files_match_manifest"]["detail"]
    assert _conservation(run, id_hash_bits=2) == got  # the exact recount agrees when hashes collide
    # the CLI exits 1 when a check fails
    from pipelines.audit import main

    assert main(["run", "conservation", str(run), "--format", "json"]) == 1


def test_conservation_flags_a_duplicated_shard(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["a"], run)
    src = shard_files(run)[0]
    copy = src.with_name(src.stem + "-copy.parquet")
    shutil.copy(src, copy)
    n = pq.read_metadata(src).num_rows
    got = _conservation(run)
    bad = {k for k, r in got.items() if not r["ok"]}
    assert {"duplicate_output_ids", "output_rows", "copies_add_up", "partition_row_counts",
            "shard_files_match_manifest"} <= bad
    assert got["duplicate_output_ids"]["observed"] == n
    assert got["output_rows"]["observed"] == got["output_rows"]["expected"] + n
    assert "not in manifest: " + str(copy.relative_to(run)) in got["shard_files_match_manifest"]["detail"]
    assert "missing_input_ids" not in bad
    assert _conservation(run, id_hash_bits=2) == got


def test_conservation_flags_wrong_duplicate_count_and_missing_modes(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs["a"], run)
    f = OutputLayout(run).shards("t2i", "reject")[0]
    t = pq.read_table(f)
    dc = t.column("duplicate_count").to_pylist()
    modes = t.column("failure_modes").to_pylist()
    dc[0] += 1
    modes[0] = []
    t = t.set_column(t.schema.get_field_index("duplicate_count"), "duplicate_count", pa.array(dc, pa.int64()))
    t = t.set_column(t.schema.get_field_index("failure_modes"), "failure_modes", pa.array(modes, pa.list_(pa.string())))
    pq.write_table(t, f)
    got = _conservation(run)
    assert got["duplicate_counts_match"]["observed"] == 1
    assert got["duplicate_counts_match"]["detail"].startswith(t.column("sample_id")[0].as_py())
    assert got["rejects_have_failure_modes"]["observed"] == 1
    assert not got["copies_add_up"]["ok"]


# ----------------------------------------------------------------------------- run comparison


def test_run_comparison(view, runs, rows_a):
    rows_b = load_rows(runs["b"])
    j = rows_a.merge(rows_b, on="sample_id", how="outer", suffixes=("_a", "_b"))
    j["task"] = j.task_a.fillna(j.task_b)
    j[["decision_a", "decision_b"]] = j[["decision_a", "decision_b"]].fillna("(absent)")
    expected = j.groupby(["task", "decision_a", "decision_b"]).size().to_dict()
    got = records(run_audit(view, "run_comparison"))
    assert {(r["task"], r["decision_a"], r["decision_b"]): r["rows"] for r in got} == expected
    assert any(r["decision_a"] != r["decision_b"] for r in got)  # looser thresholds keep more
    for r in got:
        g = j[(j.task == r["task"]) & (j.decision_a == r["decision_a"]) & (j.decision_b == r["decision_b"])]
        d = (g.reward_score_b - g.reward_score_a).dropna()
        if len(d):
            assert r["mean_reward_change"] == pytest.approx(d.mean(), abs=1e-12)
        both = g[(g.decision_a == "reject") & (g.decision_b == "reject")]
        changed = sum(set(a) != set(b) for a, b in zip(both.failure_modes_a, both.failure_modes_b))
        assert r["modes_changed"] == changed
    changed_rows = records(run_audit(view, "run_changed_rows", limit=1000))
    exp_changed = {sid for sid, da, db, ma, mb in zip(j.sample_id, j.decision_a, j.decision_b, j.failure_modes_a,
                                                      j.failure_modes_b) if da != db or set(ma) != set(mb)}
    assert {r["sample_id"] for r in changed_rows} == exp_changed
    diff = {r["key"]: (r["value_a"], r["value_b"]) for r in records(run_audit(view, "run_config_diff"))}
    assert diff["thresholds.reward"] == ("0.9", "0.3") and diff["thresholds.vqa"] == ("0.5", "0.3")
    # the same comparison named by run ids, and reversed
    ids = [manifest(runs["a"])["run_id"], manifest(runs["b"])["run_id"]]
    rev = records(run_audit(view, "run_comparison", run_a=ids[1], run_b=ids[0]))
    assert {(r["task"], r["decision_b"], r["decision_a"]): r["rows"] for r in rev} == expected
    with pytest.raises(KeyError, match="no run"):
        run_audit(view, "run_comparison", run_b="nope")


def test_mode_bitmask_in_sql_uses_the_vocabulary():
    for name in ("run_comparison", "run_changed_rows"):
        sql = registry.get(name).sql
        assert re.findall(r"list_contains\(failure_modes, '(\w+)'\)", sql)[:4] == list(S.FAILURE_MODES)


# ----------------------------------------------------------------------------- ad-hoc SQL


WRITES = [
    "INSERT INTO runs SELECT * FROM runs",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "COPY (SELECT 1) TO '{out}'",
    "EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'",
    "ATTACH '{out}.db' AS x",
    "DELETE FROM runs",
    "UPDATE runs SET run = 'x'",
    "DROP VIEW samples",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "PRAGMA threads = 1",
    "SELECT 1; DROP TABLE runs",
    "EXPORT DATABASE '{out}'",
    "CALL checkpoint()",
    "UPDATE EXTENSIONS",
]


@pytest.mark.parametrize("statement", WRITES)
def test_adhoc_writes_are_refused(view, tmp_path, statement):
    out = tmp_path / "written"
    with pytest.raises(ReadOnlyError, match="read-only"):
        view.sql(statement.format(out=out))
    assert not list(tmp_path.iterdir())
    assert view.sql("SELECT count(*) AS n FROM runs").column("n")[0].as_py() == 2  # nothing changed


@pytest.mark.parametrize("statement", [
    "SELECT decision, count(*) FROM samples GROUP BY ALL",
    "WITH k AS (SELECT * FROM samples WHERE decision = 'keep') SELECT count(*) FROM k",
    "FROM runs", "DESCRIBE samples", "SUMMARIZE SELECT reward_score FROM samples", "SHOW TABLES",
    "EXPLAIN SELECT * FROM samples", "EXPLAIN ANALYZE SELECT count(*) FROM samples",
    "PRAGMA table_info('samples')", "-- a comment\nSELECT 1; SELECT 2",
])
def test_adhoc_reads_are_allowed(view, statement):
    assert view.sql(statement).num_rows >= 1


def test_adhoc_parameters(view, rows_a):
    n = view.sql("SELECT count(*) AS n FROM samples WHERE run_index = 0 AND reward_score >= $t", {"t": 0.5})
    assert n.column("n")[0].as_py() == int((rows_a.reward_score >= 0.5).sum())
    with pytest.raises(KeyError, match=r"\$t"):
        view.sql("SELECT $t")


# ----------------------------------------------------------------------------- output, CLI


def test_output_formats(view):
    table = run_audit(view, "errors", run=0)
    text = render(table, "table")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["run", "error", "rows"] and set(lines[1]) <= {"-", " "}
    assert lines[-1] == f"({table.num_rows} rows)" and len(lines) == table.num_rows + 3
    parsed = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert [int(r["rows"]) for r in parsed] == table.column("rows").to_pylist()
    assert [json.loads(r["examples"]) for r in parsed] == table.column("examples").to_pylist()
    assert json.loads(render(table, "json")) == json.loads(json.dumps(table.to_pylist()))
    nan = pa.table({"x": [float("nan"), 1.5]})
    assert json.loads(render(nan, "json")) == [{"x": None}, {"x": 1.5}]


def test_cli(runs, capsys, tmp_path):
    from pipelines.audit import main

    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for name in registry.audits():
        assert f"\n{name}" in "\n" + listing
    assert "-p reward_step=<float>" in listing
    assert main(["run", "threshold_sweep", str(runs["a"]), "-p", "reward_min=0.8", "-p", "reward_step=0.1",
                 "-p", "vqa_min=0.5", "-p", "vqa_max=0.5", "--format", "json"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert sorted({r["reward_threshold"] for r in sweep}) == [0.8, 0.9] and {r["vqa_threshold"] for r in sweep} == {0.5}
    assert main(["run", "conservation", str(runs["a"])]) == 0
    assert "shard_files_match_manifest" in capsys.readouterr().out
    out = tmp_path / "cmp.csv"
    assert main(["run", "run_comparison", str(runs["a"]), str(runs["b"]), "-f", "csv", "-o", str(out)]) == 0
    assert out.read_text().startswith("task,decision_a,decision_b,rows")
    assert main(["sql", "SELECT decision, count(*) AS n FROM samples GROUP BY ALL ORDER BY 1", str(runs["a"]),
                 "-f", "csv"]) == 0
    assert capsys.readouterr().out.startswith("decision,n\nerror,")
    assert main(["sql", "DROP VIEW samples", str(runs["a"])]) == 2
    assert "refused: DROP statement - the audit view is read-only" in capsys.readouterr().err
    assert main(["run", "no_such_audit", str(runs["a"])]) == 2
    assert "no audit named" in capsys.readouterr().err
    assert main(["run", "threshold_sweep", str(runs["a"]), "-p", "bogus=1"]) == 2
    assert "has no parameter 'bogus'" in capsys.readouterr().err
    assert main(["sql", "SELECT nope FROM samples", str(runs["a"])]) == 2
    assert "error:" in capsys.readouterr().err

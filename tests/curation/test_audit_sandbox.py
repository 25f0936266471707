"""The audit connection as a sandbox, tried as a hostile user would (issue 14): ad-hoc SQL cannot
read files outside the run folders, install or load extensions, run forever, exhaust memory or
spill into the working directory, nor change any of that; audit parameters are validated; run
parameters accept an index, a run id or a folder; run folders whose names hold glob characters
or quotes read exactly their own shards. Real DuckDB over shards written by the real job."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from curation.audits.registry import run_audit
from curation.audits.view import AuditView, QueryTimeout, ReadOnlyError, glob_escape
from curation.shards import OutputLayout

from .audit_runs import load_rows, manifest, shard_files

DENIED = "disabled by configuration"
ENDLESS_CTE = "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT max(n) FROM t"
CROSS_JOIN_5 = ("SELECT count(*) FROM samples a, samples b, samples c, samples d, samples e "
                "WHERE a.prompt || b.prompt || c.prompt || d.prompt || e.prompt = 'never'")



def cli(*argv: str) -> tuple[int, str, str]:
    """pipelines/audit.py main() in-process; (exit status, stdout, stderr)."""
    import contextlib
    import io

    from pipelines.audit import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse usage errors
            code = e.code
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- file access


def outside_reads(runs) -> list[str]:
    other = runs["b"]  # a real run folder, but not one this view was opened on
    return [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/proc/self/environ')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM glob('/root/**')",
        "SELECT * FROM glob('/**')",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_text('{runs['a']}/../../../../../../etc/passwd')",
        f"SELECT count(*) FROM read_parquet('{other}/task=*/decision=*/*.parquet')",
        f"SELECT * FROM read_text('{other}/.run/manifest.json')",
        f"SELECT * FROM glob('{Path(runs['a']).parent}/*')",
        "SELECT * FROM read_parquet('https://127.0.0.1:9/x.parquet')",
    ]


def test_adhoc_sql_cannot_read_outside_the_run_folders(runs, tmp_path):
    with AuditView([runs["a"]]) as v:
        # inside the run folder reads work: the sandbox is not a blanket refusal
        inside = v.sql(f"SELECT content FROM read_text('{runs['a']}/.run/manifest.json')").column(0)[0].as_py()
        assert json.loads(inside)["run_id"] == manifest(runs["a"])["run_id"]
        assert v.sql(f"SELECT count(*) AS n FROM glob('{runs['a']}/**')").column("n")[0].as_py() > 0
        for q in outside_reads(runs):
            with pytest.raises(duckdb.PermissionException, match=DENIED):
                v.sql(q)
    # and through the command line: exit 2, the denial on stderr, nothing of the file on stdout
    for q in ("SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM read_text('/proc/self/environ')",
              "SELECT * FROM glob('/root/**')"):
        code, out, err = cli("sql", q, str(runs["a"]), "-f", "json")
        assert code == 2 and DENIED in err and "root:" not in out and "PATH=" not in out


def test_settings_and_extensions_are_locked(view, tmp_path):
    got = dict(view.con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration', "
        "'autoinstall_known_extensions', 'autoload_known_extensions', 'allow_community_extensions')").fetchall())
    assert got == {"enable_external_access": "false", "lock_configuration": "true",
                   "autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                   "allow_community_extensions": "false"}
    # Even bypassing the read-only parser (execute() is for the trusted named audits), DuckDB
    # itself refuses to undo the sandbox, to write, or to touch extensions.
    for stmt in ("SET enable_external_access = true", "SET allowed_directories = ['/']",
                 "SET autoload_known_extensions = true", "SET memory_limit = '100GB'", "RESET temp_directory"):
        with pytest.raises(duckdb.Error, match="locked"):
            view.execute(stmt)
    out = tmp_path / "written.csv"
    for stmt in (f"COPY (SELECT 1) TO '{out}'", "INSTALL httpfs", "LOAD httpfs", f"ATTACH '{tmp_path}/x.db'"):
        with pytest.raises(duckdb.Error):
            view.execute(stmt)
    assert not list(tmp_path.iterdir())


def test_writes_are_still_refused(view, runs, tmp_path):
    for stmt in (f"COPY (SELECT * FROM samples) TO '{runs['a']}/copy.parquet'",
                 f"COPY (SELECT 1) TO '{tmp_path}/x.csv'", "CREATE TABLE t AS SELECT 1", "DROP VIEW samples"):
        with pytest.raises(ReadOnlyError, match="read-only"):
            view.sql(stmt)
    assert not (Path(runs["a"]) / "copy.parquet").exists() and not list(tmp_path.iterdir())
    code, _, err = cli("sql", f"COPY (SELECT 1) TO '{tmp_path}/y.csv'", str(runs["a"]))
    assert code == 2 and "read-only" in err and not list(tmp_path.iterdir())


def test_a_link_leaving_the_run_folder_is_refused(runs, tmp_path):
    run = tmp_path / "linked"
    shutil.copytree(runs["a"], run)
    (run / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="link"):
        AuditView([run])
    code, _, err = cli("sql", "SELECT 1", str(run))
    assert code == 2 and "link" in err


# ----------------------------------------------------------------------------- time, memory, scratch


def test_endless_recursive_cte_is_stopped_by_the_timeout(runs):
    with AuditView([runs["a"]], timeout=1.5) as v:
        t = time.monotonic()
        with pytest.raises(QueryTimeout, match=r"1\.5 s statement timeout"):
            v.sql(ENDLESS_CTE)
        assert time.monotonic() - t < 30
        with pytest.raises(QueryTimeout):
            v.sql(CROSS_JOIN_5)
        # the view is still usable, and a query shorter than the timeout is not affected
        assert v.sql("SELECT count(*) AS n FROM samples").column("n")[0].as_py() == len(load_rows(runs["a"]))
        time.sleep(2)  # no timer left over from an earlier query fires into a later one
        assert v.sql("SELECT 1 AS one").column("one")[0].as_py() == 1
    t = time.monotonic()
    code, _, err = cli("sql", ENDLESS_CTE, str(runs["a"]), "--timeout", "1")
    assert code == 2 and "statement timeout" in err and "--timeout" in err
    assert time.monotonic() - t < 60
    code, _, err = cli("sql", "SELECT 1", str(runs["a"]), "--timeout", "0")
    assert code == 2 and "positive number of seconds" in err


def test_memory_limit_and_spill_folder(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # DuckDB's default spill folder would be ./.tmp here
    heavy = "SELECT count(DISTINCT m) AS n FROM (SELECT md5(range::VARCHAR) AS m FROM range(3000000))"
    scratch = tmp_path / "scratch"
    with AuditView([runs["a"]], memory_limit="64MB", threads=1, scratch=scratch, max_temp="1MB") as v:
        settings = dict(v.con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                      "('memory_limit', 'temp_directory', 'max_temp_directory_size')").fetchall())
        assert settings["memory_limit"] == "61.0 MiB"
        spill = Path(settings["temp_directory"])
        assert spill.parent == v.scratch and v.scratch.parent == scratch.resolve()
        # past the memory limit it must spill, and the spill is capped: the query fails, it does not
        # take the machine's memory or disk
        with pytest.raises(duckdb.OutOfMemoryException, match="max_temp_directory_size"):
            v.sql(heavy)
        private = v.scratch
    assert not private.exists()  # the private scratch folder goes with the view
    with AuditView([runs["a"]], memory_limit="64MB", threads=1, scratch=scratch, max_temp="2GB") as v:
        seen: set[str] = set()
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if (v.scratch / "spill").exists():
                    seen.update(p.name for p in (v.scratch / "spill").iterdir())
                time.sleep(0.01)

        w = threading.Thread(target=watch)
        w.start()
        try:
            assert v.sql(heavy).column("n")[0].as_py() == 3_000_000
        finally:
            done.set()
            w.join()
        assert seen, "the query did not spill into the view's scratch folder"
    assert not (tmp_path / ".tmp").exists() and list(scratch.iterdir()) == []


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("audit, param, value, message", [
    ("threshold_sweep", "reward_step", "1e-9", "reward_step: 1e-09 is out of range"),
    ("threshold_sweep", "vqa_step", "0", "vqa_step: 0.0 is out of range"),
    ("threshold_sweep", "reward_step", "nan", "finite number"),
    ("threshold_sweep", "reward_min", "-5", "reward_min: -5.0 is out of range"),
    ("threshold_sweep", "reward_min", "0.995", "reward_min (0.995) must not exceed reward_max"),
    ("score_histogram", "bins", "0", "bins: 0 is out of range"),
    ("score_histogram", "bins", "-3", "bins: -3 is out of range"),
    ("disagreement", "direction", "sideways", "not one of any, reward_high, vqa_high"),
    ("disagreement", "limit", "-1", "limit: -1 is out of range"),
    ("gallery", "mode", "x') OR true --", "not one of"),
])
def test_bad_audit_parameters_are_refused(view, runs, audit, param, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_audit(view, audit, {param: value})
    t = time.monotonic()
    code, out, err = cli("run", audit, str(runs["a"]), "-p", f"{param}={value}")
    assert code == 2 and message in err and out == ""
    assert time.monotonic() - t < 30


def test_edge_parameters_that_are_allowed_still_work(view):
    sweep = run_audit(view, "threshold_sweep", run=0, reward_min=0.9, reward_max=0.9, reward_step=0.001,
                      vqa_min=0.5, vqa_max=0.5)
    assert set(sweep.column("reward_threshold").to_pylist()) == {0.9}
    hist = run_audit(view, "score_histogram", run=0, bins=1, by_source=False).to_pylist()
    assert hist and all(r["bin"] == 0 for r in hist)


# ----------------------------------------------------------------------------- run parameters


def test_run_parameter_from_an_index_a_run_id_or_a_folder(runs, tmp_path, monkeypatch):
    a, b = runs["a"], runs["b"]
    run_b = manifest(b)["run_id"]
    expected = None
    monkeypatch.chdir(Path(b).parent)
    for sel in ("1", run_b, str(b), Path(b).name, f"./{Path(b).name}/"):
        code, out, err = cli("run", "decisions", str(a), str(b), "-p", f"run={sel}", "-p", "by_source=false",
                             "-f", "json")
        assert code == 0, err
        got = json.loads(out)
        assert {r["run"] for r in got} == {run_b}
        assert sum(r["rows"] for r in got) == len(load_rows(b))
        expected = expected or got
        assert got == expected
    code, out, err = cli("run", "run_comparison", str(a), str(b), "-p", f"run_a={run_b}", "-p", f"run_b={a}",
                         "-f", "json")
    assert code == 0, err
    assert json.loads(out)
    code, _, err = cli("run", "decisions", str(a), "-p", f"run={tmp_path}")
    assert code == 2 and "no run" in err


# ----------------------------------------------------------------------------- paths are data


@pytest.mark.parametrize("name, decoy", [("r[1]", "r1"), ("r*", "rX"), ("r?", "rQ"), ("bob's run", None),
                                         ("task=video/decision=keep/out", None)])
def test_run_folder_names_with_glob_characters_or_quotes(runs, tmp_path, name, decoy):
    # the folder under test holds run A; a decoy that the name, read as a pattern, would match
    # holds run B, so reading the wrong shards changes every number
    parent = tmp_path / "runs"
    run = parent / name
    shutil.copytree(runs["a"], run)
    if decoy:
        shutil.copytree(runs["b"], parent / decoy)
    expected = load_rows(run)  # task and decision from the shard's own two folders
    with AuditView([run]) as v:
        by_folder = v.sql("SELECT task, decision, count(*) AS n FROM samples GROUP BY ALL").to_pylist()
        assert {(r["task"], r["decision"]): r["n"] for r in by_folder} == \
            expected.groupby(["task", "decision"]).size().to_dict()
        got = v.sql("SELECT sample_id, decision, shard_file, run_dir FROM samples").to_pandas()
        assert sorted(got.sample_id) == sorted(expected.sample_id)
        assert dict(zip(got.sample_id, got.decision)) == dict(zip(expected.sample_id, expected.decision))
        assert set(got.shard_file) == {str(f) for f in shard_files(run)}
        assert set(got.run_dir) == {str(run)}
        assert v.sql("SELECT count(*) AS n FROM input_ids").column("n")[0].as_py() == \
            pq.read_metadata(OutputLayout(run).input_ids).num_rows
        checks = run_audit(v, "conservation").to_pylist()
        assert all(r["ok"] for r in checks), [r for r in checks if not r["ok"]]
        # the folder's own files stay readable by name; the decoy's do not
        own = v.sql("SELECT content FROM read_text($p)", {"p": glob_escape(OutputLayout(run).manifest)})
        assert json.loads(own.column(0)[0].as_py())["run_id"] == manifest(run)["run_id"]
        if decoy:
            with pytest.raises(duckdb.PermissionException, match=DENIED):
                v.sql(f"SELECT * FROM glob('{parent}/{decoy}/**')")
    code, out, err = cli("run", "decisions", str(run), "-p", "run=0", "-p", "by_source=false", "-f", "json")
    assert code == 0, err
    assert sum(r["rows"] for r in json.loads(out)) == len(expected)
    assert {r["run"] for r in json.loads(out)} == {manifest(run)["run_id"]}

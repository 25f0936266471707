"""Hostile input, hostile paths and concurrent runs (issue 14, the scoring-job half).

Real components only: the real job on the session's local Ray, tiny real judges, real Parquet,
DuckDB and `datasets`, a real HTTP server on 127.0.0.1 and real lock files.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.config import RemoteConfig
from curation.images import REMOTE_DISABLED, resolve_cell
from curation.job import run_score_job
from curation.shards import OutputLayout

from .conftest import job_config
from .inputs_factory import png

REPO = Path(__file__).resolve().parents[2]
CRAFTED = "bob's run x'); COPY (SELECT 42) TO 'pwned.csv' (FORMAT csv); --"
"""An output folder name with a quote and a statement: the job must treat it as a name."""


# ----------------------------------------------------------------------------- a local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        ctype, body = self.routes.get(self.path, ("text/plain", b"not found"))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def http_server():
    _Handler.routes = {"/img.png": ("image/png", png(77)), "/secret.txt": ("text/plain", b"root:x:0:0:secret\n"),
                       "/big.png": ("image/png", png(78, (400, 400)))}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def silent_server():
    """Accepts connections (the kernel's backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"http://127.0.0.1:{s.getsockname()[1]}/never.png"
    s.close()


def _remote(**over) -> RemoteConfig:
    r = RemoteConfig(enabled=True, schemes=["http"], hosts=["127.0.0.1"], timeout_s=1.0)
    for k, v in over.items():
        setattr(r, k, v)
    return r


# ----------------------------------------------------------------------------- cells (no Ray)


def test_base64_text_cells_decode_or_become_errors(tmp_path):
    data = png(3)
    ok = resolve_cell({"bytes": base64.b64encode(data).decode(), "path": None}, str(tmp_path), str(tmp_path), 1 << 20)
    assert ok.error is None and ok.data == data
    uri = resolve_cell("data:image/png;base64," + base64.b64encode(data).decode(), str(tmp_path), str(tmp_path), 1 << 20)
    assert uri.error is None and uri.data == data
    bad = resolve_cell({"bytes": "this is not base64 at all!", "path": None}, str(tmp_path), str(tmp_path), 1 << 20)
    assert bad.data is None and "not valid base64" in bad.error
    odd = resolve_cell({"bytes": [1, 2, 3], "path": None}, str(tmp_path), str(tmp_path), 1 << 20)
    assert odd.data is None and "not bytes or base64" in odd.error
    nul = resolve_cell("images/a\x00b.png", str(tmp_path), str(tmp_path), 1 << 20)
    assert nul.data is None and "NUL byte" in nul.error
    odd_path = resolve_cell({"bytes": None, "path": 12}, str(tmp_path), str(tmp_path), 1 << 20)
    assert odd_path.data is None and "not text" in odd_path.error


def test_remote_uris_are_refused_by_default(http_server, tmp_path):
    for uri in (f"{http_server}/img.png", "s3://bucket/key.png", "gs://b/k.png", "hf://datasets/x/y.png"):
        ref = resolve_cell(uri, str(tmp_path), str(tmp_path), 1 << 20)
        assert ref.data is None and ref.error.startswith(REMOTE_DISABLED), (uri, ref.error)
        ref = resolve_cell(uri, str(tmp_path), str(tmp_path), 1 << 20, RemoteConfig())
        assert ref.data is None and ref.error.startswith(REMOTE_DISABLED)
    assert "--allow-remote-images" in REMOTE_DISABLED


def test_remote_uris_when_enabled_are_allow_listed_checked_and_bounded(http_server, silent_server, tmp_path):
    base, root = str(tmp_path), str(tmp_path)
    good = resolve_cell(f"{http_server}/img.png", base, root, 1 << 20, _remote())
    assert good.error is None and good.data == png(77)
    other_host = resolve_cell(f"{http_server}/img.png", base, root, 1 << 20, _remote(hosts=["images.example.com"]))
    assert other_host.data is None and "not in the allow-list" in other_host.error
    localhost = resolve_cell(http_server.replace("127.0.0.1", "localhost") + "/img.png", base, root, 1 << 20, _remote())
    assert localhost.data is None and "not in the allow-list" in localhost.error
    scheme = resolve_cell(f"{http_server}/img.png", base, root, 1 << 20, _remote(schemes=["https"]))
    assert scheme.data is None and "scheme http:// is not allowed" in scheme.error
    s3 = resolve_cell("s3://127.0.0.1/k.png", base, root, 1 << 20, _remote())
    assert s3.data is None and "scheme s3:// is not allowed" in s3.error
    text = resolve_cell(f"{http_server}/secret.txt", base, root, 1 << 20, _remote())
    assert text.data is None and "did not return an image" in text.error
    big = resolve_cell(f"{http_server}/big.png", base, root, 1 << 20, _remote(max_bytes=1000))
    assert big.data is None and "1000-byte limit" in big.error
    t0 = time.monotonic()
    hang = resolve_cell(silent_server, base, root, 1 << 20, _remote())
    assert time.monotonic() - t0 < 5, "a server that never answers must time out quickly"
    assert hang.data is None and "cannot fetch" in hang.error and "timed out" in hang.error.lower()


def test_cli_flags_enable_remote_uris():
    from curation.cli import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(["--input", "x", "--allow-remote-images", "--remote-host",
                                                      "cdn.example.com", "--remote-scheme", "https",
                                                      "--remote-timeout", "3"]))
    assert cfg.remote.enabled and cfg.remote.hosts == ["cdn.example.com"] and cfg.remote.timeout_s == 3.0
    off = config_from_args(build_parser().parse_args(["--input", "x"]))
    assert not off.remote.enabled and off.hash() != cfg.hash()


def test_jsonl_lone_surrogates_and_reserved_keys_do_not_stop_planning(tmp_path):
    from curation.config import ColumnMap
    from curation.inputs import plan_inputs
    from curation.extras import plan_extra_columns
    from curation.prepare import PrepareContext, partition_ids, prepare_partition
    from curation.config import LimitsConfig

    lines = ['{"sample_id": "s\\ud800", "task": "t2i", "prompt": "a \\ud800 b", "k\\udc00": "v\\udfff"}',
             '{"__json_error__": "x", "task": "t2i", "prompt": "p", "image": "a.png"}',
             '{"filename": "f", "shard_file": 1, "run_index": 2, "decision": "d", "input_decision": "mine"}']
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    plan = plan_inputs([str(tmp_path / "in.jsonl")])
    schema, rename = plan_extra_columns(plan.files, ColumnMap())
    assert rename["filename"] == "input_filename" and rename["shard_file"] == "input_shard_file"
    assert rename["run_index"] == "input_run_index"
    assert rename["input_decision"] == "input_decision" and rename["decision"] == "input_decision_2"
    assert len(set(schema.names)) == len(schema.names)
    ctx = PrepareContext(root=str(tmp_path), columns=ColumnMap(), default_task=None, default_source=None,
                         limits=LimitsConfig(), rename=rename)
    ids = partition_ids(plan.partitions[0], ctx).column("sample_id").to_pylist()
    table = pa.concat_tables(list(prepare_partition(plan.partitions[0], ctx)))
    assert table.column("sample_id").to_pylist() == ids and ids[0] == "s\ufffd"
    assert table.column("prompt").to_pylist()[0] == "a \ufffd b"


# ----------------------------------------------------------------------------- the hostile run


def _hostile_inputs(tmp: Path, http_url: str) -> dict:
    """Two inputs in different trees, each with rows that crashed the job before."""
    a, b = tmp / "tree_a" / "x", tmp / "tree_b" / "y"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    (a / "inside.png").write_bytes(png(1))
    (b / "other.png").write_bytes(png(2))
    b64 = base64.b64encode(png(4)).decode()
    expect: dict[str, str] = {}
    lines = []

    def add(sid, kind, **row):
        if sid is not None:
            row["sample_id"] = sid
            expect[sid] = kind
        lines.append(json.dumps(row))

    add("b64-ok", "scored", task="t2i", prompt="base64 image", image={"bytes": b64, "path": None})
    add("b64-bad", "error:not valid base64", task="t2i", prompt="x", image={"bytes": "%%% not base64 %%%", "path": None})
    add("nul-path", "error:NUL byte", task="t2i", prompt="x", image="imgs/a\x00b.png")
    add("remote-off", "error:" + REMOTE_DISABLED, task="t2i", prompt="x", image=f"{http_url}/img.png")
    add("remote-s3", "error:" + REMOTE_DISABLED, task="t2i", prompt="x", image="s3://bucket/k.png")
    add("etc-passwd", "error:outside the input root", task="t2i", prompt="x", image="/etc/passwd")
    add("other-tree", "error:outside the input root", task="t2i", prompt="x", image=str(b / "other.png"))
    add("inside-abs", "scored", task="t2i", prompt="inside", image=str(a / "inside.png"))
    add("odd-bytes", "error:not bytes or base64", task="t2i", prompt="x", image={"bytes": 5, "path": None})
    add("odd-prompt", "error:not text", task="t2i", prompt=["a", "list"], image={"bytes": b64, "path": None})
    add("reserved", "scored", task="t2i", prompt="reserved names", image={"bytes": b64, "path": None},
        filename="f.png", shard_file="s", run_index=7, decision="mine", input_decision="also mine")
    raw = "\n".join(lines)
    # lone surrogates (valid JSON escapes) in the prompt, the id and a key; a __json_error__ key
    raw += '\n{"sample_id": "surrogate-\\ud800", "task": "t2i", "prompt": "a \\udc00 b", "k\\ud800": 1, ' \
           '"image": {"bytes": "' + b64 + '", "path": null}}'
    expect["surrogate-\ufffd"] = "scored"
    raw += '\n{"sample_id": "json-error-key", "__json_error__": "boom", "__raw__": 1, "task": "t2i", ' \
           '"prompt": "p", "image": {"bytes": "' + b64 + '", "path": null}}'
    expect["json-error-key"] = "scored"
    raw += "\n{not json\n"
    (a / "rows.jsonl").write_text(raw)
    # Parquet in the other tree: a __json_error__ column, audit-named columns, a path to tree a
    pq.write_table(pa.table({
        "sample_id": ["pq-ok", "pq-cross", "pq-passwd"], "task": ["t2i"] * 3, "prompt": ["p", "q", "r"],
        "image": [str(b / "other.png"), str(a / "inside.png"), "/etc/passwd"],
        "__json_error__": ["x", None, "y"], "filename": ["a", "b", "c"], "run_index": [1, 2, 3],
    }), b / "rows.parquet")
    expect.update({"pq-ok": "scored", "pq-cross": "error:outside the input root",
                   "pq-passwd": "error:outside the input root"})
    n_rows = len(lines) + 3 + 3
    return {"inputs": [a, b / "rows.parquet"], "expect": expect, "n_rows": n_rows}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, ray_session, judges, http_server):
    tmp = tmp_path_factory.mktemp("hostile")
    info = _hostile_inputs(tmp, http_server)
    out = tmp / "runs" / CRAFTED
    cwd = os.getcwd()
    os.chdir(tmp)  # where a statement smuggled through the folder name would write pwned.csv
    try:
        cfg = job_config(info["inputs"], out, judges, thresholds__reward=0.0, thresholds__vqa=0.0)
        result = run_score_job(cfg, echo=lambda *a: None)
    finally:
        os.chdir(cwd)
    return info, result, out, tmp


def _natural_rows(out: Path):
    """The query a user writes first: every Parquet file under the folder, hive-partitioned."""
    con = duckdb.connect()
    return con.execute("SELECT * FROM read_parquet($glob, hive_partitioning = true, union_by_name = true)",
                       {"glob": str(out / "**" / "*.parquet")}).fetchdf()


def test_hostile_rows_are_error_rows_and_every_row_lands_once(hostile_run):
    info, result, out, tmp = hostile_run
    df = _natural_rows(out)
    ids = list(df["sample_id"])
    assert len(ids) == len(set(ids)) == info["n_rows"] == result.summary["rows"]
    by_id = df.set_index("sample_id")
    for sid, kind in info["expect"].items():
        r = by_id.loc[sid]
        if kind == "scored":
            assert r["decision"] in ("keep", "reject"), (sid, r["error"])
        else:
            assert r["decision"] == "error", (sid, r["decision"])
            assert kind.split(":", 1)[1] in r["error"], (sid, r["error"])
    assert (df["error"].fillna("").str.contains("invalid JSON")).sum() == 1
    # nothing of /etc/passwd or of the other tree was copied into a shard
    blobs = [c["bytes"] for c in df["image"] if isinstance(c, dict) and c["bytes"] is not None]
    assert blobs and not any(b"root:" in bytes(x) for x in blobs)
    for sid in ("pq-cross", "pq-passwd", "etc-passwd", "other-tree"):
        cell = by_id.loc[sid]["image"]
        assert not isinstance(cell, dict) or cell["bytes"] is None, sid
    assert by_id.loc["surrogate-\ufffd"]["prompt"] == "a \ufffd b"


def test_input_columns_named_like_audit_columns_are_renamed(hostile_run):
    _, _, out, _ = hostile_run
    df = _natural_rows(out).set_index("sample_id")
    r = df.loc["reserved"]
    assert r["input_filename"] == "f.png" and r["input_shard_file"] == "s" and r["input_run_index"] == 7
    assert r["input_decision"] == "also mine" and r["input_decision_2"] == "mine"  # nothing overwritten
    assert r["decision"] in ("keep", "reject")
    shard = OutputLayout(out).all_shards()[0]
    names = pq.read_schema(shard).names
    assert not {"filename", "shard_file", "run_index", "run_dir", "run"} & set(names)
    assert len(names) == len(set(names))


def test_output_path_with_quotes_is_data_not_sql(hostile_run):
    _, result, out, tmp = hostile_run
    assert out.name == CRAFTED and out.is_dir()
    assert not list(tmp.rglob("pwned.csv")) and not list(Path.cwd().glob("pwned.csv"))
    summary = json.loads(OutputLayout(out).summary.read_text())
    assert summary["rows"] == result.summary["rows"] > 0
    assert sum(sum(d.values()) for d in summary["by_task_decision"].values()) == summary["rows"]


def test_only_shards_are_parquet_natural_duckdb_and_datasets_queries_work(hostile_run):
    from datasets import load_dataset

    _, result, out, _ = hostile_run
    parquet = sorted(out.rglob("*.parquet"))
    assert parquet and all(p.parent.parent.name.startswith("task=") for p in parquet)
    assert OutputLayout(out).input_ids.exists()  # the id index is there, under a name the glob skips
    assert len(_natural_rows(out)) == result.summary["rows"]
    ds = load_dataset("parquet", data_dir=str(out), split="train")
    assert ds.num_rows == result.summary["rows"]


def test_rerun_resumes_and_migrates_the_older_layout(hostile_run, judges):
    info, first, out, tmp = hostile_run
    layout = OutputLayout(out)
    # the layout before this change: metadata at the top of the folder
    os.replace(layout.manifest, out / "_manifest.json")
    os.replace(layout.summary, out / "summary.json")
    (out / "_run").mkdir()
    os.replace(layout.input_ids, out / "_run" / "input_ids.parquet")
    cfg = job_config(info["inputs"], out, judges, thresholds__reward=0.0, thresholds__vqa=0.0)
    again = run_score_job(cfg, echo=lambda *a: None)
    assert again.resumed and again.run_id == first.run_id and again.partitions_scored == 0
    assert layout.manifest.exists() and layout.input_ids.exists() and not (out / "_manifest.json").exists()
    assert not layout.lock.exists()  # released


# ----------------------------------------------------------------------------- fuzz


def _fuzz_inputs(root: Path, seed: int, n: int) -> int:
    import random

    rng = random.Random(seed)
    root.mkdir(parents=True)
    (root / "ok.png").write_bytes(png(9))
    good = base64.b64encode(png(10)).decode()
    strings = ["", " ", "a\x00b", "\ud800", "é😀", "'; DROP TABLE x; --", "../../etc/passwd", "/etc/passwd",
               "ok.png", "http://127.0.0.1:9/x.png", "s3://b/k", "data:image/png;base64,xx", good, "x" * 3000,
               "\n\t", "task=t2i", "null", "{}", "__raw__"]
    odd = [None, True, 0, -1, 2**70, 1.5, float("nan"), [], [1, "a"], {}, {"bytes": None}, {"bytes": good},
           {"bytes": "!!", "path": None}, {"path": "ok.png"}, {"path": 5}, {"bytes": 3}, {"a": {"b": [None]}}]
    keys = ["sample_id", "task", "prompt", "image", "source_image", "source", "meta", "__json_error__",
            "decision", "filename", "input_decision", "x\ud800", ""]

    def value():
        r = rng.random()
        return rng.choice(strings) if r < 0.45 else rng.choice(odd) if r < 0.8 else rng.choice(["t2i", "edit"])

    lines = []
    for i in range(n):
        row = {"sample_id": f"f{i}" if rng.random() < 0.8 else rng.choice([None, 1, "dup", "", {"x": 1}]),
               "task": rng.choice(["t2i", "edit", None, "video", 3]),
               "prompt": rng.choice(["a prompt", "", None, 5, "\ud800 surrogate"]),
               "image": rng.choice([{"bytes": good, "path": None}, "ok.png", None, value()])}
        for _ in range(rng.randrange(4)):
            row[rng.choice(keys)] = value()
        text = json.dumps(row)
        m = rng.random()
        if m < 0.1:
            text = text[: rng.randrange(len(text))]  # truncated JSON
        elif m < 0.15:
            text = json.dumps(rng.choice([[1, 2], "a string", 3, None]))  # valid JSON, not an object
        elif m < 0.2:
            pos = rng.randrange(len(text))
            text = text[:pos] + rng.choice(["\x00", "}", "\"", "\\", "\\ud800"]) + text[pos:]
        lines.append(text)
    (root / "fuzz.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    rows = [{"sample_id": f"p{i}", "task": "t2i", "prompt": "p", "image": png(i) if i % 2 else b"\x89PNG broken",
             "filename": "f", "weird": rng.choice(["a", None])} for i in range(8)]
    pq.write_table(pa.Table.from_pylist(rows), root / "fuzz.parquet")
    return len([ln for ln in lines if ln.strip()]) + len(rows)


def test_fuzzed_rows_never_stop_the_job_and_are_conserved(tmp_path, ray_session, judges):
    n_rows = _fuzz_inputs(tmp_path / "in", seed=14, n=80)
    cfg = job_config([tmp_path / "in"], tmp_path / "out", judges, rows_per_partition=24)
    result = run_score_job(cfg, echo=lambda *a: None)
    layout = OutputLayout(tmp_path / "out")
    con = duckdb.connect()
    inputs = con.execute("SELECT sample_id FROM read_parquet($p)", {"p": str(layout.input_ids)}).fetchall()
    assert len(inputs) == n_rows  # every input line and Parquet row has an id
    out = _natural_rows(tmp_path / "out")
    ids = list(out["sample_id"])
    assert len(ids) == len(set(ids)), "a sample_id landed twice"
    assert set(ids) == {r[0] for r in inputs}, "an input id is missing from the shards"
    assert len(ids) + result.summary["duplicate_rows_collapsed"] == n_rows
    assert out["duplicate_count"].sum() == n_rows
    assert (out[out["decision"] == "error"]["error"].notna()).all()


# ----------------------------------------------------------------------------- usage errors, locks


def _score(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "pipelines" / "score.py"), *args, "--vqa-model", "x"],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _one_line_error(r: subprocess.CompletedProcess, text: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], r.stderr


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"prompt": "p"}\n')
    (tmp_path / "afile").write_text("x")
    _one_line_error(_score("--input", str(tmp_path / "empty"), "--output", str(tmp_path / "o1"), cwd=tmp_path),
                    "no input files found")
    _one_line_error(_score("--input", str(tmp_path / "missing"), "--output", str(tmp_path / "o2"), cwd=tmp_path),
                    "does not exist")
    _one_line_error(_score("--input", str(tmp_path / "data"), "--output", str(tmp_path / "afile"), cwd=tmp_path),
                    "is a file")
    # an output that is, is inside, or contains an input (it would read and delete its own shards)
    _one_line_error(_score("--input", str(tmp_path / "data"), "--output", str(tmp_path / "data"), "--overwrite",
                           cwd=tmp_path), "is an input folder")
    _one_line_error(_score("--input", str(tmp_path / "data"), "--output", str(tmp_path / "data" / "out"),
                           cwd=tmp_path), "is inside the input")
    _one_line_error(_score("--input", str(tmp_path / "data" / "a.jsonl"), "--output", str(tmp_path), cwd=tmp_path),
                    "contains the input")
    assert (tmp_path / "data" / "a.jsonl").exists() and not (tmp_path / "data" / "out").exists()


def test_second_writer_is_refused_and_a_stale_lock_is_taken_over(tmp_path):
    from curation.manifest import OutputLock, OutputLocked

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text('{"prompt": "p"}\n')
    out = tmp_path / "out"
    layout = OutputLayout(out)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out.mkdir()
        layout.lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started_at": "t"}))
        r = _score("--input", str(tmp_path / "data"), "--output", str(out), cwd=tmp_path)
        _one_line_error(r, "is being written by another job")
        assert f"pid {holder.pid}" in r.stderr
        with pytest.raises(OutputLocked):
            OutputLock(layout).acquire()
        # a lock on another host cannot be judged stale: refused too
        layout.lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started_at": "t"}))
        with pytest.raises(OutputLocked, match="elsewhere.example"):
            OutputLock(layout).acquire()
    finally:
        holder.kill()
        holder.wait()
    # its owner is gone: the lock is stale and taken over, then released
    layout.lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started_at": "t"}))
    with OutputLock(layout) as lock:
        assert json.loads(layout.lock.read_text())["pid"] == os.getpid()
        with pytest.raises(OutputLocked):  # and held against everyone else while it runs
            OutputLock(layout).acquire()
    assert not layout.lock.exists() and not lock.held

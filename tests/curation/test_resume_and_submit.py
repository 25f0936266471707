"""Crash/resume with a real SIGKILL, and the `ray job submit` form against a loopback head."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.shards import OutputLayout

from .inputs_factory import png

REPO = Path(__file__).resolve().parents[2]


def _write_input(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rows = [{"sample_id": f"s{i:04d}", "task": "t2i" if i % 3 else "edit", "prompt": f"picture {i}",
             "image": {"bytes": png(i), "path": None},
             "source_image": None if i % 3 else {"bytes": png(1000 + i), "path": None}} for i in range(n)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "candidates.parquet", row_group_size=4)


def _cmd(inp: Path, out: Path, judges: dict, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "pipelines" / "score.py"), "--input", str(inp), "--output", str(out),
            "--img-reward-model", judges["img_reward"], "--edit-reward-model", judges["edit_reward"],
            "--vqa-model", judges["vqa"], "--rows-per-partition", "4", "--batch-size", "1",
            "--max-pixels", "4096", "--vqa-threshold", "0.5", "--reward-threshold", "0.0", *extra]


def _env() -> dict:
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_DATA_DISABLE_PROGRESS_BARS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _rows(out: Path):
    con = duckdb.connect()
    return con.execute(
        "SELECT sample_id, decision, vqa_score, reward_score FROM read_parquet($glob, hive_partitioning=true) "
        "ORDER BY sample_id", {"glob": OutputLayout(out).shard_glob}).fetchall()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sigkill_midway_then_rerun_equals_clean_run(tmp_path, judges):
    inp = tmp_path / "input"
    _write_input(inp, 96)
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    proc = subprocess.Popen(_cmd(inp, crashed, judges, "--num-cpus", "2"), env=_env(), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifest = OutputLayout(crashed).manifest
    finished: dict = {}
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists():
            try:
                finished = json.loads(manifest.read_text())["finished"]
            except (ValueError, KeyError):
                finished = {}
            if len(finished) >= 3:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before it could be killed midway"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray it started in-process
    proc.wait(timeout=30)
    done_before = json.loads(manifest.read_text())["finished"]
    partitions = json.loads(manifest.read_text())["partitions"]
    assert 3 <= len(done_before) < len(partitions)
    stamps = {f: (os.stat(crashed / f).st_ino, os.stat(crashed / f).st_mtime_ns)
              for d in done_before.values() for f in d["files"]}

    subprocess.run(_cmd(inp, crashed, judges, "--num-cpus", "2"), env=_env(), cwd=tmp_path, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(_cmd(inp, clean, judges, "--num-cpus", "2"), env=_env(), cwd=tmp_path, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    resumed, reference = _rows(crashed), _rows(clean)
    ids = [r[0] for r in resumed]
    assert len(ids) == len(set(ids)) == 96
    assert [r[:2] for r in resumed] == [r[:2] for r in reference]
    assert all(abs(a[2] - b[2]) < 1e-9 for a, b in zip(resumed, reference) if a[2] is not None)
    after = json.loads(manifest.read_text())
    for pid, info in done_before.items():
        assert after["finished"][pid]["attempt"] == 1
    for f, stamp in stamps.items():  # finished partitions were not rewritten
        assert (os.stat(crashed / f).st_ino, os.stat(crashed / f).st_mtime_ns) == stamp
    summary = json.loads(OutputLayout(crashed).summary.read_text())
    assert summary["partitions_skipped"] == len(done_before)
    assert summary["partitions_scored"] == len(partitions) - len(done_before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ray_job_submit_against_a_loopback_head(tmp_path, judges):
    inp, out = tmp_path / "input", tmp_path / "out"
    _write_input(inp, 12)
    ray_bin = str(Path(sys.executable).parent / "ray")
    gcs, dash = _free_port(), _free_port()
    head = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", f"--port={gcs}", "--dashboard-host=127.0.0.1",
         f"--dashboard-port={dash}", "--num-cpus=2", "--include-dashboard=true",
         f"--ray-client-server-port={_free_port()}", f"--node-manager-port={_free_port()}",
         f"--object-manager-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
         f"--metrics-export-port={_free_port()}"],
        env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"http://127.0.0.1:{dash}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            r = subprocess.run([ray_bin, "job", "list", "--address", address], env=_env(), capture_output=True)
            if r.returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail("the Ray head did not come up")
        score = _cmd(inp, out, judges)
        score[0] = "python"
        score[1] = "pipelines/score.py"
        r = subprocess.run([ray_bin, "job", "submit", "--address", address, "--working-dir", str(REPO), "--",
                            *score], env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert "succeeded" in (r.stdout + r.stderr).lower()
        assert len(_rows(out)) == 12
        assert json.loads(OutputLayout(out).summary.read_text())["rows"] == 12
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # only the head this test started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)

"""A worker node dies while the scoring job runs on a two-node Ray cluster (issue 14).

The test starts its own cluster on this machine: a head and a worker node (`ray start` on
127.0.0.1, free non-default ports, a private --temp-dir, each node with its own resources), submits
`pipelines/score.py` with `ray job submit`, and once the worker node hosts scoring actors and the
job has started finishing partitions, SIGKILLs every process of the worker node (the `ray start`
process and its descendants, by pid: only processes this test started). Then:

- the job either finishes on the head or fails with a clear error, within a deadline (no hang);
- a rerun (submitted again, on the head alone) resumes: partitions finished before it are
  skipped and their files untouched (same inode and mtime);
- every input id lands exactly once (pyarrow over the shards, and the conservation audit);
- the time from the kill to a complete output is printed (`recovery: ...`).

Teardown kills, by pid, the processes of both nodes this test started, in a finally block;
never `ray stop`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.audits.registry import run_audit
from curation.audits.view import AuditView
from curation.shards import OutputLayout

from .inputs_factory import png

REPO = Path(__file__).resolve().parents[2]
ROWS, ROWS_PER_PARTITION = 96, 4
PARTITIONS = ROWS // ROWS_PER_PARTITION
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
SOCKET_PATH_ROOM = 107 - len("/session_2026-12-02_10-29-14_200809_1234567/sockets/plasma_store")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_DATA_DISABLE_PROGRESS_BARS="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("RAY_ADDRESS", None)
    return env


def _node_ports() -> list[str]:
    return [f"--node-manager-port={_free_port()}", f"--object-manager-port={_free_port()}",
            f"--dashboard-agent-listen-port={_free_port()}", f"--dashboard-agent-grpc-port={_free_port()}",
            f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}",
            "--node-ip-address=127.0.0.1", "--disable-usage-stats"]


def _write_input(folder: Path) -> list[str]:
    folder.mkdir(parents=True)
    rows = [{"sample_id": f"s{i:04d}", "task": "t2i" if i % 3 else "edit", "prompt": f"picture {i}",
             "image": {"bytes": png(i), "path": None},
             "source_image": None if i % 3 else {"bytes": png(1000 + i), "path": None}} for i in range(ROWS)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "candidates.parquet", row_group_size=ROWS_PER_PARTITION)
    return [r["sample_id"] for r in rows]


def _score_cmd(inp: Path, out: Path, judges: dict) -> list[str]:
    return ["python", "pipelines/score.py", "--input", str(inp), "--output", str(out),
            "--img-reward-model", judges["img_reward"], "--edit-reward-model", judges["edit_reward"],
            "--vqa-model", judges["vqa"], "--rows-per-partition", str(ROWS_PER_PARTITION), "--batch-size", "1",
            "--max-pixels", "4096", "--vqa-threshold", "0.5", "--reward-threshold", "0.0"]


def _tree(pid: int) -> list[psutil.Process]:
    """The process and all its descendants (collected before any is killed, so none is orphaned
    out of the list)."""
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill(procs: list[psutil.Process]) -> None:
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)


def _ours(marker: str) -> list[psutil.Process]:
    """Processes left by this test's nodes (their command line names this test's private temp dir)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid != os.getpid() and any(marker in a for a in (p.info["cmdline"] or [])):
                found.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _manifest(out: Path) -> dict:
    path = OutputLayout(out).manifest
    for _ in range(20):
        try:
            return json.loads(path.read_text()) if path.exists() else {}
        except ValueError:  # being replaced right now
            time.sleep(0.05)
    return {}


def _stamps(out: Path, finished: dict) -> dict[str, tuple[int, int]]:
    return {f: (os.stat(out / f).st_ino, os.stat(out / f).st_mtime_ns) for d in finished.values() for f in d["files"]}


class Cluster:
    """A head and a worker node started by this test, with their pids."""

    def __init__(self, temp: Path):
        self.temp = temp
        self.gcs, self.dash = _free_port(), _free_port()
        self.address = f"http://127.0.0.1:{self.dash}"
        self.head: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _ray(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).parent / "ray"), *args], env=_env(), capture_output=True,
                              text=True, **kw)

    def start(self) -> None:
        ray_bin = str(Path(sys.executable).parent / "ray")
        self.head = subprocess.Popen(
            [ray_bin, "start", "--head", "--block", f"--port={self.gcs}", "--dashboard-host=127.0.0.1",
             f"--dashboard-port={self.dash}", "--include-dashboard=true", f"--ray-client-server-port={_free_port()}",
             "--num-cpus=4", '--resources={"h14_head": 1}', f"--temp-dir={self.temp / 'head'}", *_node_ports()],
            env=_env(), stdout=open(self.temp / "head.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: self._ray("job", "list", "--address", self.address).returncode == 0, "the head")
        self.worker = subprocess.Popen(
            [ray_bin, "start", "--block", f"--address=127.0.0.1:{self.gcs}", "--num-cpus=4",
             '--resources={"h14_worker": 1}', f"--temp-dir={self.temp / 'worker'}", *_node_ports()],
            env=_env(), stdout=open(self.temp / "worker.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: len(self.alive_nodes()) == 2, "the worker node")
        resources = [n["resources_total"] for n in self.alive_nodes()]
        assert sorted("h14_head" in r for r in resources) == [False, True]  # one head, one worker, own resources

    def _wait(self, ready, what: str, timeout: float = 180, watch: tuple | None = None) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for proc in watch if watch is not None else (self.head, self.worker):
                if proc is not None and proc.poll() is not None:
                    pytest.fail(f"{what}: `ray start` exited with {proc.returncode} "
                                f"(see {self.temp}/head.log, worker.log)")
            if ready():
                return
            time.sleep(1)
        pytest.fail(f"{what} did not come up within {timeout:.0f} s")

    def alive_nodes(self) -> list[dict]:
        r = self._ray("list", "nodes", "--address", self.address, "--format", "json", "--filter", "state=ALIVE")
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip().startswith("[") else []

    def submit(self, sid: str, cmd: list[str]) -> None:
        r = self._ray("job", "submit", "--address", self.address, "--submission-id", sid, "--no-wait",
                      "--working-dir", str(REPO), "--", *cmd)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

    def job(self, sid: str):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.address).get_job_info(sid)

    def logs(self, sid: str) -> str:
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.address).get_job_logs(sid)

    def wait_job(self, sid: str, timeout: float) -> tuple[str, float]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.job(sid).status
            status = getattr(status, "value", str(status))
            if status in TERMINAL:
                return status, time.time()
            time.sleep(1)
        pytest.fail(f"job {sid} neither finished nor failed within {timeout:.0f} s:\n{self.logs(sid)[-3000:]}")

    def scoring_actors_on_worker(self) -> list[str]:
        """Ray Data scoring actors (`ray::MapWorker(...)`) running as processes of the worker node."""
        names = []
        for p in _tree(self.worker.pid):
            try:
                name = " ".join(p.cmdline()) or p.name()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if "MapWorker" in name:
                names.append(name.strip())
        return names

    def kill_worker(self) -> list[psutil.Process]:
        procs = _tree(self.worker.pid)
        _kill(procs)
        return procs

    def teardown(self) -> None:
        for proc in (self.worker, self.head):
            if proc is not None:
                _kill(_tree(proc.pid))
        _kill(_ours(str(self.temp)))


def _conservation(out: Path, expected_ids: list[str]) -> None:
    ids = []
    for f in OutputLayout(out).all_shards():
        ids += pq.read_table(f, columns=["sample_id"]).column("sample_id").to_pylist()
    assert sorted(ids) == sorted(expected_ids), "every input id exactly once"
    with AuditView([out]) as view:
        checks = run_audit(view, "conservation").to_pylist()
    assert all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_worker_node_killed_mid_job(tmp_path, judges):
    inp, out = tmp_path / "input", tmp_path / "out"
    expected_ids = _write_input(inp)
    # Ray's socket paths (<temp>/session_.../sockets/plasma_store) must stay under 107 bytes:
    # pytest's tmp_path is too deep for that, so the nodes' private temp dir is a short one
    # (made here, removed at the end) when it has to be.
    temp = tmp_path / "ray"
    made = None
    if len(str(temp)) > SOCKET_PATH_ROOM:
        temp = made = Path(tempfile.mkdtemp(prefix="h14ray-", dir="/tmp"))
    temp.mkdir(exist_ok=True)
    cluster = Cluster(temp)
    try:
        cluster.start()
        cmd = _score_cmd(inp, out, judges)
        cluster.submit("h14-first", cmd)

        # Kill when the worker node hosts scoring actors and the job is finishing partitions
        # (or, at the latest, 15 s after scoring actors appeared there).
        seen_at = None
        deadline = time.time() + 600
        while True:
            assert time.time() < deadline, "the worker node never hosted a scoring actor"
            status = getattr(cluster.job("h14-first").status, "value", None)
            assert status not in TERMINAL, f"the job ended ({status}) before the worker node could be killed"
            actors = cluster.scoring_actors_on_worker()
            if actors and seen_at is None:
                seen_at = time.time()
            finished = _manifest(out).get("finished", {})
            if seen_at is not None and (finished or time.time() - seen_at > 15):
                break
            time.sleep(0.5)
        in_flight = cluster.scoring_actors_on_worker()
        killed = cluster.kill_worker()
        t_kill = time.time()
        before = _manifest(out).get("finished", {})
        stamps = _stamps(out, before)
        print(f"\nkilled the worker node ({len(killed)} processes, scoring actors there: {in_flight}) with "
              f"{len(before)}/{PARTITIONS} partitions finished")
        assert in_flight, "no scoring actor on the worker node at the kill"
        assert len(before) < PARTITIONS, "every partition had finished before the kill"

        status, t_end = cluster.wait_job("h14-first", timeout=600)
        logs = cluster.logs("h14-first")
        info = cluster.job("h14-first")
        print(f"job after the kill: {status} in {t_end - t_kill:.1f} s ({info.message})")
        if status != "SUCCEEDED":
            # a clear error: the job says why (an exception naming the lost node/actor/object)
            assert info.message and re.search(r"\w+(Error|Exception)\b", logs), logs[-3000:]
        mid = _manifest(out).get("finished", {})
        for f, stamp in stamps.items():  # partitions finished before the kill were not rewritten
            assert (os.stat(out / f).st_ino, os.stat(out / f).st_mtime_ns) == stamp, f
        cluster._wait(lambda: len(cluster.alive_nodes()) == 1, "the worker node's death", timeout=120,
                      watch=(cluster.head,))
        # the head alone from here on

        # The rerun, on the head alone: resumes, rescoring only what is missing.
        mid_stamps = _stamps(out, mid)
        cluster.submit("h14-rerun", cmd)
        rerun_status, t_rerun = cluster.wait_job("h14-rerun", timeout=600)
        assert rerun_status == "SUCCEEDED", cluster.logs("h14-rerun")[-3000:]
        summary = json.loads(OutputLayout(out).summary.read_text())
        assert summary["partitions_skipped"] == len(mid)
        assert summary["partitions_scored"] == PARTITIONS - len(mid)
        for f, stamp in mid_stamps.items():
            assert (os.stat(out / f).st_ino, os.stat(out / f).st_mtime_ns) == stamp, f
        final = _manifest(out)
        assert len(final["finished"]) == PARTITIONS
        for pid in before:
            assert final["finished"][pid]["attempt"] == 1
        _conservation(out, expected_ids)
        complete = t_end if status == "SUCCEEDED" else t_rerun
        print(f"recovery: the output was complete {complete - t_kill:.1f} s after the worker node was killed "
              f"(job {status.lower()} after the kill in {t_end - t_kill:.1f} s; "
              f"{PARTITIONS - len(before)} partitions in flight at the kill; rerun {t_rerun - t_end:.1f} s, "
              f"skipped {summary['partitions_skipped']})")
    finally:
        cluster.teardown()
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)

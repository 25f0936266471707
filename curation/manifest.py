"""The run manifest: what a run is (inputs, config) and which partitions are finished.

Rewritten atomically (temp + rename) after every finished partition. Rerunning the same
command resumes; rerunning with other inputs or another config into the same folder
refuses unless `--overwrite` is given.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import socket
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .shards import LEGACY, LOCK, RUN_DIR, OutputLayout, write_json_atomic

FORMAT_VERSION = 1


class OutputConflict(RuntimeError):
    """The output folder holds a different run (or unknown files) and --overwrite was not given,
    or cannot be used at all (a file, an input, another writer's)."""


class OutputLocked(OutputConflict):
    """Another job is writing into the output folder."""


# ----------------------------------------------------------------------------- lock


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError as e:
        return e.errno != errno.ESRCH
    return True


class OutputLock:
    """An exclusive lock on an output folder: `<out>/.lock` created with O_EXCL, holding the
    owner's pid, host and start time. A lock whose owner is on this host and no longer runs is
    stale and taken over; one held by a live process, or by another host, refuses the second
    writer with a message that names the owner (remove the file if that owner is gone)."""

    def __init__(self, layout: OutputLayout) -> None:
        self.path = layout.lock
        self.held = False

    def acquire(self) -> "OutputLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None or self._stale(owner):
                    self._break(owner)
                    continue
                raise OutputLocked(
                    f"{self.path.parent} is being written by another job (pid {owner.get('pid')} on host "
                    f"{owner.get('host')}, since {owner.get('started_at')}); wait for it to finish, or use another "
                    f"--output. If that job is gone, remove {self.path}."
                ) from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            return self
        raise OutputLocked(f"cannot take the lock {self.path}: another job keeps taking it")

    def _owner(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else None
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return None  # unreadable or half-written by a crashed owner: stale

    def _stale(self, owner: dict) -> bool:
        if not owner:  # removed between our open and our read: try again
            return True
        if owner.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another host runs
        try:
            return not _pid_alive(int(owner.get("pid")))
        except (TypeError, ValueError):
            return True

    def _break(self, owner: dict | None) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def release(self) -> None:
        if self.held:
            try:
                owner = json.loads(self.path.read_text())
                if owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
                    self.path.unlink()
            except (OSError, ValueError):
                pass
            self.held = False

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class RunManifest:
    run_id: str
    config_hash: str
    input_fingerprint: str
    created_at: str
    config: dict
    input_root: str
    partitions: dict[str, int]
    """Partition id -> input rows in it."""
    expected_rows: dict[str, int] = field(default_factory=dict)
    """Partition id -> output rows (input rows minus later copies of duplicated ids)."""
    finished: dict[str, dict] = field(default_factory=dict)
    """Partition id -> {finished_at, rows, files, attempt, checks (rows per failed cheap check)}."""
    ids_indexed: bool = False
    """The input-id pre-pass (duplicates, conservation) has run."""
    duplicate_rows: int = 0
    """Later copies of duplicated sample_ids (not written, counted on the first copy)."""
    attempts: list[dict] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    @classmethod
    def load(cls, path: Path) -> "RunManifest":
        data = json.loads(path.read_text())
        return cls(**data)

    def save(self, layout: OutputLayout) -> None:
        layout.manifest.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(layout.manifest, asdict(self))


def new_run_id(config_hash: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{config_hash[:6]}-{uuid.uuid4().hex[:6]}"


OUR_ENTRIES = (RUN_DIR, LOCK, "_manifest.json", "summary.json", "_run", "_tmp")


def _ours(p: Path) -> bool:
    return p.name in OUR_ENTRIES or p.name.startswith("task=") or p.name.startswith(".")


def open_run(layout: OutputLayout, *, config_hash: str, input_fingerprint: str, config: dict,
             input_root: str, partitions: dict[str, int], overwrite: bool) -> tuple[RunManifest, bool]:
    """The manifest to continue (resumed=True) or a new one; refuses conflicting reuse.
    Call it holding the folder's `OutputLock`."""
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.migrate_legacy()
    if layout.manifest.exists():
        old = RunManifest.load(layout.manifest)
        same = old.config_hash == config_hash and old.input_fingerprint == input_fingerprint
        if same and not overwrite:
            return old, True
        if not overwrite:
            what = []
            if old.config_hash != config_hash:
                what.append(f"config hash {old.config_hash} -> {config_hash}")
            if old.input_fingerprint != input_fingerprint:
                what.append(f"input fingerprint {old.input_fingerprint} -> {input_fingerprint}")
            raise OutputConflict(
                f"{layout.root} holds run {old.run_id} with different inputs or config ({'; '.join(what)}). "
                "Use another --output, or --overwrite to replace it."
            )
        _remove_run(layout)
    else:
        foreign = [p.name for p in layout.root.iterdir() if not _ours(p)]
        ours = [p.name for p in layout.root.iterdir() if _ours(p) and p.name != LOCK]
        if (ours or foreign) and not overwrite:
            raise OutputConflict(
                f"{layout.root} is not empty and has no run manifest ({', '.join(sorted(ours + foreign)[:5])}...). "
                "Use an empty folder, or --overwrite to replace the shards in it."
            )
        if overwrite:
            _remove_run(layout)
    manifest = RunManifest(
        run_id=new_run_id(config_hash),
        config_hash=config_hash,
        input_fingerprint=input_fingerprint,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(),
        config=config,
        input_root=input_root,
        partitions=partitions,
    )
    manifest.save(layout)
    return manifest, False


def _remove_run(layout: OutputLayout) -> None:
    """Delete only what a run writes (shards, manifest, summary, temp folders)."""
    for p in layout.root.iterdir():
        if p.name.startswith("task=") or p.name in (RUN_DIR, "_run", "_tmp"):
            shutil.rmtree(p)
        elif p.name in LEGACY or (p.name.startswith(".") and p.name.endswith(".tmp")):
            p.unlink()

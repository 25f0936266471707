"""The run manifest: what a run is (inputs, config) and which partitions are finished.

Rewritten atomically (temp + rename) after every finished partition. Rerunning the same
command resumes; rerunning with other inputs or another config into the same folder
refuses unless `--overwrite` is given.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .shards import OutputLayout, write_json_atomic

FORMAT_VERSION = 1


class OutputConflict(RuntimeError):
    """The output folder holds a different run (or unknown files) and --overwrite was not given."""


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
    """Partition id -> {finished_at, rows, files, attempt}."""
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
        write_json_atomic(layout.manifest, asdict(self))


def new_run_id(config_hash: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{config_hash[:6]}-{uuid.uuid4().hex[:6]}"


OUR_ENTRIES = ("_manifest.json", "summary.json", "_run", "_tmp")


def _ours(p: Path) -> bool:
    return p.name in OUR_ENTRIES or p.name.startswith("task=") or p.name.startswith(".")


def open_run(layout: OutputLayout, *, config_hash: str, input_fingerprint: str, config: dict,
             input_root: str, partitions: dict[str, int], overwrite: bool) -> tuple[RunManifest, bool]:
    """The manifest to continue (resumed=True) or a new one; refuses conflicting reuse."""
    layout.root.mkdir(parents=True, exist_ok=True)
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
        ours = [p.name for p in layout.root.iterdir() if _ours(p)]
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
        if p.name.startswith("task=") or p.name in ("_run", "_tmp"):
            shutil.rmtree(p)
        elif p.name in ("_manifest.json", "summary.json") or (p.name.startswith(".") and p.name.endswith(".tmp")):
            p.unlink()

"""The scoring job, end to end, on Ray Data.

    plan input partitions -> open or resume the run manifest
    -> (once) index input ids: duplicates, and the input side of conservation audits
    -> read + cheap checks (tasks) -> judges (one actor pool per checkpoint)
    -> decisions (tasks) -> shards written per partition by the driver -> summary

Every input row lands exactly once: kept, rejected, or error with a message. Rerunning
the same command after a crash skips finished partitions.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import judges
from . import schema as S
from .checks import CHECKS, UNREADABLE
from .config import ScoreJobConfig
from .decisions import decide_batch
from .inputs import InputPlan, Partition, plan_inputs
from .manifest import OutputConflict, OutputLock, RunManifest, open_run
from .extras import plan_extra_columns
from .prepare import DROP, PrepareContext, partition_ids, prepare_partition
from .progress import StageBar
from .scoring import JudgeSpec, ScoringStage, declared_columns, stage_columns, t2v_metrics_config
from .shards import OutputLayout, ShardWriter, write_json_atomic
from .summary import format_summary, summarize_shards

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class JobResult:
    output: str
    run_id: str
    resumed: bool
    partitions_scored: int
    partitions_skipped: int
    rows_scored: int
    elapsed_s: float
    summary: dict


# ----------------------------------------------------------------------------- ray


def ensure_ray(cfg: ScoreJobConfig, verbose: bool = False) -> None:
    """Join a cluster (RAY_ADDRESS / --ray-address, e.g. under `ray job submit`) or start one in-process."""
    from reward_models.ray_session import ensure_ray as start

    start(cfg.ray.address, num_cpus=cfg.ray.num_cpus, num_gpus=cfg.ray.num_gpus, verbose=verbose)


# ----------------------------------------------------------------------------- judges


def judge_specs(cfg: ScoreJobConfig) -> list[JudgeSpec]:
    specs = []
    for judge in judges.JUDGES:
        stage = judge.stage
        sc = getattr(cfg, stage)
        t2v = stage == "vqa" and sc.backend == "t2v_metrics"
        if not sc.model and not t2v:
            continue
        if stage == "vqa" and sc.backend not in ("native", "t2v_metrics"):
            raise ValueError(f"vqa.backend must be native or t2v_metrics, not {sc.backend!r}")
        scorer = "t2v_metrics" if t2v else (sc.scorer or judge.scorer)
        spec = JudgeSpec(stage=stage, scorer=scorer, model=sc.model, revision=sc.revision, dtype=sc.dtype,
                         device=sc.device, trust_remote_code=sc.trust_remote_code, max_pixels=sc.max_pixels,
                         batch_size=sc.batch_size, template=sc.template, answer=sc.answer, t2v_model=sc.t2v_model,
                         t2v_python=sc.t2v_python, tasks=judge.tasks)
        specs.append(declared_columns(spec))
    return specs


def group_by_checkpoint(specs: list[JudgeSpec]) -> list[list[JudgeSpec]]:
    """Judges on the same checkpoint share one actor pool (the model is loaded once per actor)."""
    groups: "OrderedDict[tuple, list[JudgeSpec]]" = OrderedDict()
    for s in specs:
        groups.setdefault(s.checkpoint_key(), []).append(s)
    return list(groups.values())


def _num_gpus(value, cluster_gpus: float) -> float:
    if value == "auto":
        return 1.0 if cluster_gpus >= 1 else 0.0
    return float(value)


# ----------------------------------------------------------------------------- id index


def judge_columns(specs: list[JudgeSpec]) -> frozenset[str]:
    """Output columns of the run's judges (input columns with these names are renamed)."""
    return frozenset(c for s in specs for c in stage_columns(s))


def _prepare_ctx(cfg: ScoreJobConfig, plan: InputPlan, specs: list[JudgeSpec] | None = None,
                 rename: dict[str, str] | None = None) -> PrepareContext:
    return PrepareContext(root=plan.root, columns=cfg.input.columns, default_task=cfg.input.default_task,
                          default_source=cfg.input.default_source, limits=cfg.limits, remote=cfg.remote,
                          rename=rename, reserved=judge_columns(specs or []))


def _ids_task(batch: pa.Table, ctx: PrepareContext) -> pa.Table:
    return pa.concat_tables([partition_ids(Partition.from_json(p), ctx) for p in batch.column("partition").to_pylist()])


def index_input_ids(cfg: ScoreJobConfig, plan: InputPlan, layout: OutputLayout, ctx: PrepareContext,
                    progress: bool = False) -> Path:
    """Every input row's (partition, file, row, sample_id), in `.run/input_ids.pq` (Parquet)."""
    import ray.data

    items = [{"partition": p.to_json()} for p in plan.partitions]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    ds = ds.map_batches(_ids_task, batch_size=1, batch_format="pyarrow", fn_kwargs={"ctx": ctx})
    out = layout.input_ids
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    bar = StageBar("index", plan.num_rows, enabled=progress)
    with pq.ParquetWriter(tmp, S.ID_SCHEMA) as w:
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            w.write_table(block.cast(S.ID_SCHEMA))
            bar.update(block.num_rows)
    bar.close()
    os.replace(tmp, out)
    return out


def find_duplicates(ids_path: Path) -> dict[str, dict[tuple[str, int], int]]:
    """Partition -> {(file, row): n copies (first copy) or DROP (later copy)}."""
    import duckdb

    con = duckdb.connect(":memory:")
    rows = con.execute(  # the path is a bound parameter, never SQL text
        """
        WITH ids AS (
          SELECT input_partition, input_file, input_row,
                 row_number() OVER (PARTITION BY sample_id ORDER BY input_partition, input_file, input_row) AS occ,
                 count(*) OVER (PARTITION BY sample_id) AS n
          FROM read_parquet($ids))
        SELECT input_partition, input_file, input_row, occ, n FROM ids WHERE n > 1
        """, {"ids": str(ids_path)}
    ).fetchall()
    out: dict[str, dict[tuple[str, int], int]] = {}
    for pid, f, r, occ, n in rows:
        out.setdefault(pid, {})[(f, int(r))] = int(n) if occ == 1 else DROP
    return out


# ----------------------------------------------------------------------------- pipeline


def _prepare_task(batch: pa.Table, ctx: PrepareContext, duplicates_ref):
    import ray

    dups = ray.get(duplicates_ref) if duplicates_ref is not None else {}
    for text in batch.column("partition").to_pylist():
        p = Partition.from_json(text)
        yield from prepare_partition(p, ctx, dups.get(p.pid))


def _decide_task(batch: pa.Table, cfg_thresholds, enabled, run_id, config_hash) -> pa.Table:
    return decide_batch(batch, cfg_thresholds, enabled, run_id, config_hash)


def stage_options(cfg: ScoreJobConfig, group: list[JudgeSpec], cluster_gpus: float) -> dict:
    """Ray Data placement of one judge stage: its actor pool, batch size, GPUs, runtime_env."""
    from ray.data import ActorPoolStrategy

    first = getattr(cfg, group[0].stage)
    opts = {
        "batch_size": int(first.batch_size),  # explicit: Ray requires it with num_gpus
        "compute": ActorPoolStrategy(size=max(1, int(first.num_actors))),
        "num_gpus": _num_gpus(first.num_gpus, cluster_gpus),
    }
    if group[0].scorer == "t2v_metrics":
        # t2v-metrics pins torch 2.5 / transformers 4.49: its stage gets its own environment.
        from reward_models.vqascore.t2v_backend import runtime_env_for

        opts["runtime_env"] = runtime_env_for(t2v_metrics_config(group[0]))
    return opts


def build_dataset(cfg: ScoreJobConfig, plan: InputPlan, pending: list[Partition], manifest: RunManifest,
                  duplicates: dict, specs: list[JudgeSpec], ctx: PrepareContext | None = None):
    import ray
    import ray.data

    ctx = ctx or _prepare_ctx(cfg, plan, specs)
    dups_ref = ray.put({p.pid: duplicates.get(p.pid, {}) for p in pending}) if duplicates else None
    items = [{"partition": p.to_json()} for p in pending]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    ds = ds.map_batches(_prepare_task, batch_size=1, batch_format="pyarrow",
                        fn_kwargs={"ctx": ctx, "duplicates_ref": dups_ref})
    cluster_gpus = ray.cluster_resources().get("GPU", 0.0)
    for group in group_by_checkpoint(specs):
        ds = ds.map_batches(
            ScoringStage,
            fn_constructor_kwargs={"judges": [asdict(s) for s in group],
                                   "decode_pixel_limit": cfg.limits.max_image_pixels},
            batch_format="pyarrow",
            **stage_options(cfg, group, cluster_gpus),
        )
    enabled = [s.stage for s in specs]
    ds = ds.map_batches(_decide_task, batch_format="pyarrow",
                        fn_kwargs={"cfg_thresholds": cfg.thresholds, "enabled": enabled,
                                   "run_id": manifest.run_id, "config_hash": manifest.config_hash})
    return ds


def score_in_process(cfg: ScoreJobConfig):
    """The job's work on `cfg`'s inputs (reading and cheap checks, the judge stages, decisions),
    one block after the other in this process: no Ray, no id pre-pass, nothing written. Yields
    decided blocks of at most `vqa.batch_size` rows; the baseline `pipelines/bench_score_job.py`
    measures the Ray job against."""
    specs = judge_specs(cfg)
    stages = [ScoringStage([asdict(s) for s in g], cfg.limits.max_image_pixels) for g in group_by_checkpoint(specs)]
    plan = plan_inputs(cfg.input.paths, cfg.input.format, cfg.input.rows_per_partition)
    ctx = _prepare_ctx(cfg, plan)
    enabled = [s.stage for s in specs]
    for part in plan.partitions:
        for block in prepare_partition(part, ctx):
            for start in range(0, block.num_rows, cfg.vqa.batch_size):
                batch = block.slice(start, cfg.vqa.batch_size)
                for stage in stages:
                    batch = stage(batch)
                yield decide_batch(batch, cfg.thresholds, enabled, "in-process", "in-process")


# ----------------------------------------------------------------------------- run


def check_counts(manifest: RunManifest) -> dict[str, int]:
    """Rows each cheap check failed (`curation/checks.py`), over the run's finished partitions."""
    total = {name: 0 for name in (*(c.name for c in CHECKS), UNREADABLE)}
    for info in manifest.finished.values():
        for name, n in (info.get("checks") or {}).items():
            total[name] = total.get(name, 0) + int(n)
    return total


def check_output(output: Path, plan: InputPlan) -> None:
    """Refuse an output folder that is a file, or that is, contains or is inside an input (the
    job would read its own shards, and --overwrite would delete its inputs)."""
    if output.exists() and not output.is_dir():
        raise OutputConflict(f"--output {output} is a file, not a folder")
    out = os.path.realpath(output)
    for src in plan.sources:
        if out == src:
            raise OutputConflict(f"--output {output} is an input folder; write the shards somewhere else")
        if os.path.commonpath([out, src]) == src:
            raise OutputConflict(f"--output {output} is inside the input {src}; write the shards somewhere else")
        if os.path.commonpath([out, src]) == out:
            raise OutputConflict(f"--output {output} contains the input {src}; write the shards somewhere else")


def run_score_job(cfg: ScoreJobConfig, echo=print, verbose: bool = False, progress: bool | None = None) -> JobResult:
    """Score `cfg`'s inputs into its output folder. Messages go to `echo`; a progress bar per stage is
    shown when `progress` (default: when `echo` is `print`); Ray's own logs reach the console only when
    `verbose` (they are always in the Ray session's log folder)."""
    if not cfg.output.path:
        raise OutputConflict("no output folder (use --output PATH)")
    ScoreJobConfig.from_dict(cfg.to_dict())  # re-validate values set after construction
    specs = judge_specs(cfg)
    plan = plan_inputs(cfg.input.paths, cfg.input.format, cfg.input.rows_per_partition)
    layout = OutputLayout(Path(cfg.output.path).resolve())
    check_output(layout.root, plan)
    with OutputLock(layout):
        return _run_locked(cfg, specs, plan, layout, echo, verbose, echo is print if progress is None else progress)


def _run_locked(cfg: ScoreJobConfig, specs: list[JudgeSpec], plan: InputPlan, layout: OutputLayout,
                echo, verbose: bool = False, progress: bool = False) -> JobResult:
    config_hash = cfg.hash()
    manifest, resumed = open_run(
        layout, config_hash=config_hash, input_fingerprint=plan.fingerprint(), config=cfg.to_dict(),
        input_root=plan.root, partitions={p.pid: p.num_rows for p in plan.partitions},
        overwrite=cfg.output.overwrite,
    )
    echo(f"{'resuming' if resumed else 'starting'} run {manifest.run_id}: {plan.num_rows} input rows in "
         f"{len(plan.files)} file(s), {len(plan.partitions)} partition(s) -> {layout.root}")
    ensure_ray(cfg, verbose)

    extra_schema, rename = plan_extra_columns(plan.files, cfg.input.columns, judge_columns(specs))
    ctx = _prepare_ctx(cfg, plan, specs, rename)
    ids_path = layout.input_ids
    if not manifest.ids_indexed or not ids_path.exists():
        index_input_ids(cfg, plan, layout, ctx, progress)
        manifest.ids_indexed = True
    duplicates = find_duplicates(ids_path)
    drops = {pid: sum(1 for c in d.values() if c == DROP) for pid, d in duplicates.items()}
    manifest.duplicate_rows = sum(drops.values())
    manifest.expected_rows = {p.pid: p.num_rows - drops.get(p.pid, 0) for p in plan.partitions}
    manifest.save(layout)

    finished = set(manifest.finished)
    removed = layout.clean_partial(finished)
    if removed:
        echo(f"removed {len(removed)} leftover file(s) of unfinished partitions")
    pending = [p for p in plan.partitions if p.pid not in finished]
    skipped = len(plan.partitions) - len(pending)
    attempt = len(manifest.attempts) + 1
    manifest.attempts.append({"attempt": attempt, "started_at": time.time(), "pending": len(pending)})
    manifest.save(layout)

    rows_scored = 0
    t0 = time.time()
    if pending:
        import datetime as dt

        def done(pid: str, files: list[Path], rows: int, checks: dict[str, int]) -> None:
            manifest.finished[pid] = {"finished_at": dt.datetime.now(dt.timezone.utc).isoformat(), "rows": rows,
                                      "files": [str(f.relative_to(layout.root)) for f in files],
                                      "attempt": attempt, "checks": checks}
            manifest.save(layout)

        writer = ShardWriter(layout, {p.pid: manifest.expected_rows[p.pid] for p in pending}, done,
                             cfg.output.row_group_rows, cfg.output.row_group_bytes,
                             extra_schema=extra_schema)
        ds = build_dataset(cfg, plan, pending, manifest, duplicates, specs, ctx)
        bar = StageBar("score", sum(manifest.expected_rows[p.pid] for p in pending), enabled=progress)
        for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            writer.add(block)
            rows_scored += block.num_rows
            bar.update(block.num_rows)
        bar.close()
        if writer.pending:
            raise RuntimeError(f"partitions {writer.pending[:5]} did not receive all their rows")
    elapsed = time.time() - t0
    summary = summarize_shards(layout)
    summary.update({
        "run_id": manifest.run_id, "config_hash": manifest.config_hash, "output": str(layout.root),
        "input_rows": plan.num_rows, "duplicate_rows_collapsed": manifest.duplicate_rows,
        "partitions": len(plan.partitions), "partitions_scored": len(pending), "partitions_skipped": skipped,
        "rows_scored_this_attempt": rows_scored, "elapsed_s": elapsed,
        "rows_per_s": rows_scored / elapsed if elapsed > 0 and rows_scored else 0.0,
        "thresholds": {"reward": cfg.thresholds.reward, "vqa": cfg.thresholds.vqa},
        "judges": [{"stage": s.stage, "scorer": s.scorer, "model": s.model} for s in specs],
        "checks": check_counts(manifest),
    })
    write_json_atomic(layout.summary, summary)
    manifest.attempts[-1].update({"finished_at": time.time(), "rows_scored": rows_scored})
    manifest.save(layout)
    echo(format_summary(summary))
    echo(f"shards: {layout.shard_glob}   summary: {layout.summary}")
    sys.stdout.flush()
    return JobResult(str(layout.root), manifest.run_id, resumed, len(pending), skipped, rows_scored, elapsed, summary)

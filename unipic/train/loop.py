"""The training loop: one function that runs on every worker, locally or under Ray Train.

`train_loop_per_worker(config_dict)` builds (or loads) the model, freezes it to the stage,
wraps it for DDP when there are several workers, streams the stage's tasks, and steps:
per-task losses weighted U:G:E, one backward, gradient clipping, AdamW, schedule, EMA.
Every `checkpoint_every` steps it writes a checkpoint (and reports it to Ray Train); at the
start it resumes from the newest one (Ray's `get_checkpoint()`, or the newest complete
folder under `<output>/checkpoints`). At the end rank 0 exports `<output>/final/model`
(and `<output>/final/ema`), folders `unipic.load_pretrained` opens and the next stage
starts from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ..presets import build_preset
from .checkpoints import latest_checkpoint, load_checkpoint, read_state, save_checkpoint, step_dir_name, write_checkpoint
from .data import ResolutionBuckets, SourceConfig, build_streams, parse_buckets, seeded_rng
from .losses import TaskInputs, TrainingModule, build_inputs
from .metrics import MetricsLogger
from .optim import EMA, build_optimizer
from .stages import CurriculumStage, apply_stage, get_stage

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"


@dataclass
class TrainConfig:
    """One training run (JSON-serialisable: it travels to every Ray worker as a dict)."""

    stage: str = "ct"
    """Stage name: pt, alignment, ct or sft (see `stages.STAGES`)."""
    output: str = "runs/unipic/ct"
    """Run folder: checkpoints/, metrics.jsonl, final/model, final/ema."""
    data: list[str] = field(default_factory=list)
    """Curated shards read for both t2i and edit rows (folders, files or globs)."""
    t2i: list[str] = field(default_factory=list)
    """Extra/other sources of t2i rows."""
    edit: list[str] = field(default_factory=list)
    """Extra/other sources of edit rows."""
    understanding: list[str] = field(default_factory=list)
    """Parquet with image, question, answer columns."""
    decision: str | None = "keep"
    """Rows of this decision are read from t2i/edit sources; None (flag: all) reads every row (raw candidates)."""
    min_reward: float | None = None
    """Re-applied reward threshold; None uses the stage's (SFT: 0.9)."""
    min_vqa: float | None = None
    """Re-applied VQAScore threshold."""
    init_from: str | None = None
    """Checkpoint folder (our format) to start from; None builds a fresh model of `preset`."""
    preset: str = "tiny"
    """Fresh model size when `init_from` is None: tiny, world (tiny with a world-fitted codec) or full."""
    tokenizer: str | None = None
    """Saved Qwen tokenizer folder for a fresh model (None: the preset's own, `unipic.presets`)."""
    max_steps: int = 1000
    """Optimiser steps of the run (warmup and cosine are fractions of it)."""
    batch_size: int = 32
    """Global batch of each generation task (t2i, edit), over all workers."""
    und_batch_size: int | None = None
    """Global batch of understanding (default: batch_size)."""
    lr: float | None = None
    """Peak learning rate override."""
    ema_decay: float | None = None
    """EMA decay override (<= 0 disables the EMA)."""
    ema_warmup: bool = True
    """Ramp the EMA decay as min(decay, (1+n)/(10+n))."""
    image_size: int | None = None
    """Generation resolution override (square side); default: the stage's, scaled to the model."""
    buckets: str = "1:1,4:3,3:4"
    """Aspect ratios (w:h) of the resolution buckets."""
    caption_dropout: float = 0.1
    """Probability a caption (instruction) is replaced by the unconditional prompt."""
    max_text_tokens: int = 128
    """Prompt text is cut at this many tokens."""
    shuffle_buffer: int = 1024
    """Rows per shuffle window."""
    seed: int = 0
    """Seed of the model init, data order, dropout decisions, masks and noise."""
    checkpoint_every: int = 500
    """Checkpoint every N steps (and at the last step)."""
    keep_checkpoints: int = 2
    """Checkpoints kept."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """auto (bf16 autocast on GPU, fp32 on CPU), bf16 or fp32."""
    device: str = "auto"
    """auto, cpu or cuda (Ray workers use the device Ray gives them)."""
    threads: int | None = None
    """torch CPU threads per worker."""
    grad_checkpointing: bool = False
    """Recompute activations in the backward pass."""
    dropout: float | None = None
    """Override every MAR dropout probability (0 makes runs bitwise comparable across worker counts)."""
    tensorboard: bool = False
    """Also log to <output>/tensorboard (needs the tensorboard package)."""
    progress: bool = True
    """Show a progress bar."""
    export: bool = True
    """Export final/model (and final/ema) at the end."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Through the shared loader (`reward_models.config_io`): unknown fields are refused."""
        from reward_models.config_io import from_dict

        return from_dict(cls, d)

    def curriculum_stage(self) -> CurriculumStage:
        """The stage with this run's overrides (lr, min_reward, ema_decay) applied."""
        stage = get_stage(self.stage)
        changes: dict[str, Any] = {"lr": self.lr, "min_reward": self.min_reward}
        if self.ema_decay is not None:
            stage = dataclasses.replace(stage, ema_decay=self.ema_decay if self.ema_decay > 0 else None)
        return stage.with_overrides(**changes)


# ---------------------------------------------------------------------- distributed context
@dataclass
class WorkerContext:
    rank: int = 0
    world_size: int = 1
    ray: bool = False
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _context(cfg: TrainConfig) -> WorkerContext:
    try:
        import ray.train

        ctx = ray.train.get_context()
        import ray.train.torch as rt

        return WorkerContext(ctx.get_world_rank(), ctx.get_world_size(), True, rt.get_device())
    except (ImportError, RuntimeError, ValueError, AttributeError):
        pass
    if cfg.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(cfg.device)
    return WorkerContext(device=device)


def _all_reduce(values: list[float], ctx: WorkerContext, op: str = "mean") -> list[float]:
    if ctx.world_size == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=ctx.device if ctx.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    if op == "mean":
        t /= ctx.world_size
    return t.tolist()


# ---------------------------------------------------------------------- model
def set_dropout(model, p: float) -> None:
    """Set every MAR dropout probability (attention weights and projections) to `p`."""
    from ..mar import SelfAttention

    for m in model.mar.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
        elif isinstance(m, SelfAttention):
            m.attn_dropout = p


def build_model(cfg: TrainConfig, device: torch.device):
    """The starting model: `init_from`, or a fresh `preset` seeded with `cfg.seed` (fp32)."""
    from ..checkpoint import load_pretrained

    if cfg.init_from:
        model = load_pretrained(cfg.init_from, device=device, dtype=torch.float32)
    else:
        with torch.device(device):  # built in place: the full preset is 12 GB in fp32
            model = build_preset(cfg.preset, cfg.seed, cfg.tokenizer)
    if cfg.dropout is not None:
        set_dropout(model, cfg.dropout)
    return model


def _sources(cfg: TrainConfig, stage: CurriculumStage) -> dict[str, SourceConfig]:
    out = {}
    for task, extra in (("t2i", cfg.t2i), ("edit", cfg.edit)):
        paths = list(cfg.data) + list(extra)
        if task in stage.tasks and paths:
            out[task] = SourceConfig(paths, task, cfg.decision, stage.min_reward, cfg.min_vqa)
    if "und" in stage.tasks and cfg.understanding:
        out["und"] = SourceConfig(list(cfg.understanding), "und", None)
    return out


def _make_streams(cfg: TrainConfig, stage: CurriculumStage, model, ctx: WorkerContext, gen_size: int):
    from .data import StreamSet

    sources = _sources(cfg, stage)
    sizes = {"t2i": cfg.batch_size, "edit": cfg.batch_size, "und": cfg.und_batch_size or cfg.batch_size}
    ratios = parse_buckets(cfg.buckets)

    def bucket_for(task: str) -> ResolutionBuckets | None:
        return None if task == "und" else ResolutionBuckets(gen_size, model.config.codec.stride, ratios)

    streams = StreamSet()
    for task, src in sources.items():
        try:
            streams.streams.update(build_streams({task: src}, sizes, ctx.rank, ctx.world_size, cfg.seed,
                                                 cfg.shuffle_buffer, bucket_for).streams)
        except ValueError as e:
            if task != "edit" or cfg.edit:  # edits asked for explicitly must be there
                raise
            log.warning("stage %s weights editing but %s has no usable edit rows (%s): training without editing",
                        stage.name, src.paths, e)
    missing = [t for t in stage.tasks if t not in streams.streams]
    if missing:
        log.warning("stage %s has loss weight on %s but no data for it; those losses are skipped", stage.name, missing)
    if not streams.streams:
        raise ValueError(f"no training data for stage {stage.name} (tasks {stage.tasks}); give --data/--t2i/--edit/--understanding")
    return streams


def _to_device(inputs: TaskInputs, device: torch.device) -> None:
    for k, v in inputs.kwargs.items():
        if isinstance(v, torch.Tensor):
            inputs.kwargs[k] = v.to(device)
        elif isinstance(v, tuple):
            inputs.kwargs[k] = tuple(x.to(device) for x in v)


@contextlib.contextmanager
def ema_weights(model, ema: EMA | None):
    """Temporarily put the EMA weights into `model` (no-op without an EMA)."""
    if ema is None:
        yield model
        return
    params = dict(model.named_parameters())
    backup = {n: params[n].detach().clone() for n in ema.shadow}
    ema.copy_to(model)
    try:
        yield model
    finally:
        with torch.no_grad():
            for n, v in backup.items():
                params[n].copy_(v)


# ---------------------------------------------------------------------- the loop
def train_loop_per_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Train one stage (see the module docstring). Returns the last step's metrics on rank 0."""
    cfg = TrainConfig.from_dict(config)
    ctx = _context(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    stage = cfg.curriculum_stage()
    output = Path(cfg.output)

    model = build_model(cfg, ctx.device)
    apply_stage(model, stage)
    model.train()
    if cfg.grad_checkpointing:
        model.enable_gradient_checkpointing()
    gen_size = cfg.image_size or stage.gen_size_for(model.config)
    module = TrainingModule(model)
    if ctx.ray:
        import ray.train.torch as rt

        module = rt.prepare_model(module, parallel_strategy_kwargs={"find_unused_parameters": True})
    optimizer, scheduler = build_optimizer(model, stage, cfg.max_steps)
    ema = EMA(model, stage.ema_decay, cfg.ema_warmup) if stage.ema_decay else None
    streams = _make_streams(cfg, stage, model, ctx, gen_size)
    tasks = list(streams.streams)

    start = _resume(cfg, ctx, output, model, ema, optimizer, scheduler, streams)
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and ctx.device.type == "cuda")
    logger = MetricsLogger(output, cfg.max_steps, start, enabled=ctx.is_main, progress=cfg.progress,
                           tensorboard=cfg.tensorboard)
    if ctx.is_main:
        _write_run_info(output, cfg, stage, model, tasks, gen_size, ctx)
    params = [p for p in model.parameters() if p.requires_grad]
    metrics: dict[str, Any] = {}
    for step in range(start, cfg.max_steps):
        t0 = time.perf_counter()
        torch.manual_seed(int(seeded_rng(cfg.seed, "torch", step, ctx.rank).integers(0, 2**62)))  # dropout
        inputs = {t: build_inputs(model, t, streams.streams[t].next(), step, cfg.seed, cfg.caption_dropout,
                                  cfg.max_text_tokens) for t in tasks}
        if "und" in inputs:
            total_answers = _all_reduce([inputs["und"].answer_tokens], ctx, op="sum")[0]
            inputs["und"].token_scale = inputs["und"].answer_tokens * ctx.world_size / max(1.0, total_answers)
        for x in inputs.values():
            _to_device(x, ctx.device)
        t_data = time.perf_counter() - t0
        with torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16, enabled=use_bf16):
            losses = module(inputs)
        total = sum(stage.weight(t) * losses[t].float() for t in losses)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update(model)
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)
        seconds = time.perf_counter() - t0

        names = sorted(losses)
        counts = [sum(x.samples for x in inputs.values()),
                  sum(x.image_tokens + x.text_tokens for x in inputs.values()),
                  sum(x.stats.get("decode_failures", 0) for x in inputs.values())]
        reduced = _all_reduce([float(total.detach())] + [float(losses[t].detach()) for t in names] + [float(grad_norm)], ctx)
        counts = _all_reduce([float(c) for c in counts], ctx, op="sum")
        metrics = {"loss": reduced[0], **{f"loss_{t}": v for t, v in zip(names, reduced[1:-1])},
                   "grad_norm": reduced[-1], "lr": lr, "samples_per_s": counts[0] / seconds,
                   "tokens_per_s": counts[1] / seconds, "step_s": seconds, "data_s": t_data,
                   "decode_failures": int(counts[2])}
        if ctx.device.type == "cuda":
            metrics["max_memory_gib"] = torch.cuda.max_memory_allocated(ctx.device) / 2**30
        logger.log(step + 1, metrics)

        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.max_steps:
            state = {"step": step + 1, "stage": stage.name, "data": streams.state_dict(),
                     "ema_updates": ema.updates if ema else 0, "world_size": ctx.world_size,
                     "config": cfg.to_dict(), "metrics": metrics}
            _checkpoint(cfg, ctx, output, step + 1, model, ema, optimizer, scheduler, state, metrics)
    logger.close()
    if ctx.is_main and cfg.export:
        export_final(output, model, ema)
    return metrics


def _resume(cfg, ctx, output, model, ema, optimizer, scheduler, streams) -> int:
    """Restore the newest checkpoint, if any; returns the step to start from."""
    folder, scope = None, contextlib.nullcontext(None)
    if ctx.ray:
        import ray.train

        found = ray.train.get_checkpoint()
        if found is not None:
            scope = found.as_directory()
    else:
        folder = latest_checkpoint(output / CHECKPOINTS)
    with scope as ray_dir:
        folder = Path(ray_dir) if ray_dir else folder
        if folder is None:
            return 0
        state = read_state(folder)
        if state["stage"] != cfg.stage:
            raise ValueError(f"{folder} is a {state['stage']} checkpoint; this run is stage {cfg.stage} "
                             f"(use another --output, or --init-from to start a stage from it)")
        load_checkpoint(folder, model, ema, optimizer, scheduler)
        streams.load_state_dict(state["data"])
        log.info("resumed from %s at step %d", folder, state["step"])
        return int(state["step"])


def _checkpoint(cfg, ctx, output, step, model, ema, optimizer, scheduler, state, metrics) -> None:
    if not ctx.ray:
        save_checkpoint(output / CHECKPOINTS, step, model, ema, optimizer, scheduler, state, cfg.keep_checkpoints)
        return
    import ray.train

    reported = {k: v for k, v in metrics.items() if isinstance(v, (int, float))} | {"step": step}
    if ctx.is_main:
        with tempfile.TemporaryDirectory() as tmp:
            write_checkpoint(tmp, model, ema, optimizer, scheduler, state)
            ray.train.report(reported, checkpoint=ray.train.Checkpoint.from_directory(tmp),
                             checkpoint_dir_name=step_dir_name(step))
    else:
        ray.train.report(reported, checkpoint=None)


def export_final(output: Path, model, ema: EMA | None) -> dict[str, Path]:
    """`output/final/model` (the trained weights) and `output/final/ema` (the EMA weights)."""
    from ..checkpoint import save_pretrained

    out = {"model": save_pretrained(model, output / "final" / "model")}
    if ema is not None:
        with ema_weights(model, ema):
            out["ema"] = save_pretrained(model, output / "final" / "ema")
    return out


def _write_run_info(output: Path, cfg: TrainConfig, stage: CurriculumStage, model, tasks, gen_size, ctx) -> None:
    groups = model.parameter_groups()
    info = {
        "config": cfg.to_dict(), "stage": dataclasses.asdict(stage), "tasks": tasks, "gen_size": gen_size,
        "world_size": ctx.world_size, "device": str(ctx.device),
        "trainable_groups": model.trainable_groups(),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "params_by_group": {g: sum(p.numel() for _, p in ps) for g, ps in groups.items()},
    }
    output.mkdir(parents=True, exist_ok=True)
    (output / "run.json").write_text(json.dumps(info, indent=2, default=str))


# ---------------------------------------------------------------------- launchers
def run_local(cfg: TrainConfig) -> dict[str, Any]:
    """The loop in this process (one worker, no Ray)."""
    return train_loop_per_worker(cfg.to_dict())


def run_ray(cfg: TrainConfig, num_workers: int = 1, use_gpu: bool = False, cpus_per_worker: float = 1,
            max_failures: int = 0, address: str | None = None):
    """The loop on `num_workers` Ray Train workers (DDP; gloo on CPU, NCCL on GPU).

    Checkpoints go to `<output>/checkpoints/step_*` through Ray's storage; rerunning the
    same command resumes from the newest one (Ray restores the run's checkpoint state from
    storage), and `max_failures` lets Ray restart failed workers from it within one run.
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from reward_models.ray_session import ensure_ray

    # No address and no RAY_ADDRESS: a fresh local instance, never a stale `ray start` head.
    ensure_ray(address)
    output = Path(cfg.output).resolve()
    cfg = dataclasses.replace(cfg, output=str(output), threads=cfg.threads or max(1, int(cpus_per_worker)))
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=cfg.to_dict(),
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker, **({"GPU": 1} if use_gpu else {})}),
        run_config=RunConfig(name=CHECKPOINTS, storage_path=str(output),
                             checkpoint_config=CheckpointConfig(num_to_keep=cfg.keep_checkpoints),
                             failure_config=FailureConfig(max_failures=max_failures)),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
    )
    return trainer.fit()

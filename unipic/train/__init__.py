"""UniPic training: the four-stage curriculum of the report on curated shards, locally or on Ray Train.

    from unipic.train import TrainConfig, run_local, run_ray, STAGES, get_stage

Modules: `stages` (the Table 1 stage configs), `data` (streaming Parquet batches with
buckets, shuffle window, rank sharding and a resumable position), `losses` (per-sample
randomness independent of the worker split, the DDP-wrapped loss module), `optim` (AdamW,
schedules, EMA), `checkpoints` (atomic training checkpoints), `metrics` (JSONL, progress
bar, TensorBoard), `loop` (the per-worker loop and the local / Ray launchers), `world`
(the synthetic world: a tiny model that learns in CPU minutes and prompt-match accuracy),
`bench_step` (one full-preset training step: tokens/s and memory). Fresh models (the tiny,
world and full presets) come from `unipic.presets`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CurriculumStage": "stages",
    "STAGES": "stages",
    "get_stage": "stages",
    "apply_stage": "stages",
    "TrainConfig": "loop",
    "train_loop_per_worker": "loop",
    "run_local": "loop",
    "run_ray": "loop",
    "export_final": "loop",
    "BatchStream": "data",
    "SourceConfig": "data",
    "ResolutionBuckets": "data",
    "EMA": "optim",
    "lr_lambda": "optim",
    "latest_checkpoint": "checkpoints",
    "read_metrics": "metrics",
    "prompt_match": "world",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'unipic.train' has no attribute {name!r}")

"""Running a TRL training function on a Ray cluster through Ray Train's `TorchTrainer`.

The driver (the `--ray` entry point, typically started by `ray job submit`) sends the parsed
arguments to `num_workers` workers; each worker builds the same TRL trainer, wraps it with
`ray.train.huggingface.transformers.prepare_trainer` and `RayTrainReportCallback`, and trains
in a torch.distributed group that Ray sets up (gloo on CPU, nccl on GPU). Rank 0 saves the
judge folder: `output_dir` must be on storage every node can reach (or the single node).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from reward_models.ray_session import ensure_ray, project_pythonpath


def run_on_ray(worker_fn: Callable[[dict], None], payload: dict, *, num_workers: int = 1, use_gpu: bool = False,
               address: str | None = None, name: str = "reward-model", storage_path: str | None = None,
               verbose: bool = False) -> dict:
    """Run `worker_fn(payload)` on `num_workers` Ray Train workers; return the last reported metrics."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    # Workers import this project: put it on their path without uploading anything.
    ensure_ray(address, runtime_env={"env_vars": {"PYTHONPATH": project_pythonpath()}}, verbose=verbose)
    storage = storage_path or str(Path(payload.get("output_dir", ".")).resolve().parent / "ray_results")
    trainer = TorchTrainer(
        train_loop_per_worker=worker_fn,
        train_loop_config=payload,
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
        run_config=RunConfig(name=name, storage_path=storage),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
    return dict(result.metrics or {})


def report_final(metrics: dict) -> None:
    """Report final metrics from every worker (Ray Train expects all workers to report)."""
    import ray.train

    flat = {k: v for k, v in _flatten(metrics).items() if isinstance(v, (int, float))}
    ray.train.report(flat)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out

"""Starting or joining Ray, one way for every entry point (scoring job, judge and UniPic training,
tests), and what the console shows.

`ensure_ray` joins a cluster when an address is given or `RAY_ADDRESS` is set (e.g. under
`ray job submit`), otherwise starts a fresh in-process instance (`address="local"`: never a
stale `/tmp/ray/ray_current_cluster` another process left behind). Either way the project is put
on `PYTHONPATH`, which local workers inherit, so they import it without an upload.

Quiet by default: workers' output (actor warnings, weight-loading bars) and Ray Data's progress
logs stay in the session's log folder (`/tmp/ray/session_*/logs`: `worker-*.out|err`,
`ray-data.log`); `verbose=True` (the entry points' `--verbose`) sends them to the console too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def project_pythonpath() -> str:
    """`PYTHONPATH` with the project first (existing entries kept, no duplicates)."""
    parts = [str(PROJECT_ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    return os.pathsep.join(dict.fromkeys(parts))


def ensure_ray(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None,
               runtime_env: dict | None = None, verbose: bool = False) -> None:
    """Join `address` / `RAY_ADDRESS`, or start a local instance (also for `address="local"`, whatever
    `RAY_ADDRESS` says); nothing when Ray is already up."""
    import ray

    if ray.is_initialized():
        return
    os.environ["PYTHONPATH"] = project_pythonpath()
    kw: dict = {"logging_level": logging.WARNING if verbose else logging.ERROR, "log_to_driver": verbose}
    if runtime_env:
        kw["runtime_env"] = runtime_env
    address = address or os.environ.get("RAY_ADDRESS")
    if address and address != "local":
        ray.init(address=address, **kw)
    else:
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, **kw)
    quiet_ray_data(verbose)


def quiet_ray_data(verbose: bool = False) -> None:
    """Ray Data's progress and execution logs: on the console only when verbose, always in
    `ray-data.log` in the session's log folder."""
    from ray.data import DataContext

    if verbose:
        return
    DataContext.get_current().enable_progress_bars = False  # the job shows its own bar per stage
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.ERROR)


def quiet_libraries(verbose: bool = False) -> None:
    """transformers / datasets / hub: no weight-loading, download or map bars and no datasets chatter
    unless verbose. transformers stays at its default WARNING level: a higher one would also turn
    off the trainer's own step bar (`TrainingArguments.disable_tqdm` follows it)."""
    if verbose:
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()

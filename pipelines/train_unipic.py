#!/usr/bin/env python
"""Train UniPic, one stage of the four-stage curriculum, on curated shards.

Local (one process, no Ray):
    python pipelines/train_unipic.py --stage pt --data runs/demo/shards --output runs/unipic/pt --max-steps 200
Next stage (starts from runs/unipic/pt/final/ema, or final/model when PT kept no EMA):
    python pipelines/train_unipic.py --stage alignment --data runs/demo/shards --output runs/unipic/alignment
Ray Train (DDP over N workers; CPU gloo, or --gpu for NCCL):
    python pipelines/train_unipic.py --ray --workers 2 --stage ct --data ... --output /shared/runs/ct
On a cluster (RAY_ADDRESS is set inside the job, so --ray is implied):
    RAY_AUTH_MODE=token ray job submit --working-dir . -- \\
        python pipelines/train_unipic.py --workers 8 --gpu --stage ct --data /data/shards --output /shared/runs/ct

Rerunning a command resumes from its newest checkpoint under <output>/checkpoints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install

from unipic.cli_common import add_dataclass_flags, dataclass_from_flags  # noqa: E402
from unipic.presets import PRESETS  # noqa: E402
from unipic.train.loop import TrainConfig, run_local, run_ray  # noqa: E402
from unipic.train.stages import STAGES, default_init  # noqa: E402


def _decision(text: str) -> str | None:
    return None if text.lower() in ("all", "none") else text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python pipelines/train_unipic.py", description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    # One flag per TrainConfig field (help: the field's docstring; default: the field's).
    add_dataclass_flags(p.add_argument_group("training run (TrainConfig)"), TrainConfig, overrides={
        "stage": {"choices": list(STAGES), "required": True, "help": "curriculum stage"},
        "output": {"required": True, "help": "run folder (checkpoints/, metrics.jsonl, final/)"},
        "decision": {"type": _decision},
        "preset": {"choices": list(PRESETS)},
        "init_from": {"help": "checkpoint folder to start from (default for stages after pt: the previous "
                              "stage's final weights beside --output, ../<previous stage>/final/ema|model; "
                              "with none, a fresh --preset model)"},
    })
    r = p.add_argument_group("run")
    r.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    ray_g = p.add_argument_group("ray")
    ray_g.add_argument("--ray", action="store_true",
                       help="run on Ray Train (TorchTrainer); implied when RAY_ADDRESS is set (ray job submit)")
    ray_g.add_argument("--local", action="store_true", help="run in this process (the default without RAY_ADDRESS)")
    ray_g.add_argument("--workers", type=int, default=1, help="Ray Train workers")
    ray_g.add_argument("--gpu", action="store_true", help="one GPU per worker (NCCL)")
    ray_g.add_argument("--cpus-per-worker", type=float, default=1)
    ray_g.add_argument("--max-failures", type=int, default=0, help="worker failures Ray recovers from (from the last checkpoint)")
    ray_g.add_argument("--address", default=None, help="Ray address (default: RAY_ADDRESS or a local instance)")
    p.add_argument("--verbose", action="store_true",
                   help="also show library chatter (weight loading, transformers info) and Ray's own logs "
                        "(always kept in the Ray session's log folder)")
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig: the flags given, the rest TrainConfig's defaults; a stage after PT
    with no --init-from starts from the previous stage's final weights (`stages.default_init`)."""
    output = str(Path(args.output))
    init = getattr(args, "init_from", None) or default_init(args.stage, output)
    return dataclass_from_flags(TrainConfig, args, output=output, init_from=init)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    from reward_models.ray_session import ensure_ray, quiet_libraries

    quiet_libraries(args.verbose)
    cfg = config_from_args(args)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    if STAGES[args.stage].init_from and cfg.init_from is None:
        logging.warning("stage %s normally starts from %s's weights; none found beside %s: starting from a fresh %s model",
                        args.stage, STAGES[args.stage].init_from, args.output, cfg.preset)
    if args.ray and args.local:
        raise SystemExit("--ray and --local exclude each other")
    # Under `ray job submit` (RAY_ADDRESS set) the run goes to the cluster unless --local says otherwise.
    if args.ray or (not args.local and os.environ.get("RAY_ADDRESS", "local") != "local"):
        ensure_ray(args.address, verbose=args.verbose)
        result = run_ray(cfg, num_workers=args.workers, use_gpu=args.gpu, cpus_per_worker=args.cpus_per_worker,
                         max_failures=args.max_failures, address=args.address)
        metrics = result.metrics or {}
    else:
        metrics = run_local(cfg)
    print(json.dumps({"output": cfg.output, **{k: v for k, v in metrics.items() if isinstance(v, (int, float))}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

from unipic.train.loop import TrainConfig, run_local, run_ray  # noqa: E402
from unipic.train.stages import STAGES  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python pipelines/train_unipic.py", description=__doc__.split("\n")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    d = TrainConfig()
    p.add_argument("--stage", choices=list(STAGES), required=True, help="curriculum stage")
    p.add_argument("--output", required=True, help="run folder (checkpoints/, metrics.jsonl, final/)")
    g = p.add_argument_group("data")
    g.add_argument("--data", nargs="*", default=[], help="curated shards (folder/file/glob) read for t2i and edit rows")
    g.add_argument("--t2i", nargs="*", default=[], help="more sources of t2i rows")
    g.add_argument("--edit", nargs="*", default=[], help="more sources of edit rows")
    g.add_argument("--understanding", nargs="*", default=[], help="Parquet with image, question, answer")
    g.add_argument("--decision", default=d.decision,
                   help="read rows of this decision (default keep); 'all' reads every row (raw candidates)")
    g.add_argument("--min-reward", type=float, default=None, help="re-apply a reward threshold (default: stage's; SFT 0.9)")
    g.add_argument("--min-vqa", type=float, default=None, help="re-apply a VQAScore threshold")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch of t2i and of edit")
    g.add_argument("--und-batch-size", type=int, default=None, help="global batch of understanding (default: --batch-size)")
    g.add_argument("--image-size", type=int, default=None, help="generation resolution (default: stage's, scaled to the model)")
    g.add_argument("--buckets", default=d.buckets, help="aspect-ratio buckets w:h,...")
    g.add_argument("--caption-dropout", type=float, default=d.caption_dropout)
    g.add_argument("--max-text-tokens", type=int, default=d.max_text_tokens)
    g.add_argument("--shuffle-buffer", type=int, default=d.shuffle_buffer, help="rows per shuffle window")
    m = p.add_argument_group("model")
    m.add_argument("--init-from", default=None,
                   help="checkpoint folder to start from (default for stages after pt: ../<previous stage>/final/ema|model)")
    m.add_argument("--preset", choices=["tiny", "world", "full"], default=d.preset,
                   help="fresh model when there is nothing to start from")
    m.add_argument("--tokenizer", default=None, help="Qwen tokenizer folder for a fresh model")
    m.add_argument("--grad-checkpointing", action="store_true")
    m.add_argument("--dropout", type=float, default=None, help="override MAR dropout")
    o = p.add_argument_group("optimisation")
    o.add_argument("--max-steps", type=int, default=d.max_steps)
    o.add_argument("--lr", type=float, default=None, help="override the stage's peak learning rate")
    o.add_argument("--ema-decay", type=float, default=None, help="override the stage's EMA decay (0 disables)")
    o.add_argument("--no-ema-warmup", action="store_true", help="constant EMA decay from the first step")
    o.add_argument("--seed", type=int, default=d.seed)
    o.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=d.precision)
    r = p.add_argument_group("run")
    r.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    r.add_argument("--keep-checkpoints", type=int, default=d.keep_checkpoints)
    r.add_argument("--device", default=d.device, help="auto, cpu or cuda (local runs)")
    r.add_argument("--threads", type=int, default=None, help="torch CPU threads per worker")
    r.add_argument("--tensorboard", action="store_true", help="also log to <output>/tensorboard")
    r.add_argument("--no-progress", action="store_true")
    r.add_argument("--no-export", action="store_true", help="skip final/model and final/ema")
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


def default_init(stage: str, output: Path) -> str | None:
    """The previous stage's final weights beside `output` (`../<prev>/final/ema`, else `final/model`)."""
    prev = STAGES[stage].init_from
    if prev is None:
        return None
    for kind in ("ema", "model"):
        folder = output.parent / prev / "final" / kind
        if (folder / "unipic_config.json").exists():
            return str(folder)
    return None


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    output = Path(args.output)
    init = args.init_from or default_init(args.stage, output)
    return TrainConfig(
        stage=args.stage, output=str(output), data=args.data, t2i=args.t2i, edit=args.edit,
        understanding=args.understanding, decision=None if args.decision == "all" else args.decision,
        min_reward=args.min_reward, min_vqa=args.min_vqa, init_from=init, preset=args.preset,
        tokenizer=args.tokenizer, max_steps=args.max_steps, batch_size=args.batch_size,
        und_batch_size=args.und_batch_size, lr=args.lr, ema_decay=args.ema_decay, ema_warmup=not args.no_ema_warmup,
        image_size=args.image_size, buckets=args.buckets, caption_dropout=args.caption_dropout,
        max_text_tokens=args.max_text_tokens, shuffle_buffer=args.shuffle_buffer, seed=args.seed,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints, precision=args.precision,
        device=args.device, threads=args.threads, grad_checkpointing=args.grad_checkpointing, dropout=args.dropout,
        tensorboard=args.tensorboard, progress=not args.no_progress, export=not args.no_export,
    )


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
                        args.stage, STAGES[args.stage].init_from, args.output, args.preset)
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

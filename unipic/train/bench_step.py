"""GPU check: training steps of the full preset (random weights) at 1024 px; tokens/s and memory.

Runs the real training path (`losses.build_inputs` on PNG rows -> `TrainingModule` ->
U:G:E-weighted loss -> backward -> clip -> AdamW -> EMA) for `--steps` timed steps after one
warm-up step, and prints one JSON line: seconds per step, samples/s, tokens/s (image and
text tokens of every task through the network), peak GPU memory, parameters trained.

    python -m unipic.train.bench_step [--config full] [--stage ct] [--image-size 1024] [--batch 1] \
        [--tasks t2i,edit,und] [--steps 3] [--grad-checkpointing] [--device cuda] [--tokenizer DIR] [--out f.json]

`--config tiny --device cpu --image-size 64` runs the same script in seconds (CI smoke
test); `--device meta` builds the full model without memory and reports parameter counts
and the fp32-weights + AdamW memory the step needs before activations.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import torch

from ..bench_full import set_cpu_threads
from .data import GlobalBatch
from .losses import TrainingModule, build_inputs
from .optim import EMA, build_optimizer
from .stages import apply_stage, get_stage


def _png(size: int, seed: int) -> bytes:
    from synthetic import random_scene, render

    import numpy as np

    buf = io.BytesIO()
    render(random_scene(np.random.default_rng(seed)), size).save(buf, format="PNG")
    return buf.getvalue()


def _batch(task: str, n: int, size: int) -> GlobalBatch:
    prompts = ["A red fox sitting in fresh snow at sunrise, detailed fur, soft light.",
               "A glass teapot on a wooden table next to a stack of old books."]
    rows = []
    for i in range(n):
        row = {"image": {"bytes": _png(size, i), "path": None}, "_index": i, "_root": None,
               "prompt": prompts[i % 2] if task == "t2i" else "make the red circle blue"}
        if task == "edit":
            row["source_image"] = {"bytes": _png(size, 100 + i), "path": None}
        if task == "und":
            row.update(question="Describe the image in detail.", answer=prompts[i % 2])
        rows.append(row)
    return GlobalBatch(rows, list(range(n)), (size, size), 0, 0, 0)


def _build(config_name: str, device: torch.device, tokenizer: str | None):
    from ..presets import build_preset

    with torch.device(device):
        return build_preset(config_name, seed=0, tokenizer_dir=tokenizer)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m unipic.train.bench_step", description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=["full", "tiny"], default="full")
    p.add_argument("--stage", default="ct")
    p.add_argument("--device", default="cuda")
    p.add_argument("--image-size", type=int, default=None, help="default: the config's (1024 for full)")
    p.add_argument("--batch", type=int, default=1, help="samples per task")
    p.add_argument("--tasks", default="t2i,edit,und")
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--grad-checkpointing", action="store_true")
    p.add_argument("--tokenizer", default=None, help="saved Qwen tokenizer folder (default: the tiny one)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: 1 for the tiny config on CPU, else torch's)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    device = torch.device(args.device)
    set_cpu_threads(args.threads, args.config, device)
    stage = get_stage(args.stage)
    t0 = time.perf_counter()
    model = _build(args.config, device, args.tokenizer)
    apply_stage(model, stage)
    params = {g: sum(p.numel() for _, p in ps) for g, ps in model.parameter_groups().items()}
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    result = {"config": args.config, "stage": stage.name, "device": str(device), "params_total": total,
              "params_trainable": trainable, "params_by_group": params,
              # fp32 weights + grads of the trained part + two AdamW moments + the fp32 EMA copy
              "static_gib_estimate": round((4 * total + 4 * trainable * (3 + (stage.ema_decay is not None))) / 2**30, 2)}
    if device.type == "meta":
        line = json.dumps(result)
        print(line)
        return result

    size = args.image_size or model.config.image_size
    tasks = [t for t in args.tasks.split(",") if stage.weight(t) > 0]
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    model.train()
    if args.grad_checkpointing:
        model.enable_gradient_checkpointing()
    module = TrainingModule(model)
    optimizer, scheduler = build_optimizer(model, stage, total_steps=args.steps + 1)
    ema = EMA(model, stage.ema_decay) if stage.ema_decay else None
    batches = {t: _batch(t, args.batch, size) for t in tasks}
    build_s = time.perf_counter() - t0
    use_bf16 = device.type == "cuda"
    trained = [q for q in model.parameters() if q.requires_grad]

    def step(i: int) -> tuple[float, int, float]:
        inputs = {t: build_inputs(model, t, b, i, 0, 0.0) for t, b in batches.items()}
        for x in inputs.values():
            for k, v in x.kwargs.items():
                x.kwargs[k] = v.to(device) if isinstance(v, torch.Tensor) else tuple(y.to(device) for y in v) \
                    if isinstance(v, tuple) else v
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            losses = module(inputs)
        loss = sum(stage.weight(t) * losses[t].float() for t in losses)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, stage.grad_clip)
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update(model)
        tokens = sum(x.image_tokens + x.text_tokens for x in inputs.values())
        return float(loss.detach()), tokens, sum(x.samples for x in inputs.values())

    step(0)  # warm-up: kernel selection, allocator growth, optimizer state
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    losses, tokens, samples = [], 0, 0
    for i in range(1, args.steps + 1):
        loss, n_tok, n_samp = step(i)
        losses.append(loss)
        tokens += n_tok
        samples += n_samp
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    result.update({
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        "image_size": size, "tasks": tasks, "batch_per_task": args.batch, "steps": args.steps,
        "grad_checkpointing": args.grad_checkpointing, "dtype": "bf16 autocast, fp32 weights" if use_bf16 else "fp32",
        "seconds_per_step": round(seconds / args.steps, 3), "tokens_per_step": tokens // args.steps,
        "tokens_per_s": round(tokens / seconds, 1), "samples_per_s": round(samples / seconds, 3),
        "losses": [round(x, 4) for x in losses], "finite": all(map(lambda x: x == x and abs(x) != float("inf"), losses)),
        "build_seconds": round(build_s, 1),
    })
    if device.type == "cuda":
        result["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    line = json.dumps(result)
    print(line)
    if args.out:
        Path(args.out).write_text(line + "\n")
    return result


if __name__ == "__main__":
    main()

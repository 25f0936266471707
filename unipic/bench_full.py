"""GPU check: the full preset with random weights generates a 1024x1024 image at 64 iterations.

Reports seconds per image, generated image tokens per second and peak GPU memory as one JSON
line (the published model needed about 11-20 GB). Random weights exercise exactly the shapes
and compute of the 1.5B model; only the pixels are meaningless. The training-step benchmark
(tokens/s and memory of one full-preset step at 1024 px) is `python -m unipic.train.bench_step`.

    python -m unipic.bench_full [--num-iter 64] [--image-size 1024] [--batch 1] [--guidance 3.0] \
        [--dtype bfloat16] [--tokenizer DIR] [--out result.json]

`--tokenizer` takes any saved Qwen tokenizer folder (the real Qwen2.5 one, or the
`tokenizer/` of `python -m unipic.tiny FOLDER`); without it the tiny tokenizer is built,
which needs `trl`. Prompt token counts differ by a few tokens between tokenizers, which is
immaterial next to the 4,160 image tokens per step.

On a machine without diffusers (the GPU image has transformers but not diffusers), carry
the `diffusers` and `importlib_metadata` wheels and put them on PYTHONPATH first.
`--config tiny --device cpu` runs the same script in seconds as a smoke test (one CPU thread
by default: see `set_cpu_threads`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from .presets import build_preset, preset_config
from .sampling import SampleOptions, generate_images

PROMPTS = ["A red fox sitting in fresh snow at sunrise, detailed fur, soft light.",
           "A glass teapot on a wooden table next to a stack of old books."]


def set_cpu_threads(threads: int | None, config: str, device: torch.device) -> None:
    """Tiny-model ops take microseconds, so on CPU OpenMP barriers cost more than the work and
    thrash (~100x slower) when cores are shared; the tiny smoke run uses one thread by default."""
    if threads is None and device.type == "cpu" and config == "tiny":
        threads = 1
    if threads:
        torch.set_num_threads(threads)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m unipic.bench_full", description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=["full", "tiny"], default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    parser.add_argument("--num-iter", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=None, help="default: the config's (1024 for full)")
    parser.add_argument("--batch", type=int, default=1, help="prompts per call")
    parser.add_argument("--guidance", type=float, default=3.0)
    parser.add_argument("--tokenizer", default=None, help="saved Qwen tokenizer folder")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1 for the tiny config on CPU, else torch's)")
    parser.add_argument("--out", default=None, help="also write the JSON result here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    set_cpu_threads(args.threads, args.config, device)
    dtype = getattr(torch, args.dtype)
    size = args.image_size or preset_config(args.config).image_size
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    start = time.perf_counter()  # build_seconds: the tokenizer and the random weights
    with torch.device(device):
        model = build_preset(args.config, seed=0, tokenizer_dir=args.tokenizer)
    model.to(dtype).eval()
    _sync(device)
    build_s = time.perf_counter() - start
    params = {g: sum(p.numel() for _, p in ps) for g, ps in model.parameter_groups().items()}
    params["codec"] = sum(p.numel() for p in model.codec.parameters())

    prompts = (PROMPTS * args.batch)[: args.batch]
    options = SampleOptions(num_iter=args.num_iter, guidance_scale=args.guidance, image_size=size, seed=0)
    # Warm-up at the same resolution (kernel selection, allocator growth), then the timed run.
    generate_images(model, prompts, SampleOptions(num_iter=2, guidance_scale=args.guidance, image_size=size))
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        weights_gib = torch.cuda.memory_allocated(device) / 2**30
    _sync(device)
    start = time.perf_counter()
    images = generate_images(model, prompts, options)
    _sync(device)
    seconds = time.perf_counter() - start

    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
        "config": args.config,
        "dtype": args.dtype,
        "image_size": size,
        "num_iter": args.num_iter,
        "batch": args.batch,
        "guidance": args.guidance,
        "seconds_total": round(seconds, 3),
        "seconds_per_image": round(seconds / args.batch, 3),
        # image tokens generated (one per latent position) per second, CFG branches not counted twice
        "tokens_per_s": round(args.batch * (size // model.codec.stride) ** 2 / seconds, 1),
        "build_seconds": round(build_s, 1),
        "params": params,
        "params_total": sum(params.values()),
        "output_shape": list(images.shape),
        "finite": bool(torch.isfinite(images).all()),
    }
    if device.type == "cuda":
        result["weights_gib"] = round(weights_gib, 2)
        result["peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    line = json.dumps(result)
    print(line)
    if args.out:
        Path(args.out).write_text(line + "\n")
    return result


if __name__ == "__main__":
    main()

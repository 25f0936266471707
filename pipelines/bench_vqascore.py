#!/usr/bin/env python
"""Benchmark VQAScore: the native batched backend against t2v-metrics' one-at-a-time procedure.

Scores the same N (image, text) pairs both ways and prints pairs/s and their ratio (median of
--repeats runs, measured in the same process), plus the largest score difference.

    python pipelines/bench_vqascore.py                          # tiny local model on this CPU
    python pipelines/bench_vqascore.py --arch 7b --size 448 --n 256 --batch-size 32   # on a GPU
    python pipelines/bench_vqascore.py --model Qwen/Qwen2.5-VL-7B-Instruct   # real weights

`--arch 7b` builds the Qwen2.5-VL-7B architecture with random weights (timing only;
`reward_models.tiny.build_random_qwen25vl_7b`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def pairs(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    words = "a red blue green circle square triangle on the left right of and with two three small big".split()
    imgs, texts = [], []
    for _ in range(n):
        w = int(size * rng.uniform(0.75, 1.0))
        h = int(size * rng.uniform(0.75, 1.0))
        imgs.append(Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)))
        texts.append(" ".join(rng.choice(words, size=int(rng.integers(3, 16)))))
    return imgs, texts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="checkpoint folder or hub id (default: build one, see --arch)")
    p.add_argument("--arch", choices=["tiny", "7b"], default="tiny")
    p.add_argument("--n", type=int, default=64, help="pairs")
    p.add_argument("--size", type=int, default=112, help="image side (448 for the 7B reference figure)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--reference-n", type=int, default=None, help="pairs for the slow procedure (default: n)")
    args = p.parse_args(argv)

    from reward_models.images import bounded_resize
    from reward_models.interface import ScoreBatch
    from reward_models.loading import LoadSpec, load_vl_model
    from reward_models.vqascore import NativeVQAScorer, VQAScoreConfig, generate_vqascore

    tmp = tempfile.TemporaryDirectory()
    model = args.model
    if not model:
        if args.arch == "7b":
            from reward_models.tiny import build_random_qwen25vl_7b

            model = str(build_random_qwen25vl_7b(Path(tmp.name) / "qwen25vl-7b-random", args.size ** 2))
        else:
            from reward_models.tiny import TinyVLConfig, build_tiny_qwen25vl

            model = str(build_tiny_qwen25vl(Path(tmp.name) / "tiny", TinyVLConfig(max_pixels=args.size ** 2)))
    lm = load_vl_model(LoadSpec(model, device=args.device, dtype=args.dtype))
    imgs, texts = pairs(args.n, args.size)
    imgs = [bounded_resize(im, args.size * args.size) for im in imgs]
    scorer = NativeVQAScorer(lm, config=VQAScoreConfig(batch_size=args.batch_size, max_pixels=args.size ** 2))
    sync = _sync(lm.device)
    scorer.score(ScoreBatch(texts[: args.batch_size], imgs[: args.batch_size]))  # warm-up
    native_rates, out = [], None
    for _ in range(args.repeats):
        sync()
        t = time.perf_counter()
        out = scorer.score(ScoreBatch(texts, imgs))
        sync()
        native_rates.append(args.n / (time.perf_counter() - t))
    m = args.reference_n or args.n
    generate_vqascore(lm.model, lm.processor, imgs[0], texts[0])  # warm-up
    ref_rates, ref = [], []
    for _ in range(args.repeats):
        sync()
        t = time.perf_counter()
        ref = [generate_vqascore(lm.model, lm.processor, im, tx) for im, tx in zip(imgs[:m], texts[:m])]
        sync()
        ref_rates.append(m / (time.perf_counter() - t))
    native, slow = statistics.median(native_rates), statistics.median(ref_rates)
    diff = float(np.abs(out.score[:m] - np.array(ref)).max())
    peak = ""
    if lm.device.type == "cuda":
        import torch

        peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB on {torch.cuda.get_device_name()}"
    print(f"model {model if args.model else args.arch} dtype {lm.dtype} device {lm.device}{peak}")
    print(f"one-at-a-time generate (t2v-metrics procedure): {slow:8.1f} pairs/s")
    print(f"native batched forward (batch {args.batch_size}):     {native:8.1f} pairs/s")
    print(f"ratio native / one-at-a-time: {native / slow:.2f}x   max |score difference|: {diff:.2e}")
    return 0


def _sync(device):
    if device.type == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


if __name__ == "__main__":
    sys.exit(main())

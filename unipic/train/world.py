"""The synthetic world as a training ground: a tiny model that can learn in CPU minutes, its
data in the scoring job's shard layout, and prompt-match accuracy against known truth.

- The model is the `world` preset (`unipic.presets.world`: the tiny model at 48 px with a
  PCA-fitted patch codec instead of the random KL-16 codec, which cannot reconstruct anything,
  and a tokenizer trained on the world's text).
- `write_t2i_shards`: scenes (the learning demo's: `unipic.evaluate.single_object_scenes`,
  "a red circle in the center, on a white background") written as `task=t2i/decision=keep/part-*.parquet`.
- `prompt_match(model, scenes)`: generate one image per scene and read it back with
  `synthetic.truth.matches`; the share of images whose colour, shape, count, position and
  everything match, and the GenEval-style category scores (`unipic.evaluate`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..evaluate import single_object_scenes
from ..model import UniPic
from ..presets import build_preset


# ---------------------------------------------------------------------- data
def split_scenes(scenes: list, held_out: int, seed: int = 0) -> tuple[list, list]:
    """(train, held-out) with `held_out` scenes drawn at random."""
    order = np.random.default_rng(seed).permutation(len(scenes))
    held = sorted(int(i) for i in order[:held_out])
    return [s for i, s in enumerate(scenes) if i not in held], [scenes[i] for i in held]


def write_t2i_shards(folder: str | Path, scenes: list, copies: int, size: int = 48, seed: int = 0) -> Path:
    """`copies` rows per scene (rendered once each; identical pixels), in the scoring job's
    layout (`curation.shards.write_shards`: `task=t2i/decision=keep/part-00000.parquet`) with
    reward/VQA scores of 1."""
    import pyarrow as pa

    from curation import schema as S
    from curation.shards import write_shards
    from synthetic import caption, render

    rows = []
    rng = np.random.default_rng(seed)
    for k in range(copies):
        for i in rng.permutation(len(scenes)):
            scene = scenes[int(i)]
            buf = io.BytesIO()
            render(scene, size).save(buf, format="PNG")
            rows.append({S.ID: f"world-t2i-{k:04d}-{int(i):04d}", S.TASK: "t2i", S.PROMPT: caption(scene),
                         S.IMAGE: {"bytes": buf.getvalue(), "path": None}, S.SOURCE: "synthetic_world",
                         S.META: json.dumps({"scene": scene.to_dict()}), S.REWARD_SCORE: 1.0,
                         S.stage_column("vqa", "score"): 1.0, S.DECISION: "keep"})
    folder = Path(folder)
    write_shards(folder, pa.Table.from_pylist(rows))
    return folder


# ---------------------------------------------------------------------- evaluation
def prompt_match(model: UniPic, scenes: list, options=None, batch_size: int = 32) -> dict:
    """Generate one image per scene (its caption as the prompt) and check it against the scene.

    Returns the rates of colour_ok, shape_ok, count_ok, position_ok, all_ok over the scenes
    (`synthetic.truth.matches`), the number of scenes, and per-scene results; and, through
    `unipic.evaluate` (which does the generating and reading back), the GenEval-style category
    scores of the scenes that fit a category (`categories`, `overall`).
    """
    from ..evaluate import evaluate_generation, items_for_scenes, model_generator

    return evaluate_generation(model_generator(model, options, batch_size), items_for_scenes(scenes))


# ---------------------------------------------------------------------- the learning demo
def learning_demo(folder: str | Path, steps: int = 2000, seed: int = 0, lr: float = 3e-3, batch_size: int = 32,
                  held_out: int = 3, eval_copies: int = 2, threads: int | None = None, progress: bool = False,
                  positions: Sequence[str] = ("center",), backgrounds: Sequence[str] = ("white",)) -> dict:
    """Train the world model on single-object scenes and compare prompt match before and after.

    The 18 scenes (6 colours x 3 shapes, centre, white background by default) are split into
    training scenes and `held_out` unseen colour-shape pairs; shards of the training scenes
    are written to `folder/shards`, the model trains for `steps` steps of stage `ct` (all but
    SigLIP trains; cosine schedule) at `lr` through the real pipeline (shards -> stream ->
    loop, one local worker), and the untrained and trained (EMA) models generate
    `eval_copies` images per prompt. Returns both accuracies on the training prompts and on
    the held-out ones, and the wall time.
    """
    import time

    from ..checkpoint import load_pretrained
    from ..sampling import SampleOptions
    from .loop import TrainConfig, run_local

    if threads:  # also for the evaluations (tiny ops thrash with several threads on shared cores)
        torch.set_num_threads(threads)
    folder = Path(folder)
    train_scenes, held_scenes = split_scenes(single_object_scenes(positions=positions, backgrounds=backgrounds),
                                             held_out, seed)
    write_t2i_shards(folder / "shards", train_scenes, copies=max(1, 2048 // len(train_scenes)), seed=seed)
    options = SampleOptions(num_iter=32, guidance_scale=3.0, temperature=0.7, seed=1000 + seed)
    untrained = build_preset("world", seed)
    before = {"train": prompt_match(untrained, train_scenes * eval_copies, options),
              "held_out": prompt_match(untrained, held_scenes * eval_copies, options)}
    cfg = TrainConfig(stage="ct", output=str(folder / "run"), data=[str(folder / "shards")], preset="world",
                      max_steps=steps, batch_size=batch_size, lr=lr, seed=seed, checkpoint_every=steps,
                      keep_checkpoints=1, threads=threads, progress=progress, image_size=48)
    start = time.perf_counter()
    run_local(cfg)
    minutes = (time.perf_counter() - start) / 60
    trained = load_pretrained(folder / "run" / "final" / "ema", device="cpu", dtype=torch.float32)
    after = {"train": prompt_match(trained, train_scenes * eval_copies, options),
             "held_out": prompt_match(trained, held_scenes * eval_copies, options)}
    strip = lambda r: {k: v for k, v in r.items() if k != "results"}  # noqa: E731
    return {"steps": steps, "train_minutes": minutes, "lr": lr, "batch_size": batch_size,
            "train_prompts": len(train_scenes), "held_out_prompts": [s.objects[0].colour + " " + s.objects[0].shape
                                                                     for s in held_scenes],
            "untrained": {k: strip(v) for k, v in before.items()}, "trained": {k: strip(v) for k, v in after.items()}}


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m unipic.train.world",
                                description="Learning demo: train the tiny world model, compare prompt match.")
    p.add_argument("--out", default="runs/world-learning")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--held-out", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for this model)")
    p.add_argument("--positions", default="center", help="comma-separated: left,right,top,bottom,center")
    p.add_argument("--backgrounds", default="white", help="comma-separated background names")
    args = p.parse_args(argv)
    result = learning_demo(args.out, args.steps, args.seed, args.lr, args.batch_size, args.held_out,
                           threads=args.threads, progress=True, positions=args.positions.split(","),
                           backgrounds=args.backgrounds.split(","))
    print(json.dumps(result, indent=2))
    Path(args.out, "learning.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

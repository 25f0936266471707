"""Learning demonstration: tiny judges trained by the real entry points on the synthetic world.

    python -m tests.reward_models.learning_demo img  --work /tmp/demo [--pairs 1500 --epochs 4 --grpo_steps 60]
    python -m tests.reward_models.learning_demo edit --work /tmp/demo [--edits 600 --epochs 3]

ImgReward: synthetic Pick-a-Pic / ImageRewardDB / HPDv2 files are written in their real layouts,
`pipelines/train_img_reward.py` trains a tiny Qwen2.5-VL (SFT warm-up then GRPO), and the saved
judge is scored (through ImgRewardScorer, the scoring job's interface) on held-out synthetic
pairs, before and after, per source and per planted fault.
EditReward: a synthetic HumanEdit file, `pipelines/train_edit_reward.py`, and the good edit vs
each constructed negative kind, before and after.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path


def world():
    """The synthetic world."""
    import synthetic

    return synthetic


def corpus(w) -> list[str]:
    pairs = w.preference_pairs(200, 999)
    edits = w.edit_triplets(200, 999)
    return [p.prompt for p in pairs] + [t.instruction for t in edits]


def tiny_config(w, **kw):
    from reward_models.img_reward import tiny_judge_config

    return tiny_judge_config(corpus(w), **kw)


# -- ImgReward ------------------------------------------------------------------------------------


def pair_accuracy(scorer, pairs) -> dict:
    """Held-out pairwise accuracy of the pointwise overall score, per fault and overall."""
    from reward_models.interface import ScoreBatch

    n = len(pairs)
    batch = ScoreBatch(prompts=[p.prompt for p in pairs] * 2, images=[p.preferred for p in pairs] +
                       [p.rejected for p in pairs])
    s = scorer.score(batch).score
    by_fault: dict = defaultdict(list)
    for k, p in enumerate(pairs):
        by_fault[p.fault].append(0.5 if s[k] == s[n + k] else float(s[k] > s[n + k]))
    out = {f: round(sum(v) / len(v), 3) for f, v in sorted(by_fault.items())}
    out["ALL"] = round(sum(x for v in by_fault.values() for x in v) / n, 3)
    return out


def img_demo(work: Path, pairs: int = 1500, prompts: int = 300, epochs: float = 4, grpo_steps: int = 60,
             lr: float = 1e-3, eval_pairs: int = 400, hidden: int = 64, seed: int = 0,
             max_pairs: int = 2000) -> dict:
    from reward_models.img_reward import ImgRewardScorer, build_tiny_img_reward
    from reward_models.loading import LoadSpec
    from reward_models.training.cli import main

    w = world()
    work.mkdir(parents=True, exist_ok=True)
    base = build_tiny_img_reward(work / "img_base", tiny_config(w, hidden_size=hidden, intermediate_size=2 * hidden))
    data = work / "img_data"
    argv = ["--model_name_or_path", str(base), "--output_dir", str(work / "img_judge"),
            "--warmup_epochs", str(epochs), "--warmup_learning_rate", str(lr), "--warmup_batch_size", "16",
            "--max_steps", str(max(grpo_steps, 1)), "--skip_grpo", str(grpo_steps == 0).lower(),
            "--learning_rate", "2e-5", "--per_device_train_batch_size", "16", "--num_generations", "4",
            "--max_completion_length", "16", "--logging_steps", "10", "--report_to", "none",
            "--save_strategy", "no", "--seed", str(seed), "--eval_fraction", "0.1", "--max_eval_pairs_per_source", "200",
            "--max_pairs_per_source", str(max_pairs)]
    w.write_pickapic(data / "pickapic", pairs, seed=seed)
    w.write_imagerewarddb(data / "imagerewarddb", prompts, seed=seed + 1)
    w.write_hpdv2(data / "hpdv2", pairs // 2, seed=seed + 2)
    argv += ["--pickapic", str(data / "pickapic"), "--imagerewarddb", str(data / "imagerewarddb"),
             "--hpdv2", str(data / "hpdv2")]
    held = w.preference_pairs(eval_pairs, seed + 1000)
    before = pair_accuracy(ImgRewardScorer(spec=LoadSpec(str(base), device="cpu")), held)
    t0 = time.time()
    summary = main(argv, script="reward_models.img_reward.train:ImgRewardArgs", config="trl:GRPOConfig",
                   train="reward_models.img_reward.train:train_img_reward", name="img-reward-demo")
    after = pair_accuracy(ImgRewardScorer(spec=LoadSpec(str(work / "img_judge"), device="cpu")), held)
    return {"train_seconds": round(time.time() - t0, 1), "held_out_by_fault_before": before,
            "held_out_by_fault_after": after,
            "held_out_by_source": {k: summary.get(k) for k in ("eval_before", "eval_after_warmup", "eval_after")},
            "grpo_last_logs": summary.get("grpo_log"), "skipped": summary.get("skipped")}


# -- EditReward -----------------------------------------------------------------------------------


def edit_demo(work: Path, edits: int = 600, epochs: float = 3, lr: float = 1e-3, hidden: int = 64,
              seed: int = 0) -> dict:
    from reward_models.edit_reward import build_tiny_edit_reward
    from reward_models.training.cli import main

    w = world()
    work.mkdir(parents=True, exist_ok=True)
    base = build_tiny_edit_reward(work / "edit_base", tiny_config(w, hidden_size=hidden, intermediate_size=2 * hidden))
    data = work / "edit_data" / "humanedit"
    w.write_humanedit(data, edits, seed=seed)
    argv = ["--model_name_or_path", str(base), "--humanedit", str(data), "--output_dir", str(work / "edit_judge"),
            "--num_train_epochs", str(epochs), "--learning_rate", str(lr), "--per_device_train_batch_size", "16",
            "--logging_steps", "20", "--report_to", "none", "--save_strategy", "no", "--seed", str(seed),
            "--eval_fraction", "0.15", "--negatives_per_example", "2"]
    t0 = time.time()
    summary = main(argv, script="reward_models.edit_reward.train:EditRewardArgs", config="trl:SFTConfig",
                   train="reward_models.edit_reward.train:train_edit_reward", name="edit-reward-demo")
    return {"train_seconds": round(time.time() - t0, 1), "before": summary.get("eval_before"),
            "after": summary.get("eval_after"), "train_judgements": summary.get("train_judgements")}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["img", "edit"])
    ap.add_argument("--work", default="/tmp/reward_demo")
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--edits", type=int, default=600)
    ap.add_argument("--epochs", type=float, default=4)
    ap.add_argument("--grpo_steps", type=int, default=60)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--max_pairs", type=int, default=2000)
    a = ap.parse_args()
    if a.which == "img":
        res = img_demo(Path(a.work), a.pairs, a.prompts, a.epochs, a.grpo_steps, a.lr, hidden=a.hidden,
                       max_pairs=a.max_pairs)
    else:
        res = edit_demo(Path(a.work), a.edits, a.epochs, a.lr, hidden=a.hidden)
    print("RESULT", json.dumps(res, indent=1, default=str))

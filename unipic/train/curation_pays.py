"""Does curation pay? The experiment behind `pipelines/exp_curation_pays.py` (see its docstring):
train the same tiny world model twice, on all candidates and on the kept rows, and compare
them with the GenEval-style evaluation (`unipic.evaluate`) on held-out prompts."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass
class CurationPaysConfig:
    """One run of the experiment."""

    candidates: str
    """Folder with candidates-*.parquet and truth.parquet."""
    shards: str | None = None
    """The scoring job's output over those candidates."""
    min_reward: float | None = None
    """Keep arm: re-apply this reward threshold to every scored row instead of reading decision=keep."""
    min_vqa: float | None = None
    """Keep arm: with min_reward, also this VQAScore threshold."""
    oracle: bool = False
    """Instead of shards, decide rows by the answer key (what perfect judges would keep)."""
    make_candidates: int = 0
    """First write this many synthetic candidates (64 px, seed candidates_seed) into candidates."""
    candidates_seed: int = 20261128
    """Seed of the candidates written by make_candidates."""
    out: str = "runs/curation-pays"
    """Output folder (arms, curation_pays.json)."""
    steps: int = 6000
    """Training steps per arm."""
    batch_size: int = 32
    """Samples per step."""
    lr: float = 3e-3
    """Peak learning rate."""
    seed: int = 0
    """Seed of the model init, data order and sampling."""
    eval_prompts: int = 96
    """Held-out prompts generated per arm, spread evenly over the GenEval categories."""
    single_object_eval: bool = False
    """Only the single-object GenEval categories (single object, colours)."""
    eval_edits: int = 8
    """Held-out edit instructions per edit kind for the editing check (0 or no_edit: none)."""
    no_edit: bool = False
    """Train text-to-image only."""
    threads: int = 1
    """Torch CPU threads (the tiny model runs fastest on one)."""


def arm_rows(cfg, truth: dict) -> dict:
    """What an arm's t2i/edit streams read: row counts and the planted-fault share."""
    from unipic.train.data import BatchStream, SourceConfig

    out = {}
    for task, paths in (("t2i", cfg.data + cfg.t2i), ("edit", cfg.data + cfg.edit)):
        if not paths:
            continue
        try:
            stream = BatchStream(SourceConfig(paths, task, cfg.decision, cfg.min_reward, cfg.min_vqa), 1, seed=0)
        except ValueError:
            continue
        ids = stream.dataset.to_table(filter=stream.filter, columns=["sample_id"]).column("sample_id").to_pylist()
        faulty = [i for i in ids if i in truth and not truth[i]["clean"]]
        out[task] = {"rows": len(ids), "planted_faults": len(faulty),
                     "fault_share": round(len(faulty) / max(1, len(ids)), 3)}
    return out


def oracle_shards(candidates: Path, out: Path) -> Path:
    """The decisions perfect judges would make, from the answer key, in the job's shard layout:
    clean rows keep (reward 1), planted faults reject (reward 0), broken files error. A
    reference point for what curation can buy, not a scoring-job run."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from curation import schema as S
    from curation.shards import write_shards

    truth = {r[S.ID]: r for r in pq.read_table(candidates / "truth.parquet").to_pylist()}
    table = ds.dataset(sorted(str(f) for f in candidates.glob("candidates-*.parquet"))).to_table()
    decisions, rewards, modes = [], [], []
    for sid in table.column(S.ID).to_pylist():
        t = truth[sid]
        decision = "error" if t["fault"] == "broken_file" else "keep" if t["clean"] else "reject"
        decisions.append(decision)
        rewards.append(None if decision == "error" else float(decision == "keep"))
        modes.append([t["planted_mode"]] if t["planted_mode"] else [])
    table = (table.append_column(S.DECISION, pa.array(decisions, pa.string()))
             .append_column(S.REWARD_SCORE, pa.array(rewards, pa.float64()))
             .append_column(S.FAILURE_MODES_COL, pa.array(modes, pa.list_(pa.string()))))
    write_shards(out, table)
    return out


def run_curation_pays(args: CurationPaysConfig) -> dict:
    """Both arms trained and evaluated; the report, also written to `<out>/curation_pays.json`."""

    import pyarrow.parquet as pq

    from unipic.checkpoint import load_pretrained, save_pretrained
    from unipic.sampling import SampleOptions
    from unipic.train.loop import TrainConfig, run_local
    from unipic.evaluate import (CATEGORIES, EVAL_SEED, edit_items, evaluate_editing, evaluate_generation,
                                 geneval_items, model_editor, model_generator, split_evenly)
    from unipic.presets import build_preset

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = Path(args.candidates)
    if args.make_candidates and not (candidates / "truth.parquet").exists():
        from synthetic import write_candidates

        candidates.mkdir(parents=True, exist_ok=True)
        write_candidates(candidates, n=args.make_candidates, seed=args.candidates_seed, size=64, shards=4)
    shards = str(oracle_shards(candidates, out / "oracle_shards")) if args.oracle else args.shards
    shards = str(Path(shards)) if shards else shards
    if not shards:
        raise ValueError("give shards (the scoring job's output) or oracle=True")
    truth = {r["sample_id"]: r for r in pq.read_table(candidates / "truth.parquet").to_pylist()}
    init = save_pretrained(build_preset("world", args.seed), out / "init")
    arms = {
        "all": dict(data=[str(candidates / "candidates-*.parquet")], decision=None),
        "keep": dict(data=[shards], decision="keep") if args.min_reward is None else
        dict(data=[shards], decision=None, min_reward=args.min_reward, min_vqa=args.min_vqa),
    }
    common = dict(stage="ct", init_from=str(init), max_steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                  seed=args.seed, image_size=48, checkpoint_every=max(args.steps, 1), keep_checkpoints=1,
                  threads=args.threads, progress=True)
    configs = {name: TrainConfig(output=str(out / name), **arm, **common) for name, arm in arms.items()}
    if args.no_edit:
        for cfg in configs.values():
            cfg.t2i, cfg.data = list(cfg.data), []

    import pyarrow.dataset as ds

    train_captions = set(ds.dataset(sorted(str(f) for f in candidates.glob("candidates-*.parquet")))
                         .to_table(columns=["prompt"]).column("prompt").to_pylist())
    categories = ("single_object", "colours") if args.single_object_eval else CATEGORIES
    items = geneval_items(split_evenly(args.eval_prompts, categories), exclude=train_captions,
                          categories=categories)  # held out: no candidate caption is an evaluation prompt
    options = SampleOptions(num_iter=32, guidance_scale=3.0, temperature=0.7, seed=1000 + args.seed)
    strip = lambda r: {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items() if k != "results"}  # noqa: E731

    edits = edit_items(args.eval_edits) if args.eval_edits and not args.no_edit else []

    def held_out(model) -> dict:  # GenEval-style categories, overall and caption-match facts, no per-image rows
        return strip(evaluate_generation(model_generator(model, options), items))

    def edit_check(model) -> dict:  # the requested change happened and the rest is unchanged, per edit kind
        return strip(evaluate_editing(model_editor(model, options), edits, size=model.config.image_size))

    report = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
              "eval_prompts": len(items), "eval_seed": EVAL_SEED, "single_object_eval": args.single_object_eval,
              "candidates": str(candidates), "shards": shards, "oracle": args.oracle,
              "min_reward": args.min_reward, "min_vqa": args.min_vqa, "arms": {}}
    report["untrained"] = held_out(load_pretrained(init, device="cpu", dtype=torch.float32))
    if edits:
        report["untrained_edit_check"] = edit_check(load_pretrained(init, device="cpu", dtype=torch.float32))
    for name, cfg in configs.items():
        rows = arm_rows(cfg, truth)
        if not rows.get("t2i", {}).get("rows"):
            report["arms"][name] = {"data": rows, "blocked": f"no t2i rows with decision={cfg.decision} to train on"}
            print(json.dumps({name: report["arms"][name]}), flush=True)
            continue
        start = time.perf_counter()
        run_local(cfg)
        minutes = (time.perf_counter() - start) / 60
        model = load_pretrained(Path(cfg.output) / "final" / "ema", device="cpu", dtype=torch.float32)
        report["arms"][name] = {"data": rows, "train_minutes": round(minutes, 2),
                                "prompt_match": held_out(model)}
        if edits:
            report["arms"][name]["edit_check"] = edit_check(model)
        print(json.dumps({name: report["arms"][name]}), flush=True)
    (out / "curation_pays.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report

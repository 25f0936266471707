"""Command-line flags of the scoring job -> `ScoreJobConfig`.

Precedence: dataclass defaults < `--config` YAML < specific flags < `--set key=value`.
"""

from __future__ import annotations

import argparse

from . import judges
from .config import ColumnMap, ScoreJobConfig

COLUMN_FIELDS = [f for f in ColumnMap.__dataclass_fields__]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pipelines/score.py",
        description="Score every candidate with the reward models and VQAScore, decide keep/reject/error with "
        "failure modes, and write every row to hive-partitioned Parquet shards. With no --input, runs the "
        "embedded demo (in-process Ray, shipped small judges, synthetic candidates).",
    )
    io = p.add_argument_group("input and output")
    io.add_argument("--config", help="YAML file with any ScoreJobConfig fields")
    io.add_argument("--input", nargs="+", action="extend", help="Parquet/JSONL files, folders, globs, or a "
                    "datasets save_to_disk folder (repeatable)")
    io.add_argument("--input-format", choices=["auto", "parquet", "jsonl", "hf_disk"])
    io.add_argument("--output", help="output folder for the shards")
    io.add_argument("--overwrite", action="store_true", help="replace a previous run with other inputs or config")
    io.add_argument("--rows-per-partition", type=int, help="rows per input partition (unit of resume)")
    rem = p.add_argument_group("remote image URIs (off by default)")
    rem.add_argument("--allow-remote-images", action="store_true", help="fetch image cells that are http(s)://, "
                     "s3://, gs:// or hf:// URIs (only from --remote-scheme schemes and --remote-host hosts)")
    rem.add_argument("--remote-host", action="append", default=[], metavar="HOST",
                     help="host (or bucket) that may be fetched; *.example.com for subdomains (repeatable)")
    rem.add_argument("--remote-scheme", action="append", default=[], metavar="SCHEME",
                     help="URI scheme that may be fetched (repeatable; default https)")
    rem.add_argument("--remote-timeout", type=float, metavar="SECONDS", help="connect/read timeout and deadline "
                     "of one fetch (default 10)")
    rem.add_argument("--remote-max-bytes", type=int, help="largest body fetched (default 32 MiB)")
    cols = p.add_argument_group("column mapping (for data that names its columns differently)")
    cols.add_argument("--column", action="append", default=[], metavar="FIELD=COLUMN",
                      help=f"map a schema field to an input column; fields: {', '.join(COLUMN_FIELDS)}")
    for f in COLUMN_FIELDS:
        cols.add_argument(f"--{f.replace('_', '-')}-column", dest=f"col_{f}", metavar="COLUMN",
                          help=f"input column holding `{f}`")
    cols.add_argument("--task", dest="default_task", choices=["t2i", "edit"], help="task for every row when the "
                      "data has no task column")
    cols.add_argument("--source", dest="default_source", help="dataset name when the data has no source column")
    th = p.add_argument_group("decisions")
    th.add_argument("--reward-threshold", type=float, help="keep iff reward >= this (default 0.9)")
    th.add_argument("--vqa-threshold", type=float, help="... and VQAScore >= this (default 0.5)")
    th.add_argument("--sub-score-threshold", type=float, help="sub-scores below this tag their failure mode")
    m = p.add_argument_group("models")
    for j in judges.JUDGES:  # --img-reward-model, --edit-reward-model, --vqa-model
        m.add_argument(j.flag, dest=f"{j.stage}_model", help=j.model_help)
    m.add_argument("--vqa-backend", choices=["native", "t2v_metrics"])
    m.add_argument("--vqa-template", help="VQAScore question template with one {}")
    m.add_argument("--vqa-answer", help="VQAScore answer token text (default Yes)")
    m.add_argument("--t2v-model", help="t2v-metrics model name for --vqa-backend t2v_metrics")
    m.add_argument("--t2v-python", help="interpreter with t2v-metrics installed (else Ray builds a pip env)")
    r = p.add_argument_group("resources (apply to every stage; use --set for one stage)")
    r.add_argument("--batch-size", type=int)
    r.add_argument("--num-actors", type=int)
    r.add_argument("--num-gpus", help="GPUs per actor, or auto")
    r.add_argument("--device", help="auto, cpu or cuda")
    r.add_argument("--dtype", help="auto, float32, bfloat16, float16")
    r.add_argument("--max-pixels", type=int, help="pixel budget for decoded images, every judge (default: "
               "448x448 for the reward judges, none for VQAScore, which then prepares images as t2v-metrics does; "
               "0: none)")
    r.add_argument("--ray-address", help="Ray cluster address (default: RAY_ADDRESS or in-process)")
    r.add_argument("--num-cpus", type=int, help="CPUs for an in-process Ray")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set any config field by dotted path, e.g. --set vqa.batch_size=32")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    return p


def config_from_args(args: argparse.Namespace) -> ScoreJobConfig:
    cfg = ScoreJobConfig.from_yaml(args.config) if args.config else ScoreJobConfig()
    if args.input:
        cfg.input.paths = list(args.input)
    simple = {
        "input_format": "input.format", "output": "output.path", "rows_per_partition": "input.rows_per_partition",
        "default_task": "input.default_task", "default_source": "input.default_source",
        "reward_threshold": "thresholds.reward", "vqa_threshold": "thresholds.vqa",
        "sub_score_threshold": "thresholds.sub_score", "vqa_backend": "vqa.backend",
        "vqa_template": "vqa.template", "vqa_answer": "vqa.answer", "t2v_model": "vqa.t2v_model",
        "t2v_python": "vqa.t2v_python", "ray_address": "ray.address", "num_cpus": "ray.num_cpus",
        **{f"{j.stage}_model": f"{j.stage}.model" for j in judges.JUDGES},
    }
    for attr, key in simple.items():
        value = getattr(args, attr)
        if value is not None:
            cfg.set(key, value)
    if args.overwrite:
        cfg.output.overwrite = True
    if args.allow_remote_images:
        cfg.remote.enabled = True
    if args.remote_host:
        cfg.remote.hosts = list(args.remote_host)
    if args.remote_scheme:
        cfg.remote.schemes = [s.lower().rstrip(":/") for s in args.remote_scheme]
    if args.remote_timeout is not None:
        cfg.remote.timeout_s = args.remote_timeout
    if args.remote_max_bytes is not None:
        cfg.remote.max_bytes = args.remote_max_bytes
    for item in args.column:
        field, _, column = item.partition("=")
        if field not in COLUMN_FIELDS or not column:
            raise SystemExit(f"--column expects FIELD=COLUMN with FIELD in {COLUMN_FIELDS}, got {item!r}")
        cfg.set(f"input.columns.{field}", column)
    for f in COLUMN_FIELDS:
        value = getattr(args, f"col_{f}")
        if value is not None:
            cfg.set(f"input.columns.{f}", value)
    for attr in ("batch_size", "num_actors", "num_gpus", "device", "dtype", "max_pixels"):
        value = getattr(args, attr)
        if value is not None:
            for stage in judges.STAGES:
                cfg.set(f"{stage}.{attr}", value)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            cfg.set(key, value)
        except KeyError as e:
            raise SystemExit(str(e)) from e
    return cfg

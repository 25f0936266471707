#!/usr/bin/env python
"""Score candidates with the reward models and VQAScore; write every row to Parquet shards.

Local (in-process Ray, embedded demo):   python pipelines/score.py
Local on your data:                      python pipelines/score.py --input data/ --output shards/
On a cluster:  RAY_AUTH_MODE=token ray job submit --working-dir . -- \
                   python pipelines/score.py --input ... --output ...
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install

from curation.cli import build_parser, config_from_args  # noqa: E402
from curation.demo import DEMO_DIR, apply_demo_defaults  # noqa: E402
from curation.job import run_score_job  # noqa: E402
from curation.inputs import InputError  # noqa: E402
from curation.manifest import OutputConflict  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.add_argument("--verbose", action="store_true",
                        help="also show Ray's own logs (Ray Data progress logs, worker output); they are always "
                             "in the Ray session's log folder (/tmp/ray/session_*/logs)")
    args = parser.parse_args(argv)
    cfg = config_from_args(args)
    demo = not cfg.input.paths
    if demo:
        cfg = apply_demo_defaults(cfg)
    if args.print_config:
        print(cfg.to_yaml())
        return 0
    from curation.job import judge_specs

    if not judge_specs(cfg):
        # Without any judge only the cheap checks decide, and nearly every row would be kept.
        print("error: no judges configured: give --img-reward-model, --edit-reward-model and/or --vqa-model "
              "(or --vqa-backend t2v_metrics); run without --input for the demo with the shipped judges",
              file=sys.stderr)
        return 2
    if demo and not args.overwrite:
        # The demo resumes an identical previous run and replaces one made with other settings.
        from curation.manifest import RunManifest
        from curation.shards import OutputLayout

        layout = OutputLayout(Path(cfg.output.path))
        found = layout.find_manifest()
        if found is not None and RunManifest.load(found).config_hash != cfg.hash():
            cfg.output.overwrite = True
    try:
        result = run_score_job(cfg, verbose=args.verbose)
    except (OutputConflict, InputError) as e:
        # Bad usage (missing or empty input, output that is a file, an input, or locked by another
        # writer, a conflicting previous run): one line and exit 2, no traceback.
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    if demo:
        from curation.measure import format_measurement, measure_against_truth, write_measurement

        m = measure_against_truth(result.output, DEMO_DIR / "candidates" / "truth.parquet")
        print(format_measurement(m))
        print(f"measurement: {write_measurement(result.output, m)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Audit the scoring job's shards with DuckDB: named audits, ad-hoc read-only SQL, an HTML report.

    python pipelines/audit.py list                                   # named audits and their parameters
    python pipelines/audit.py run failure_modes OUT/                 # one audit, aligned table
    python pipelines/audit.py run threshold_sweep OUT/ -p reward_step=0.05 -p vqa_min=0.5 --format csv
    python pipelines/audit.py run conservation OUT/                  # exit status 1 if a check fails
    python pipelines/audit.py run run_comparison OUT_A/ OUT_B/       # two runs on the same inputs
    python pipelines/audit.py sql "SELECT task, count(*) FROM samples GROUP BY ALL" OUT/ [OUT_B/ ...]
    python pipelines/audit.py report OUT/ --out report/              # then open report/index.html

Views: samples (no image bytes), samples_with_images, input_ids, runs, run_partitions, run_files,
run_config (see curation/audits/view.py). Ad-hoc SQL may use `$name` parameters given with -p.
`-p run=...` (and run_a/run_b) takes a run index, a run id or a run folder.

Every connection is sandboxed: files outside the run folders cannot be read, extensions are
neither installed nor loaded, memory is limited (--memory-limit) and spills go to a private
scratch folder (--scratch, default the system temp folder; removed afterwards), and a statement
running longer than --timeout seconds (default 300) is stopped.
Exit status: 0 ok, 1 a check audit found a failing row, 2 bad usage, refused, failed or timed-out query.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a checkout without install

from curation.audits import registry  # noqa: E402
from curation.audits.render import FORMATS, render  # noqa: E402
from curation.audits.view import DEFAULT_MAX_TEMP, DEFAULT_TIMEOUT_S, AuditView, QueryTimeout, ReadOnlyError  # noqa: E402


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise ValueError(f"--param expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def _guess(text: str):
    """Ad-hoc parameter values: int, float, true/false, null, else text."""
    low = text.lower()
    if low in ("null", "none"):
        return None
    if low in ("true", "false"):
        return low == "true"
    for tp in (int, float):
        try:
            return tp(text)
        except ValueError:
            pass
    return text


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pipelines/audit.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="cmd", required=True, metavar="{list,run,sql,report}")
    sub.add_parser("list", help="named audits, their parameters and documentation")

    def timeout(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
        return value

    def sandbox_opts(sp):
        sp.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
        sp.add_argument("--timeout", type=timeout, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                        help=f"stop a statement running longer than this (default {DEFAULT_TIMEOUT_S:g})")
        sp.add_argument("--memory-limit", metavar="SIZE",
                        help="DuckDB memory limit, e.g. 2GB (default: half the memory, at most 8 GiB)")
        sp.add_argument("--scratch", metavar="DIR",
                        help="folder for a private spill folder (default: the system temp folder)")
        sp.add_argument("--max-temp", metavar="SIZE", default=DEFAULT_MAX_TEMP,
                        help=f"most spill data (default {DEFAULT_MAX_TEMP})")

    def output_opts(sp):
        sp.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a $NAME parameter (repeatable)")
        sp.add_argument("-f", "--format", choices=FORMATS, default="table", help="output format (default table)")
        sp.add_argument("-o", "--output", help="write to this file instead of stdout")
        sp.add_argument("--max-width", type=int, default=60, help="table format: widest cell (default 60)")
        sandbox_opts(sp)

    r = sub.add_parser("run", help="run a named audit over one or more run folders")
    r.add_argument("name", help="audit name (see `list`)")
    r.add_argument("runs", nargs="+", metavar="RUN_DIR", help="scoring-job output folder(s)")
    output_opts(r)
    q = sub.add_parser("sql", help="ad-hoc read-only SQL over the same views")
    q.add_argument("query", help='e.g. "SELECT decision, count(*) FROM samples GROUP BY ALL"')
    q.add_argument("runs", nargs="+", metavar="RUN_DIR", help="scoring-job output folder(s)")
    output_opts(q)
    h = sub.add_parser("report", help="write a static HTML report for one run")
    h.add_argument("run", metavar="RUN_DIR", help="scoring-job output folder")
    h.add_argument("--out", required=True, help="report folder (index.html + img/ + thumbs/)")
    h.add_argument("--gallery-size", type=int, default=12, help="samples per failure mode (default 12)")
    sandbox_opts(h)
    return p


def _list() -> str:
    lines = []
    for a in registry.audits().values():
        lines.append(f"{a.name}{'  [check: exit 1 unless every row has ' + a.check + ']' if a.check else ''}")
        lines += ["    " + line for line in a.doc.splitlines()]
        for prm in a.params:
            default = "null" if prm.default is None else str(prm.default).lower() if isinstance(prm.default, bool) \
                else prm.default
            bounds = prm.describe_bounds()
            lines.append(f"    -p {prm.name}=<{prm.type}>  (default {default}{'; ' + bounds if bounds else ''})  "
                         f"{prm.help}")
        lines.append("")
    return "\n".join(lines)


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text if text.endswith("\n") else text + "\n")
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)


def _sandbox(args) -> dict:
    return {"threads": args.threads, "timeout": args.timeout, "memory_limit": args.memory_limit,
            "scratch": args.scratch, "max_temp": args.max_temp}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.cmd == "list":
            print(_list())
            return 0
        if args.cmd == "report":
            from curation.audits.report import build_report

            path = build_report(args.run, args.out, gallery_size=args.gallery_size, **_sandbox(args))
            print(f"report: {path}")
            return 0
        if args.cmd == "run":
            audit = registry.get(args.name)
            overrides = _params(args.param)
            audit.bind(overrides)  # bad parameters are refused before any folder is opened
        with AuditView(args.runs, **_sandbox(args)) as view:
            if args.cmd == "run":
                # run parameters (run, run_a, run_b) resolve an index, run id or folder here
                table = registry.run_audit(view, args.name, overrides)
            else:
                audit = None
                table = view.sql(args.query, {k: _guess(v) for k, v in _params(args.param).items()})
        kw = {"max_width": args.max_width} if args.format == "table" else {}
        _emit(render(table, args.format, **kw), args.output)
        if audit is not None and audit.failed(table):
            print(f"{args.name}: {audit.failed(table)} failing row(s)", file=sys.stderr)
            return 1
        return 0
    except (ReadOnlyError, QueryTimeout) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyError, ValueError, FileNotFoundError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 2
    except Exception as e:  # DuckDB errors: say what failed, no traceback
        import duckdb

        if isinstance(e, duckdb.Error):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. `... | head`: stop quietly
        sys.stderr.close()
        sys.exit(0)

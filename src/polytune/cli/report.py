"""`polytune report RUN... --out DIR`: one report comparing the systems of several runs side by side.

    polytune report runs/demo runs/demo-seed2 --out reports/seeds [--baseline demo:task-only] [--bootstrap 1000]

Each RUN is a run folder holding report/predictions/ or a report folder holding predictions/; systems are rescored
together as `<run>:<system>` (paired significance across runs) into report.json, report.md and report.html.
"""

from __future__ import annotations

import argparse

from polytune.cli.options import add_config_flags, config_defaults
from polytune.config import EvalConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="compare runs side by side (JSON, Markdown, HTML report)")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run or report folders")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--baseline", help="RUN:SYSTEM the others are compared with (default: first run's)")
    parser.add_argument("--metrics", nargs="+", default=None, help="metric names (default: the first run's)")
    add_config_flags(parser, EvalConfig, ("bootstrap", "seed"))
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from polytune.evaluation.compare import compare_runs
    from polytune.evaluation.report import summary_lines

    settings = config_defaults(args, EvalConfig, ("bootstrap", "seed"))  # not given: the eval config's defaults
    report = compare_runs(args.runs, args.out, args.baseline, args.metrics, n_resamples=settings["bootstrap"],
                          seed=settings["seed"])  # fmt: skip
    k = report["average"]["languages"]
    print(f"report: {args.out}/report.html ({len(args.runs)} runs, {k} language{'s' * (k != 1)})")
    for line in summary_lines(report):
        print(f"  average {line}")
    return 0

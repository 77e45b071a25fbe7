"""`polytune run CONFIG.yaml`: the whole pipeline from one config (resumes: finished steps are skipped)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run every stage from one YAML config")
    parser.add_argument("config", help="run config, e.g. examples/demo.yaml")
    parser.add_argument("--only", nargs="+", metavar="STAGE", help="run just these stages")
    parser.add_argument("--force", action="store_true", help="rerun steps that are already up to date")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from polytune.pipeline import run_pipeline

    result = run_pipeline(args.config, only=args.only, force=args.force)
    ran = sum(1 for v in result["steps"].values() if v == "ran")
    print(f"{ran} steps ran, {len(result['steps']) - ran} up to date; workdir {result['workdir']}")
    print(f"report: {result['report']}")
    return 0

"""`polytune explain`: why a classifier task adapter decides what it does, per system and language.

    polytune explain --base MODEL --task-adapter DIR --input CORPUS --out DIR --langs nya_Latn ara_Arab \\
        --system task-only --system la=runs/la/{lang} [--max-records 200] [--n-steps 32] \\
        [--record-ids B1.1.1 B2.6.3] [--layer 5 --head 0 | --rollout]

Writes DIR/explain.json (every record's word attributions, per-language summaries), DIR/explain.html (highlighted
records, top words per class, attention heatmaps) and DIR/manifest.json. Systems are given as in `polytune eval`.
"""

from __future__ import annotations

import argparse

from polytune.cli.options import add_config_flags, config_options
from polytune.config import ExplainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("explain", help="word attributions (Integrated Gradients) and attention maps")
    add_config_flags(parser, ExplainConfig)
    parser.add_argument("--system", action="append", metavar="NAME[=PATTERN]",
                        help="a system as in `polytune eval` (repeatable; default: the task adapter alone)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from polytune.cli.evaluate import systems_from_specs
    from polytune.evaluation.predict.explain import explain

    cfg = ExplainConfig(systems=systems_from_specs(args.system or []), **config_options(args, ExplainConfig))
    result = explain(cfg)
    print(f"explanations: {args.out}/explain.html")
    for system, langs in result["results"].items():
        for lang, one in langs.items():
            s = one["summary"]
            share = 100 * s["new_vocab_share"]
            print(f"  {system} / {lang}: {s['records']} records, new-vocabulary share {share:.1f}%")
    return 0

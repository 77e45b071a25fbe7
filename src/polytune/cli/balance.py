"""`polytune balance` (a language mixture with the effective epochs of each) and `polytune class-weights`.

    polytune balance --input corpus --out mix --langs nya_Latn ara_Arab --temperature 3 --budget 30000
    polytune balance --input corpus --out mix --strategy unimax --unimax-epochs 2 --unit chars --budget 5000000
    polytune class-weights --input corpus --out weights --label-field genre --method effective --beta 0.999
"""

from __future__ import annotations

import argparse

from polytune.cli.common import parse_pairs
from polytune.cli.corpus import split_langs
from polytune.cli.options import add_config_flags, config_options
from polytune.config import BalanceConfig, ClassWeightsConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    parser = subparsers.add_parser("balance", help="mix languages (temperature, UniMax, ...): mixture + epochs table")
    add_config_flags(parser, BalanceConfig, exclude=("weights",))
    parser.add_argument("--weight", action="append", metavar="LANG=W", help="manual weight (repeatable)")
    parser.set_defaults(handler=_balance)

    labels = subparsers.add_parser("class-weights", help="per-class counts and loss weights -> class_weights.json")
    add_config_flags(labels, ClassWeightsConfig)
    labels.set_defaults(handler=_class_weights)


def _balance(args: argparse.Namespace) -> int:
    from polytune.corpus.balance import format_table, run_balance

    options = config_options(args, BalanceConfig) | {"langs": split_langs(args.langs)}
    cfg = BalanceConfig(weights=_weights(args.weight), **options)
    mix = run_balance(cfg)
    print("\n".join(format_table(mix, cfg.max_epochs)))
    print(f"mixture of {sum(r['taken'] for r in mix['langs'].values())} records: {args.out}/mixture/")
    return 0


def _weights(values: list[str] | None) -> dict[str, float]:
    from polytune.errors import ConfigError

    pairs = parse_pairs(values, "--weight")
    try:
        return {lang: float(weight) for lang, weight in pairs.items()}
    except ValueError as exc:
        raise ConfigError(f"--weight: expected LANG=NUMBER, got {values} (e.g. --weight nya_Latn=2)") from exc


def _class_weights(args: argparse.Namespace) -> int:
    from polytune.corpus.class_weights import run_class_weights

    options = config_options(args, ClassWeightsConfig) | {"langs": split_langs(args.langs)}
    result = run_class_weights(ClassWeightsConfig(**options))
    print(f"{'label':<20} {'count':>8} {'weight':>8}")
    for label, weight in result["weights"].items():
        print(f"{label:<20} {result['counts'][label]:>8} {weight:>8.4f}")
    print(f"{result['method']} weights of {len(result['weights'])} classes: {args.out}/class_weights.json")
    return 0

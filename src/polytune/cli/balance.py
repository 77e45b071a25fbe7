"""`polytune balance` (a language mixture with the effective epochs of each) and `polytune class-weights`.

    polytune balance --input corpus --out mix --langs nya_Latn ara_Arab --temperature 3 --budget 30000
    polytune balance --input corpus --out mix --strategy unimax --unimax-epochs 2 --unit chars --budget 5000000
    polytune class-weights --input corpus --out weights --label-field genre --method effective --beta 0.999
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed, parse_pairs
from polytune.cli.corpus import given, split_langs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    parser = subparsers.add_parser("balance", help="mix languages (temperature, UniMax, ...): mixture + epochs table")
    parser.add_argument("--input", required=True, help="filtered corpus folder (<lang>/ shards)")
    parser.add_argument("--out", required=True, help="output folder: mixture/ shards, mix.json, manifest.json")
    parser.add_argument("--langs", nargs="+", help="languages to mix (default: every language in the corpus)")
    parser.add_argument("--strategy", help="temperature|proportional|uniform|unimax|manual (default temperature)")
    parser.add_argument("--temperature", type=float, help="tau: 1 = proportional, large = uniform (default 3)")
    parser.add_argument("--alpha", type=float, help="alpha = 1/tau, instead of --temperature (e.g. 0.3)")
    parser.add_argument("--unimax-epochs", type=float, help="UniMax: at most this many epochs per language (4)")
    parser.add_argument("--weight", action="append", metavar="LANG=W", help="manual weight (repeatable)")
    parser.add_argument("--min-share", type=float, help="lowest probability of any language (default 0)")
    parser.add_argument("--max-share", type=float, help="highest probability of any language (default 1)")
    parser.add_argument("--budget", type=int, help="mixture size in --unit (default: as much as the input has)")
    parser.add_argument("--unit", help="what the budget counts: records|chars|tokens (default records)")
    parser.add_argument("--tokenizer", help="tokenizer.json or its folder, to count tokens (--unit tokens)")
    parser.add_argument("--split", help="mix records of this split: train|dev|test|all (default train)")
    parser.add_argument("--max-epochs", type=float, help="warn when a language repeats more than this (default 10)")
    parser.add_argument("--shard-records", type=int, help="records per mixture shard (default 100000)")
    add_seed(parser)
    parser.set_defaults(handler=_balance)

    labels = subparsers.add_parser("class-weights", help="per-class counts and loss weights -> class_weights.json")
    labels.add_argument("--input", required=True, help="labeled records: corpus folder or file")
    labels.add_argument("--out", required=True, help="output folder: class_weights.json, manifest.json")
    labels.add_argument("--label-field", help="record field holding the label (default genre)")
    labels.add_argument("--method", help="inverse|effective (default inverse)")
    labels.add_argument("--beta", type=float, help="effective-number beta in [0, 1) (default 0.999)")
    labels.add_argument("--langs", nargs="+", help="count only these languages (default: all)")
    labels.add_argument("--split", help="count records of this split: train|dev|test|all (default train)")
    labels.set_defaults(handler=_class_weights)


def _balance(args: argparse.Namespace) -> int:
    from polytune.config import BalanceConfig
    from polytune.corpus.balance import format_table, run_balance

    names = ("input", "out", "strategy", "temperature", "alpha", "unimax_epochs", "min_share", "max_share", "budget",
             "unit", "tokenizer", "split", "max_epochs", "shard_records", "seed")  # fmt: skip
    cfg = BalanceConfig(langs=split_langs(args.langs), weights=_weights(args.weight), **given(args, *names))
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
    from polytune.config import ClassWeightsConfig
    from polytune.corpus.class_weights import run_class_weights

    options = given(args, "input", "out", "label_field", "method", "beta", "split")
    result = run_class_weights(ClassWeightsConfig(langs=split_langs(args.langs), **options))
    print(f"{'label':<20} {'count':>8} {'weight':>8}")
    for label, weight in result["weights"].items():
        print(f"{label:<20} {result['counts'][label]:>8} {weight:>8.4f}")
    print(f"{result['method']} weights of {len(result['weights'])} classes: {args.out}/class_weights.json")
    return 0

"""`polytune balance`: a temperature-sampled mixture of languages, with the effective epochs of each.

    polytune balance --input corpus --out mix --langs nya_Latn ara_Arab --temperature 3 --budget 30000
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed
from polytune.cli.corpus import given, split_langs


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    parser = subparsers.add_parser("balance", help="mix languages by temperature sampling (mixture + epochs table)")
    parser.add_argument("--input", required=True, help="filtered corpus folder (<lang>/ shards)")
    parser.add_argument("--out", required=True, help="output folder: mixture.jsonl, mix.json, manifest.json")
    parser.add_argument("--langs", nargs="+", help="languages to mix (default: every language in the corpus)")
    parser.add_argument("--temperature", type=float, help="tau: 1 = proportional, large = uniform (default 3)")
    parser.add_argument("--budget", type=int, help="records in the mixture (default: as many as the input has)")
    parser.add_argument("--split", help="mix records of this split: train|dev|test|all (default train)")
    parser.add_argument("--max-epochs", type=float, help="warn when a language repeats more than this (default 10)")
    add_seed(parser)
    parser.set_defaults(handler=_balance)


def _balance(args: argparse.Namespace) -> int:
    from polytune.config import BalanceConfig
    from polytune.corpus.balance import run_balance

    options = given(args, "input", "out", "temperature", "budget", "split", "max_epochs", "seed")
    mix = run_balance(BalanceConfig(langs=split_langs(args.langs), **options))
    print(f"{'lang':<10} {'available':>10} {'probability':>12} {'taken':>8} {'epochs':>7}")
    for lang, row in mix["langs"].items():
        print(f"{lang:<10} {row['available']:>10} {row['probability']:>12.4f} {row['taken']:>8} {row['epochs']:>7.2f}")
    print(f"mixture of {sum(r['taken'] for r in mix['langs'].values())} records: {args.out}/mixture.jsonl")
    return 0

"""`polytune augment`: new train records by named operations (each with a ratio); dev/test are copied untouched.

    polytune augment corpus --out corpus-aug --op sentence_shuffle=0.5 --op word_swap=0.3 \\
        --op synonyms=1 --param synonyms.lexicon=syn.tsv --param synonyms.prob=0.3
    polytune augment corpus --out corpus-bt --langs nya_Latn --op back_translation=1 \\
        --param back_translation.model=models/ny-en --param back_translation.back_model=models/en-ny
"""

from __future__ import annotations

import argparse
from typing import Any

from polytune.cli.common import parse_pairs
from polytune.cli.corpus import split_langs
from polytune.cli.options import add_config_flags, config_options
from polytune.config import AugmentConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    parser = subparsers.add_parser("augment", help="augment train records (shuffle, swaps, synonyms, code-switch, "
                                   "back-translation, LM generation)")  # fmt: skip
    parser.add_argument("input", help="corpus folder (<lang>/ shards) or records file")
    parser.add_argument("--op", action="append", required=True, metavar="NAME=RATIO",
                        help="an operation and its new records per train record (repeatable), e.g. word_swap=0.5")
    parser.add_argument("--param", action="append", metavar="OP.KEY=VALUE",
                        help="an operation parameter (repeatable), e.g. synonyms.lexicon=syn.tsv")
    add_config_flags(parser, AugmentConfig, exclude=("input", "ops"))
    parser.set_defaults(handler=_augment)


def parse_ops(ops: list[str], params: list[str] | None) -> list[dict[str, Any]]:
    """`--op NAME=RATIO` and `--param OP.KEY=VALUE` as config entries; values are read as YAML scalars.

    Example: (["word_swap=0.5"], ["word_swap.prob=0.2"]) -> [{"name": "word_swap", "ratio": 0.5,
    "params": {"prob": 0.2}}]
    """
    from polytune.errors import ConfigError

    entries = {name: {"name": name, "ratio": _scalar(ratio), "params": {}}
               for name, ratio in parse_pairs(ops, "--op").items()}  # fmt: skip
    for key, value in parse_pairs(params, "--param").items():
        op, _, name = key.partition(".")
        if op not in entries or not name:
            raise ConfigError(f"--param {key}: expected OP.KEY=VALUE for an --op given ({', '.join(entries)})")
        entries[op]["params"][name] = _scalar(value)
    return list(entries.values())


def _scalar(value: str) -> Any:
    """A number, bool or null as YAML reads it; anything else (a path, a prompt) stays the string given."""
    import yaml

    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, bool)) or parsed is None and value.strip() else value


def _augment(args: argparse.Namespace) -> int:
    from polytune.corpus.augment import run_augment

    options = config_options(args, AugmentConfig) | {"langs": split_langs(args.langs)}
    cfg = AugmentConfig(input=args.input, ops=parse_ops(args.op, args.param), **options)
    counts = run_augment(cfg)
    for op in cfg.ops:
        print(f"{op.name:<18} ratio {op.ratio:<5g} made {counts.get(op.name, 0):>7}  "
              f"skipped {counts.get(op.name + '.skipped', 0):>6}")  # fmt: skip
    made = sum(counts.get(op.name, 0) for op in cfg.ops)
    print(f"{counts['records']} records ({counts['sources']} train sources) + {made} augmented: {args.out}")
    return 0

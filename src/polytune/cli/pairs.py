"""`polytune pairs`: translation records from a filtered corpus, for generation task adapters.

    polytune pairs --input corpus --out pairs --langs nya_Latn vie_Latn --source-lang eng_Latn
    polytune adapt task --base zoo:smollm2-135m --input pairs/into_source --lang nya_Latn --task causal_lm \
        --label-field target --prompt "$(polytune pairs --print-template)"
"""

from __future__ import annotations

import argparse

from polytune.cli.options import add_config_flags, config_options
from polytune.config import PairsConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `polytune pairs` to the `polytune` parser."""
    parser = subparsers.add_parser("pairs", help="translation records (both directions) from a filtered corpus")
    parser.add_argument("--print-template", action="store_true",
                        help="print the prompt template of the translation data file and exit")  # fmt: skip
    add_config_flags(parser, PairsConfig, optional=("input", "out", "langs"))
    parser.set_defaults(handler=_pairs)


def _pairs(args: argparse.Namespace) -> int:
    from polytune.corpus.translation import prompt_data, write_pairs
    from polytune.errors import ConfigError

    if args.print_template:
        print(prompt_data(args.names)["template"])
        return 0
    missing = [flag for flag, value in (("--input", args.input), ("--out", args.out), ("--langs", args.langs))
               if not value]  # fmt: skip
    if missing:
        raise ConfigError(f"pairs: {', '.join(missing)} required (or --print-template)")
    cfg = PairsConfig(**config_options(args, PairsConfig))
    result = write_pairs(cfg)
    for direction, per in result["counts"].items():
        for lang, n in per.items():
            print(f"{direction} {lang}: {n['train']} train, {n['dev']} dev, {n['test']} test pairs "
                  f"({n['unpaired']} unpaired, {n['split_mismatch']} in different splits)")  # fmt: skip
    print(f"pairs: {cfg.out}")
    return 0

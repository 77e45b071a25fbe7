"""`polytune sources | filter | lid train | lid eval`: build, clean and check a multilingual corpus.

    polytune sources --bible eng_Latn=k --bible nya_Latn=chichewa --out raw --max-records 5000
    polytune lid train --input raw --out lid/model.bin --max-per-lang 20000
    polytune lid eval --input raw --backend mine=fasttext:lid/model.bin --backend langid --backend py3langid
    polytune filter raw --out corpus --backend fasttext --model lid/model.bin --langs eng_Latn nya_Latn --tasks 4
    polytune filter raw --out corpus --backend vote --voters heliport py3langid --vote-weights heliport=2
"""

from __future__ import annotations

import argparse
from typing import Any

from polytune.cli.common import parse_pairs
from polytune.cli.options import add_config_flags, config_options
from polytune.config import FilterConfig, LidEvalConfig, LidTrainConfig, SourcesConfig


def split_langs(values: list[str] | None) -> list[str]:
    """Languages as separate words and/or commas. Example: ["eng_Latn,nya", "ara"] -> ["eng_Latn", "nya", "ara"]."""
    return [part for value in values or [] for part in value.split(",") if part]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    sources = subparsers.add_parser("sources", help="read Bible translations and files into per-language JSONL")
    sources.add_argument("--bible", action="append", metavar="LANG=CODE", help="a translation (repeatable)")
    sources.add_argument("--file", action="append", metavar="LANG=PATH", help="txt/jsonl/parquet file (repeatable)")
    add_config_flags(sources, SourcesConfig)
    sources.set_defaults(handler=_sources)

    filt = subparsers.add_parser("filter", help="normalize, language-ID, quality-filter and dedup records")
    filt.add_argument("inputs", nargs="+", metavar="INPUT", help="txt, jsonl(.gz), parquet, saved HF datasets")
    add_config_flags(filt, FilterConfig, exclude=("inputs",))
    filt.add_argument("--vote-weights", metavar="SPEC=W,...", help="--backend vote: weights, e.g. heliport=2")
    filt.add_argument("--threshold", help="minimum top-1 LID score: 0.5 | auto | nya_Latn=0.3,*=0.5")
    filt.set_defaults(handler=_filter)

    lid = subparsers.add_parser("lid", help="language identification models")
    commands = lid.add_subparsers(dest="lid_command", metavar="{train,eval}", required=True)
    train = commands.add_parser("train", help="train a fastText LID model on labeled records")
    add_config_flags(train, LidTrainConfig)
    train.set_defaults(handler=_lid_train)

    ev = commands.add_parser("eval", help="per-language P/R/F1, FPR, macro-F1 of LID backends side by side")
    ev.add_argument("--backend", action="append", required=True, metavar="[NAME=]SPEC",
                    help="langid | py3langid | heliport | fasttext:MODEL.bin, optionally named (repeatable)")
    ev.add_argument("--vote-weights", metavar="NAME=W,...", help="weights of the vote, e.g. heliport=2")
    add_config_flags(ev, LidEvalConfig)
    ev.set_defaults(handler=_lid_eval)


def _sources(args: argparse.Namespace) -> int:
    from polytune.corpus.sources import write_sources
    from polytune.errors import ConfigError

    files: dict[str, list[str]] = {}
    for value in args.file or []:
        lang, sep, path = value.partition("=")
        if not sep or not lang or not path:
            raise ConfigError(f"--file: expected LANG=PATH, got {value!r}")
        files.setdefault(lang, []).append(path)
    options = config_options(args, SourcesConfig)
    counts = write_sources(SourcesConfig(bible=parse_pairs(args.bible, "--bible"), files=files, **options))
    for lang, n in counts.items():
        print(f"{lang}\t{n} records")
    print(f"wrote {sum(counts.values())} records in {len(counts)} languages to {args.out}")
    return 0


def parse_threshold(value: str | None) -> Any:
    """--threshold (and --vote-weights) as the config takes it. Example: "nya_Latn=0.3,*=0.5" -> {"nya_Latn": 0.3,
    "*": 0.5}."""
    if value is None or "=" not in value:
        return value
    return {k: _number(v) for k, v in parse_pairs(value.split(","), "--threshold").items()}


def _number(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value  # the config names the bad value


def _filter(args: argparse.Namespace) -> int:
    from polytune.corpus.filters import reconciliation
    from polytune.corpus.steps import run_filter

    options = config_options(args, FilterConfig) | {"inputs": args.inputs, "langs": split_langs(args.langs)}
    if args.threshold is not None:
        options["threshold"] = parse_threshold(args.threshold)
    if args.vote_weights is not None:
        options["vote_weights"] = parse_threshold(args.vote_weights)
    cfg = FilterConfig(**options)
    stats = run_filter(cfg)
    print(reconciliation(stats))
    for lang, n in stats["per_lang"].items():
        print(f"  {lang}\t{n} kept\tthreshold {stats['thresholds'][lang]}")
    if stats["split_given"]:
        given = ", ".join(f"{lang} {n}" for lang, n in stats["split_given"].items())
        print(f"records without a split got one from their text's hash (test {cfg.test_fraction}, dev "
              f"{cfg.dev_fraction}): {given}")  # fmt: skip
    return 0


def _lid_train(args: argparse.Namespace) -> int:
    from polytune.corpus.langid import train_lid

    counts = train_lid(LidTrainConfig(**config_options(args, LidTrainConfig)))
    print(f"LID model {args.out}: {len(counts)} languages, {sum(counts.values())} lines")
    for lang, n in counts.items():
        print(f"  {lang}\t{n} lines")
    return 0


def _lid_eval(args: argparse.Namespace) -> int:
    from polytune.corpus.lid_eval import evaluate_lid, markdown

    backends = dict(spec.split("=", 1) if "=" in spec else (spec.partition(":")[0], spec) for spec in args.backend)
    options = config_options(args, LidEvalConfig) | {"langs": split_langs(args.langs)}
    if args.vote_weights is not None:
        options["vote_weights"] = parse_threshold(args.vote_weights)
    report = evaluate_lid(LidEvalConfig(backends=backends, **options))
    print(f"{report['n']} labeled records, {len(report['langs'])} languages")
    print(markdown(report), end="")
    return 0

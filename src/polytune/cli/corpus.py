"""`polytune sources`, `polytune filter` and `polytune lid train`: build and clean a multilingual corpus.

    polytune sources --bible eng_Latn=k --bible nya_Latn=chichewa --out raw --max-records 5000
    polytune lid train --input raw --out lid/model.bin --max-per-lang 20000
    polytune filter raw --out corpus --backend fasttext --model lid/model.bin --langs eng_Latn nya_Latn
"""

from __future__ import annotations

import argparse
from typing import Any

from polytune.cli.common import add_seed, parse_pairs


def split_langs(values: list[str] | None) -> list[str]:
    """Languages as separate words and/or commas. Example: ["eng_Latn,nya", "ara"] -> ["eng_Latn", "nya", "ara"]."""
    return [part for value in values or [] for part in value.split(",") if part]


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options the user set (None means unset), so the config dataclass keeps its own defaults."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    sources = subparsers.add_parser("sources", help="read Bible translations and files into per-language JSONL")
    sources.add_argument("--bible", action="append", metavar="LANG=CODE", help="a translation (repeatable)")
    sources.add_argument("--file", action="append", metavar="LANG=PATH", help="txt/jsonl/parquet file (repeatable)")
    sources.add_argument("--out", required=True, help="output folder: <lang>.jsonl + manifest.json")
    sources.add_argument("--test-fraction", type=float, help="share of chapters held out for test (default 0.1)")
    sources.add_argument("--dev-fraction", type=float, help="share of chapters held out for dev (default 0.05)")
    sources.add_argument("--max-records", type=int, help="at most this many records per language")
    add_seed(sources)
    sources.set_defaults(handler=_sources)

    filt = subparsers.add_parser("filter", help="normalize, language-ID, length-filter and dedup records")
    filt.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of records")
    filt.add_argument("--out", required=True, help="output folder (replaced atomically)")
    filt.add_argument("--backend", help="LID backend: langid|py3langid|fasttext (default langid)")
    filt.add_argument("--model", help="fastText LID model (.bin/.ftz) for --backend fasttext")
    filt.add_argument("--langs", nargs="+", help="languages to keep, e.g. eng_Latn nya_Latn (default: all)")
    filt.add_argument("--threshold", type=float, help="minimum top-1 LID probability (default 0.5)")
    filt.add_argument("--min-chars", type=int, help="minimum characters after normalization (default 10)")
    filt.add_argument("--max-chars", type=int, help="maximum characters after normalization")
    filt.add_argument("--normalization", help="Unicode form: NFC|NFKC|none (default NFC)")
    filt.add_argument("--no-dedup", dest="dedup", action="store_const", const=False, help="keep exact duplicates")
    filt.add_argument("--text-field", help="JSON/parquet field holding the text (default text)")
    filt.set_defaults(handler=_filter)

    lid = subparsers.add_parser("lid", help="language identification models")
    commands = lid.add_subparsers(dest="lid_command", metavar="train", required=True)
    train = commands.add_parser("train", help="train a fastText LID model on labeled records")
    train.add_argument("--input", required=True, help="folder or file of records with a 'lang' field")
    train.add_argument("--out", required=True, help="model path (.bin); its manifest goes to <out>.manifest.json")
    train.add_argument("--split", help="train on this split: train|dev|test|all (default train)")
    train.add_argument("--max-per-lang", type=int, help="at most this many lines per language (seeded sample)")
    for name, kind in (("epoch", int), ("lr", float), ("dim", int), ("minn", int), ("maxn", int)):
        train.add_argument(f"--{name}", type=kind, help=f"fastText {name}")
    train.add_argument("--word-ngrams", type=int, help="fastText wordNgrams")
    train.add_argument("--bucket", type=int, help="fastText hash buckets (model size)")
    add_seed(train)
    train.set_defaults(handler=_lid_train)


def _sources(args: argparse.Namespace) -> int:
    from polytune.config import SourcesConfig
    from polytune.corpus.sources import write_sources
    from polytune.errors import ConfigError

    files: dict[str, list[str]] = {}
    for value in args.file or []:
        lang, sep, path = value.partition("=")
        if not sep or not lang or not path:
            raise ConfigError(f"--file: expected LANG=PATH, got {value!r}")
        files.setdefault(lang, []).append(path)
    options = given(args, "out", "test_fraction", "dev_fraction", "max_records", "seed")
    counts = write_sources(SourcesConfig(bible=parse_pairs(args.bible, "--bible"), files=files, **options))
    for lang, n in counts.items():
        print(f"{lang}\t{n} records")
    print(f"wrote {sum(counts.values())} records in {len(counts)} languages to {args.out}")
    return 0


def _filter(args: argparse.Namespace) -> int:
    from polytune.config import FilterConfig
    from polytune.corpus.filters import reconciliation, run_filter

    options = given(args, "inputs", "out", "backend", "model", "threshold", "min_chars", "max_chars",
                    "normalization", "dedup", "text_field")  # fmt: skip
    stats = run_filter(FilterConfig(langs=split_langs(args.langs), **options))
    print(reconciliation(stats))
    for lang, n in stats["per_lang"].items():
        print(f"  {lang}\t{n} kept")
    return 0


def _lid_train(args: argparse.Namespace) -> int:
    from polytune.config import LidTrainConfig
    from polytune.corpus.langid import train_lid

    names = ("input", "out", "split", "max_per_lang", "epoch", "lr", "dim", "minn", "maxn", "word_ngrams", "bucket")
    counts = train_lid(LidTrainConfig(**given(args, *names, "seed")))
    print(f"LID model {args.out}: {len(counts)} languages, {sum(counts.values())} lines")
    for lang, n in counts.items():
        print(f"  {lang}\t{n} lines")
    return 0

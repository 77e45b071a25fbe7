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

    filt = subparsers.add_parser("filter", help="normalize, language-ID, quality-filter and dedup records")
    filt.add_argument("inputs", nargs="+", metavar="INPUT", help="txt, jsonl(.gz), parquet, saved HF datasets")
    filt.add_argument("--out", required=True, help="output folder (replaced atomically)")
    filt.add_argument("--backend", help="LID backend: langid|py3langid|heliport|fasttext|vote (default langid)")
    filt.add_argument("--voters", nargs="+", metavar="SPEC",
                      help="--backend vote: the voting backends, e.g. heliport py3langid fasttext:glotlid.bin")
    filt.add_argument("--vote-weights", metavar="SPEC=W,...", help="--backend vote: weights, e.g. heliport=2")
    filt.add_argument("--model", help="fastText LID model (.bin/.ftz) for --backend fasttext")
    filt.add_argument("--second-backend", help="a second LID backend: an ensemble with --ensemble")
    filt.add_argument("--second-model", help="fastText model of the second backend")
    filt.add_argument("--ensemble", help="agree (both must name the same language) | fallback (default)")
    filt.add_argument("--langs", nargs="+", help="languages to keep, e.g. eng_Latn nya_Latn (default: all)")
    filt.add_argument("--threshold", help="minimum top-1 LID score: 0.5 | auto | nya_Latn=0.3,*=0.5 (default 0.5)")
    filt.add_argument("--topk", type=int, help="LID labels kept in lid_topk (default 3)")
    filt.add_argument("--mixed-margin", type=float, help="flag lid_mixed when 2nd best is this close (default 0.2)")
    filt.add_argument("--no-script-check", dest="script_check", action="store_const", const=False,
                      help="keep texts whose dominant script is not their language's")  # fmt: skip
    filt.add_argument("--min-chars", type=int, help="minimum characters after normalization (default 10)")
    filt.add_argument("--max-chars", type=int, help="maximum characters after normalization")
    filt.add_argument("--min-words", type=int, help="minimum words, split per language (default 0)")
    filt.add_argument("--max-non-letter", type=float, help="maximum fraction of non-letter characters (default 0.5)")
    filt.add_argument("--no-repetition", dest="repetition", action="store_const", const=False,
                      help="skip the Gopher repeated-line/n-gram filters")  # fmt: skip
    filt.add_argument("--normalization", help="Unicode form: NFC|NFKC|none (default NFC)")
    filt.add_argument("--whitespace", help="collapse (one line, default) | lines (keep line breaks)")
    filt.add_argument("--rules", help="YAML of per-language regex replacements applied before LID")
    filt.add_argument("--no-dedup", dest="dedup", action="store_const", const=False, help="keep exact duplicates")
    filt.add_argument("--no-near-dedup", dest="near_dedup", action="store_const", const=False,
                      help="keep MinHash near-duplicates")  # fmt: skip
    filt.add_argument("--near-threshold", type=float, help="MinHash Jaccard of a near-duplicate (default 0.8)")
    filt.add_argument("--text-field", help="JSON/parquet/dataset field holding the text (default text)")
    filt.add_argument("--tasks", type=int, help="datatrove tasks: input shards (default 1)")
    filt.add_argument("--workers", type=int, help="tasks run at once (default 1)")
    filt.add_argument("--executor", help="local (default) | ray (pip install 'polytune[cluster]')")
    filt.set_defaults(handler=_filter)

    lid = subparsers.add_parser("lid", help="language identification models")
    commands = lid.add_subparsers(dest="lid_command", metavar="{train,eval}", required=True)
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

    ev = commands.add_parser("eval", help="per-language P/R/F1, FPR, macro-F1 of LID backends side by side")
    ev.add_argument("--input", required=True, help="folder or file of records with a 'lang' field")
    ev.add_argument("--backend", action="append", required=True, metavar="[NAME=]SPEC",
                    help="langid | py3langid | heliport | fasttext:MODEL.bin, optionally named (repeatable)")
    ev.add_argument("--vote", nargs="+", metavar="NAME", help="add a `vote` column of these backends (by name)")
    ev.add_argument("--vote-weights", metavar="NAME=W,...", help="weights of the vote, e.g. heliport=2")
    ev.add_argument("--out", help="write lid_eval.json, lid_eval.md, manifest.json here")
    ev.add_argument("--split", help="evaluate on this split: train|dev|test|all (default test)")
    ev.add_argument("--langs", nargs="+", help="only records of these languages")
    ev.add_argument("--max-per-lang", type=int, help="at most this many records per language (seeded sample)")
    add_seed(ev)
    ev.set_defaults(handler=_lid_eval)


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


FILTER_OPTIONS = (
    "inputs", "out", "backend", "model", "voters", "second_backend", "second_model", "ensemble", "topk",
    "mixed_margin",
    "script_check", "min_chars", "max_chars", "min_words", "max_non_letter", "repetition", "normalization",
    "whitespace", "rules", "dedup", "near_dedup", "near_threshold", "text_field", "tasks", "workers", "executor",
)  # fmt: skip


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
    from polytune.config import FilterConfig
    from polytune.corpus.filters import reconciliation
    from polytune.corpus.steps import run_filter

    options = given(args, *FILTER_OPTIONS)
    if args.threshold is not None:
        options["threshold"] = parse_threshold(args.threshold)
    if args.vote_weights is not None:
        options["vote_weights"] = parse_threshold(args.vote_weights)
    stats = run_filter(FilterConfig(langs=split_langs(args.langs), **options))
    print(reconciliation(stats))
    for lang, n in stats["per_lang"].items():
        print(f"  {lang}\t{n} kept\tthreshold {stats['thresholds'][lang]}")
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


def _lid_eval(args: argparse.Namespace) -> int:
    from polytune.config import LidEvalConfig
    from polytune.corpus.lid_eval import evaluate_lid, markdown

    backends = dict(spec.split("=", 1) if "=" in spec else (spec.partition(":")[0], spec) for spec in args.backend)
    options = given(args, "input", "out", "split", "max_per_lang", "seed", "vote")
    if args.vote_weights is not None:
        options["vote_weights"] = parse_threshold(args.vote_weights)
    report = evaluate_lid(LidEvalConfig(backends=backends, langs=split_langs(args.langs), **options))
    print(f"{report['n']} labeled records, {len(report['langs'])} languages")
    print(markdown(report), end="")
    return 0

"""`polytune tokenizer`: extend a base tokenizer, compare fertility, or train a plain SentencePiece model.

    polytune tokenizer extend --base MODEL --input MIX --out DIR --langs nya_Latn --add 2000
    polytune tokenizer analyze --tokenizer base=MODEL --tokenizer ext=DIR --input CORPUS --out DIR
    polytune tokenizer train --input CORPUS --out DIR --vocab-size 8000 --model-type unigram
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed, parse_pairs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="extend a tokenizer's vocabulary, measure fertility, train spm")
    commands = parser.add_subparsers(dest="tokenizer_command", metavar="extend|analyze|train", required=True)

    extend = commands.add_parser("extend", help="add SentencePiece pieces learned on target text to a base vocab")
    extend.add_argument("--base", required=True, help="base model or tokenizer folder (with tokenizer.json)")
    _add_corpus(extend, split="train")
    extend.add_argument("--add", type=int, default=2000, help="add at most this many pieces (default 2000)")
    _add_spm(extend)
    extend.set_defaults(handler=_extend)

    analyze = commands.add_parser("analyze", help="fertility, UNK rate, chars/token per language and tokenizer")
    analyze.add_argument(
        "--tokenizer", action="append", required=True, metavar="NAME=PATH", help="a tokenizer (repeatable)"
    )
    _add_corpus(analyze, split="test")
    analyze.add_argument("--max-records", type=int, default=2000, help="records per language (default 2000)")
    analyze.set_defaults(handler=_analyze)

    train = commands.add_parser("train", help="train a plain SentencePiece model on a corpus")
    _add_corpus(train, split="train")
    _add_spm(train)
    train.set_defaults(handler=_train)


def _add_corpus(parser: argparse.ArgumentParser, split: str) -> None:
    parser.add_argument("--input", required=True, help="corpus or mixture folder, or a records file")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    parser.add_argument("--langs", nargs="+", default=[], help="languages to use, e.g. nya_Latn (default: all)")
    parser.add_argument("--split", default=split, help=f"records of this split: train|dev|test|all (default {split})")


def _add_spm(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vocab-size", type=int, default=8000, help="SentencePiece vocabulary size (default 8000)")
    parser.add_argument("--model-type", default="unigram", help="SentencePiece algorithm: unigram|bpe")
    parser.add_argument("--character-coverage", type=float, default=0.9995, help="share of characters covered")
    add_seed(parser)


def _extend(args: argparse.Namespace) -> int:
    from polytune.config import TokenizerExtendConfig
    from polytune.tokenizer.extend import extend_tokenizer

    cfg = TokenizerExtendConfig(
        base=args.base, input=args.input, out=args.out, langs=args.langs, add=args.add, vocab_size=args.vocab_size,
        model_type=args.model_type, character_coverage=args.character_coverage, split=args.split, seed=args.seed,
    )  # fmt: skip
    summary = extend_tokenizer(cfg)
    sizes = f"{summary['base_vocab_size']} -> {summary['vocab_size']}"
    print(f"added {summary['added']} pieces: vocab {sizes} ({args.out})")
    for lang, value in summary["fertility"].items():
        print(f"  fertility {lang}: {value['before']:.3f} -> {value['after']:.3f}")
    if summary["english_changed"]:
        print(f"  eng_Latn words tokenized differently: {100 * summary['english_changed']['words_changed']:.1f}%")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from polytune.config import TokenizerAnalyzeConfig
    from polytune.tokenizer.analyze import analyze

    cfg = TokenizerAnalyzeConfig(
        tokenizers=parse_pairs(args.tokenizer, "--tokenizer"), input=args.input, out=args.out, langs=args.langs,
        split=args.split, max_records=args.max_records,
    )  # fmt: skip
    print(analyze(cfg)["table"], end="")
    return 0


def _train(args: argparse.Namespace) -> int:
    from polytune.tokenizer.train import train_from_corpus

    summary = train_from_corpus(
        args.input, args.out, vocab_size=args.vocab_size, model_type=args.model_type,
        character_coverage=args.character_coverage, seed=args.seed, langs=args.langs, split=args.split,
    )  # fmt: skip
    print(f"trained {args.model_type} SentencePiece: {summary['vocab_size']} pieces, {summary['records']} records")
    print(f"  model: {summary['model']}")
    return 0

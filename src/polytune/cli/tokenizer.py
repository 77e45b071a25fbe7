"""`polytune tokenizer`: extend a base tokenizer, mine jargon, compare tokenizers, or train a plain SentencePiece.

    polytune tokenizer extend --base MODEL --input MIX --out DIR --langs nya_Latn --add 2000 [--jargon FILE]
    polytune tokenizer jargon --base MODEL --domain DOMAIN --general GENERAL --out DIR
    polytune tokenizer analyze --tokenizer base=MODEL --tokenizer ext=DIR --input CORPUS --out DIR
    polytune tokenizer train --input CORPUS --out DIR --vocab-size 8000 --model-type unigram
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed, parse_pairs
from polytune.cli.options import add_config_flags, config_options
from polytune.config import TokenizerAnalyzeConfig, TokenizerExtendConfig, TokenizerJargonConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="extend a tokenizer's vocabulary, mine jargon, measure, train")
    commands = parser.add_subparsers(dest="tokenizer_command", metavar="extend|jargon|analyze|train", required=True)

    extend = commands.add_parser("extend", help="add SentencePiece pieces learned on target text to a base vocab")
    add_config_flags(extend, TokenizerExtendConfig)
    extend.set_defaults(handler=_extend)

    jargon = commands.add_parser("jargon", help="mine domain terms the base splits into many tokens")
    add_config_flags(jargon, TokenizerJargonConfig)
    jargon.set_defaults(handler=_jargon)

    analyze = commands.add_parser("analyze", help="fertility, UNK rate, chars/token per language and tokenizer")
    analyze.add_argument(
        "--tokenizer", action="append", required=True, metavar="NAME=PATH", help="a tokenizer (repeatable)"
    )
    add_config_flags(analyze, TokenizerAnalyzeConfig, exclude=("tokenizers",))
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
    from polytune.tokenizer.extend import extend_tokenizer

    cfg = TokenizerExtendConfig(**config_options(args, TokenizerExtendConfig))
    summary = extend_tokenizer(cfg)
    sizes = f"{summary['base_vocab_size']} -> {summary['vocab_size']}"
    print(f"added {summary['added']} pieces: vocab {sizes} ({args.out})")
    for change in summary["normalizer"]:
        print(f"  normalizer: {change}")
    for lang, value in summary["fertility"].items():
        print(f"  fertility {lang}: {value['before']:.3f} -> {value['after']:.3f}")
    if summary["english_changed"]:
        print(f"  eng_Latn words tokenized differently: {100 * summary['english_changed']['words_changed']:.1f}%")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from polytune.tokenizer.analyze import analyze

    options = config_options(args, TokenizerAnalyzeConfig)
    cfg = TokenizerAnalyzeConfig(tokenizers=parse_pairs(args.tokenizer, "--tokenizer"), **options)
    print(analyze(cfg)["table"], end="")
    return 0


def _jargon(args: argparse.Namespace) -> int:
    from polytune.tokenizer.jargon import mine_jargon

    cfg = TokenizerJargonConfig(**config_options(args, TokenizerJargonConfig))
    result = mine_jargon(cfg)
    print(f"{len(result['terms'])} terms in {args.out}/jargon.txt (review, then: tokenizer extend --jargon)")
    for term in result["terms"][:10]:
        print(f"  {term['term']}: {term['count']}x, {term['tokens']} tokens, saves {term['saved']}")
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

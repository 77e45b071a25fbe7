"""`polytune tokenizer`: extend a base tokenizer, mine jargon, compare tokenizers, or train a plain SentencePiece.

    polytune tokenizer extend --base MODEL --input MIX --out DIR --langs nya_Latn --add 2000 [--jargon FILE]
    polytune tokenizer jargon --base MODEL --domain DOMAIN --general GENERAL --out DIR
    polytune tokenizer analyze --tokenizer base=MODEL --tokenizer ext=DIR --input CORPUS --out DIR
    polytune tokenizer train --input CORPUS --out DIR --vocab-size 8000 --model-type unigram
"""

from __future__ import annotations

import argparse

from polytune.cli.common import parse_pairs
from polytune.cli.options import add_config_flags, config_defaults, config_options
from polytune.config import TokenizerAnalyzeConfig, TokenizerExtendConfig, TokenizerJargonConfig

# `tokenizer train` (no config of its own) takes the SentencePiece fields of `tokenizer extend`, with their defaults.
TRAIN = ("input", "out", "langs", "split", "vocab_size", "model_type", "character_coverage", "seed")


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
    add_config_flags(train, TokenizerExtendConfig, TRAIN)
    train.set_defaults(handler=_train)


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

    settings = config_defaults(args, TokenizerExtendConfig, TRAIN)  # the SentencePiece settings of `extend`
    summary = train_from_corpus(settings.pop("input"), settings.pop("out"), **settings)
    print(f"trained {settings['model_type']} SentencePiece: {summary['vocab_size']} pieces, "
          f"{summary['records']} records")
    print(f"  model: {summary['model']}")
    return 0

"""`polytune tokenizer`: extend a base tokenizer, mine jargon, compare tokenizers, or train a plain SentencePiece.

    polytune tokenizer extend --base MODEL --input MIX --out DIR --langs nya_Latn --add 2000 [--jargon FILE]
    polytune tokenizer jargon --base MODEL --domain DOMAIN --general GENERAL --out DIR
    polytune tokenizer analyze --tokenizer base=MODEL --tokenizer ext=DIR --input CORPUS --out DIR
    polytune tokenizer train --input CORPUS --out DIR --vocab-size 8000 --model-type unigram
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed, parse_pairs


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="extend a tokenizer's vocabulary, mine jargon, measure, train")
    commands = parser.add_subparsers(dest="tokenizer_command", metavar="extend|jargon|analyze|train", required=True)

    extend = commands.add_parser("extend", help="add SentencePiece pieces learned on target text to a base vocab")
    extend.add_argument("--base", required=True, help="base model or tokenizer folder (with tokenizer.json)")
    _add_corpus(extend, split="train")
    extend.add_argument("--add", type=int, default=2000, help="add at most this many pieces (default 2000)")
    extend.add_argument("--jargon", default=None, help="file of domain terms, one a line: each becomes one token")
    extend.add_argument("--normalizer", default="base", choices=("base", "keep-accents", "nfc", "nfkc"),
                        help="keep the base's normalizer (default) or replace it, e.g. keep-accents")  # fmt: skip
    extend.add_argument("--input-sentence-size", type=int, default=1_000_000,
                        help="SentencePiece samples at most this many sentences (default 1000000)")  # fmt: skip
    extend.add_argument("--guard-names", action="store_true",
                        help="also keep the base split of the input's proper names (shared with English)")  # fmt: skip
    extend.add_argument("--guard-input", help="text whose words keep the base's split, e.g. the source-language "
                                              "corpus folder (besides the eng_Latn records of --input)")  # fmt: skip
    _add_spm(extend)
    extend.set_defaults(handler=_extend)

    jargon = commands.add_parser("jargon", help="mine domain terms the base splits into many tokens")
    jargon.add_argument("--base", required=True, help="base model or tokenizer folder (with tokenizer.json)")
    jargon.add_argument("--domain", required=True, help="domain corpus (folder or records file)")
    jargon.add_argument("--general", default=None, help="general corpus to contrast with (default: none)")
    jargon.add_argument("--out", required=True, help="output folder: jargon.txt, jargon.json (replaced atomically)")
    jargon.add_argument("--top", type=int, default=500, help="keep at most this many terms (default 500)")
    jargon.add_argument("--min-count", type=int, default=5, help="least count in the domain text (default 5)")
    jargon.add_argument("--min-ratio", type=float, default=10.0, help="domain/general frequency (default 10)")
    jargon.add_argument("--min-tokens", type=int, default=2, help="least base tokens per term (default 2)")
    jargon.add_argument("--split", default="all", help="records of this split: train|dev|test|all (default all)")
    jargon.set_defaults(handler=_jargon)

    analyze = commands.add_parser("analyze", help="fertility, UNK rate, chars/token per language and tokenizer")
    analyze.add_argument(
        "--tokenizer", action="append", required=True, metavar="NAME=PATH", help="a tokenizer (repeatable)"
    )
    _add_corpus(analyze, split="test")
    analyze.add_argument("--max-records", type=int, default=2000, help="records per language (default 2000)")
    analyze.add_argument("--reference", default="eng_Latn", help="parity against this language (default eng_Latn)")
    analyze.add_argument("--jargon", default=None, help="file of terms, one a line: report tokens per term")
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
        jargon=args.jargon, normalizer=args.normalizer, input_sentence_size=args.input_sentence_size,
        guard_names=args.guard_names, guard_input=args.guard_input,
    )  # fmt: skip
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
    from polytune.config import TokenizerAnalyzeConfig
    from polytune.tokenizer.analyze import analyze

    cfg = TokenizerAnalyzeConfig(
        tokenizers=parse_pairs(args.tokenizer, "--tokenizer"), input=args.input, out=args.out, langs=args.langs,
        split=args.split, max_records=args.max_records, reference=args.reference, jargon=args.jargon,
    )  # fmt: skip
    print(analyze(cfg)["table"], end="")
    return 0


def _jargon(args: argparse.Namespace) -> int:
    from polytune.config import TokenizerJargonConfig
    from polytune.tokenizer.jargon import mine_jargon

    cfg = TokenizerJargonConfig(
        base=args.base, domain=args.domain, general=args.general, out=args.out, top=args.top,
        min_count=args.min_count, min_ratio=args.min_ratio, min_tokens=args.min_tokens, split=args.split,
    )  # fmt: skip
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

"""`polytune models`: base models built offline from installed packages (the zoo), cached for reuse.

    polytune models list
    polytune models build e5-small|smollm2-135m|gemma3-270m [--out DIR] [--force]
    polytune models verify e5-small|smollm2-135m|gemma3-270m [--out DIR]
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `polytune` parser."""
    parser = subparsers.add_parser("models", help="build offline base models from installed packages (zoo)")
    commands = parser.add_subparsers(dest="models_command", metavar="list|build|verify", required=True)

    listing = commands.add_parser("list", help="the buildable models, their license and cache folder")
    listing.set_defaults(handler=_list)

    build = commands.add_parser("build", help="build a model folder (safetensors, config, tokenizer, manifest)")
    build.add_argument("name", help="zoo model name, e.g. e5-small")
    build.add_argument("--out", help="target folder (default: $POLYTUNE_HOME/models/NAME or ~/.cache/polytune/...)")
    build.add_argument("--force", action="store_true", help="rebuild even when an up-to-date build is there")
    build.set_defaults(handler=_build)

    verify = commands.add_parser("verify", help="check a built model: e5-small against its package's engine (needs "
                                    "gcc), decoders by tokenizer round trip and English perplexity")
    verify.add_argument("name", help="zoo model name, e.g. e5-small")
    verify.add_argument("--out", help="the built folder (default: the cache folder; built first if missing)")
    verify.set_defaults(handler=_verify)


def _list(args: argparse.Namespace) -> int:
    from polytune.zoo import list_models

    for row in list_models():
        state = "built" if row["built"] else "not built"
        print(f"{row['name']:<13} {row['description']}\n{'':<13} license: {row['license']}\n"
              f"{'':<13} needs: {row['install']}\n{'':<13} {state}: {row['path']}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from polytune.io import read_json
    from polytune.zoo import build_model

    folder = build_model(args.name, out=args.out, force=args.force)
    record = read_json(folder / "manifest.json", "zoo manifest")
    counts, check = record["counts"], record.get("verification")
    print(f"{args.name}: {counts['parameters']:,} parameters, vocabulary {counts['vocab_size']:,}: {folder}")
    if check:
        print(f"verified: English perplexity {check['perplexity']:.2f} (bound {check['max_perplexity']}), "
              "tokenizer round trip in 10 languages")
    print(f"use it as `base: {folder}` or `base: zoo:{args.name}`")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from polytune.zoo import verify_model

    result = verify_model(args.name, out=args.out)
    if "perplexity" in result:
        return _print_decoder_check(result)
    for row in result["rows"]:
        ids = "equal" if row["ids_equal"] else "DIFFER"
        print(f"{row['lang']:<9} {row['prefix']:<8} cosine {row['cosine']:.6f}  ids {ids}  ({row['tokens']} tokens)")
    print(f"min cosine {result['min_cosine']:.6f}, token ids {'equal' if result['ids_equal'] else 'differ'} "
          f"(reference: {result['engine']})")
    return 0 if result["ok"] else 1


def _print_decoder_check(result: dict) -> int:
    for row in result["rows"]:
        print(f"{row['lang']:<9} round trip {'ok' if row['round_trip'] else 'DIFFERS'}  ({row['tokens']} tokens)")
    print(f"English perplexity {result['perplexity']:.2f} on {result['texts']} KJV verses ({result['tokens']} "
          f"tokens), bound {result['max_perplexity']}: {'ok' if result['ok'] else 'FAILED'}")
    return 0 if result["ok"] else 1

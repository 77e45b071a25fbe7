"""`polytune explain`: why a classifier task adapter decides what it does, per system and language.

    polytune explain --base MODEL --task-adapter DIR --input CORPUS --out DIR --langs nya_Latn ara_Arab \\
        --system task-only --system la=runs/la/{lang} [--max-records 200] [--n-steps 32] \\
        [--record-ids B1.1.1 B2.6.3] [--layer 5 --head 0 | --rollout]

Writes DIR/explain.json (every record's word attributions, per-language summaries), DIR/explain.html (highlighted
records, top words per class, attention heatmaps) and DIR/manifest.json. Systems are given as in `polytune eval`.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("explain", help="word attributions (Integrated Gradients) and attention maps")
    parser.add_argument("--base", required=True, help="base model folder (or hub id)")
    parser.add_argument("--task-adapter", required=True, help="sequence-classification task adapter folder")
    parser.add_argument("--input", required=True, help="filtered corpus folder")
    parser.add_argument("--out", required=True, help="output folder (explain.json, explain.html)")
    parser.add_argument("--langs", nargs="+", default=[], help="languages, e.g. nya_Latn ara_Arab (default: all)")
    parser.add_argument("--system", action="append", default=[], metavar="NAME[=PATTERN]",
                        help="a system as in `polytune eval` (repeatable; default: the task adapter alone)")
    parser.add_argument("--split", default="test", help="records of this split (default test)")
    parser.add_argument("--max-records", type=int, default=200, help="records per language (default 200)")
    parser.add_argument("--n-steps", type=int, default=32, help="Integrated Gradients steps (default 32)")
    parser.add_argument("--baseline", choices=("pad", "mask"), default="pad",
                        help="IG baseline: every piece replaced by the pad or the mask id (default pad)")
    parser.add_argument("--record-ids", nargs="+", default=[], metavar="ID", help="records to draw attention for")
    parser.add_argument("--layer", type=int, help="attention layer, 0-based (default: the last)")
    parser.add_argument("--head", type=int, help="attention head, 0-based (default: the mean of the heads)")
    parser.add_argument("--rollout", action="store_true", help="attention rollout over all layers instead")
    parser.add_argument("--top-k", type=int, default=10, help="words listed per class (default 10)")
    parser.add_argument("--batch-size", type=int, default=8, help="records per IG batch (default 8)")
    parser.add_argument("--max-length", type=int, default=64, help="truncate records to this many tokens")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from polytune.cli.evaluate import systems_from_specs
    from polytune.evaluation.predict.explain import ExplainConfig, explain

    cfg = ExplainConfig(
        base=args.base, task_adapter=args.task_adapter, input=args.input, out=args.out, langs=args.langs,
        systems=systems_from_specs(args.system), split=args.split, max_records=args.max_records,
        record_ids=args.record_ids, n_steps=args.n_steps, baseline=args.baseline, layer=args.layer, head=args.head,
        rollout=args.rollout, top_k=args.top_k, batch_size=args.batch_size, max_length=args.max_length,
    )  # fmt: skip
    result = explain(cfg)
    print(f"explanations: {args.out}/explain.html")
    for system, langs in result["results"].items():
        for lang, one in langs.items():
            s = one["summary"]
            share = 100 * s["new_vocab_share"]
            print(f"  {system} / {lang}: {s['records']} records, new-vocabulary share {share:.1f}%")
    return 0

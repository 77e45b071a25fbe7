"""`polytune eval`: predict with each system and score, or score prediction files made by anything.

Two forms (the second is an argparse sub-subcommand; without it, `eval` predicts and scores):

    polytune eval --base MODEL --task-adapter DIR --input CORPUS --out DIR --langs nya_Latn ara_Arab \\
        --system task-only --system la+vocab=runs/la/{lang} --baseline task-only [--suite eval/suites]
    polytune eval score --predictions DIR --out DIR [--baseline NAME] [--bootstrap 1000] [--seed 13]
    polytune eval score --refs refs.tsv --hyp mt-a=a.tsv --hyp mt-b=b.tsv --out DIR [--metrics bleu chrf ter]

`--retrieval --source-lang eng_Latn` and `--intrinsic` add the probes that need no task adapter (bitext retrieval
acc@k, held-out LM loss); with them, --task-adapter may be left out. `--system NAME=PATTERN` adds a language
adapter per language ('{lang}' becomes each language key); a bare NAME is the base with the task adapter alone.
`eval score` reads DIR/predictions/<system>/<lang>.jsonl (or DIR/<system>/<lang>.jsonl), lines {"id", "label",
"pred"}; with --refs it imports TSV/JSONL/TXT files first.
"""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate systems per language (or `eval score` prediction files)")
    # Not argparse-required: `eval score` shares this parser; the run handler checks them instead.
    parser.add_argument("--base", help="base model folder (or hub id)")
    parser.add_argument("--task-adapter", help="task adapter folder")
    parser.add_argument("--input", help="filtered corpus folder")
    parser.add_argument("--out", help="report folder (predictions/, report.json, report.md)")
    parser.add_argument("--langs", nargs="+", default=[], help="languages to evaluate, e.g. nya_Latn ara_Arab")
    parser.add_argument(
        "--system", action="append", default=[], metavar="NAME[=PATTERN]", help="a system (repeatable)"
    )
    parser.add_argument("--baseline", help="system the others are compared with (default: the first)")
    parser.add_argument("--split", default="test", help="evaluate on records of this split (default test)")
    parser.add_argument("--max-records", type=int, help="at most this many records per language")
    _add_generation(parser)
    _add_probes(parser)
    parser.add_argument("--suite", help="eval suite file or folder (eval/suites): per-language split, metrics, ...")
    _add_bootstrap(parser)
    parser.set_defaults(handler=_run)

    commands = parser.add_subparsers(dest="eval_command", metavar="score", required=False)
    score = commands.add_parser("score", help="score existing prediction files, or references + hypotheses")
    src = score.add_mutually_exclusive_group(required=True)
    src.add_argument("--predictions", help="folder with predictions/<system>/<lang>.jsonl")
    src.add_argument("--refs", help="references: .tsv/.jsonl with lang and text columns, or .txt with --lang")
    score.add_argument("--hyp", action="append", default=[], metavar="NAME=FILE", help="a system's outputs (repeat)")
    score.add_argument("--lang", help="language of rows without a lang column (all of a .txt file)")
    score.add_argument("--out", required=True, help="report folder")
    score.add_argument("--baseline", help="system the others are compared with (default: first by name)")
    score.add_argument("--langs", nargs="+", default=None, help="score only these languages")
    score.add_argument("--metrics", nargs="+", default=None, help="metric names (default: chosen from the labels)")
    score.add_argument("--fertility", help="analysis/fertility.json to show beside the scores")
    score.add_argument("--corpus", help="corpus folder (manifest counts per language) for the gain-vs-size plot")
    score.add_argument("--lang-info", help='JSON {lang: {"tier": 2, "seen": true}} for the report')
    _add_bootstrap(score)
    score.set_defaults(handler=_score)


def _add_generation(parser: argparse.ArgumentParser) -> None:
    """Decoding settings for seq2seq and causal_lm task adapters (ignored by classifiers and taggers)."""
    group = parser.add_argument_group("generation (seq2seq and causal_lm task adapters)")
    group.add_argument("--num-beams", type=int, default=1, help="beam size (default 1: greedy)")
    group.add_argument("--max-new-tokens", type=int, default=64, help="longest hypothesis in tokens (default 64)")
    group.add_argument("--length-penalty", type=float, default=1.0, help="beam length penalty exponent (default 1)")
    group.add_argument("--no-repeat-ngram-size", type=int, default=0, help="never repeat an n-gram of N (default 0)")


def _layer(value: str) -> int | float:
    """`--retrieval-layer 8` is an index, `--retrieval-layer 0.667` a share of the depth."""
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            message = f"expected a layer index or a share of the depth, got {value!r}"
            raise argparse.ArgumentTypeError(message) from None


def _add_probes(parser: argparse.ArgumentParser) -> None:
    """The probes that need no task adapter (bitext retrieval, intrinsic LM loss)."""
    group = parser.add_argument_group("probes (need no task adapter: --task-adapter may be left out)")
    group.add_argument("--retrieval", action="store_true", help="bitext retrieval acc@1/@10 against --source-lang")
    group.add_argument("--intrinsic", action="store_true", help="held-out LM loss (masked LM / next token)")
    group.add_argument("--source-lang", help="retrieval: language paired with each target by record id")
    group.add_argument("--retrieval-layer", type=_layer, default=0.667,
                       help="hidden states pooled: an index (0 = embeddings) or a share of the depth (default 0.667: "
                            "layer 8 of 12, 4 of 6)")  # fmt: skip
    group.add_argument("--mask-probability", type=float, default=0.15, help="intrinsic: share masked (0.15)")
    group.add_argument("--probe-max-records", type=int, help="probes: at most this many records per language")


def _add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument(
        "--significance", choices=("bootstrap", "randomization"), default="bootstrap",
        help="paired test of Δ vs the baseline (default bootstrap; randomization: approximate randomization)",
    )  # fmt: skip
    add_seed(parser)


def _print(report: dict, out: str) -> None:
    from polytune.evaluation.report import summary_lines

    k = report["average"]["languages"]
    print(f"report: {out}/report.md ({k} language{'s' * (k != 1)}, baseline {report['baseline']})")
    for line in summary_lines(report):
        print(f"  average {line}")


def systems_from_specs(specs: list[str]) -> list:
    """`--system` values as SystemConfigs. Example: ["la=runs/{lang}"] -> [SystemConfig("la", "runs/{lang}")].

    A bare NAME is the base with the task adapter alone; NAME=PATTERN adds the language adapter at PATTERN.
    """
    from polytune.config import SystemConfig

    return [SystemConfig(name=n, lang_adapter=p or None) for n, _, p in (s.partition("=") for s in specs)]


def _run(args: argparse.Namespace) -> int:
    from polytune.config import EvalConfig
    from polytune.errors import ConfigError
    from polytune.evaluation.report import run_eval

    missing = [f"--{k.replace('_', '-')}" for k in ("base", "input", "out") if not getattr(args, k)]
    if not (args.task_adapter or args.retrieval or args.intrinsic):
        missing.append("--task-adapter (or --retrieval / --intrinsic)")
    if missing:
        raise ConfigError(f"eval: missing {', '.join(missing)} (or use `polytune eval score` on prediction files)")
    cfg = EvalConfig(
        base=args.base, task_adapter=args.task_adapter, input=args.input, out=args.out,
        systems=systems_from_specs(args.system), langs=args.langs, baseline=args.baseline, split=args.split,
        max_records=args.max_records, bootstrap=args.bootstrap, seed=args.seed,
        suite=args.suite, significance=args.significance, num_beams=args.num_beams,
        max_new_tokens=args.max_new_tokens, length_penalty=args.length_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size, retrieval=args.retrieval, intrinsic=args.intrinsic,
        source_lang=args.source_lang, retrieval_layer=args.retrieval_layer, mask_probability=args.mask_probability,
        probe_max_records=args.probe_max_records,
    )  # fmt: skip
    _print(run_eval(cfg), args.out)
    return 0


def _score(args: argparse.Namespace) -> int:
    from polytune.evaluation.imports import parse_hyp_specs, score_files
    from polytune.evaluation.report import build_report

    options = dict(
        baseline=args.baseline, metrics=args.metrics, n_resamples=args.bootstrap, seed=args.seed, langs=args.langs,
        fertility=args.fertility, corpus=args.corpus, lang_info=args.lang_info, significance=args.significance,
    )  # fmt: skip
    if args.refs:
        report = score_files(args.refs, parse_hyp_specs(args.hyp), args.out, args.lang, **options)
    else:
        report = build_report(args.predictions, args.out, **options)
    _print(report, args.out)
    return 0

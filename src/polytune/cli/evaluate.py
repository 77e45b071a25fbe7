"""`polytune eval`: predict with each system and score, or score prediction files made by anything.

Two forms (the second is an argparse sub-subcommand; without it, `eval` predicts and scores):

    polytune eval --base MODEL --task-adapter DIR --input CORPUS --out DIR --langs nya_Latn ara_Arab \\
        --system task-only --system la+vocab=runs/la/{lang} --baseline task-only [--suite eval/suites]
    polytune eval score --predictions DIR --out DIR [--baseline NAME] [--bootstrap 1000] [--seed 13]
    polytune eval score --refs refs.tsv --hyp mt-a=a.tsv --hyp mt-b=b.tsv --out DIR [--metrics bleu chrf ter]

`--benchmark NAME` (sib200, belebele, flores200, xnli, wikiann, tatoeba) evaluates on a standard benchmark loaded with
`datasets.load_dataset` instead of --input (`--benchmark-path` for a local copy); without --task-adapter a decoder
base answers by itself. `--retrieval --source-lang eng_Latn` and `--intrinsic` add the probes that need no task
adapter (bitext retrieval acc@k, held-out LM loss); with them, --task-adapter may be left out.
`--system NAME=PATTERN` adds a language adapter per language ('{lang}' becomes each language key); a bare NAME is
the base with the task adapter alone.
`eval score` reads DIR/predictions/<system>/<lang>.jsonl (or DIR/<system>/<lang>.jsonl), lines {"id", "label",
"pred"}; with --refs it imports TSV/JSONL/TXT files first.
"""

from __future__ import annotations

import argparse

from polytune.cli.options import add_config_flags, config_defaults, config_options
from polytune.config import EvalConfig

BOOTSTRAP = ("bootstrap", "significance", "seed")  # flags `eval` and `eval score` share


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate systems per language (or `eval score` prediction files)")
    # Not argparse-required: `eval score` shares this parser; the run handler checks them instead.
    # Not --lang-info / --fertility here: `eval score --lang` must stay unambiguous (argparse reads every option).
    main = ("base", "task_adapter", "input", "out", "langs", "baseline", "split", "max_records", "label_field",
            "batch_size", "max_length", "metrics", "suite")  # fmt: skip
    add_config_flags(parser, EvalConfig, main, optional=("base", "input", "out"))
    parser.add_argument("--system", action="append", metavar="NAME[=PATTERN]", help="a system (repeatable)")
    add_config_flags(parser.add_argument_group("standard benchmarks"), EvalConfig, ("benchmark", "benchmark_path"))
    _add_generation(parser)
    _add_probes(parser)
    add_config_flags(parser, EvalConfig, BOOTSTRAP)
    parser.set_defaults(handler=_run)

    commands = parser.add_subparsers(dest="eval_command", metavar="score", required=False)
    score = commands.add_parser("score", help="score existing prediction files, or references + hypotheses")
    src = score.add_mutually_exclusive_group(required=True)
    src.add_argument("--predictions", help="folder with predictions/<system>/<lang>.jsonl")
    src.add_argument("--refs", help="references: .tsv/.jsonl with lang and text columns, or .txt with --lang")
    score.add_argument("--hyp", action="append", default=[], metavar="NAME=FILE", help="a system's outputs (repeat)")
    score.add_argument("--lang", help="language of rows without a lang column (all of a .txt file)")
    score.add_argument("--corpus", help="corpus folder (manifest counts per language) for the gain-vs-size plot")
    add_config_flags(score, EvalConfig, ("out", "baseline", "langs", "metrics", "fertility", "lang_info", *BOOTSTRAP),
                     required=("out",))  # fmt: skip
    score.set_defaults(handler=_score)


def _add_generation(parser: argparse.ArgumentParser) -> None:
    """Decoding settings for seq2seq and causal_lm task adapters (ignored by classifiers and taggers)."""
    group = parser.add_argument_group("generation (seq2seq and causal_lm task adapters)")
    flags = ("num_beams", "max_new_tokens", "length_penalty", "no_repeat_ngram_size", "repetition_penalty")
    add_config_flags(group, EvalConfig, flags)


def _add_probes(parser: argparse.ArgumentParser) -> None:
    """The probes that need no task adapter (bitext retrieval, intrinsic LM loss)."""
    group = parser.add_argument_group("probes (need no task adapter: --task-adapter may be left out)")
    names = ("retrieval", "intrinsic", "source_lang", "retrieval_layer", "retrieval_depth", "mask_probability",
             "probe_max_records")
    add_config_flags(group, EvalConfig, names)


def _print(report: dict, out: str) -> None:
    from polytune.evaluation.report import summary_lines

    k = report["average"]["languages"]
    print(f"report: {out}/report.md ({k} language{'s' * (k != 1)}, baseline {report['baseline']})")
    for line in summary_lines(report):
        print(f"  average {line}")


def systems_from_specs(specs: list[str]) -> list:
    """`--system` values as SystemConfigs.

    Example: ["la=runs/{lang}"] -> [SystemConfig(name="la", lang_adapter="runs/{lang}")].

    A bare NAME is the base with the task adapter alone; NAME=PATTERN adds the language adapter at PATTERN.
    """
    from polytune.config import SystemConfig

    return [SystemConfig(name=n, lang_adapter=p or None) for n, _, p in (s.partition("=") for s in specs)]


def _run(args: argparse.Namespace) -> int:
    from polytune.errors import ConfigError
    from polytune.evaluation.run import run_eval

    needed = ("base", "out") if args.benchmark else ("base", "input", "out")
    missing = [f"--{k.replace('_', '-')}" for k in needed if not getattr(args, k)]
    if not (args.task_adapter or args.retrieval or args.intrinsic or args.benchmark):
        missing.append("--task-adapter (or --retrieval / --intrinsic), or --benchmark")
    if missing:
        raise ConfigError(f"eval: missing {', '.join(missing)} (or use `polytune eval score` on prediction files)")
    cfg = EvalConfig(systems=systems_from_specs(args.system or []), **config_options(args, EvalConfig))
    if cfg.benchmark is None:
        _print(run_eval(cfg), args.out)
        return 0
    from polytune.evaluation.benchmarks import run_benchmark

    report = run_benchmark(cfg)
    for part, sub in report.get("parts", {"": report}).items():
        _print(sub, f"{args.out}/{part}" if part else args.out)
    return 0


def _score(args: argparse.Namespace) -> int:
    from polytune.evaluation.imports import parse_hyp_specs, score_files
    from polytune.evaluation.report import build_report

    names = ("baseline", "metrics", "langs", "fertility", "lang_info", *BOOTSTRAP)
    settings = config_defaults(args, EvalConfig, names)  # what `eval score` leaves out: EvalConfig's defaults
    options = {"n_resamples": settings.pop("bootstrap"), "corpus": args.corpus, **settings}
    options["metrics"], options["langs"] = options["metrics"] or None, options["langs"] or None  # []: chosen / all
    if args.refs:
        report = score_files(args.refs, parse_hyp_specs(args.hyp), args.out, args.lang, **options)
    else:
        report = build_report(args.predictions, args.out, **options)
    _print(report, args.out)
    return 0

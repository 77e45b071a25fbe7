"""Every extension point as one table: name -> "module:attr", imported only when that name is used.

A new LID backend, metric, tokenizer family, balance strategy, augmentation, task type, objective, adapter
method or benchmark task type is its own module (or class) plus one row here. config.py validates names against
these tables, the CLI lists them, and each stage builds what a name points at with `load(kind, name)`. This module
imports nothing heavy (no torch, no stage): naming a thing never loads it.

Example: load("lid_backends", "langid") -> the LangidBackend class; names("balance_strategies") -> ("manual", ...)
"""

from __future__ import annotations

import importlib
from typing import Any

from polytune.errors import ConfigError, did_you_mean

# kind -> {name -> "module:attr"}. Rows are what exists; what a row's target must be is said per kind below.
TABLES: dict[str, dict[str, str]] = {
    # A LidBackend subclass (corpus/langid.py), built as cls(model_path_or_None).
    "lid_backends": {
        "langid": "polytune.corpus.langid:LangidBackend",
        "py3langid": "polytune.corpus.langid:Py3LangidBackend",
        "fasttext": "polytune.corpus.langid:FastTextBackend",
        "heliport": "polytune.corpus.lid_heliport:HeliportBackend",  # GPLv3: the optional extra polytune[lid-gpl]
    },
    # A Metric subclass (evaluation/metrics/base.py), built as cls(**options); the row's name is its `name`.
    "metrics": {
        "accuracy": "polytune.evaluation.metrics.classes:Accuracy",
        "micro_f1": "polytune.evaluation.metrics.classes:MicroF1",
        "macro_f1": "polytune.evaluation.metrics.classes:MacroF1",
        "bleu": "polytune.evaluation.metrics.text:Bleu",
        "chrf": "polytune.evaluation.metrics.text:Chrf",
        "chrf_pp": "polytune.evaluation.metrics.text:ChrfPlusPlus",
        "ter": "polytune.evaluation.metrics.text:Ter",
        "exact_match": "polytune.evaluation.metrics.text:ExactMatch",
        "ner_f1": "polytune.evaluation.metrics.ner:NerF1",
        "pearson": "polytune.evaluation.metrics.regression:Pearson",
        "spearman": "polytune.evaluation.metrics.regression:Spearman",
        "rmse": "polytune.evaluation.metrics.regression:RMSE",
    },
    # A Family subclass (tokenizer/families/base.py), keyed by tokenizer.json's model type.
    "tokenizer_families": {
        "WordPiece": "polytune.tokenizer.families.wordpiece:WordPieceFamily",
        "Unigram": "polytune.tokenizer.families.unigram:UnigramFamily",
        "BPE": "polytune.tokenizer.families.bpe:BPEFamily",
    },
    # A function (sizes, budget, options) -> budget units per language (corpus/sampling.py).
    "balance_strategies": {
        "temperature": "polytune.corpus.sampling:temperature_strategy",
        "proportional": "polytune.corpus.sampling:proportional_strategy",
        "uniform": "polytune.corpus.sampling:uniform_strategy",
        "unimax": "polytune.corpus.sampling:unimax_strategy",
        "manual": "polytune.corpus.sampling:manual_strategy",
    },
    # An AugmentOperation dataclass (corpus/augment_ops.py): its fields are the op's params, `build()` the op.
    "augment_ops": {
        "sentence_shuffle": "polytune.corpus.augment_ops:SentenceShuffle",
        "word_swap": "polytune.corpus.augment_ops:WordSwap",
        "synonyms": "polytune.corpus.augment_ops:Synonyms",
        "code_switch": "polytune.corpus.augment_ops:CodeSwitch",
        "back_translation": "polytune.corpus.augment_ops:BackTranslation",
        "lm_generate": "polytune.corpus.augment_ops:LmGenerate",
    },
    # A function (TaskAdapterConfig, train, dev) -> TaskRun (a module of adapters/tasks/ each).
    "task_types": {
        "sequence_classification": "polytune.adapters.tasks.classification:sequence_classification_run",
        "token_classification": "polytune.adapters.tasks.token_classification:token_classification_run",
        "seq2seq": "polytune.adapters.tasks.generation:seq2seq_run",
        "causal_lm": "polytune.adapters.tasks.generation:causal_lm_run",
        "regression": "polytune.adapters.tasks.regression:regression_run",
    },
    # An Objective subclass (adapters/objectives/base.py), built as cls(cfg) (align: cls(cfg, weights)).
    "objectives": {
        "mlm": "polytune.adapters.objectives.lm:MaskedLM",
        "clm": "polytune.adapters.objectives.lm:CausalLM",
        "denoise": "polytune.adapters.objectives.denoise:Denoise",
        "align": "polytune.adapters.objectives.align:Align",  # encoders: matched against the frozen base
    },
    # A BenchmarkTask subclass (evaluation/benchmarks/tasks.py): how a standard benchmark's rows become records and
    # how it is scored; a benchmark's _benchmark.yaml names its row (`task:`).
    "benchmark_tasks": {
        "classification": "polytune.evaluation.benchmarks.tasks:Classification",
        "multiple_choice": "polytune.evaluation.benchmarks.tasks:MultipleChoice",
        "translation": "polytune.evaluation.benchmarks.tasks:Translation",
        "ner": "polytune.evaluation.benchmarks.tasks:NamedEntities",
        "retrieval": "polytune.evaluation.benchmarks.tasks:Retrieval",
    },
    # A row of adapters/methods.py (peft config builder, trainable-parameter test, how it composes).
    "adapter_methods": {
        "lora": "polytune.adapters.methods:LORA",
        "dora": "polytune.adapters.methods:DORA",
        "ia3": "polytune.adapters.methods:IA3",
        "loha": "polytune.adapters.methods:LOHA",
    },
}

# How messages name one entry of each kind.
WHAT = {
    "lid_backends": "LID backend",
    "metrics": "metric",
    "tokenizer_families": "tokenizer family",
    "balance_strategies": "balance strategy",
    "augment_ops": "augmentation",
    "task_types": "task type",
    "objectives": "objective",
    "adapter_methods": "adapter method",
    "benchmark_tasks": "benchmark task type",
}


def _table(kind: str) -> dict[str, str]:
    if kind not in TABLES:
        raise ConfigError(f"unknown extension point {kind!r}{did_you_mean(kind, TABLES)}")
    return TABLES[kind]


def names(kind: str) -> tuple[str, ...]:
    """The names registered for `kind`, sorted. Example: names("task_types") -> ("causal_lm", ...)."""
    return tuple(sorted(_table(kind)))


def check(kind: str, name: Any, where: str | None = None) -> str:
    """`name` when it is registered for `kind`, else a one-line ConfigError listing the names (with did-you-mean).

    Args:
        kind: a key of TABLES.
        name: the name to check.
        where: what the message names first (default: the kind, e.g. "LID backend").
    """
    table = _table(kind)
    if not isinstance(name, str) or name not in table:
        hint = did_you_mean(name, table) if isinstance(name, str) else ""
        hint = hint if "did you mean" in hint else ""
        raise ConfigError(f"unknown {where or WHAT[kind]} {name!r}{hint}; available: {', '.join(names(kind))}")
    return name


def load(kind: str, name: str) -> Any:
    """Import and return what `name` points at in the `kind` table.

    Raises:
        ConfigError: `name` is not registered (one line, with did-you-mean), or its row points at nothing.
    """
    module, _, attr = _table(kind)[check(kind, name)].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError) as exc:
        if isinstance(exc, ModuleNotFoundError) and not module.startswith(str(exc.name)):
            raise  # a missing dependency of the module (an optional extra): its own message says what to install
        raise ConfigError(f"{WHAT[kind]} {name!r}: registry row {module}:{attr} points at nothing ({exc})") from exc

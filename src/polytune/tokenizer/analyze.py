"""Fertility, characters per token, continued-word ratio, UNK rate, normalization loss and parity per language.

Words are whitespace-separated after NFC, so every tokenizer is measured against the same word count whatever
its own pre-tokenizer does. Only the `tokenizers` library is used here (no transformers, no torch).
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from polytune.config import TokenizerAnalyzeConfig
from polytune.errors import InputError, ModelError
from polytune.io import atomic_path, manifest, read_json, write_json
from polytune.resources import resolve_resource
from polytune.tokenizer.reach import retokenized, unreachable
from polytune.tokenizer.report import describe, jargon_stats, markdown_report, normalization_stats, parity
from polytune.tokenizer.train import select_records

logger = logging.getLogger(__name__)

_WORD_RE = re.compile(r"\S+")


def tokenizer_file(name_or_path: str | Path) -> Path:
    """The tokenizer.json of a tokenizer/model folder (or `pkg:` resource), a tokenizer.json, or a cached hub id.

    Raises:
        ModelError: nothing found; the message says what to give instead.
    """
    path = Path(resolve_resource(str(name_or_path)))
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return path / "tokenizer.json"
        raise ModelError(f"no tokenizer.json in {path}: give a folder saved by a fast (Rust) tokenizer")
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(str(name_or_path), "tokenizer.json"))
    except Exception as exc:  # any hub failure (offline, unknown repo, no file) means the same for the user
        raise ModelError(
            f"tokenizer not found: {name_or_path} (give a local folder holding tokenizer.json, or a hub id "
            "that is already downloaded)"
        ) from exc


def load_tokenizer(name_or_path: str | Path):
    """Load a `tokenizers.Tokenizer` with padding and truncation off, so encodings have their natural length.

    Raises:
        ModelError: the tokenizer is missing or corrupt.
    """
    from tokenizers import Tokenizer

    file = tokenizer_file(name_or_path)
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as exc:  # the Rust loader raises a bare Exception on bad JSON or unknown types
        raise ModelError(f"tokenizer is corrupt: {file} ({exc}); rebuild or re-download it") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def unk_id(tokenizer) -> int | None:
    """The id of the unknown token of a `tokenizers.Tokenizer`, or None when its model has none (byte BPE)."""
    token = getattr(tokenizer.model, "unk_token", None)
    if token:
        return tokenizer.token_to_id(token)
    model = json.loads(tokenizer.to_str())["model"]
    return model.get("unk_id")  # Unigram stores the id itself


def _backend(tokenizer):
    """A `tokenizers.Tokenizer` without padding/truncation, from one or from a transformers fast tokenizer."""
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if backend.padding is not None or backend.truncation is not None:
        backend = Tokenizer.from_str(backend.to_str())  # a copy: never change the caller's object
        backend.no_padding()
        backend.no_truncation()
    return backend


def fertility_stats(tokenizer, texts: Iterable[str]) -> dict[str, Any]:
    """Tokenization statistics of `texts` (special tokens not counted).

    Example: with a WordPiece vocab {"ku", "##na", "mu"}, texts ["kuna mu"] give words 2, tokens 3,
    fertility 1.5, continued_word_ratio 0.5.

    Args:
        tokenizer: a `tokenizers.Tokenizer` or a transformers fast tokenizer (its backend is used).
        texts: the texts; each is NFC-normalized and split on whitespace into words.

    Returns:
        records, words, chars (NFC characters, spaces included), tokens, unk_tokens, fertility (tokens/word),
        chars_per_token, continued_word_ratio (share of words split into more than one token) and unk_rate
        (share of tokens that are the unknown token); ratios are 0.0 when their denominator is 0.
    """
    backend = _backend(tokenizer)
    unk = unk_id(backend)
    records = words = chars = tokens = unk_tokens = continued = 0
    for text in texts:
        text = unicodedata.normalize("NFC", text)
        spans = [m.span() for m in _WORD_RE.finditer(text)]
        encoding = backend.encode(text, add_special_tokens=False)
        records, words, chars, tokens = records + 1, words + len(spans), chars + len(text), tokens + len(encoding.ids)
        unk_tokens += sum(1 for i in encoding.ids if i == unk)
        ends = [end for _, end in spans]
        per_word = [0] * len(spans)
        for start, end in encoding.offsets:
            index = bisect.bisect_right(ends, start)  # first word ending after the token starts
            if end > start and index < len(spans):
                per_word[index] += 1
        continued += sum(1 for n in per_word if n > 1)
    return {
        "records": records,
        "words": words,
        "chars": chars,
        "tokens": tokens,
        "unk_tokens": unk_tokens,
        "fertility": tokens / words if words else 0.0,
        "chars_per_token": chars / tokens if tokens else 0.0,
        "continued_word_ratio": continued / words if words else 0.0,
        "unk_rate": unk_tokens / tokens if tokens else 0.0,
    }


def _texts_by_lang(cfg: TokenizerAnalyzeConfig) -> dict[str, list[tuple[str, str]]]:
    """lang -> [(id, text)] of the selected records; the parity reference language is read too."""
    wanted = list(cfg.langs) + ([cfg.reference] if cfg.langs and cfg.reference else [])
    texts: dict[str, list[tuple[str, str]]] = {}
    for record in select_records(cfg.input, wanted, cfg.split):
        lang = record.get("lang")
        if not lang:
            continue
        bucket = texts.setdefault(lang, [])
        if cfg.max_records is None or len(bucket) < cfg.max_records:
            bucket.append((str(record.get("id", len(bucket))), str(record["text"])))
    missing = [lang for lang in cfg.langs if lang not in texts]
    if missing or not texts:
        which = ", ".join(missing) or "any language"
        raise InputError(f"no {cfg.split} records of {which} in {cfg.input}; check --langs and --split")
    return dict(sorted(texts.items()))


def _jargon_terms(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"jargon list unreadable: {path} ({exc}); give a UTF-8 file, one term a line") from exc
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _measure_lang(tokenizers: dict[str, Any], rows: list[tuple[str, str]], ref: list[tuple[str, str]] | None):
    """Per tokenizer: fertility stats, normalization change/loss and parity against the reference rows."""
    texts = [text for _, text in rows]
    result = {}
    for name, tok in tokenizers.items():
        stats = {**fertility_stats(tok, texts), **normalization_stats(tok, texts)}
        stats["parity"] = parity(tok, rows, ref) if ref is not None else None
        result[name] = stats
    return result


def _extension_checks(cfg: TokenizerAnalyzeConfig, tokenizers: dict[str, Any],
                      texts: dict[str, list[tuple[str, str]]]) -> dict[str, Any] | None:  # fmt: skip
    """For each tokenizer made by `polytune tokenizer extend` (its extension.json) beside its base (the first
    tokenizer): its unreachable pieces, and per language the share of records it re-tokenizes (`reach.py`)."""
    names = list(cfg.tokenizers)
    base, out = names[0], {}
    for name in names[1:]:
        path = Path(cfg.tokenizers[name]) / "extension.json"
        if not path.is_file():
            continue
        extension = read_json(path, "extension.json")
        missing = unreachable(extension, tokenizers[name])
        out[name] = {"base": base, "added": len(extension.get("added", [])), "unreachable": len(missing),
                     "unreachable_examples": missing[:10],
                     "retokenized": {lang: retokenized(tokenizers[base], tokenizers[name], [t for _, t in rows])
                                     for lang, rows in texts.items()}}  # fmt: skip
    return out or None


def analyze(cfg: TokenizerAnalyzeConfig) -> dict[str, Any]:
    """Measure every tokenizer on every language; write fertility.json, fertility.md and manifest.json.

    Per language and tokenizer: fertility, characters per token, continued-word ratio, UNK rate, normalization
    change and loss, parity against `cfg.reference` on parallel ids; per tokenizer: what its normalizer and
    pre-tokenizer do and, with a jargon list, tokens per term; per extended tokenizer (extension.json), its
    unreachable pieces and the share of each language's records it re-tokenizes against the first tokenizer.

    Args:
        cfg: tokenizers (name -> folder), input corpus, languages, split, record cap, reference, jargon list.

    Returns:
        {"out", "results": {lang: {name: stats}}, "tokenizers": {name: description}, "jargon",
        "table": the Markdown report}.

    Raises:
        ModelError: a tokenizer is missing or corrupt.
        InputError: the input (or jargon list) is missing or holds no record of a requested language and split.
    """
    tokenizers = {name: load_tokenizer(path) for name, path in cfg.tokenizers.items()}
    texts = _texts_by_lang(cfg)
    ref = texts.get(cfg.reference) if cfg.reference else None
    results = {lang: _measure_lang(tokenizers, rows, ref) for lang, rows in texts.items()}
    terms = _jargon_terms(cfg.jargon)
    jargon = {name: jargon_stats(tok, terms) for name, tok in tokenizers.items()} if terms else None
    described = {name: describe(tok) for name, tok in tokenizers.items()}
    extension = _extension_checks(cfg, tokenizers, texts)
    table = markdown_report(results, described, jargon, cfg.reference, extension)
    data = {"split": cfg.split, "max_records": cfg.max_records, "reference": cfg.reference,
            "tokenizers": {n: {"path": str(p), **described[n]} for n, p in cfg.tokenizers.items()},
            "results": results, "jargon": jargon, "extension": extension}  # fmt: skip
    hashes = [tokenizer_file(path) for path in cfg.tokenizers.values()]
    with atomic_path(cfg.out) as tmp:
        Path(tmp).mkdir(parents=True)
        write_json(Path(tmp) / "fertility.json", data)
        (Path(tmp) / "fertility.md").write_text(table, encoding="utf-8")
        counts = {lang: len(rows) for lang, rows in texts.items()}
        inputs = [cfg.input, *hashes, *([cfg.jargon] if cfg.jargon else [])]
        write_json(Path(tmp) / "manifest.json", manifest("tokenizer.analyze", cfg, inputs, counts))
    logger.info("analyzed %d tokenizers on %d languages: %s", len(tokenizers), len(results), cfg.out)
    return {"out": str(cfg.out), "results": results, "tokenizers": described, "jargon": jargon, "table": table}

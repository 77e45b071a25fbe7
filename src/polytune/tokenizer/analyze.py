"""Fertility, characters per token, continued-word ratio and UNK rate per language, tokenizers side by side.

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
from polytune.io import atomic_path, manifest, resolve_resource, write_json
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


def _texts_by_lang(cfg: TokenizerAnalyzeConfig) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for record in select_records(cfg.input, cfg.langs, cfg.split):
        lang = record.get("lang")
        if not lang:
            continue
        bucket = texts.setdefault(lang, [])
        if cfg.max_records is None or len(bucket) < cfg.max_records:
            bucket.append(str(record["text"]))
    missing = [lang for lang in cfg.langs if lang not in texts]
    if missing or not texts:
        which = ", ".join(missing) or "any language"
        raise InputError(f"no {cfg.split} records of {which} in {cfg.input}; check --langs and --split")
    return dict(sorted(texts.items()))


def markdown_table(results: dict[str, dict[str, dict[str, Any]]], names: list[str]) -> str:
    """A language x tokenizer table of "fertility / UNK rate". Example cell: "1.50 / 0.0%"."""
    lines = ["| language | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for lang, row in results.items():
        cells = [f"{row[n]['fertility']:.2f} / {100 * row[n]['unk_rate']:.1f}%" for n in names]
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def analyze(cfg: TokenizerAnalyzeConfig) -> dict[str, Any]:
    """Measure every tokenizer on every language; write fertility.json, fertility.md and manifest.json.

    Args:
        cfg: tokenizers (name -> folder), input corpus, languages, split and record cap.

    Returns:
        {"out", "results": {lang: {name: stats}}, "table": the markdown table}.

    Raises:
        ModelError: a tokenizer is missing or corrupt.
        InputError: the input is missing or holds no record of a requested language and split.
    """
    tokenizers = {name: load_tokenizer(path) for name, path in cfg.tokenizers.items()}
    texts = _texts_by_lang(cfg)
    results = {}
    for lang, rows in texts.items():
        results[lang] = {name: fertility_stats(tok, rows) for name, tok in tokenizers.items()}
    names = list(tokenizers)
    table = markdown_table(results, names)
    data = {"split": cfg.split, "max_records": cfg.max_records, "tokenizers": dict(cfg.tokenizers), "results": results}
    hashes = [tokenizer_file(path) for path in cfg.tokenizers.values()]
    with atomic_path(cfg.out) as tmp:
        Path(tmp).mkdir(parents=True)
        write_json(Path(tmp) / "fertility.json", data)
        (Path(tmp) / "fertility.md").write_text(table, encoding="utf-8")
        counts = {lang: len(rows) for lang, rows in texts.items()}
        write_json(Path(tmp) / "manifest.json", manifest("tokenizer.analyze", cfg, [cfg.input, *hashes], counts))
    logger.info("fertility of %d tokenizers on %d languages: %s", len(names), len(results), cfg.out)
    return {"out": str(cfg.out), "results": results, "table": table}

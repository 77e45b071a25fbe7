"""Translation pairs for aligned language adapters: from a corpus (records of two languages sharing an `id`, as
the Bible sources write them) or from a TSV/JSONL file of pairs.

Test data never trains: a corpus pair is used only when neither side is in the test split, and a file pair is
dropped when its id, its source text or its target text belongs to a test record of the corpus.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polytune.errors import InputError
from polytune.io import iter_records
from polytune.langcodes import is_key

log = logging.getLogger(__name__)


def _records(corpus: Path, lang: str) -> list[dict[str, Any]]:
    """Every record of `lang` in the corpus; none when the language has no folder."""
    if not is_key(lang):
        raise InputError(f"language {lang!r} is not an xxx_Scrp key; normalize it first")
    folder = corpus / lang
    return list(iter_records(folder)) if folder.is_dir() else []


def _norm(text: str) -> str:
    """Text compared against the test split: whitespace collapsed. Example: " a  b " -> "a b"."""
    return " ".join(str(text).split())


def corpus_pairs(
    corpus: str | Path, lang: str, source_lang: str, splits: tuple[str, ...]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Pairs of target records of `splits` and the source records sharing their id, per split.

    A pair is kept only when neither side is a test record (splits are per chapter in polytune's sources, but a
    corpus built otherwise could split the two languages differently).

    Args:
        corpus: filtered corpus folder (`<corpus>/<lang>/`).
        lang: the target language key.
        source_lang: the source language key.
        splits: the target splits to pair, e.g. ("train", "dev").

    Returns:
        ({split: [{"id", "source", "target"}]}, counts): counts of pairs kept per split and of `excluded_test`.
    """
    corpus = Path(corpus)
    source = {r.get("id"): r for r in _records(corpus, source_lang) if r.get("id") is not None}
    pairs: dict[str, list[dict[str, Any]]] = {split: [] for split in splits}
    excluded = 0
    for record in _records(corpus, lang):
        match = source.get(record.get("id"))
        if match is None:
            continue
        if "test" in (match.get("split"), record.get("split")):
            excluded += 1
            continue
        if record.get("split") not in pairs:
            continue
        pairs[record["split"]].append({"id": record["id"], "source": match["text"], "target": record["text"]})
    counts = {f"{split}_pairs": len(rows) for split, rows in pairs.items()}
    return pairs, {**counts, "excluded_test": excluded}


def _read_tsv(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not valid UTF-8; re-encode the pairs file") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise InputError(f"{path} line {n}: expected 'source<TAB>target', got {len(parts)} field(s)")
        rows.append({"id": f"{path.name}:{n}", "source": parts[0], "target": parts[1]})
    return rows


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, record in enumerate(iter_records(path, text_field="target"), 1):
        if not isinstance(record.get("source"), str) or not record["source"].strip() or not record["text"].strip():
            raise InputError(f"{path} record {n}: needs non-empty 'source' and 'target' strings")
        rows.append({"id": record.get("id", f"{path.name}:{n}"), "source": record["source"], "target": record["text"]})
    return rows


def file_pairs(
    path: str | Path, corpus: str | Path, lang: str, source_lang: str
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Pairs from a TSV (source<TAB>target per line) or JSONL ({"source", "target", "id"?}) file, minus any pair
    whose id, source text or target text is a test record of the corpus.

    Returns:
        (pairs, counts): the kept pairs and the counts `train_pairs`, `excluded_test`.

    Raises:
        InputError: the file is missing, unreadable, malformed, or holds no pair.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"pairs file not found: {path}; give a TSV (source<TAB>target) or JSONL of pairs")
    rows = _read_jsonl(path) if path.name.endswith((".jsonl", ".jsonl.gz")) else _read_tsv(path)
    if not rows:
        raise InputError(f"{path} holds no translation pairs")
    tests = [r for lg in (lang, source_lang) for r in _records(Path(corpus), lg) if r.get("split") == "test"]
    test_ids = {r.get("id") for r in tests if r.get("id") is not None}
    test_texts = {_norm(r["text"]) for r in tests}
    kept = [r for r in rows if r["id"] not in test_ids and _norm(r["source"]) not in test_texts
            and _norm(r["target"]) not in test_texts]  # fmt: skip
    if not kept:
        raise InputError(f"every pair of {path} is in the test split of {corpus}; give pairs outside it")
    return kept, {"train_pairs": len(kept), "excluded_test": len(rows) - len(kept)}


def load_pairs(
    corpus: str | Path, lang: str, source_lang: str, parallel: str | Path | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """Train and dev pairs for an aligned adapter: the file's (train) or the corpus's, dev always from the corpus.

    Returns:
        (train, dev, counts).

    Raises:
        InputError: no train pair at all (no shared ids, or a bad pairs file).
    """
    dev_pairs, counts = corpus_pairs(corpus, lang, source_lang, ("train", "dev"))
    if parallel is not None:
        train, file_counts = file_pairs(parallel, corpus, lang, source_lang)
        counts = {**counts, **file_counts}
    else:
        train = dev_pairs["train"]
    if not train:
        raise InputError(
            f"no train records of {lang} share an id with a {source_lang} record under {corpus}: add the source "
            "language to the corpus (same ids), or give a pairs file (parallel)"
        )
    log.info("align pairs %s<-%s: %s", lang, source_lang, counts)
    return train, dev_pairs["dev"], counts

"""Mine domain jargon: frequent, domain-specific words that the base tokenizer splits into many tokens.

A candidate is a word of the domain text (letters, digits, inner ' or -), counted case-insensitively under its most
frequent spelling. It is kept when it appears at least `min_count` times, is `min_ratio` times more frequent (per
word) in the domain than in the general text (add-one smoothing, so a word absent from the general text counts
as seen once), and the base tokenizer splits it into at least `min_tokens` tokens (an unknown token counts one
per character it hides). Kept terms are ranked by
tokens saved in the domain text if each became one token: count x (tokens - 1).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from polytune.config import TokenizerJargonConfig
from polytune.errors import InputError
from polytune.io import atomic_path, manifest, write_json
from polytune.resources import resolved
from polytune.tokenizer.analyze import load_tokenizer, tokenizer_file, unk_id
from polytune.tokenizer.train import select_records

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w(?:[\w'’-]*\w)?")


def count_words(path: Path, split: str) -> tuple[Counter, Counter, int]:
    """Case-folded word counts, spelling counts and the number of records of a corpus.

    Example: records ["Kidney kidney"] -> ({"kidney": 2}, {"Kidney": 1, "kidney": 1}, 1).
    """
    folded: Counter = Counter()
    spellings: Counter = Counter()
    records = 0
    for record in select_records(path, (), split):
        records += 1
        words = _WORD.findall(str(record["text"]))
        spellings.update(words)
        folded.update(word.casefold() for word in words)
    return folded, spellings, records


def _spelling(spellings: Counter) -> dict[str, str]:
    """Case-folded word -> its most frequent spelling (ties: the smallest string, for determinism)."""
    best: dict[str, tuple[int, str]] = {}
    for word, n in spellings.items():
        key = word.casefold()
        if key not in best or (-n, word) < (-best[key][0], best[key][1]):
            best[key] = (n, word)
    return {key: word for key, (_, word) in best.items()}


def _cost(base, word: str, unk: int | None) -> int:
    """Base tokens of a word, an unknown token counting one per character it hides (as extension counts it)."""
    encoding = base.encode(word, add_special_tokens=False)
    return sum(end - start if i == unk else 1 for i, (start, end) in zip(encoding.ids, encoding.offsets, strict=True))


def mine_terms(cfg: TokenizerJargonConfig, base) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The ranked terms and the record/word counts of both corpora (see the module docstring)."""
    domain, spellings, domain_records = count_words(cfg.domain, cfg.split)
    if not domain:
        raise InputError(f"no words in the domain text {cfg.domain} (split {cfg.split}); check --domain and --split")
    general, _, general_records = count_words(cfg.general, cfg.split) if cfg.general else (Counter(), Counter(), 0)
    if cfg.general and not general:
        raise InputError(f"no words in the general text {cfg.general} (split {cfg.split}); check --general")
    d_total, g_total = sum(domain.values()), sum(general.values())
    spelled, unk = _spelling(spellings), unk_id(base)
    terms = []
    for key, count in domain.items():
        if count < cfg.min_count:
            continue
        ratio = (count / d_total) / ((general[key] + 1) / (g_total + 1)) if cfg.general else None
        if ratio is not None and ratio < cfg.min_ratio:
            continue
        word = spelled[key]
        tokens = _cost(base, word, unk)
        if tokens >= cfg.min_tokens:
            terms.append({"term": word, "count": count, "general_count": general[key],
                          "ratio": round(ratio, 3) if ratio is not None else None, "tokens": tokens,
                          "saved": count * (tokens - 1)})  # fmt: skip
    terms.sort(key=lambda t: (-t["saved"], -t["count"], t["term"]))
    counts = {"domain_records": domain_records, "domain_words": d_total, "general_records": general_records,
              "general_words": g_total}  # fmt: skip
    return terms[: cfg.top], counts


def mine_jargon(cfg: TokenizerJargonConfig) -> dict[str, Any]:
    """Mine jargon and write jargon.txt (one term a line, for review and `extend --jargon`), jargon.json, manifest.

    Args:
        cfg: base tokenizer, domain and general corpora, thresholds and how many terms to keep.

    Returns:
        {"out", "terms": [{term, count, general_count, ratio, tokens, saved}], "counts"}.

    Raises:
        ModelError: the base tokenizer is missing or corrupt.
        InputError: a corpus is missing, unreadable or holds no words.
    """
    cfg = resolved(cfg)  # a zoo: or pkg: base becomes its folder (the manifest records the folder)
    base = load_tokenizer(cfg.base)
    terms, counts = mine_terms(cfg, base)
    with atomic_path(cfg.out) as tmp:
        Path(tmp).mkdir(parents=True)
        lines = "".join(f"{t['term']}\n" for t in terms)
        (Path(tmp) / "jargon.txt").write_text(lines, encoding="utf-8")
        write_json(Path(tmp) / "jargon.json", {"base": str(cfg.base), "terms": terms, **counts})
        inputs = [cfg.domain, *([cfg.general] if cfg.general else []), tokenizer_file(cfg.base)]
        write_json(Path(tmp) / "manifest.json", manifest("tokenizer.jargon", cfg, inputs, {"terms": len(terms)}))
    logger.info("mined %d jargon terms: %s", len(terms), cfg.out)
    return {"out": str(cfg.out), "terms": terms, "counts": counts}

"""Word counts of the extension input and the before/after figures of an extension (fertility, UNK, English).

Words here are the base tokenizer's words (normalizer, pre-tokenizer, family marker split): the model runs on
each such word separately, so tokenizing distinct words once and weighting by frequency is exact and fast.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ENGLISH = "eng_Latn"
# English records kept for the guard: enough for a whole Bible (the guard only sees names and rare words it has
# read, so more reference English means fewer changed English sentences; 2,000 verses left 6% of MiniLM's changed).
MAX_ENGLISH_RECORDS = 50_000


@dataclass
class Scan:
    """Word counts of one pass over the input: base words per language, whitespace words, English records."""

    words: dict[str, Counter] = field(default_factory=dict)
    spaces: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)
    english: list[list[str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # capitalized words not starting a sentence (proper names)

    def total(self) -> Counter:
        return sum(self.words.values(), Counter())


def pretokenize(base, text: str) -> list[str]:
    """The base tokenizer's pre-tokens of `text`: its normalizer, then its pre-tokenizer (whitespace if none)."""
    text = base.normalizer.normalize_str(text) if base.normalizer else text
    if base.pre_tokenizer is None:
        return text.split()
    return [word for word, _ in base.pre_tokenizer.pre_tokenize_str(text)]


def tokenize_words(model, words: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """word -> its ids under a `tokenizers` model (the model runs per word, so this is exact)."""
    return {word: tuple(t.id for t in model.tokenize(word)) for word in words}


def measure(scan: Scan, base, new, unk: int | None) -> dict[str, Any]:
    """Fertility (tokens per whitespace word) and UNK rate per language before/after; English words changed."""
    every = scan.total() + Counter(w for words in scan.english for w in words)
    before, after = tokenize_words(base.model, every), tokenize_words(new.model, every)
    fertility, unk_rate = {}, {}
    langs = {**{lang: scan.words[lang] for lang in sorted(scan.words)}, "all": scan.total()}
    for lang, words in langs.items():
        spaces = scan.spaces[lang] if lang != "all" else sum(scan.spaces.values())
        for name, table in (("before", before), ("after", after)):
            tokens = sum(freq * len(table[w]) for w, freq in words.items())
            unks = sum(freq * table[w].count(unk) for w, freq in words.items()) if unk is not None else 0
            fertility.setdefault(lang, {})[name] = round(tokens / max(spaces, 1), 6)
            unk_rate.setdefault(lang, {})[name] = round(unks / max(tokens, 1), 6)
    english = None
    if scan.english:
        changed = {w for w in every if before[w] != after[w]}
        n_words = sum(len(words) for words in scan.english)
        english = {
            "records": len(scan.english),
            "records_changed": round(sum(1 for ws in scan.english if changed.intersection(ws)) / len(scan.english), 6),
            "words_changed": round(sum(1 for ws in scan.english for w in ws if w in changed) / max(n_words, 1), 6),
        }
    return {"fertility": fertility, "unk_rate": unk_rate, "english_changed": english}


def english_culprits(
    words: Iterable[str], base, new, start: int, cache: dict[str, tuple[int, ...]], unk: int | None = None
) -> set[str]:
    """New tokens (id >= start) in the new tokenization of guarded words whose tokenization changed.

    `cache` keeps the base's ids of each word across guard rounds (the base never changes). A word the base
    reads with its unknown token is not guarded: making it readable (new characters) is the point.
    """
    culprits = set()
    for word in words:
        tokens = new.model.tokenize(word)
        if not any(t.id >= start for t in tokens):
            continue
        if word not in cache:
            cache[word] = tuple(t.id for t in base.model.tokenize(word))
        ids = cache[word]
        if tuple(t.id for t in tokens) == ids or (unk is not None and unk in ids):
            continue
        culprits.update(t.value for t in tokens if t.id >= start)
    return culprits

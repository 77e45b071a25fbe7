"""The pieces of stage two that hold no state: LID thresholds from merged score histograms, exact-dedup keys and
MinHash signatures with their LSH banding. The sharded steps that use them live in `polytune.corpus.dedup_steps`.

Scores arrive rounded to 4 decimals (`filters.SCORE_DECIMALS`), so a histogram with one bin per value is the
exact score distribution: every task counts its own, the counts add up, and `auto` sees what a list of every
score would show, in constant memory.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from polytune.config import FilterConfig
from polytune.corpus.scripts import split_words
from polytune.langcodes import lookup

SCORE_BINS = 10_000  # bins per unit of score: one per 4-decimal value
SHINGLE = 5  # words (characters in unspaced scripts) per MinHash shingle, as FineWeb-2
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit multiplier that mixes word hashes into a shingle hash
PRIME = (1 << 61) - 1  # Mersenne prime of the permutations; every hash stays below it (datatrove reads up to it)
WORD_CACHE = 1 << 18  # word hashes a MinHasher remembers (~30 MB at most)
KEY_MASK = (1 << 60) - 1  # the exact key's high word, kept below PRIME for datatrove's bucket reader


def score_bin(score: float) -> int:
    """The histogram bin of a top-1 score. Example: score_bin(0.8125) -> 8125."""
    return min(SCORE_BINS, max(0, round(score * SCORE_BINS)))


def merge_histograms(parts: Iterable[Mapping[Any, int]]) -> Counter[int]:
    """Add per-task histograms ({bin: count}, keys may be JSON strings) into one."""
    total: Counter[int] = Counter()
    for part in parts:
        for key, count in part.items():
            total[int(key)] += count
    return total


def _moments(hist: Mapping[int, int]) -> tuple[int, float, float, float]:
    """(n, median, mean, population std) of the scores a histogram counts; (0, 0, 0, 0) when empty."""
    n = sum(hist.values())
    if n == 0:
        return 0, 0.0, 0.0, 0.0
    bins = sorted(hist)
    values = np.array(bins, dtype=np.float64) / SCORE_BINS
    counts = np.array([hist[b] for b in bins], dtype=np.float64)
    ends = np.cumsum(counts)
    lower = values[np.searchsorted(ends, (n - 1) // 2, side="right")]
    upper = values[np.searchsorted(ends, n // 2, side="right")]
    mean = float(np.dot(values, counts) / n)
    std = float(np.sqrt(np.dot(counts, (values - mean) ** 2) / n))
    return n, float((lower + upper) / 2), mean, std


def threshold_from(hist: Mapping[int, int]) -> float:
    """The FineWeb-2 rule on a score histogram: max(0.3, min(0.9, median - std)); 0.3 when there are no scores."""
    n, median, _, std = _moments(hist)
    return 0.3 if n == 0 else round(max(0.3, min(0.9, median - std)), 4)


def auto_threshold(scores: list[float]) -> float:
    """The FineWeb-2 rule on a list of scores. Example: auto_threshold([0.9, 1.0, 0.95]) -> 0.9."""
    return threshold_from(Counter(score_bin(s) for s in scores))


def threshold_for(lang: str, cfg: FilterConfig, hist: Mapping[int, int]) -> float:
    """The threshold used for `lang`: the config's number, its map entry ('*' or 0.5 when absent), or auto."""
    if cfg.threshold == "auto":
        return threshold_from(hist)
    if isinstance(cfg.threshold, dict):
        return float(lookup(cfg.threshold, lang, 0.5))  # a swh_Latn entry applies to py3langid's swa_Latn
    return float(cfg.threshold)


def score_summary(hist: Mapping[int, int]) -> dict[str, Any]:
    """n, median, mean, std and a 10-bin histogram ([0, 0.1), ..., [0.9, 1]) of top-1 LID scores."""
    histogram = [0] * 10
    for key, count in hist.items():
        histogram[min(9, key * 10 // SCORE_BINS)] += count
    n, median, mean, std = _moments(hist)
    if n == 0:
        return {"n": 0, "histogram": histogram}
    return {"n": n, "median": round(median, 4), "mean": round(mean, 4), "std": round(std, 4), "histogram": histogram}


def exact_key(text: str) -> tuple[int, int]:
    """The exact-dedup key of a text as two integers (124 bits of a blake2b digest); case and spacing ignored."""
    digest = hashlib.blake2b(" ".join(text.casefold().split()).encode("utf-8"), digest_size=16).digest()
    return int.from_bytes(digest[:8], "little") & KEY_MASK, int.from_bytes(digest[8:], "little")


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) with bands * rows <= num_perm that minimize the false-positive plus false-negative
    area around `threshold` (the rule datasketch's MinHashLSH uses). Example: lsh_bands(0.8, 64) -> (5, 11)."""
    grid = (np.arange(1000) + 0.5) / 1000  # midpoints of [0, 1]

    def error(bands: int, rows: int) -> float:
        p = 1 - (1 - grid**rows) ** bands  # chance that a pair of Jaccard s shares a band
        return float(np.sum(np.where(grid < threshold, p, 1 - p)) / 1000)

    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    return min(pairs, key=lambda br: (error(*br), br))


class _WordHashes(dict):
    """word -> 64-bit hash, computed on first use. Words repeat (Zipf), so most lookups are one C-level dict read;
    emptied when it holds WORD_CACHE words, which bounds its memory."""

    def __init__(self, hash_bytes: Any) -> None:
        super().__init__()
        self._hash_bytes = hash_bytes

    def __missing__(self, word: str) -> int:
        if len(self) >= WORD_CACHE:
            self.clear()
        value = self[word] = self._hash_bytes(word.encode("utf-8", "surrogatepass"))
        return value


class MinHasher:
    """MinHash signatures of texts in one language: word 5-gram shingles, `num_perm` universal-hash permutations."""

    def __init__(self, lang: str, num_perm: int, seed: int, word_hashes: dict[str, int] | None = None) -> None:
        """`word_hashes`: another hasher's, to share one bounded cache between the languages of a task."""
        import xxhash

        rng = np.random.RandomState(seed)
        self.a = rng.randint(1, PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.randint(0, PRIME, size=num_perm, dtype=np.uint64)
        self.lang = lang
        self.word_hashes = _WordHashes(xxhash.xxh64_intdigest) if word_hashes is None else word_hashes

    def _word_hashes(self, text: str) -> list[int]:
        words = split_words(text.casefold(), self.lang) or [text]
        return list(map(self.word_hashes.__getitem__, words))

    def signatures(self, texts: list[str]) -> np.ndarray:
        """An (len(texts), num_perm) uint64 array; one vectorized pass over all shingles of the batch.

        A shingle's hash combines the hashes of its SHINGLE words (a polynomial, wrapping in uint64), computed
        for every start position of the batch at once; a text shorter than SHINGLE words is one shingle.
        """
        words = [self._word_hashes(text) for text in texts]
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        flat = np.fromiter((h for w in words for h in w), dtype=np.uint64, count=int(lengths.sum()))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        width = np.minimum(lengths, SHINGLE)  # words per shingle of each text
        count = lengths - width + 1  # shingles of each text
        first = np.repeat(starts, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        span = np.repeat(width, count)
        padded = np.concatenate([flat, np.zeros(SHINGLE, dtype=np.uint64)])
        shingles = np.zeros(len(first), dtype=np.uint64)
        for offset in range(SHINGLE):  # polynomial over the words; positions past a short text's end add nothing
            term = padded[first + offset] * np.uint64(_MIX**offset % 2**64)
            shingles += np.where(offset < span, term, np.uint64(0))
        return np.minimum.reduceat(_mod_prime(shingles[:, None] * self.a + self.b), np.cumsum(count) - count, axis=0)


def _mod_prime(values: np.ndarray) -> np.ndarray:
    """values % PRIME, in place, without a division: 2^61 = 1 (mod 2^61 - 1), so x = hi * 2^61 + lo = hi + lo.

    Example: _mod_prime(np.array([2**64 - 1], dtype=np.uint64)) -> [7] (= (2^64 - 1) % (2^61 - 1)).
    """
    high = values >> np.uint64(61)
    values &= np.uint64(PRIME)
    values += high  # at most PRIME + 7
    np.subtract(values, np.uint64(PRIME), out=values, where=values >= np.uint64(PRIME))
    return values

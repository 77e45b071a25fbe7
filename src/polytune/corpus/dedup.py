"""Stage two of the filter, per language: the LID score threshold (fixed, per language, or `auto`), exact dedup
on normalized text and MinHash near-dedup (datasketch LSH), with cluster sizes on the records kept.

Records arrive in a fixed order (stage-one shards in rank order), so "the first one is kept" is deterministic.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from polytune.config import FilterConfig
from polytune.corpus.scripts import split_words
from polytune.langcodes import lookup

Keep = Callable[[dict[str, Any]], None]
Drop = Callable[[dict[str, Any], str, str], None]
MINHASH_CHUNK = 1000
SHINGLE = 5  # words (characters in unspaced scripts) per MinHash shingle, as FineWeb-2


def auto_threshold(scores: list[float]) -> float:
    """The FineWeb-2 rule: max(0.3, min(0.9, median - std)). Example: auto_threshold([0.9, 1.0, 0.95]) -> 0.9."""
    if not scores:
        return 0.3
    return round(max(0.3, min(0.9, statistics.median(scores) - statistics.pstdev(scores))), 4)


def _sample(scores: list[float], size: int) -> list[float]:
    """At most `size` scores, evenly spaced over the input order (deterministic)."""
    if len(scores) <= size:
        return scores
    return [scores[i * len(scores) // size] for i in range(size)]


def threshold_for(lang: str, cfg: FilterConfig, scores: list[float]) -> float:
    """The threshold used for `lang`: the config's number, its map entry ('*' or 0.5 when absent), or auto."""
    if cfg.threshold == "auto":
        return auto_threshold(_sample(scores, cfg.auto_sample))
    if isinstance(cfg.threshold, dict):
        return float(lookup(cfg.threshold, lang, 0.5))  # a swh_Latn entry applies to py3langid's swa_Latn
    return float(cfg.threshold)


def score_summary(scores: list[float]) -> dict[str, Any]:
    """n, median, mean, std and a 10-bin histogram ([0, 0.1), ..., [0.9, 1]) of top-1 LID scores."""
    histogram = [0] * 10
    for score in scores:
        histogram[min(9, int(score * 10))] += 1
    if not scores:
        return {"n": 0, "histogram": histogram}
    return {
        "n": len(scores), "median": round(statistics.median(scores), 4), "mean": round(statistics.fmean(scores), 4),
        "std": round(statistics.pstdev(scores), 4), "histogram": histogram,
    }  # fmt: skip


def _read(files: list[Path]) -> Iterator[dict[str, Any]]:
    for file in files:
        with open(file, encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)


def _exact_key(text: str) -> bytes:
    # Case and spacing differences are not new text; a 16-byte digest keeps memory flat however long texts are.
    return hashlib.blake2b(" ".join(text.casefold().split()).encode("utf-8"), digest_size=16).digest()


class NearDuplicates:
    """MinHash LSH over the records kept so far; `check` returns the index of an earlier near-duplicate or None."""

    def __init__(self, lang: str, threshold: float, num_perm: int, seed: int) -> None:
        from datasketch import MinHash, MinHashLSH

        self._minhash, self.lang, self.num_perm, self.seed = MinHash, lang, num_perm, seed
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._pending: dict[int, Any] = {}

    def prepare(self, items: list[tuple[int, str]]) -> None:
        """MinHash a chunk of (index, text) at once (one shared permutation table: much faster than one by one)."""
        shingles = []
        for _, text in items:
            words = [w.casefold() for w in split_words(text, self.lang)] or [text]
            n = min(SHINGLE, len(words))
            shingles.append({" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)})
        hashes = self._minhash.bulk(shingles, num_perm=self.num_perm, seed=self.seed)
        self._pending.update((index, mh) for (index, _), mh in zip(items, hashes, strict=True))

    def check(self, index: int) -> int | None:
        mh = self._pending.pop(index)
        found = self.lsh.query(mh)
        if found:
            return min(int(key) for key in found)
        self.lsh.insert(str(index), mh)
        return None


def decide(lang: str, cfg: FilterConfig, files: list[Path], threshold: float) -> tuple[list[Any], Counter[int]]:
    """Per record: None (kept) or (reason, detail); and the duplicate-cluster size of each kept index."""
    decisions: list[Any] = []
    sizes: Counter[int] = Counter()
    exact: dict[bytes, tuple[int, str]] = {}
    near = NearDuplicates(lang, cfg.near_threshold, cfg.num_perm, cfg.minhash_seed) if cfg.near_dedup else None
    chunk: list[tuple[int, str]] = []
    ids: dict[int, str] = {}
    for index, record in enumerate(_read(files)):
        decision = None
        if record["lid_score"] < threshold:
            decision = ("low_lid_score", f"{lang} {record['lid_score']:.3f} < {threshold}")
        elif cfg.dedup:
            key = _exact_key(record["text"])
            if key in exact:
                sizes[exact[key][0]] += 1
                decision = ("duplicate", f"same text as {exact[key][1]}")
            else:
                exact[key] = (index, str(record.get("id")))
        if decision is None and near is not None:
            chunk.append((index, record["text"]))
            ids[index] = str(record.get("id"))
        decisions.append(decision)
    if near is not None:
        for start in range(0, len(chunk), MINHASH_CHUNK):
            near.prepare(chunk[start : start + MINHASH_CHUNK])
            for index, _ in chunk[start : start + MINHASH_CHUNK]:
                rep = near.check(index)
                if rep is not None:
                    sizes[rep] += 1 + sizes.pop(index, 0)
                    decisions[index] = ("near_duplicate", f"near-duplicate of {ids[rep]}")
    return decisions, sizes


def finalize_language(lang: str, cfg: FilterConfig, files: list[Path], keep: Keep, drop: Drop) -> dict[str, Any]:
    """Threshold and dedup one language's stage-one records; hand each to `keep` or `drop`; return its stats."""
    scores = [record["lid_score"] for record in _read(files)]
    threshold = threshold_for(lang, cfg, scores)
    decisions, sizes = decide(lang, cfg, files, threshold)
    rejected: Counter[str] = Counter()
    mixed = 0
    for index, (record, decision) in enumerate(zip(_read(files), decisions, strict=True)):
        if decision is None:
            record["dup_cluster_size"] = 1 + sizes.get(index, 0)
            mixed += bool(record.get("lid_mixed"))
            keep(record)
        else:
            rejected[decision[0]] += 1
            drop(record, *decision)
    kept = len(decisions) - sum(rejected.values())
    return {"lang": lang, "input": len(decisions), "kept": kept, "rejected": dict(sorted(rejected.items())),
            "threshold": threshold, "scores": score_summary(scores), "mixed_kept": mixed}  # fmt: skip

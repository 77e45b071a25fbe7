"""Splits (train | dev | test) drawn from a stable hash: of a chapter for Bible verses, of the id (else the text)
for other records.

`sources` and `filter` both give a record without a valid split one from the hash of its id, so the translations of
a sentence (the same id in every language's file) share a split, or, without an id, of its text, so the same text
gets the same split wherever it enters. Duplicates under different ids are the filter's to drop (exact and near).
"""

from __future__ import annotations

import hashlib
from typing import Any

SPLITS = ("train", "dev", "test")


def unit_hash(text: str) -> float:
    """A stable number in [0, 1) for a string (sha256, not Python's salted hash)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64


def split_of(key: str, seed: int, test_fraction: float, dev_fraction: float) -> str:
    """Split of a unit (a chapter "JHN.3", or a record's text) from the hash of f"{seed}:{key}".

    Example: with test_fraction=0.1, dev_fraction=0.05 about 10% of keys are "test" and 5% "dev".
    """
    u = unit_hash(f"{seed}:{key}")
    if u < test_fraction:
        return "test"
    return "dev" if u < test_fraction + dev_fraction else "train"


def give_split(record: dict[str, Any], seed: int, test_fraction: float, dev_fraction: float) -> bool:
    """Set `split` when the record has no valid one, from the hash of its `id` (records of different languages with
    the same id, i.e. translations, land in the same split: no test sentence trains in another language, and
    translation pairs survive) or, without an id, of its text; True when it was set here.

    Example: give_split({"text": "a"}, 13, 0.1, 0.05) -> True, and the record's split is "train", "dev" or "test";
    {"id": "v1", "text": "a"} and {"id": "v1", "text": "b"} get the same split.
    """
    if record.get("split") in SPLITS:
        return False
    ident = record.get("id")
    usable = isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident) != ""
    record["split"] = split_of(f"id:{ident}" if usable else str(record["text"]), seed, test_fraction, dev_fraction)
    return True

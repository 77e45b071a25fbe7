"""Warnings a report leads with, read off the predictions: numbers that look fine and mean nothing.

- `one_class`: a classification system predicted one class for every record of a language (a collapsed classifier:
  its accuracy is that class's share, not skill);
- `identical`: two systems predicted the same for every record of a language (is the adapter that tells them apart
  loaded at all?); one warning per pair, naming the languages;
- `tiny_n`: a language with fewer than TINY_N records: its intervals are wide and a Δ there says little.

Example: [w["kind"] for w in prediction_warnings(aligned, classification={"ara_Arab"})] -> ["one_class", "tiny_n"]
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import combinations
from typing import Any

TINY_N = 30  # records: below this a language's bootstrap interval is too coarse to read a Δ off


def _names(langs: list[str]) -> str:
    return ", ".join(langs)


def one_class(aligned: dict[str, dict[str, Any]], classification: Collection[str]) -> list[dict[str, Any]]:
    """A warning per (language, system) whose predictions are one class for every record (2 records or more)."""
    out = []
    for lang, a in aligned.items():
        if lang not in classification or len(a["labels"]) < 2:
            continue
        for system, preds in a["preds"].items():
            if len({str(p) for p in preds}) == 1:
                share = 100 * sum(1 for x in a["labels"] if x == preds[0]) / len(preds)
                text = (f"{system} predicts {preds[0]!r} for all {len(preds)} {lang} records: a collapsed "
                        f"classifier (that class is {share:.0f}% of the gold labels), its {lang} scores are not skill")
                out.append({"kind": "one_class", "langs": [lang], "systems": [system], "text": text})
    return out


def identical(aligned: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A warning per pair of systems whose predictions are equal record for record in one language or more."""
    systems = list(next(iter(aligned.values()))["preds"]) if aligned else []
    out = []
    for a, b in combinations(systems, 2):
        same = [lang for lang, x in aligned.items() if x["preds"][a] == x["preds"][b]]
        if not same:
            continue
        where = f"in all {len(same)} languages" if len(same) == len(aligned) > 1 else f"in {_names(same)}"
        text = (f"{a} and {b} predict the same for every record {where}: the test cannot tell them apart (is the "
                "adapter that makes them differ loaded?)")
        out.append({"kind": "identical", "langs": same, "systems": [a, b], "text": text})
    return out


def tiny_n(aligned: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One warning naming every language with fewer than TINY_N records."""
    small = {lang: len(a["labels"]) for lang, a in aligned.items() if len(a["labels"]) < TINY_N}
    if not small:
        return []
    listed = ", ".join(f"{lang} ({n})" for lang, n in small.items())
    text = (f"fewer than {TINY_N} records in {listed}: intervals that wide cannot show a difference; evaluate on more "
            "records (max_records, a larger test split)")
    return [{"kind": "tiny_n", "langs": list(small), "systems": [], "text": text}]


def prediction_warnings(aligned: dict[str, dict[str, Any]], classification: Collection[str]) -> list[dict[str, Any]]:
    """Every warning above, in that order: [{"kind", "langs", "systems", "text"}].

    Args:
        aligned: lang -> {"ids", "labels", "preds": {system: [...]}} (loading.align).
        classification: the languages scored with classification metrics (one_class applies to them only).
    """
    return one_class(aligned, classification) + identical(aligned) + tiny_n(aligned)

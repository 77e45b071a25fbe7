"""Entity-level NER F1 through seqeval in strict mode: labels and preds are lists of tags per sentence.

Strict mode counts an entity only when its type and exact span agree, under a tagging scheme: IOB2 (B-/I-/O) or
BIOES (also E-/S-). `scheme="auto"` picks BIOES when any tag starts with E- or S-, else IOB2. Statistics per
sentence are [true positives, predicted entities, gold entities], so F1 (micro over entities, seqeval's default)
of any resample is 2tp / (pred + gold).

Example: get_metric("ner_f1").compute([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]) -> 100.0
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import numpy as np

from polytune import __version__
from polytune.errors import ConfigError, InputError
from polytune.evaluation.metrics.base import TAGS, Metric

SCHEMES = ("auto", "IOB2", "BIOES")


def _as_tags(rows: Sequence[Any], what: str) -> list[list[str]]:
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list | tuple) or not all(isinstance(t, str) for t in row):
            raise InputError(f'ner_f1 needs a list of tags per example; {what} {i} is {row!r}; write e.g. ["B-PER"]')
        out.append(list(row))
    return out


class NerF1(Metric):
    """seqeval strict entity-level micro F1 (IOB2 or BIOES)."""

    name = "ner_f1"
    label = "entity-F1"
    kind = "tagging"
    fits = (TAGS,)

    def __init__(self, scheme: str = "auto") -> None:
        if scheme not in SCHEMES:
            raise ConfigError(f"ner_f1 scheme {scheme!r} is not one of {', '.join(SCHEMES)}; pick one")
        self.scheme = scheme
        self._used = scheme

    def _scheme(self, *tag_lists: list[list[str]]) -> Any:
        from seqeval.scheme import BILOU, IOB2, IOBES

        name = self.scheme
        if name == "auto":
            tags = {t[:2] for rows in tag_lists for row in rows for t in row}
            name = "BIOES" if tags & {"E-", "S-"} else "IOB2"
        self._used = name
        return {"IOB2": IOB2, "BIOES": IOBES, "BILOU": BILOU}[name]

    def _pairs(self, labels: Sequence[Any], preds: Sequence[Any]) -> tuple[list, list, Any]:
        self.check(labels, preds)
        gold, pred = _as_tags(labels, "label"), _as_tags(preds, "prediction")
        bad = next((i for i, (g, p) in enumerate(zip(gold, pred, strict=True)) if len(g) != len(p)), None)
        if bad is not None:
            raise InputError(f"example {bad}: {len(gold[bad])} gold tags but {len(pred[bad])} predicted; align them")
        return gold, pred, self._scheme(gold, pred)

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from seqeval.metrics import f1_score

        gold, pred, scheme = self._pairs(labels, preds)
        return 100.0 * float(f1_score(gold, pred, mode="strict", scheme=scheme, zero_division=0))

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        from seqeval.scheme import Entities

        gold, pred, scheme = self._pairs(labels, preds)
        stats = np.zeros((len(gold), 3))
        for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
            true = {(e.tag, e.start, e.end) for e in Entities([g], scheme).entities[0]}
            found = {(e.tag, e.start, e.end) for e in Entities([p], scheme).entities[0]}
            stats[i] = (len(true & found), len(found), len(true))
        return stats

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        denom = totals[:, 1] + totals[:, 2]
        return 100.0 * np.divide(2 * totals[:, 0], denom, out=np.zeros_like(denom), where=denom > 0)

    def signature(self) -> str:
        return f"metric:ner_f1|mode:strict|scheme:{self._used}|avg:micro|impl:seqeval-{version('seqeval')}|" + (
            f"polytune:{__version__}"
        )

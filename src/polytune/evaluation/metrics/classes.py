"""Single-label classification metrics scored with scikit-learn's definitions: accuracy, micro-F1, macro-F1.

Statistics are per-class one-hot counts, so a bootstrap resample is one matrix product (see base.py).

Example: get_metric("macro_f1").compute(["a", "b", "b"], ["a", "b", "a"]) -> 66.66...
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from polytune import __version__
from polytune.evaluation.metrics.base import Metric


class _Classification(Metric):
    """Single-label classification scored with scikit-learn; statistics are per-class one-hot counts."""

    average: ClassVar[str] = ""

    def __init__(self) -> None:
        self._seen: set[Any] = set()  # gold labels seen so far: the signature's `labels:` count

    def compute(self, labels: Sequence[Any], preds: Sequence[Any]) -> float:
        score = super().compute(labels, preds)
        self._seen.update(labels)
        return score

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        """Columns: [correct, true one-hot (K), pred one-hot (K), true-positive one-hot (K)]."""
        self.check(labels, preds)
        classes = sorted(set(labels) | set(preds), key=str)
        index = {c: i for i, c in enumerate(classes)}
        true = np.fromiter((index[x] for x in labels), dtype=np.int64, count=len(labels))
        pred = np.fromiter((index[x] for x in preds), dtype=np.int64, count=len(preds))
        n, k = len(true), len(classes)
        rows = np.arange(n)
        stats = np.zeros((n, 1 + 3 * k))
        correct = true == pred
        stats[:, 0] = correct
        stats[rows, 1 + true] = 1
        stats[rows, 1 + k + pred] = 1
        stats[rows[correct], 1 + 2 * k + true[correct]] = 1
        return stats

    def signature(self) -> str:
        parts = [f"metric:{self.name}"]
        if self.average:
            parts += [f"avg:{self.average}"]
        parts += [f"labels:{len(self._seen) or '?'}", f"impl:sklearn-{version('scikit-learn')}"]
        return "|".join([*parts, f"polytune:{__version__}"])


class Accuracy(_Classification):
    """Share of exact label matches."""

    name = "accuracy"
    label = "accuracy"

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from sklearn.metrics import accuracy_score

        return 100.0 * accuracy_score(labels, preds)

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        k = (totals.shape[1] - 1) // 3
        n = totals[:, 1 : 1 + k].sum(axis=1)
        return 100.0 * totals[:, 0] / n


class _F1(_Classification):
    """sklearn's F1 with the subclass's `average`."""

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from sklearn.metrics import f1_score

        return 100.0 * f1_score(labels, preds, average=self.average, zero_division=0)


class MicroF1(_F1, Accuracy):
    """Micro-averaged F1; for single-label classification it equals accuracy (kept for comparability), so its
    resampled scores come from Accuracy's statistics."""

    name = "micro_f1"
    label = "micro-F1"
    average = "micro"


class MacroF1(_F1):
    """Unweighted mean of per-class F1 over the classes present in labels or predictions (sklearn's default)."""

    name = "macro_f1"
    label = "macro-F1"
    average = "macro"

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        k = (totals.shape[1] - 1) // 3
        true, pred, tp = totals[:, 1 : 1 + k], totals[:, 1 + k : 1 + 2 * k], totals[:, 1 + 2 * k :]
        # F1 = 2tp / (2tp + fp + fn) = 2tp / (true + pred); a class absent from both is not averaged (as sklearn).
        present = (true + pred) > 0
        f1 = np.divide(2 * tp, true + pred, out=np.zeros_like(tp), where=present)
        return 100.0 * f1.sum(axis=1) / present.sum(axis=1)

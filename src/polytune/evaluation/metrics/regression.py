"""Regression metrics for float labels: Pearson and Spearman correlation (x100, so -100..100 like the other
scores' 0..100 scale) and RMSE (in the label's own units; lower is better).

Per-example statistics add up over a corpus like every metric's (see base.py): the correlations sum
[1, x, y, x², y², xy] of the centred values (Spearman: of their ranks in the whole test set), RMSE sums
[1, squared error]. A resample's correlation therefore keeps the full-sample ranks (Spearman's interval is that of
Pearson on the ranks); its point score equals scipy's `spearmanr`. A resample where one side is constant has no
correlation; it scores 0.

Example: get_metric("pearson").compute([1.0, 2.0, 3.0], [1.0, 2.5, 2.9]) -> 96.9...
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any, ClassVar

import numpy as np

from polytune import __version__
from polytune.errors import InputError
from polytune.evaluation.metrics.base import NUMBERS, Metric


def _floats(values: Sequence[Any], what: str) -> np.ndarray:
    bad = next((v for v in values if not isinstance(v, int | float) or isinstance(v, bool)), None)
    if bad is not None:
        raise InputError(f"regression metrics need numbers; a {what} is {bad!r:.40}; predict floats")
    return np.asarray(values, dtype=np.float64)


class _Regression(Metric):
    kind: ClassVar[str] = "regression"
    fits: ClassVar[tuple[str, ...]] = (NUMBERS,)
    impl: ClassVar[str] = "scipy"  # the distribution whose version the signature names

    def check(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        super().check(labels, preds)
        _floats(preds, "prediction")

    def signature(self) -> str:
        return f"metric:{self.name}|impl:{self.impl}-{version(self.impl)}|polytune:{__version__}"


class _Correlation(_Regression):
    """Correlation of labels and predictions from summed [1, x, y, x², y², xy]."""

    def _values(self, labels: np.ndarray, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return labels, preds

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        self.check(labels, preds)
        x, y = self._values(_floats(labels, "label"), _floats(preds, "prediction"))
        x, y = x - x.mean(), y - y.mean()  # centred: the sums stay small, the correlation is unchanged
        return np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        n, sx, sy, sxx, syy, sxy = (totals[:, i] for i in range(6))
        cov, vx, vy = sxy - sx * sy / n, sxx - sx * sx / n, syy - sy * sy / n
        denom = np.sqrt(np.clip(vx, 0, None) * np.clip(vy, 0, None))
        ok = denom > 1e-12 * np.maximum(1.0, np.abs(totals[:, 3:5]).max(axis=1))
        return 100.0 * np.divide(cov, denom, out=np.zeros_like(cov), where=ok)


class Pearson(_Correlation):
    """Pearson's r x 100."""

    name = "pearson"
    label = "Pearson r×100"

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from scipy.stats import pearsonr

        if np.std(preds) == 0 or np.std(labels) == 0:
            return 0.0
        return 100.0 * float(pearsonr(labels, preds)[0])


class Spearman(_Correlation):
    """Spearman's rho x 100 (Pearson on average ranks)."""

    name = "spearman"
    label = "Spearman ρ×100"

    def _values(self, labels: np.ndarray, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.stats import rankdata

        return rankdata(labels), rankdata(preds)

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from scipy.stats import spearmanr

        if np.std(preds) == 0 or np.std(labels) == 0:
            return 0.0
        return 100.0 * float(spearmanr(labels, preds)[0])


class RMSE(_Regression):
    """Root mean squared error, in the label's units."""

    name = "rmse"
    label = "RMSE"
    lower_is_better = True
    impl = "scikit-learn"

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        self.check(labels, preds)
        err = _floats(preds, "prediction") - _floats(labels, "label")
        return np.stack([np.ones_like(err), err * err], axis=1)

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        return np.sqrt(totals[:, 1] / totals[:, 0])

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        from sklearn.metrics import mean_squared_error

        return float(np.sqrt(mean_squared_error(labels, preds)))

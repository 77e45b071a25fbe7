"""Metrics as a registry: `get_metric(name)` returns a small object that scores, resamples and signs itself.

This module only re-exports (base.py: lookup, label kinds and the `Metric` base). The metric families are rows of
the `metrics` table in polytune/registry.py, imported when first named: classes.py (accuracy, micro/macro-F1),
text.py (BLEU, chrF, TER, exact match), ner.py (seqeval F1), regression.py (Pearson, Spearman, RMSE).

Example: get_metric("macro_f1").compute(["a", "b", "b"], ["a", "b", "a"]) -> 66.66...
"""

from polytune.evaluation.metrics.base import (
    CLASSES,
    MIXED,
    NUMBERS,
    TAGS,
    TEXT,
    Metric,
    available_metrics,
    check_fit,
    fitting_metrics,
    get_metric,
    label_kind,
)

__all__ = [
    "CLASSES",
    "MIXED",
    "NUMBERS",
    "TAGS",
    "TEXT",
    "Metric",
    "available_metrics",
    "check_fit",
    "fitting_metrics",
    "get_metric",
    "label_kind",
]

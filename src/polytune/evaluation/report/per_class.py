"""Per-class scores and confusion matrices of classification predictions (scikit-learn's definitions), for
report.json's `per_class` and the per-language sections of report.html.

Per language: the classes (gold and predicted, sorted), each class's gold count (support), and per system each
class's precision, recall and F1 in %, how often it was predicted, and the confusion matrix (rows: gold, columns:
predicted, in the order of the classes). Matrices are kept up to MAX_MATRIX classes.

Example: class_scores(["a", "a", "b"], {"s": ["a", "b", "b"]})["systems"]["s"]["confusion"] -> [[1, 1], [0, 1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CLASSIFICATION_METRICS = ("accuracy", "micro_f1", "macro_f1")
MAX_MATRIX = 40  # more classes than this: per-class scores only (a 40 x 40 matrix is already a poster)


def class_scores(labels: Sequence[Any], preds: dict[str, Sequence[Any]]) -> dict[str, Any]:
    """Per-class precision / recall / F1 (in %, zero when undefined, as sklearn's zero_division=0), predicted
    counts and confusion matrix of every system on one language.

    Args:
        labels: gold labels.
        preds: system -> its predictions, aligned with `labels`.

    Returns:
        {"classes", "support", "systems": {system: {"precision", "recall", "f1", "predicted", "confusion"}}};
        "confusion" is None beyond MAX_MATRIX classes.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    classes = sorted({*labels, *(p for ps in preds.values() for p in ps)}, key=str)
    systems = {}
    for system, pred in preds.items():
        p, r, f, _ = precision_recall_fscore_support(labels, pred, labels=classes, zero_division=0)
        matrix = confusion_matrix(labels, pred, labels=classes)
        systems[system] = {
            "precision": [100 * float(x) for x in p],
            "recall": [100 * float(x) for x in r],
            "f1": [100 * float(x) for x in f],
            "predicted": [int(x) for x in matrix.sum(axis=0)],
            "confusion": matrix.tolist() if len(classes) <= MAX_MATRIX else None,
        }
    support = [sum(1 for x in labels if x == c) for c in classes]
    return {"classes": classes, "support": support, "systems": systems}


def per_class(aligned: dict[str, dict[str, Any]], metric_langs: dict[str, list[str]]) -> dict[str, Any]:
    """lang -> class_scores, for every language a classification metric scores ({} for other tasks)."""
    langs = {lang for m in CLASSIFICATION_METRICS for lang in metric_langs.get(m, [])}
    return {lang: class_scores(a["labels"], a["preds"]) for lang, a in aligned.items() if lang in langs}

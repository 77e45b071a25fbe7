"""Metric lookup and the `Metric` base: `get_metric(name)` (a row of registry.py's `metrics`) scores, resamples, signs.

Metrics: accuracy, micro_f1, macro_f1 (scikit-learn, classes.py); bleu, chrf, chrf_pp, ter, exact_match
(text.py); ner_f1 (seqeval, ner.py); pearson, spearman, rmse (float labels, regression.py).
Every score is on a 0..100 scale (sacrebleu's; the report prints percentages), except RMSE (the label's units).
A metric is defined by per-example sufficient statistics that add up over a corpus: accuracy sums "correct",
macro-F1 sums per-class true/predicted/true-positive counts, chrF and BLEU sum sacrebleu's n-gram statistics. A
bootstrap resample is then one matrix product (resample counts x statistics), so confidence intervals stay fast (see
stats.py).

Example: get_metric("macro_f1").compute(["a", "b", "b"], ["a", "b", "a"]) -> 66.66...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from polytune import registry
from polytune.errors import InputError


def available_metrics() -> list[str]:
    """Names `get_metric` accepts, sorted (the registry's `metrics` table: one row per metric class)."""
    return list(registry.names("metrics"))


def get_metric(name: str, **options: Any) -> Metric:
    """Return a fresh metric by name.

    Example: get_metric("chrf").compute(["hello world"], ["hello world"]) -> 100.0

    Args:
        name: a registered metric name, e.g. "accuracy", "macro_f1", "chrf".
        **options: passed to the metric's constructor (e.g. `tokenize="zh"` for bleu).

    Returns:
        A new Metric instance.

    Raises:
        ConfigError: the name is not registered.
    """
    if isinstance(name, Metric):
        return name
    return registry.load("metrics", name)(**options)


def _check_pair(labels: Sequence[Any], preds: Sequence[Any]) -> None:
    if len(labels) != len(preds):
        raise InputError(f"got {len(labels)} labels but {len(preds)} predictions; give one prediction per label")
    if len(labels) == 0:
        raise InputError("no examples to score: give at least one label and prediction")


# What labels can be (`label_kind`); each metric says which kinds it fits (`Metric.fits`).
CLASSES, TEXT, TAGS, MIXED = "class labels", "free text", "tag lists", "a mix of tag lists and strings"
NUMBERS = "numbers"  # float labels of a regression task (ints stay class labels: class ids are often ints)


def label_kind(values: Sequence[Any]) -> str:
    """What a column of labels (or predictions) holds: tag lists, free text, class labels, or a mix.

    Free text is mostly distinct strings (and more than 10), most of them several words or longer than 30
    characters (references of a translation, also in scripts written without spaces); strings that repeat (genre
    labels, even multi-word ones), short single words (LID codes) and tiny sets are class labels, which every string
    metric fits.

    Example: label_kind(["pos", "neg", "pos"]) -> "class labels"; label_kind([["B-PER", "O"]]) -> "tag lists"
    """
    if values and all(isinstance(x, float) for x in values):
        return NUMBERS
    lists = sum(isinstance(x, list | tuple) for x in values)
    if lists:
        return TAGS if lists == len(values) else MIXED
    texts = [str(x) for x in values]
    wordy = sum(len(x) > 30 or len(x.split()) > 1 for x in texts)
    return TEXT if 2 * wordy > len(texts) and len(set(texts)) > max(10, len(texts) // 2) else CLASSES


def fitting_metrics(kind: str) -> list[str]:
    """Registered metrics that fit labels of `kind`. Example: fitting_metrics("tag lists") -> ["exact_match", ...]."""
    return [name for name in available_metrics() if kind in registry.load("metrics", name).fits]


def check_fit(metric: Metric, labels: Sequence[Any], preds: Sequence[Any], where: str = "") -> None:
    """Raise InputError unless `metric` fits the kind of `labels` and the predictions are of the same shape.

    Args:
        metric: the metric about to score.
        labels: gold labels (or references).
        preds: predictions aligned with `labels`.
        where: what the message names first, e.g. "nya_Latn, system la: ".

    Raises:
        InputError: naming the metric, the kind of labels found (with an example) and the metrics that fit it.
    """
    kind = label_kind(labels)
    if kind not in metric.fits:
        fit = ", ".join(fitting_metrics(kind)) or "none; make every label one kind"
        example = next(x for x in labels if kind != MIXED or isinstance(x, list | tuple))
        raise InputError(
            f"{where}metric {metric.name!r} does not fit {kind} (labels like {str(example)[:60]!r}); "
            f"metrics that fit {kind}: {fit}"
        )
    bad = next((p for p in preds if isinstance(p, list | tuple) != (kind == TAGS)), None)
    if bad is not None:
        shape = "tag lists" if kind == TAGS else "strings"
        raise InputError(f"{where}the labels are {shape} but a prediction is {str(bad)[:60]!r}; predict {shape} too")


class Metric(ABC):
    """Base class: owns the public API; subclasses fill `_point`, `statistics`, `scores_from_statistics`."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""  # how the report's tables name the metric
    kind: ClassVar[str] = "classification"  # or "generation": labels are references, preds hypotheses
    lower_is_better: ClassVar[bool] = False  # TER: a negative Δ is the improvement
    fits: ClassVar[tuple[str, ...]] = (CLASSES,)  # label kinds this metric can score (see `label_kind`)
    ci_method: ClassVar[str] = "percentile"  # "sacrebleu": per-language intervals are sacrebleu's own (stats.py)

    def check(self, labels: Sequence[Any], preds: Sequence[Any]) -> None:
        """Raise InputError unless labels and predictions align, are not empty, and are of a kind this metric fits."""
        _check_pair(labels, preds)
        check_fit(self, labels, preds)

    def compute(self, labels: Sequence[Any], preds: Sequence[Any]) -> float:
        """The corpus-level score (0..100) of `preds` against `labels`.

        Raises:
            InputError: the lengths differ, there are no examples, or the labels are of a kind the metric
                does not fit (e.g. accuracy on NER tag lists).
        """
        self.check(labels, preds)
        return float(self._point(list(labels), list(preds)))

    @abstractmethod
    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        """Per-example sufficient statistics, shape (n, k); any weighted sum of rows is a valid corpus."""

    @abstractmethod
    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        """Scores (0..100), shape (r,), of r corpora given their summed statistics, shape (r, k)."""

    @abstractmethod
    def signature(self) -> str:
        """Reproducibility signature, e.g. "metric:macro_f1|avg:macro|labels:8|impl:sklearn-1.9.1|polytune:0.1.0"."""

    @abstractmethod
    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        """The corpus-level score of checked, listed labels and predictions."""

    def score_and_statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> tuple[float, np.ndarray]:
        """(compute(), statistics()) in one call; metrics whose statistics are costly derive the score from them."""
        return self.compute(labels, preds), self.statistics(labels, preds)

    def for_language(self, lang: str) -> Metric:
        """The metric as configured for one language (e.g. BLEU's tokenizer for zho_Hans); by default itself."""
        return self

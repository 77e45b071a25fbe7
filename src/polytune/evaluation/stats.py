"""Bootstrap statistics: percentile confidence intervals and paired significance tests, vectorized.

A resample draws n example indices with replacement (numpy Generator); its score comes from the metric's summed
per-example statistics (metrics.py), computed for every resample of a block at once as
`counts (r, n) @ statistics (n, k)`. Systems compared on one language share the same resamples (paired).

Example: bootstrap_ci("accuracy", labels, preds, n_resamples=1000, seed=13) -> (61.0, 74.5)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from polytune.errors import ConfigError, InputError
from polytune.evaluation.metrics import Metric, get_metric

# Bound the (r, n) resample-count block so memory stays flat for large test sets (~16 MB of float64 per block).
_BLOCK_CELLS = 2_000_000

Seed = int | Sequence[int]


def check_settings(n_resamples: int, confidence: float) -> None:
    """Raise ConfigError unless n_resamples is a positive int and 0 < confidence < 1."""
    if not isinstance(n_resamples, int) or isinstance(n_resamples, bool) or n_resamples < 1:
        raise ConfigError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def resample_counts(n: int, n_resamples: int, seed: Seed) -> Iterator[np.ndarray]:
    """Yield blocks of bootstrap resamples as counts: row r says how often each of the n examples was drawn.

    Example: next(resample_counts(3, 2, seed=0)).sum(axis=1) -> array([3., 3.])

    Args:
        n: number of examples.
        n_resamples: total number of resamples over all blocks.
        seed: numpy seed (an int, or a sequence of ints such as [seed, language hash]).

    Returns:
        An iterator of float arrays of shape (r, n), r summing to n_resamples.
    """
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n_resamples, block):
        r = min(block, n_resamples - start)
        idx = rng.integers(0, n, size=(r, n))
        flat = (idx + n * np.arange(r)[:, None]).ravel()
        yield np.bincount(flat, minlength=r * n).reshape(r, n).astype(np.float64)


def resampled_scores(
    metric: str | Metric,
    labels: Sequence[Any],
    systems: Mapping[str, Sequence[Any]],
    n_resamples: int,
    seed: Seed,
) -> dict[str, np.ndarray]:
    """Score every system on the same bootstrap resamples of the examples.

    Args:
        metric: a metric name or instance.
        labels: gold labels (or references), one per example.
        systems: system name -> predictions aligned with `labels`.
        n_resamples: number of resamples.
        seed: numpy seed; the same seed gives the same resamples.

    Returns:
        System name -> scores of shape (n_resamples,), on the metric's 0..100 scale.

    Raises:
        InputError: a system's predictions do not align with the labels, or there are none.
    """
    metric = get_metric(metric)
    stats = {name: metric.statistics(labels, preds) for name, preds in systems.items()}
    return resample_statistics(metric, stats, n_resamples, seed)


def resample_statistics(metric: Metric, stats: Mapping[str, np.ndarray], n_resamples: int, seed: Seed) -> dict:
    """Like `resampled_scores`, from per-example statistics already computed (system -> array (n, k))."""
    n = len(next(iter(stats.values())))
    out: dict[str, list[np.ndarray]] = {name: [] for name in stats}
    for counts in resample_counts(n, n_resamples, seed):
        for name, s in stats.items():
            out[name].append(metric.scores_from_statistics(counts @ s))
    return {name: np.concatenate(parts) for name, parts in out.items()}


def percentile_interval(scores: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The central `confidence` share of bootstrap scores. Example: 0.95 -> (2.5th, 97.5th percentile)."""
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(scores, [alpha, 100.0 - alpha])
    return float(low), float(high)


def paired_p_value(delta: float, deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of an observed difference, with the null made by centering the resamples.

    The resampled differences, shifted to mean 0, stand for "no difference"; p is the share of them at least
    as far from 0 as the observed one, with +1 smoothing (Efron & Tibshirani 1993, sec. 16.4). A system
    against itself has delta 0 and every resampled difference 0, so p = 1.

    Example: paired_p_value(0.0, np.zeros(10)) -> 1.0
    """
    centered = np.abs(deltas - deltas.mean())
    # A tolerance keeps float noise in the resampled sums from deciding ties.
    extreme = int(np.sum(centered >= abs(delta) - 1e-9))
    return (extreme + 1) / (len(deltas) + 1)


def summarize_delta(delta: float, deltas: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """{"delta", "p_value", "ci"} of an observed difference and its resampled differences."""
    return {
        "delta": float(delta),
        "p_value": paired_p_value(delta, deltas),
        "ci": percentile_interval(deltas, confidence),
    }


def bootstrap_ci(
    metric: str | Metric,
    labels: Sequence[Any],
    preds: Sequence[Any],
    n_resamples: int = 1000,
    seed: Seed = 13,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of a corpus-level score.

    Args:
        metric: a metric name or instance.
        labels: gold labels (or references).
        preds: predictions aligned with `labels`.
        n_resamples: number of resamples.
        seed: numpy seed.
        confidence: interval coverage, e.g. 0.95.

    Returns:
        (low, high) on the metric's 0..100 scale.

    Raises:
        InputError: labels and predictions do not align, or there are none.
        ConfigError: n_resamples or confidence is out of range.
    """
    check_settings(n_resamples, confidence)
    scores = resampled_scores(metric, labels, {"system": preds}, n_resamples, seed)["system"]
    return percentile_interval(scores, confidence)


def paired_bootstrap(
    metric: str | Metric,
    labels: Sequence[Any],
    preds_a: Sequence[Any],
    preds_b: Sequence[Any],
    n_resamples: int = 1000,
    seed: Seed = 13,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Paired bootstrap test of system b against system a (the baseline) on the same examples.

    Args:
        metric: a metric name or instance.
        labels: gold labels (or references).
        preds_a: baseline predictions.
        preds_b: predictions of the system compared with the baseline.
        n_resamples: number of resamples (both systems are scored on the same ones).
        seed: numpy seed.
        confidence: coverage of the interval of the difference.

    Returns:
        {"delta": score(b) - score(a), "p_value": two-sided p, "ci": (low, high) of the difference}.

    Raises:
        InputError: the predictions do not align with the labels, or there are none.
        ConfigError: n_resamples or confidence is out of range.
    """
    check_settings(n_resamples, confidence)
    metric = get_metric(metric)
    if len(preds_a) != len(preds_b):
        raise InputError(f"system a has {len(preds_a)} predictions, system b {len(preds_b)}: score the same examples")
    delta = metric.compute(labels, preds_b) - metric.compute(labels, preds_a)
    scores = resampled_scores(metric, labels, {"a": preds_a, "b": preds_b}, n_resamples, seed)
    return summarize_delta(delta, scores["b"] - scores["a"], confidence)

"""Bootstrap statistics: percentile confidence intervals and paired significance tests, vectorized.

A resample draws n example indices with replacement (numpy Generator); its score comes from the metric's summed
per-example statistics (metrics/base.py), computed for every resample of a block at once as
`counts (r, n) @ statistics (n, k)`. Systems compared on one language share the same resamples (paired).
sacrebleu's metrics get sacrebleu's own interval (`sacrebleu_intervals`); paired differences may instead be
tested by approximate randomization (`randomized_differences`).

Example: bootstrap_ci("accuracy", labels, preds, n_resamples=1000, seed=13) -> (61.0, 74.5)
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from polytune.errors import ConfigError, InputError
from polytune.evaluation.metrics import Metric, get_metric

# Bound the (r, n) resample-count block so memory stays flat for large test sets (~16 MB of float64 per block).
_BLOCK_CELLS = 2_000_000

Seed = int | Sequence[int]


SIGNIFICANCE = ("bootstrap", "randomization")


def check_settings(n_resamples: int, confidence: float, significance: str = "bootstrap") -> None:
    """Raise ConfigError unless n_resamples is a positive int, 0 < confidence < 1 and the test is known."""
    if not isinstance(n_resamples, int) or isinstance(n_resamples, bool) or n_resamples < 1:
        raise ConfigError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if significance not in SIGNIFICANCE:
        raise ConfigError(f"significance must be one of {', '.join(SIGNIFICANCE)}, got {significance!r}")


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


def sacrebleu_seed() -> int | None:
    """The seed of sacrebleu's own bootstrap, read as sacrebleu reads it: $SACREBLEU_SEED, default 12345, "none" for
    an unseeded generator. Example: sacrebleu_seed() -> 12345"""
    seed = os.environ.get("SACREBLEU_SEED", "12345")
    if seed.lower() == "none":
        return None
    try:
        return int(seed)
    except ValueError as exc:
        raise ConfigError(f"SACREBLEU_SEED must be an integer or 'none', got {seed!r}") from exc


def sacrebleu_intervals(
    metric: Metric, stats: Mapping[str, np.ndarray], n_resamples: int, confidence: float = 0.95
) -> dict[str, dict[str, Any]]:
    """sacrebleu's own bootstrap interval of each system, equal to `corpus_score(hyps, [refs], n_bootstrap=n)`.

    sacrebleu (significance._bootstrap_resample) draws `default_rng(seed).choice(n, (n_resamples, n))` and scores
    the float32 sum of each resample's segment statistics; `resample_counts` with that seed yields the same draws
    (as counts), and a matrix product replaces sacrebleu's (n_resamples, n, k) gather: the same scores, ~25x faster.
    The interval is sacrebleu's `Score.estimate_ci`: mean ± half the distance between the 2.5% and 97.5% order
    statistics. sacrebleu knows only 95%: at another confidence, the percentile interval of the same resamples.
    Every system gets the same draws (sacrebleu reseeds per call), so the intervals are paired like sacrebleu's.

    Args:
        metric: a sacrebleu-backed metric (`score_of_row`, `record_bootstrap`: bs and seed in its signature).
        stats: system -> per-segment statistics (n, k), as `metric.statistics` returns them.
        n_resamples: sacrebleu's n_bootstrap.
        confidence: coverage; 0.95 gives sacrebleu's exact interval.

    Returns:
        System -> {"ci": (low, high), "mean": mean of the resampled scores}.
    """
    seed = sacrebleu_seed()
    n = len(next(iter(stats.values())))
    score_of = metric.score_of_row
    draws: dict[str, list[Any]] = {name: [] for name in stats}
    for counts in _sacrebleu_counts(n, n_resamples, seed):
        for name, s in stats.items():
            # float32 as sacrebleu: its scores come from float32 sums (exact here: the sums are integers).
            draws[name] += [score_of(row) for row in (counts @ s).astype(np.float32)]
    metric.record_bootstrap(n_resamples, seed)
    out = {}
    for name, scores in draws.items():
        if confidence == 0.95:
            low, high, mean = sacrebleu_interval(_one_number_type(scores))
            out[name] = {"ci": (low, high), "mean": mean}
        else:
            values = np.array(scores, dtype=np.float64)
            out[name] = {"ci": percentile_interval(values, confidence), "mean": float(values.mean())}
    return out


_COUNTS_CACHE: dict[tuple[int, int, int, int], list[np.ndarray]] = {}


def _sacrebleu_counts(n: int, n_resamples: int, seed: int | None) -> list[np.ndarray]:
    """sacrebleu's draws as count blocks. Its seed is the same for every call, so every language of one size and every
    metric reuses them: the last size is kept (its blocks total ~16 MB for 1,000 x 2,000); unseeded draws never are."""
    key = (n, n_resamples, seed, _BLOCK_CELLS)
    if seed is None:
        return list(resample_counts(n, n_resamples, None))
    if key not in _COUNTS_CACHE:
        _COUNTS_CACHE.clear()
        _COUNTS_CACHE[key] = list(resample_counts(n, n_resamples, seed))
    return _COUNTS_CACHE[key]


def randomized_differences(metric: Metric, base: np.ndarray, other: np.ndarray, n_trials: int, seed: Seed):
    """Approximate randomization: score(other') - score(base') after swapping each example's two outputs with
    probability 1/2, for n_trials random swaps (the null: which system produced an output does not matter).

    Example: randomized_differences(m, s, s, 10, 0) -> array of 10 zeros (a system against itself)

    Args:
        metric: a metric name or instance.
        base: per-example statistics (n, k) of the baseline.
        other: per-example statistics (n, k) of the other system, aligned with `base`.
        n_trials: number of random swaps.
        seed: numpy seed.

    Returns:
        Signed differences, shape (n_trials,), on the metric's scale.
    """
    metric = get_metric(metric)
    rng = np.random.default_rng(seed)
    n = len(base)
    diff, total, other_total = other - base, base.sum(axis=0) + other.sum(axis=0), other.sum(axis=0)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    out = []
    for start in range(0, n_trials, block):
        swap = rng.integers(0, 2, size=(min(block, n_trials - start), n)).astype(np.float64)
        # other' holds base's statistics where swapped; base' holds the rest, so the two always add up to `total`.
        moved = other_total - swap @ diff
        out.append(metric.scores_from_statistics(moved) - metric.scores_from_statistics(total - moved))
    return np.concatenate(out)


def randomization_p_value(delta: float, differences: np.ndarray) -> float:
    """Two-sided approximate-randomization p: the share of trials at least as far from 0 as the observed difference,
    with +1 smoothing. A system against itself gets p = 1 (sacrebleu's `>` would give 1/(trials+1)).

    Example: randomization_p_value(0.0, np.zeros(9)) -> 1.0
    """
    extreme = int(np.sum(np.abs(differences) >= abs(delta) - 1e-9))  # tolerance: float noise must not decide ties
    return (extreme + 1) / (len(differences) + 1)


def _one_number_type(values: list[Any]) -> list[Any]:
    """chrF scores a resample as a numpy float32, but one without any character n-gram as a Python 0.0, and
    `statistics.mean` refuses the mix (sacrebleu's own interval fails on it): such zeros become float32 too.
    Scores of one type are returned as they are (BLEU's Python floats must keep their last bits)."""
    if not any(isinstance(v, np.floating) for v in values):
        return values
    return [v if isinstance(v, np.floating) else np.float32(v) for v in values]


def sacrebleu_interval(scores: Sequence[Any]) -> tuple[float, float, float]:
    """(low, high, mean) of a 95% interval exactly as sacrebleu's `Score.estimate_ci` computes it: mean ± half the
    distance between the sorted scores at n//40 and n - n//40 - 1 (not a percentile interpolation), in the scores'
    own number type (chrF and TER scores are numpy float32: converting first would change the last bits).

    sacrebleu keeps these in private attributes only; tests compare the result with its `corpus_score` output, so
    a change of its formula fails here, not silently. Example: sacrebleu_interval([1.0, 2.0, 3.0]) -> (1.0, 3.0, 2.0)
    """
    ordered = sorted(scores)
    low = len(ordered) // 40
    half = 0.5 * (ordered[len(ordered) - low - 1] - ordered[low])
    mean = statistics.mean(ordered)
    return float(mean - half), float(mean + half), float(mean)


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

"""Sampling strategies over languages: how much of a budget each language gets, and how often it then repeats.

Pure functions on sizes (records, characters or tokens per language), no I/O. Every strategy returns an
allocation in budget units; `plan` turns it into probabilities, records taken and effective epochs:

    epochs_l = allocation_l / size_l        taken_l ≈ epochs_l · records_l

Each strategy is a row of the registry's `balance_strategies` table: a function (sizes, budget, options).

- proportional: p_l ∝ n_l;  uniform: p_l = 1/L;  temperature: p_l ∝ n_l^(1/τ) (α = 1/τ);  manual: p_l ∝ w_l.
- UniMax (Chung et al. 2023): languages in increasing size each get an equal share of what is left of the
  budget, but never more than `epochs` passes over their data; what a capped language cannot use goes to the
  larger ones. When every language is capped the mixture is smaller than the budget.
"""

from __future__ import annotations

import math
from typing import Any

from polytune import registry
from polytune.errors import ConfigError, did_you_mean


def _check_sizes(sizes: dict[str, float]) -> None:
    if any(n < 0 for n in sizes.values()) or not any(n > 0 for n in sizes.values()):
        raise ConfigError(f"sizes must be non-negative with at least one above 0, got {sizes}")


def temperature_weights(sizes: dict[str, float], temperature: float) -> dict[str, float]:
    """Sampling probabilities p_l ∝ n_l^(1/τ), summing to 1.

    Example: temperature_weights({"a": 900, "b": 100}, 1.0) -> {"a": 0.9, "b": 0.1}

    Args:
        sizes: size per language (0 allowed: that language gets probability 0).
        temperature: τ > 0; 1 is proportional, large is uniform, below 1 favours large languages.

    Returns:
        Probability per language, same keys as `sizes`.

    Raises:
        ConfigError: the temperature is not positive, or a size is negative, or every size is 0.
    """
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}")
    _check_sizes(sizes)
    # Work in log space: n^(1/τ) overflows a float for small τ (1e6 ** 100).
    logs = {lang: math.log(n) / temperature for lang, n in sizes.items() if n > 0}
    top = max(logs.values())
    raw = {lang: math.exp(value - top) for lang, value in logs.items()}
    total = sum(raw.values())
    return {lang: raw.get(lang, 0.0) / total for lang in sizes}


def manual_weights(sizes: dict[str, float], weights: dict[str, float]) -> dict[str, float]:
    """Given weights, normalized over the languages that have data.

    Example: manual_weights({"a": 5, "b": 5}, {"a": 3, "b": 1}) -> {"a": 0.75, "b": 0.25}

    Raises:
        ConfigError: a language of `sizes` has no weight, or a weighted language is unknown, or all weights are 0.
    """
    for lang in weights:
        if lang not in sizes:
            raise ConfigError(f"weights name {lang}, which is not mixed{did_you_mean(lang, sizes)}")
    missing = [lang for lang in sizes if lang not in weights]
    if missing:
        raise ConfigError(f"manual weights lack {', '.join(missing)}: give every mixed language a weight")
    raw = {lang: float(weights[lang]) if sizes[lang] > 0 else 0.0 for lang in sizes}
    total = sum(raw.values())
    if not total > 0:
        raise ConfigError(f"manual weights give every language with data weight 0: {weights}")
    return {lang: w / total for lang, w in raw.items()}


def unimax_allocation(sizes: dict[str, float], budget: float, epochs: float) -> dict[str, float]:
    """UniMax: the budget spread as uniformly as possible, at most `epochs` passes over any language.

    Example: unimax_allocation({"a": 1000, "b": 100, "c": 10}, 600, 2) -> {"a": 380, "b": 200, "c": 20}
    (c is capped at 2 · 10; b gets (600 - 20) / 2 = 290, capped at 200; a gets the remaining 380).

    Args:
        sizes: size per language, in budget units.
        budget: units to spread.
        epochs: cap on allocation_l / size_l.

    Returns:
        Units per language; their sum is min(budget, epochs · Σ sizes).
    """
    _check_sizes(sizes)
    if not epochs > 0 or not budget > 0:
        raise ConfigError(f"UniMax needs a positive budget and epochs, got budget={budget!r}, epochs={epochs!r}")
    allocation = dict.fromkeys(sizes, 0.0)
    left = float(budget)
    order = sorted((lang for lang in sizes if sizes[lang] > 0), key=lambda lang: (sizes[lang], lang))
    for i, lang in enumerate(order):
        fair = left / (len(order) - i)
        allocation[lang] = float(min(fair, epochs * sizes[lang]))
        left -= allocation[lang]
    return allocation


def clamp_shares(probs: dict[str, float], low: dict[str, float], high: dict[str, float]) -> dict[str, float]:
    """Probabilities bounded per language (low_l ≤ p_l ≤ high_l), the rest rescaled so they still sum to 1.

    Solves Σ clip(λ·p_l, low_l, high_l) = 1 for λ by bisection (the sum grows with λ), so the languages inside
    their bounds keep their relative proportions. Example: ({"a": .9, "b": .1}, {"b": .3}, {}) -> a .7, b .3.

    Raises:
        ConfigError: the bounds cannot hold together (Σ low > 1, or Σ high < 1 over languages with data).
    """
    live = [lang for lang, p in probs.items() if p > 0]
    lo = {lang: low.get(lang, 0.0) for lang in live}
    hi = {lang: high.get(lang, 1.0) for lang in live}
    if any(lo[lang] > hi[lang] for lang in live) or sum(lo.values()) > 1 + 1e-12 or sum(hi.values()) < 1 - 1e-12:
        raise ConfigError(f"min_share/max_share cannot hold together for {', '.join(live)}: need min ≤ max, "
                          f"Σ min ≤ 1 ≤ Σ max (min {lo}, max {hi})")  # fmt: skip

    def total(lam: float) -> float:
        return sum(min(max(lam * probs[lang], lo[lang]), hi[lang]) for lang in live)

    a, b = 0.0, 1.0
    while total(b) < 1:
        b *= 2
    for _ in range(200):
        mid = (a + b) / 2
        a, b = (mid, b) if total(mid) < 1 else (a, mid)
    clipped = {lang: min(max(b * probs[lang], lo[lang]), hi[lang]) for lang in live}
    norm = sum(clipped.values())
    return {lang: clipped.get(lang, 0.0) / norm for lang in probs}


def temperature_strategy(sizes: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    """p_l proportional to n_l^(1/tau), tau = options["temperature"] (default 3)."""
    return _clamped(temperature_weights(sizes, options.get("temperature", 3.0)), budget, options)


def proportional_strategy(sizes: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    """p_l proportional to n_l (temperature 1)."""
    return _clamped(temperature_weights(sizes, 1.0), budget, options)


def uniform_strategy(sizes: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    """The same share for every language that has text."""
    _check_sizes(sizes)
    live = sum(1 for n in sizes.values() if n > 0)
    return _clamped({lang: (1 / live if n > 0 else 0.0) for lang, n in sizes.items()}, budget, options)


def manual_strategy(sizes: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    """Shares from options["weights"] (language -> weight)."""
    return _clamped(manual_weights(sizes, options.get("weights") or {}), budget, options)


def unimax_strategy(sizes: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    """UniMax: uniform, at most options["epochs"] (default 4) epochs of any language."""
    return unimax_allocation(sizes, budget, options.get("epochs", 4.0))


def _clamped(probs: dict[str, float], budget: float, options: dict[str, Any]) -> dict[str, float]:
    probs = clamp_shares(probs, options.get("low") or {}, options.get("high") or {})
    return {lang: budget * p for lang, p in probs.items()}


def allocate(sizes: dict[str, float], budget: float, strategy: str, **options: Any) -> dict[str, float]:
    """Budget units per language for a strategy, a row of the registry's `balance_strategies` table (options:
    temperature, epochs, weights, low, high).

    Raises:
        ConfigError: the strategy is not registered, or its options do not fit the sizes.
    """
    return registry.load("balance_strategies", strategy)(sizes, budget, options)


def apportion(targets: dict[str, float], caps: dict[str, int]) -> dict[str, int]:
    """Whole numbers per key summing to round(Σ targets), each ≤ ceil(target) and ≤ its cap (largest remainder).

    Example: apportion({"a": 1.5, "b": 1.5, "c": 1.0}, {...}) -> {"a": 2, "b": 1, "c": 1} (ties by key).
    """
    floors = {k: math.floor(v + 1e-9) for k, v in targets.items()}
    extra = round(sum(targets.values())) - sum(floors.values())
    order = sorted(targets, key=lambda k: (-(targets[k] - floors[k]), k))
    for key in order:
        if extra <= 0:
            break
        if floors[key] < caps.get(key, math.inf) and targets[key] - floors[key] > 1e-9:
            floors[key] += 1
            extra -= 1
    return floors


def plan(
    sizes: dict[str, float], records: dict[str, int], budget: float, strategy: str = "temperature", **options: Any
) -> dict[str, dict[str, Any]]:
    """Per language: available records, size (units), probability, units, taken records and effective epochs.

    Example: plan({"a": 900, "b": 100}, {"a": 900, "b": 100}, 500, "proportional") -> a: taken 450 (0.5 epochs),
    b: taken 50 (0.5 epochs).

    Args:
        sizes: size per language in budget units (equal to `records` when the unit is records).
        records: records per language.
        budget: units in the mixture.
        strategy: a row of the registry's `balance_strategies` table; options as for `allocate`.

    Returns:
        {lang: {available, size, probability, units, taken, epochs}}; epochs = taken / available.
    """
    units = allocate(sizes, budget, strategy, **options)
    spent = sum(units.values())
    epochs = {lang: units[lang] / sizes[lang] if sizes[lang] else 0.0 for lang in sizes}
    caps = {lang: math.floor(epochs[lang] * records[lang] + 1e-9) + 1 for lang in sizes}
    taken = apportion({lang: epochs[lang] * records[lang] for lang in sizes}, caps)
    return {
        lang: {
            "available": records[lang],
            "size": sizes[lang],
            "probability": units[lang] / spent,
            "units": units[lang],
            "taken": taken[lang],
            "epochs": taken[lang] / records[lang] if records[lang] else 0.0,
        }
        for lang in sizes
    }

"""Label imbalance: per-class counts and loss weights of a labeled corpus, written to class_weights.json.

The file a task adapter reads for a weighted cross-entropy:

    {"label_field": "genre", "method": "inverse" | "effective", "beta": 0.999 | null,
     "weights": {label: w}, "counts": {label: n}, "total": N, "split": "train", "langs": [...]}

- inverse: w_c = N / (K · n_c) (scikit-learn's "balanced"): the count-weighted mean weight is 1.
- effective (Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of Samples"):
  w_c ∝ (1 − β) / (1 − β^n_c), normalized so the K weights sum to K. β = 0 gives equal weights; β → 1
  approaches inverse frequency.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from polytune.config import ClassWeightsConfig
from polytune.errors import ConfigError, InputError
from polytune.io import atomic_path, iter_records, manifest, write_json


def class_weights(counts: dict[str, int], method: str = "inverse", beta: float = 0.999) -> dict[str, float]:
    """Weights per class from its count.

    Example: class_weights({"a": 30, "b": 10}) -> {"a": 0.6667, "b": 2.0}  (40 / (2 · 30), 40 / (2 · 10))

    Args:
        counts: records per class (each > 0).
        method: inverse | effective.
        beta: effective-number β in [0, 1).

    Returns:
        Weight per class, same keys as `counts`.

    Raises:
        ConfigError: no class, a count ≤ 0, an unknown method or β outside [0, 1).
    """
    if not counts or any(n <= 0 for n in counts.values()):
        raise ConfigError(f"class counts must be positive, got {counts}")
    k, total = len(counts), sum(counts.values())
    if method == "inverse":
        return {label: total / (k * n) for label, n in counts.items()}
    if method != "effective":
        raise ConfigError(f"method must be one of inverse, effective, got {method!r}")
    if not 0 <= beta < 1:
        raise ConfigError(f"beta must be in [0, 1), got {beta!r}")
    # 1 - β^n computed as -expm1(n·log β): exact for β close to 1, where 1 - β^n loses digits.
    raw = {label: (1 - beta) / -math.expm1(n * math.log(beta)) if beta > 0 else 1.0 for label, n in counts.items()}
    norm = sum(raw.values())
    return {label: k * w / norm for label, w in raw.items()}


def count_labels(cfg: ClassWeightsConfig) -> Counter:
    """Records per label over the configured split and languages; a record without the label field is an error."""
    counts: Counter = Counter()
    for record in iter_records(cfg.input):
        if cfg.split != "all" and record.get("split") != cfg.split:
            continue
        if cfg.langs and record.get("lang") not in cfg.langs:
            continue
        if record.get(cfg.label_field) is None:
            raise InputError(f"record {record.get('id')} has no '{cfg.label_field}': set label_field to the label")
        counts[str(record[cfg.label_field])] += 1
    if not counts:
        raise InputError(f"no records of split {cfg.split!r} under {cfg.input}: check the input and split")
    return counts


def run_class_weights(cfg: ClassWeightsConfig) -> dict[str, Any]:
    """Count labels and write `<out>/class_weights.json` + `<out>/manifest.json`; return the class-weights dict.

    Raises:
        InputError: no record in the split, or a record lacks the label field.
    """
    counts = dict(sorted(count_labels(cfg).items()))
    result = {
        "label_field": cfg.label_field,
        "method": cfg.method,
        "beta": cfg.beta if cfg.method == "effective" else None,
        "weights": class_weights(counts, cfg.method, cfg.beta),
        "counts": counts,
        "total": sum(counts.values()),
        "split": cfg.split,
        "langs": cfg.langs,
    }
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        write_json(tmp / "class_weights.json", result)
        write_json(tmp / "manifest.json", manifest("class_weights", cfg, [cfg.input], counts))
    return result

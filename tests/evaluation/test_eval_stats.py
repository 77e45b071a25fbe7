"""Bootstrap CIs and paired tests: containment, shrinking with n, determinism, p-values on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.errors import ConfigError, InputError
from polytune.evaluation import stats
from polytune.evaluation.metrics import get_metric
from polytune.evaluation.stats import (
    bootstrap_ci,
    paired_bootstrap,
    paired_p_value,
    percentile_interval,
    resample_counts,
    resampled_scores,
)

pairs = st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(pairs, st.integers(0, 2**16), st.sampled_from(["accuracy", "micro_f1", "macro_f1"]))
def test_ci_contains_the_point_estimate(rows, seed, name):
    labels, preds = zip(*rows, strict=True)
    low, high = bootstrap_ci(name, labels, preds, n_resamples=200, seed=seed)
    point = get_metric(name).compute(labels, preds)
    assert 0 <= low <= point + 1e-9
    assert point - 1e-9 <= high <= 100


def test_ci_shrinks_with_n():
    labels = list("aabbcabcab")
    preds = list("abbbcaccab")
    widths = []
    for repeat in (1, 10, 100):
        low, high = bootstrap_ci("accuracy", labels * repeat, preds * repeat, n_resamples=500, seed=3)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0
    # Standard error falls as 1/sqrt(n): 10x the data, about a third of the width.
    assert widths[2] < 0.5 * widths[1]


def test_same_seed_same_interval():
    labels, preds = list("abcabcabca"), list("abcbbcaaca")
    assert bootstrap_ci("macro_f1", labels, preds, 300, 7) == bootstrap_ci("macro_f1", labels, preds, 300, 7)
    assert bootstrap_ci("macro_f1", labels, preds, 300, 7) != bootstrap_ci("macro_f1", labels, preds, 300, 8)


def test_resample_counts_and_block_size(monkeypatch):
    whole = np.concatenate(list(resample_counts(7, 50, seed=5)))
    assert whole.shape == (50, 7)
    assert (whole.sum(axis=1) == 7).all()
    # Small blocks draw the same stream: results do not depend on the memory bound.
    monkeypatch.setattr(stats, "_BLOCK_CELLS", 10)
    blocks = list(resample_counts(7, 50, seed=5))
    assert len(blocks) == 50
    np.testing.assert_array_equal(np.concatenate(blocks), whole)


def test_resampled_scores_are_paired():
    labels = list("aabb")
    scores = resampled_scores("accuracy", labels, {"x": list("aabb"), "y": list("aabb")}, 100, seed=1)
    np.testing.assert_array_equal(scores["x"], scores["y"])
    assert set(np.unique(scores["x"])) == {100.0}


def test_percentile_interval():
    assert percentile_interval(np.arange(101.0), 0.9) == pytest.approx((5.0, 95.0))
    assert percentile_interval(np.full(10, 3.0)) == (3.0, 3.0)


def test_identical_systems_have_p_one():
    labels = list("abcabcabcabc")
    preds = list("abcbbcaacabb")
    result = paired_bootstrap("macro_f1", labels, preds, preds, n_resamples=500, seed=1)
    assert result == {"delta": 0.0, "p_value": 1.0, "ci": (0.0, 0.0)}


def test_clearly_better_system_is_significant():
    rng = np.random.default_rng(0)
    labels = rng.choice(list("abcd"), size=200).tolist()
    worse = [lab if i % 2 == 0 else "a" if lab != "a" else "b" for i, lab in enumerate(labels)]  # 50% right
    better = [lab if i % 10 else "a" if lab != "a" else "b" for i, lab in enumerate(labels)]  # 90% right
    result = paired_bootstrap("accuracy", labels, worse, better, n_resamples=1000, seed=2)
    assert result["delta"] == pytest.approx(40.0)
    assert result["p_value"] < 0.05
    assert result["p_value"] == pytest.approx(1 / 1001)
    low, high = result["ci"]
    assert low < 40.0 < high and low > 0
    swapped = paired_bootstrap("accuracy", labels, better, worse, n_resamples=1000, seed=2)
    assert swapped["delta"] == pytest.approx(-40.0)
    assert swapped["p_value"] == result["p_value"]


def test_small_difference_is_not_significant():
    labels = list("ab" * 10)
    a = list("ab" * 10)
    b = ["b"] + a[1:]  # one more error out of 20
    result = paired_bootstrap("accuracy", labels, a, b, n_resamples=1000, seed=4)
    assert result["delta"] == pytest.approx(-5.0)
    assert result["p_value"] > 0.2


@pytest.mark.parametrize(
    ("delta", "deltas", "expected"),
    [
        (0.0, np.zeros(9), 1.0),
        (10.0, np.array([9.0, 10.0, 11.0]), 1 / 4),  # centered: [-1, 0, 1], none reaches 10
        (1.0, np.array([-2.0, 0.0, 2.0]), 3 / 4),  # centered |.|: [2, 0, 2], two reach 1
    ],
)
def test_paired_p_value_table(delta, deltas, expected):
    assert paired_p_value(delta, deltas) == pytest.approx(expected)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_resamples must be a positive integer, got 0"):
        bootstrap_ci("accuracy", ["a"], ["a"], n_resamples=0)
    with pytest.raises(ConfigError, match="confidence must be between 0 and 1"):
        bootstrap_ci("accuracy", ["a"], ["a"], confidence=95)
    with pytest.raises(InputError):
        paired_bootstrap("accuracy", ["a", "b"], ["a", "b"], ["a"])
    with pytest.raises(ConfigError, match="did you mean 'accuracy'"):
        bootstrap_ci("acuracy", ["a"], ["a"])

"""Regression metrics equal scipy/sklearn on tables of values, resample from their statistics, and refuse labels
that are not numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_squared_error

from polytune.errors import InputError
from polytune.evaluation.metrics import NUMBERS, get_metric, label_kind
from polytune.evaluation.scoring import choose_metrics
from polytune.evaluation.stats import bootstrap_ci, paired_bootstrap

TABLES = [
    ([1.0, 2.0, 3.0, 4.0, 5.0], [1.1, 1.9, 3.2, 3.8, 5.3]),
    ([0.5, 0.1, 0.9, 0.3, 0.3, 0.7], [0.4, 0.2, 0.6, 0.6, 0.1, 0.9]),  # ties in the labels and the predictions
    ([10.0, -3.0, 2.5, 7.0], [-1.0, 4.0, 2.0, 0.0]),  # negative correlation
    ([1e6 + 1, 1e6 + 2, 1e6 + 4], [3.0, 5.0, 4.0]),  # a large offset: centred statistics keep the precision
]


@pytest.mark.parametrize(("labels", "preds"), TABLES)
def test_metrics_equal_scipy_and_sklearn(labels, preds):
    expected = {
        "pearson": 100 * pearsonr(labels, preds)[0],
        "spearman": 100 * spearmanr(labels, preds)[0],
        "rmse": np.sqrt(mean_squared_error(labels, preds)),
    }
    for name, value in expected.items():
        metric = get_metric(name)
        assert metric.compute(labels, preds) == pytest.approx(value, abs=1e-9)
        # The whole corpus as one "resample": statistics give the same score as the point estimate.
        totals = metric.statistics(labels, preds).sum(axis=0, keepdims=True)
        assert metric.scores_from_statistics(totals)[0] == pytest.approx(value, abs=1e-6)


def test_intervals_and_paired_deltas():
    rng = np.random.default_rng(0)
    labels = rng.normal(size=200).tolist()
    good = (np.array(labels) + rng.normal(scale=0.3, size=200)).tolist()
    bad = (np.array(labels) + rng.normal(scale=1.5, size=200)).tolist()
    low, high = bootstrap_ci("pearson", labels, good, n_resamples=300, seed=1)
    assert low < get_metric("pearson").compute(labels, good) < high
    worse = paired_bootstrap("rmse", labels, good, bad, n_resamples=300, seed=1)
    assert worse["delta"] > 0 and worse["p_value"] < 0.01  # rmse: higher is worse
    assert get_metric("rmse").lower_is_better


def test_float_labels_choose_regression_metrics_and_ints_stay_classes():
    assert label_kind([0.5, 1.0]) == NUMBERS
    assert label_kind([0, 1, 1]) != NUMBERS
    assert choose_metrics({"eng_Latn": {"labels": [0.1, 0.7]}}) == ["pearson", "spearman", "rmse"]
    assert choose_metrics({"x": {"labels": ["a"]}}, task="regression") == ["pearson", "spearman", "rmse"]


def test_non_numbers_are_refused():
    with pytest.raises(InputError, match="does not fit"):
        get_metric("pearson").compute(["a", "b"], [1.0, 2.0])
    with pytest.raises(InputError, match="predict floats"):
        get_metric("rmse").compute([1.0, 2.0], [1.0, "x"])
    with pytest.raises(InputError, match="does not fit"):
        get_metric("accuracy").compute([1.0, 2.0], [1.0, 2.0])

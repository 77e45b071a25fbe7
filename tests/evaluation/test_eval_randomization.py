"""Approximate randomization as the paired test (`--significance randomization`): a system against itself has
p = 1, a clearly better one p < 0.05, and p approaches the exact permutation p-value."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from tests.evaluation.marks import write_marked

from polytune.cli import main
from polytune.config import EvalConfig
from polytune.errors import ConfigError
from polytune.evaluation.metrics import get_metric
from polytune.evaluation.report import build_report
from polytune.evaluation.stats import randomization_p_value, randomized_differences


def test_a_system_against_itself_has_p_one():
    metric = get_metric("chrf")
    refs = [f"a b c {i}" for i in range(30)]
    stats = metric.statistics(refs, [r.replace("c", "x") for r in refs])
    diffs = randomized_differences(metric, stats, stats, 500, seed=1)
    assert diffs.shape == (500,) and np.all(diffs == 0)
    assert randomization_p_value(0.0, diffs) == 1.0


def test_p_approaches_the_exact_permutation_p_value():
    labels = list("ababababab")
    # Both right on 0-3, only `other` right on 4-8, both wrong on 9: |Δ| = 50 needs all five swaps one way.
    other = labels[:9] + ["c"]
    base = labels[:4] + ["c"] * 6
    metric = get_metric("accuracy")
    sa, sb = metric.statistics(labels, base), metric.statistics(labels, other)
    delta = metric.compute(labels, other) - metric.compute(labels, base)
    exact = []  # every one of the 2^10 swaps
    right_a = [x == y for x, y in zip(labels, base, strict=True)]
    right_b = [x == y for x, y in zip(labels, other, strict=True)]
    for swap in itertools.product([0, 1], repeat=10):
        # Accuracy difference of the swapped pair, counted by hand (independent of the metric's statistics).
        exact.append(10 * sum((ra - rb) if s else (rb - ra) for ra, rb, s in zip(right_a, right_b, swap, strict=True)))
    p_exact = float(np.mean(np.abs(exact) >= abs(delta) - 1e-9))
    p = randomization_p_value(delta, randomized_differences(metric, sa, sb, 20000, seed=3))
    assert p_exact == 2 / 32
    assert p == pytest.approx(p_exact, abs=0.01)


def _write(root, marks):
    return write_marked(root, marks, wrong="x")


def test_report_with_randomization(tmp_path):
    weak = "1100101001" * 6  # 50% right
    strong = "1111111101" * 6  # 90% right, right wherever weak is
    marks = {"base": {"nya_Latn": weak, "ara_Arab": weak}, "same": {"nya_Latn": weak, "ara_Arab": weak},
             "better": {"nya_Latn": strong, "ara_Arab": strong}}  # fmt: skip
    pred = _write(tmp_path / "pred", marks)
    report = build_report(pred, tmp_path / "out", baseline="base", metrics=["accuracy"], n_resamples=400,
                          significance="randomization")  # fmt: skip
    assert report["significance"] == "randomization"
    for table in [*report["results"].values(), report["average"]]:
        assert table["deltas"]["same"]["accuracy"]["p_value"] == 1.0
        assert table["deltas"]["better"]["accuracy"]["p_value"] < 0.05
        assert table["deltas"]["better"]["accuracy"]["delta"] == pytest.approx(40.0)
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "approximate-randomization p-value" in md
    boot = build_report(pred, tmp_path / "boot", baseline="base", metrics=["accuracy"], n_resamples=400)
    assert boot["significance"] == "bootstrap"
    # Only the p-values differ: scores, intervals and Δ intervals are the bootstrap ones either way.
    assert boot["results"]["nya_Latn"]["scores"] == report["results"]["nya_Latn"]["scores"]
    assert (
        boot["average"]["deltas"]["better"]["accuracy"]["ci"]
        == report["average"]["deltas"]["better"]["accuracy"]["ci"]
    )


def test_cli_flag_and_config_value(tmp_path, monkeypatch):
    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))
    pred = _write(tmp_path / "pred", {"a": {"nya_Latn": "1010"}, "b": {"nya_Latn": "1110"}})
    argv = ["eval", "score", "--predictions", str(pred), "--out", str(tmp_path / "rep"), "--bootstrap", "50"]
    assert main.main([*argv, "--significance", "randomization"]) == 0
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["significance"] == "randomization"
    with pytest.raises(ConfigError, match="significance must be one of bootstrap, randomization, got 'permutation'"):
        EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path / "o", significance="permutation")
    with pytest.raises(ConfigError, match="significance must be one of"):
        build_report(pred, tmp_path / "x", significance="permutation")

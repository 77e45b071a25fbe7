"""Label imbalance: class weights computed by hand (inverse frequency, effective number), the class_weights.json
format a task adapter reads, and `polytune class-weights`."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.cli.main import main
from polytune.config import ClassWeightsConfig
from polytune.corpus.class_weights import class_weights, run_class_weights
from polytune.errors import ConfigError, InputError


@pytest.mark.parametrize(
    ("method", "beta", "expected"),
    [
        ("inverse", None, {"a": 40 / 60, "b": 40 / 20}),  # N / (K · n_c)
        # (1 - .9) / (1 - .9^30) = 0.104427, (1 - .9) / (1 - .9^10) = 0.153534; scaled to sum to K = 2
        ("effective", 0.9, {"a": 0.809633, "b": 1.190367}),
        ("effective", 0.0, {"a": 1.0, "b": 1.0}),  # beta 0: no reweighting
        ("effective", 0.999999, {"a": 0.5, "b": 1.5}),  # beta -> 1: inverse frequency, normalized to sum K
    ],
)
def test_class_weights_by_hand(method, beta, expected):
    assert class_weights({"a": 30, "b": 10}, method, beta if beta is not None else 0.999) == pytest.approx(
        expected, rel=1e-4)  # fmt: skip


@settings(deadline=None, max_examples=40)  # the first call imports scikit-learn
@given(st.dictionaries(st.text("abcdef", min_size=1), st.integers(1, 10**4), min_size=1))
def test_inverse_matches_scikit_learn_balanced(counts):
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    labels = sorted(counts)
    y = np.repeat(labels, [counts[k] for k in labels])
    expected = compute_class_weight("balanced", classes=np.array(labels), y=y)
    assert [class_weights(counts)[k] for k in labels] == pytest.approx(list(expected))


def test_errors():
    for bad in ({}, {"a": 0}):
        with pytest.raises(ConfigError, match="class counts must be positive"):
            class_weights(bad)
    with pytest.raises(ConfigError, match="beta must be in"):
        ClassWeightsConfig(input=".", out="o", beta=1.0)
    with pytest.raises(ConfigError, match="method must be one of"):
        ClassWeightsConfig(input=".", out="o", method="focal")


def test_class_weights_json_format(tmp_path, synthetic_corpus):
    cfg = ClassWeightsConfig(input=synthetic_corpus, out=tmp_path / "w", langs=["eng"], method="effective")
    result = run_class_weights(cfg)
    written = json.loads((tmp_path / "w" / "class_weights.json").read_text())
    assert written == result
    assert set(written) == {"label_field", "method", "beta", "weights", "counts", "total", "split", "langs"}
    assert written["label_field"] == "genre" and written["method"] == "effective" and written["beta"] == 0.999
    # train chapters of the synthetic corpus: 28 of 48 (3 in every 5), 5 verses each, genres by chapter
    assert sum(written["counts"].values()) == written["total"] == 28 * 5
    assert sum(written["weights"].values()) == pytest.approx(len(written["weights"]))
    rare = min(written["counts"], key=written["counts"].get)
    assert written["weights"][rare] == max(written["weights"].values())
    assert json.loads((tmp_path / "w" / "manifest.json").read_text())["stage"] == "class_weights"


def test_cli(tmp_path, capsys, synthetic_corpus):
    out = str(tmp_path / "w")
    assert main(["class-weights", "--input", str(synthetic_corpus), "--out", out, "--langs", "nya_Latn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["label", "count", "weight"] and len(lines) == 10
    assert lines[-1].startswith("inverse weights of 8 classes")
    assert main(["class-weights", "--input", str(synthetic_corpus), "--out", out, "--label-field", "topic"]) == 2
    assert "has no 'topic'" in capsys.readouterr().err
    with pytest.raises(InputError, match="no records of split 'dev'"):
        run_class_weights(ClassWeightsConfig(input=synthetic_corpus, out=tmp_path / "x", split="dev", langs=["vie"]))

"""Metric registry: values equal scikit-learn / sacrebleu, vectorized statistics equal the library, errors."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from polytune.errors import ConfigError, InputError
from polytune.evaluation.metrics import available_metrics, get_metric

CLASSIFICATION_CASES = [
    # (labels, preds, accuracy, macro_f1) worked by hand; micro-F1 equals accuracy for single-label data.
    (["a", "b", "b"], ["a", "b", "a"], 200 / 3, 200 / 3),
    (["a", "a", "a", "a"], ["a", "a", "a", "a"], 100.0, 100.0),
    (["a", "b"], ["b", "a"], 0.0, 0.0),
    # "c" is predicted but never gold: it counts as a class with F1 0 (sklearn's default labels).
    (["a", "a", "b", "b"], ["a", "c", "b", "b"], 75.0, (200 / 3 + 100 + 0) / 3),
    # "b" is gold but never predicted.
    (["a", "a", "a", "b"], ["a", "a", "a", "a"], 75.0, (600 / 7 + 0) / 2),
]


@pytest.mark.parametrize(("labels", "preds", "accuracy", "macro"), CLASSIFICATION_CASES)
def test_classification_values(labels, preds, accuracy, macro):
    assert get_metric("accuracy").compute(labels, preds) == pytest.approx(accuracy)
    assert get_metric("macro_f1").compute(labels, preds) == pytest.approx(macro)
    assert get_metric("micro_f1").compute(labels, preds) == pytest.approx(accuracy)
    assert get_metric("accuracy").compute(labels, preds) == pytest.approx(100 * accuracy_score(labels, preds))
    assert get_metric("macro_f1").compute(labels, preds) == pytest.approx(
        100 * f1_score(labels, preds, average="macro", zero_division=0)
    )


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "micro_f1"])
@pytest.mark.parametrize(("labels", "preds", "accuracy", "macro"), CLASSIFICATION_CASES)
def test_statistics_reproduce_the_corpus_score(name, labels, preds, accuracy, macro):
    metric = get_metric(name)
    totals = metric.statistics(labels, preds).sum(axis=0, keepdims=True)
    assert metric.scores_from_statistics(totals)[0] == pytest.approx(metric.compute(labels, preds))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcde"), st.integers(0, 3)), min_size=1, max_size=30)
)
def test_weighted_statistics_equal_sklearn_on_the_expanded_corpus(rows):
    """A bootstrap resample is a weighting of examples: the vectorized score must equal sklearn on that corpus."""
    if sum(w for _, _, w in rows) == 0:
        rows = [(rows[0][0], rows[0][1], 1)]
    labels, preds, weights = zip(*rows, strict=True)
    expanded = [(lab, pred) for lab, pred, w in rows for _ in range(w)]
    exp_labels, exp_preds = zip(*expanded, strict=True)
    for name in ("accuracy", "macro_f1", "micro_f1"):
        metric = get_metric(name)
        totals = np.asarray(weights, dtype=float) @ metric.statistics(labels, preds)
        got = metric.scores_from_statistics(totals[None, :])[0]
        assert got == pytest.approx(get_metric(name).compute(exp_labels, exp_preds))


GENERATION_CASES = [
    (["the cat sat on the mat", "a dog barked"], ["the cat sat on a mat", "the dog barked loudly"]),
    (["hello world"], ["hello world"]),
    # CJK: chrF works on characters, so it needs no word segmentation.
    (["我喜欢吃苹果", "今天天气很好"], ["我爱吃苹果", "今天天气不错"]),
    (["猫が好きです"], ["犬が好きです"]),
]


@pytest.mark.parametrize(("refs", "hyps"), GENERATION_CASES)
def test_generation_values_equal_sacrebleu(refs, hyps):
    assert get_metric("chrf").compute(refs, hyps) == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert get_metric("bleu").compute(refs, hyps) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    for name in ("chrf", "bleu"):
        metric = get_metric(name)
        totals = metric.statistics(refs, hyps).sum(axis=0, keepdims=True)
        assert metric.scores_from_statistics(totals)[0] == pytest.approx(metric.compute(refs, hyps))


def test_cjk_chrf_and_options():
    refs, hyps = ["我喜欢吃苹果"], ["我爱吃苹果"]
    chrf = get_metric("chrf").compute(refs, hyps)
    assert 0 < chrf < 100
    assert chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    zh = get_metric("bleu", tokenize="zh").compute(refs, hyps)
    assert zh == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)
    assert "tok:zh" in get_metric("bleu", tokenize="zh").signature()
    assert get_metric("chrf", word_order=2).compute(refs, hyps) == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score
    )


def test_signatures():
    sk = version("scikit-learn")
    macro = get_metric("macro_f1")
    assert macro.signature() == f"metric:macro_f1|avg:macro|labels:?|impl:sklearn-{sk}|polytune:0.1.0"
    macro.compute(list("abcabcdefgh"), list("abcabcdefgh"))
    assert macro.signature() == f"metric:macro_f1|avg:macro|labels:8|impl:sklearn-{sk}|polytune:0.1.0"
    acc = get_metric("accuracy")
    acc.compute(["x", "y"], ["y", "y"])
    assert acc.signature() == f"metric:accuracy|labels:2|impl:sklearn-{sk}|polytune:0.1.0"
    chrf = get_metric("chrf")
    expected = sacrebleu.metrics.CHRF()
    expected.corpus_score(["a"], [["a"]])
    assert chrf.signature() == f"metric:chrf|{expected.get_signature().format()}|polytune:0.1.0"
    assert get_metric("bleu").signature().startswith("metric:bleu|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")


def test_registry_and_unknown_names():
    assert available_metrics() == [
        "accuracy", "bleu", "chrf", "chrf_pp", "exact_match", "macro_f1", "micro_f1", "ner_f1", "pearson", "rmse",
        "spearman", "ter",
    ]  # fmt: skip
    with pytest.raises(ConfigError, match=r"unknown metric 'macro-f1' \(did you mean 'macro_f1'\?\); available: "):
        get_metric("macro-f1")
    available = "accuracy, bleu, chrf, chrf_pp, exact_match, macro_f1, micro_f1, ner_f1, pearson, rmse, spearman, ter"
    with pytest.raises(ConfigError, match=f"available: {available}"):
        get_metric("perplexity")


@pytest.mark.parametrize("name", ["accuracy", "macro_f1", "chrf"])
def test_bad_inputs(name):
    metric = get_metric(name)
    with pytest.raises(InputError, match="2 labels but 1 predictions"):
        metric.compute(["a", "b"], ["a"])
    with pytest.raises(InputError, match="no examples"):
        metric.compute([], [])
    with pytest.raises(InputError, match="2 labels but 1 predictions"):
        metric.statistics(["a", "b"], ["a"])

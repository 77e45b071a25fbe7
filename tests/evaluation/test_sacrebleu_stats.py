"""polytune's own per-segment statistics of BLEU, chrF, chrF++ and TER give sacrebleu's scores: the sum of a corpus's
rows scores as `corpus_score`, one row as `sentence_score`, on texts that reach the odd cases (empty hypotheses and
references, punctuation at word edges, case, CJK, repeated words)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU, CHRF, TER

from polytune.evaluation.metrics import get_metric
from polytune.evaluation.metrics.sacrebleu_stats import Statistics

METRICS = {
    "bleu": BLEU,
    "bleu-zh": lambda: BLEU(tokenize="zh"),
    "bleu-char-lower": lambda: BLEU(tokenize="char", lowercase=True),
    "bleu-exp-smoothing-effective": lambda: BLEU(smooth_method="exp", effective_order=True),
    "chrf": CHRF,
    "chrf++": lambda: CHRF(word_order=2),
    "chrf-lower-whitespace": lambda: CHRF(lowercase=True, whitespace=True),
    "chrf-eps": lambda: CHRF(eps_smoothing=True),
    "ter": TER,
    "ter-asian-case": lambda: TER(asian_support=True, case_sensitive=True),
    "ter-normalized-nopunct": lambda: TER(normalized=True, no_punct=True),
}
WORDS = ["the", "The", "cat", "cat.", "(hi)", "sat,", "on", "mat!", "a", "我们", "是", "'s", "-", "e.g.", "Ãbc"]
segment = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
corpus = st.lists(st.tuples(segment, segment), min_size=1, max_size=8)


@pytest.mark.parametrize("name", list(METRICS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=corpus)
def test_summed_rows_score_as_corpus_score_and_one_row_as_sentence_score(name, pairs):
    metric = METRICS[name]()
    hyps, refs = [h for h, _ in pairs], [r for _, r in pairs]
    rows = np.asarray(Statistics(metric).of_segments(hyps, refs), dtype=np.float64)
    ours = Statistics(metric)
    assert ours.score(rows.sum(axis=0)) == pytest.approx(metric.corpus_score(hyps, [refs]).score, abs=1e-9)
    sentence = METRICS[name]()
    for (hyp, ref), row in zip(pairs, rows, strict=True):
        expected = sentence.sentence_score(hyp, [ref]).score
        if name.startswith("bleu") and sentence.effective_order is False:
            expected = sentence.corpus_score([hyp], [[ref]]).score  # sentence_score forces effective order
        assert ours.score(row) == pytest.approx(expected, abs=1e-9)


def test_references_are_prepared_once_for_many_systems_and_again_when_they_change():
    stats = Statistics(CHRF())
    first = stats.of_segments(["a cat"], ["a cat"])
    assert stats.of_segments(["a dog"], ["a cat"]) != first  # same references, another system
    assert stats.of_segments(["a cat"], ["a dog"]) != first  # new references are read, not the cached ones
    assert stats.of_segments(["a cat"], ["a cat"]) == first


def test_an_unknown_sacrebleu_metric_is_refused():
    with pytest.raises(TypeError, match="no segment statistics"):
        Statistics(object())


def test_polytune_metrics_use_these_statistics():
    metric = get_metric("chrf_pp")
    refs, hyps = ["the cat sat on the mat."] * 3, ["the cat sat.", "a mat", ""]
    score, stats = metric.score_and_statistics(refs, hyps)
    assert stats.shape == (3, 24)  # (6 character + 2 word orders) x (hypothesis, reference, matches)
    assert score == pytest.approx(CHRF(word_order=2).corpus_score(hyps, [refs]).score, abs=1e-9)

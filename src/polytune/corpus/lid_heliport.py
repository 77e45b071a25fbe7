"""The heliport backend: HeLI-OTS (220 languages, ISO 639-3 labels) in a compiled wheel. GPLv3: an optional extra,
`pip install 'polytune[lid-gpl]'`, imported only when the backend is asked for.

HeLI scores a text per language as the mean negative log10 probability of its features (lower is better). The
probability polytune writes is the best language's two-way posterior against the runner-up, per feature:
p1 = 1 / (1 + 10^-(s2 - s1)), in [0.5, 1]; a runner-up i gets 10^-s_i / (10^-s1 + 10^-s2), so p2 = 1 - p1.
heliport's own `identify_with_score` returns that gap s2 - s1 (its "confidence") at `identify` speed, while its
top-k call is about 2.5x slower; so the runner-ups are looked up only for texts whose p1 is below
`runner_ups_below` (0.9 here; the filter lowers it to (1 + mixed_margin) / 2, all its mixed-language flag needs).
A text heliport's own per-language confidence thresholds call `und` has no language (None: `lid_unknown` in the
filter), as in a bare `identify` loop.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from polytune.corpus.langid import LidBackend, Prediction, label_key
from polytune.errors import ModelError, require_module

CONFIDENT = 0.9  # default runner_ups_below: p1 at or above it lists only the best language


def two_way(gap: float) -> float:
    """p1 of a HeLI score gap. Example: two_way(0.0) -> 0.5; two_way(1.0) -> 0.909..."""
    return 1.0 / (1.0 + 10.0 ** (-gap))


def topk_probabilities(scores: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """heliport's raw top-k (label, score) as (label, probability). Example: [("swa", 3.0), ("nso", 4.0)] ->
    [("swa", 0.909...), ("nso", 0.0909...)]."""
    if len(scores) < 2:
        return [(label, 1.0) for label, _ in scores]
    best, second = scores[0][1], scores[1][1]
    norm = 1.0 + 10.0 ** (best - second)  # (10^-s1 + 10^-s2) / 10^-s1
    return [(label, 10.0 ** (best - score) / norm) for label, score in scores]


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    heliport = require_module("heliport", extra="lid-gpl")
    return heliport.Identifier()


class _Keys(dict):
    """label -> key, built once per model; a label heliport did not list is normalized on first sight."""

    def __missing__(self, label: str) -> str | None:
        self[label] = key = label_key(label)
        return key


class HeliportBackend(LidBackend):
    """heliport (HeLI-OTS, 220 languages; GPLv3, `polytune[lid-gpl]`), its model shipped in the wheel."""

    name = "heliport"
    runner_ups_below = CONFIDENT

    def __init__(self, model: str | None = None) -> None:
        if model:
            raise ModelError(f"backend heliport ships its own model: drop the model path {model!r}")
        self._identifier = _identifier()

    def predict_topk(self, texts: list[str], k: int = 3, decimals: int | None = None) -> list[list[Prediction]]:
        """As LidBackend.predict_topk; runner-ups only where they can matter (see the module docstring)."""
        identify, topk, rows = self._identifier.identify_with_score, self._identifier.identify_topk_with_score, []
        below = self.runner_ups_below  # p1 < below  <=>  gap < log10(below / (1 - below))
        gap_below = math.inf if below >= 1 else -math.inf if below <= 0.5 else math.log10(below / (1 - below))
        keys, exact = self._keys, decimals is None
        for text in texts:  # the hot loop of a filter run: one native call per text, little else
            label, gap = identify(text)
            if label == "zxx":  # no letters at all
                rows.append([(None, 1.0)])
            elif k > 1 and gap < gap_below and label != "und":
                top = topk_probabilities(topk(text, max(k, 2)))[:k]
                rows.append([(keys[lab], p if exact else round(p, decimals)) for lab, p in top])
            else:  # confident, or below heliport's own threshold (`und`: no language)
                p = 1.0 / (1.0 + 10.0 ** (-gap))
                rows.append([(keys[label], p if exact else round(p, decimals))])
        return rows

    def _predict_topk(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        """The base's hook, through the fast path above ("zxx": no letters, which is no language key)."""
        return [[(key or "zxx", p) for key, p in row] for row in self.predict_topk(texts, k)]

    @functools.cached_property
    def _keys(self) -> dict[str, str | None]:
        return _Keys((label, label_key(label)) for label in self._labels())

    def _labels(self) -> list[str]:
        return list(self._identifier.get_confidence_all())

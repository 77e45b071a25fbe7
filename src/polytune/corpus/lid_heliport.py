"""The heliport backend: HeLI-OTS (220 languages, ISO 639-3 labels) in a compiled wheel. GPLv3: an optional extra,
`pip install 'polytune[lid-gpl]'`, imported only when the backend is asked for.

HeLI scores a text per language as the mean negative log10 probability of its features (lower is better). The
probability polytune writes is the best language's two-way posterior against the runner-up, per feature:
p1 = 1 / (1 + 10^-(s2 - s1)), in [0.5, 1]; a runner-up i gets 10^-s_i / (10^-s1 + 10^-s2). heliport's own
`identify_with_score` returns that gap s2 - s1 (its "confidence") at `identify` speed, while its top-k call is
about 2.5x slower; so the runner-ups are looked up only for texts where they can matter: when p1 < 0.9 (a
mixed-language flag with a margin up to 0.8 needs the second score) or heliport's own confidence threshold says
`und`. A confident text lists only its best language in `lid_topk`.
"""

from __future__ import annotations

import functools
from typing import Any

from polytune.corpus.langid import LidBackend, Prediction, label_key
from polytune.errors import ModelError, require_module

CONFIDENT = 0.9  # p1 at or above this: runner-ups cannot reach a mixed margin <= 0.8, so they are not looked up
_GAP = 0.9542425094393249  # log10(0.9 / 0.1): the gap s2 - s1 at which p1 == CONFIDENT


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


class HeliportBackend(LidBackend):
    """heliport (HeLI-OTS, 220 languages; GPLv3, `polytune[lid-gpl]`), its model shipped in the wheel."""

    name = "heliport"

    def __init__(self, model: str | None = None) -> None:
        if model:
            raise ModelError(f"backend heliport ships its own model: drop the model path {model!r}")
        self._identifier = _identifier()

    def predict_topk(self, texts: list[str], k: int = 3, decimals: int | None = None) -> list[list[Prediction]]:
        """As LidBackend.predict_topk; runner-ups only where they can matter (see the module docstring)."""
        ident, rows = self._identifier, []
        for text in texts:
            label, gap = ident.identify_with_score(text)
            if label == "und" or (k > 1 and gap < _GAP):
                top = topk_probabilities(ident.identify_topk_with_score(text, max(k, 2)))[:k]
            else:
                top = [(label, two_way(gap) if label != "zxx" else 1.0)]
            rows.append([(label_key(lab), round(p, decimals) if decimals is not None else p) for lab, p in top])
        return rows

    def _labels(self) -> list[str]:
        return list(self._identifier.get_confidence_all())

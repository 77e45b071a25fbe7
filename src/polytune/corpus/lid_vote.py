"""The `vote` ensemble: any number of LID backends vote on each text with their scores; a backend abstains on a
language it cannot predict, so a language only one member knows is not outvoted by members that never could say it.

Score of a candidate language L (any language in a member's top-k):
    sum(w_m * p_m(L) for members m that know L) / sum(w_m for members m that know L)
where p_m(L) is m's probability for L (0 when L is outside m's top-k) and "knows" uses the matching rule of
polytune.langcodes (py3langid's `sw` answers for swh_Latn). Candidates that match are one candidate; it carries the
key of the first member (in the configured order) that names it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from polytune.corpus.langid import LidBackend, Prediction, backend_from_spec
from polytune.errors import ConfigError
from polytune.langcodes import match

MEMBER_K = 3  # candidates taken from each member's top-k (at least)


class VoteBackend(LidBackend):
    """A weighted vote of several backends (see the module docstring)."""

    name = "vote"

    def __init__(self, members: Sequence[tuple[str, LidBackend, float]]) -> None:
        if len(members) < 2:
            raise ConfigError(f"a vote needs at least 2 backends, got {[name for name, _, _ in members]}")
        for name, _, weight in members:
            if not weight > 0:
                raise ConfigError(f"vote weight of {name} must be positive, got {weight!r}")
        self.members = list(members)

    def predict_topk(self, texts: list[str], k: int = 3, decimals: int | None = None) -> list[list[Prediction]]:
        """The k best (key, vote score) per text, best first."""
        tops = [backend.predict_topk(texts, max(k, MEMBER_K)) for _, backend, _ in self.members]
        rows = []
        for i in range(len(texts)):
            ranked = self._vote([top[i] for top in tops])[:k]
            rows.append([(key, round(p, decimals) if decimals is not None else p) for key, p in ranked])
        return rows

    def _predict_topk(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        """The base's hook, through the vote itself: its keys are labels that normalize to themselves."""
        return [[(key, p) for key, p in row if key] for row in self.predict_topk(texts, k)]

    def _labels(self) -> list[str]:
        return sorted(self.languages)

    def _vote(self, answers: list[list[Prediction]]) -> list[Prediction]:
        candidates: list[str] = []
        said: dict[str, dict[int, float]] = {}
        for m, answer in enumerate(answers):
            for key, prob in answer:
                if key is None:
                    continue
                rep = match(key, candidates)
                if rep is None:
                    candidates.append(rep := key)
                said.setdefault(rep, {})[m] = max(prob, said.get(rep, {}).get(m, 0.0))
        scored = []
        for order, rep in enumerate(candidates):
            num = den = 0.0
            for m, (_, backend, weight) in enumerate(self.members):
                if m in said[rep]:
                    num, den = num + weight * said[rep][m], den + weight
                elif backend.knows(rep):
                    den += weight
            scored.append((-(num / den), order, rep))
        return [(rep, -neg) for neg, _, rep in sorted(scored)]

    @functools.cached_property
    def languages(self) -> frozenset[str]:
        """Every language any member can predict."""
        return frozenset().union(*(backend.languages for _, backend, _ in self.members))


def vote_backend(specs: Sequence[str], weights: Mapping[str, float] | None = None) -> VoteBackend:
    """A vote of backends given as specs ("heliport", "fasttext:glotlid.bin"), weighted by spec (default 1).

    Raises:
        ConfigError: fewer than 2 specs, a weight for no member, or a non-positive weight.
        ModelError: a member's model is missing or corrupt.
    """
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(specs))
    if unknown:
        raise ConfigError(f"vote weights name {unknown}, which are not voters {list(specs)}")
    return VoteBackend([(spec, backend_from_spec(spec), float(weights.get(spec, 1.0))) for spec in specs])

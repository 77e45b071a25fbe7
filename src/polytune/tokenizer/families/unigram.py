"""Unigram (XLM-R, mT5, SentencePiece unigram): new pieces with scores, appended to the model's piece list.

A new piece's score is the best path score of its own text under the vocabulary so far (base + the new pieces
already placed, shorter first) plus `MARGIN`: Viterbi prefers it exactly where the best segmentation of the word
has boundaries at both ends of the piece, or nearly so, and leaves words the base already covers with one piece
alone. A character the base does not know gets the lowest base score, like the rarest known character.
"""

from __future__ import annotations

import math
from typing import Any

from polytune.tokenizer.families.base import Family

MARGIN = 1.0  # log-prob bonus over the path the piece replaces: a factor e, enough to win, small enough to stay put
UNK_PENALTY = 10.0  # the Unigram model's own penalty below the lowest score for an unknown character


class UnigramFamily(Family):
    """Extension hooks of the Unigram family."""

    name = "unigram"

    def __init__(self, data: dict[str, Any], model: Any) -> None:
        super().__init__(data, model)
        self.marker = _metaspace(data) or "▁"
        self.scores = {piece: float(score) for piece, score in self.model_json["vocab"]}
        self.min_score = min(self.scores.values())
        self.longest = max(len(piece) for piece in self.scores)

    def _vocab(self) -> dict[str, int]:
        return {piece: i for i, (piece, _) in enumerate(self.model_json["vocab"])}

    def _unk(self) -> int | None:
        return self.model_json.get("unk_id")

    def best_score(self, text: str, scores: dict[str, float]) -> float:
        """Viterbi: the best total score of `text` over `scores`, an unknown character at min - UNK_PENALTY."""
        best = [0.0] + [-math.inf] * len(text)
        for end in range(1, len(text) + 1):
            for begin in range(max(0, end - self.longest), end):
                score = scores.get(text[begin:end])
                if score is None and end - begin == 1:
                    score = self.min_score - UNK_PENALTY
                if score is not None and best[begin] + score > best[end]:
                    best[end] = best[begin] + score
        return best[-1]

    def append(self, chosen: list[dict[str, Any]], start: int, limit: int) -> tuple[dict[str, Any], list[dict]]:
        """The piece list with the entries appended (ids in `chosen` order) and each entry's score recorded."""
        chosen = [dict(entry) for entry in chosen[:limit]]
        scores = dict(self.scores)
        # Shorter first, so that a piece's score accounts for the new pieces inside it.
        for entry in sorted(chosen, key=lambda e: (len(e["token"]), e["token"])):
            token = entry["token"]
            unknown = len(token) == 1 and self.unknown(token, False)
            score = self.min_score if unknown else self.best_score(token, scores) + MARGIN
            self.longest = max(self.longest, len(token))
            scores[token] = entry["score"] = round(min(score, 0.0), 6)
        vocab = [*self.model_json["vocab"], *([entry["token"], entry["score"]] for entry in chosen)]
        return {**self.model_json, "vocab": vocab}, chosen


def _metaspace(data: dict[str, Any]) -> str | None:
    """The replacement character of a Metaspace pre-tokenizer (alone or in a Sequence), if there is one."""
    stack = [data.get("pre_tokenizer") or {}]
    while stack:
        node = stack.pop()
        if node.get("type") == "Metaspace":
            return node.get("replacement", "▁")
        stack.extend(node.get("pretokenizers", []))
    return None

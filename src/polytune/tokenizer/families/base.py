"""The hooks a tokenizer family fills for vocabulary extension (borrowed shape: sacrebleu's metric base class).

A family sees the base tokenizer's *words*: what its normalizer and pre-tokenizer produce, split once more at
the family's word-start marker ("▁" for SentencePiece-style models, "Ġ" for byte-level BPE, none for WordPiece).
A learned piece is a `surface` string plus whether it starts a word (`initial`); `entry` writes it the way the
model's vocabulary spells it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

# Frequent English endings added to the base's own words by the guard (inflections the vocab rarely holds whole).
GUARD_ENDINGS = ("", "s", "es", "ed", "d", "ing", "er", "ers", "est", "eth", "ly", "th", "ness", "ment")


class Family(ABC):
    """Defaults shared by the families; subclasses set `name`, `marker` and implement `append`."""

    name = "?"
    marker = ""  # word-start marker inside pre-tokens
    fallback_positions: tuple[bool, ...] = (False,)  # positions in which unknown characters are added

    def __init__(self, data: dict[str, Any], model: Any) -> None:
        self.data = data
        self.model_json: dict[str, Any] = data["model"]
        self.model = model
        self.vocab: dict[str, int] = self._vocab()
        self.unk: int | None = self._unk()

    def _vocab(self) -> dict[str, int]:
        return dict(self.model_json["vocab"])

    def _unk(self) -> int | None:
        token = self.model_json.get("unk_token")
        return self.vocab.get(token) if token else None

    def words(self, pretokens: list[str]) -> list[str]:
        """The base's words: pre-tokens split before every marker. Example ("▁"): ["▁a▁b"] -> ["▁a", "▁b"]."""
        if not self.marker:
            return [p for p in pretokens if p]
        split = re.compile(f"(?={re.escape(self.marker)})")
        return [w for p in pretokens for w in split.split(p) if w and w != self.marker]

    def surface(self, word: str) -> str:
        """A word without its marker: the text SentencePiece learns from. Example ("Ġ"): "Ġkuna" -> "kuna"."""
        return word[len(self.marker) :] if self.marker and word.startswith(self.marker) else word

    def entry(self, surface: str, initial: bool) -> str:
        """How the vocab spells a piece. Example ("▁"): entry("ku", True) -> "▁ku", entry("na", False) -> "na"."""
        return self.marker + surface if initial else surface

    def tokens(self, surface: str, initial: bool) -> list[tuple[int, str]]:
        """(id, text) of the base's tokens of the piece on its own, the base model's own algorithm."""
        return [(t.id, t.value) for t in self.model.tokenize(self.entry(surface, initial))]

    def base_ids(self, surface: str, initial: bool) -> list[int]:
        """The base ids of a piece (the input of embedding initialization)."""
        return [i for i, _ in self.tokens(surface, initial)]

    def cost(self, surface: str, initial: bool) -> int:
        """Base tokens of a piece, an unknown token counting one per character it hides (spelled out later)."""
        return sum(len(text) if i == self.unk else 1 for i, text in self.tokens(surface, initial))

    def unknown(self, char: str, initial: bool) -> bool:
        """Whether the base can only read `char` (in that position) as its unknown token."""
        return self.unk is not None and self.unk in self.base_ids(char, initial)

    def guard_words(self) -> set[str]:
        """English-like words (as the base sees them) whose split a new entry must not change.

        The base vocabulary's own word-initial Latin entries of 3+ letters (for an English base, English words
        and word starts), each also with frequent English endings, so the guard needs no English in the input.
        Example (WordPiece): "love" -> {"love", "loves", "loved", "loving"...}.
        """
        words = set()
        for token in self.vocab:
            surface = self.initial_surface(token)
            if surface is not None and len(surface) >= 3 and surface.isascii() and surface.isalpha():
                words.update(self.entry(surface + end, True) for end in GUARD_ENDINGS)
        return words

    def initial_surface(self, token: str) -> str | None:
        """The surface of a word-initial vocab entry, None for a continuation entry. Example: "▁love" -> "love"."""
        return token[len(self.marker) :] if self.marker and token.startswith(self.marker) else None

    @abstractmethod
    def append(self, chosen: list[dict[str, Any]], start: int, limit: int) -> tuple[dict[str, Any], list[dict]]:
        """The model section with `chosen` entries appended from id `start` on, and the entries as added.

        Args:
            chosen: entries ({"token", "piece", "initial", "base_ids", "saved"}), best first.
            start: the first new id (the base's ids never move).
            limit: add at most this many entries (a family may need helper entries, e.g. BPE intermediates).
        """

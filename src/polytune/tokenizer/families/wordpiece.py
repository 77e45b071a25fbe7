"""WordPiece (BERT, MiniLM): word-initial entries "abc" and continuation entries "##abc"."""

from __future__ import annotations

from typing import Any

from polytune.tokenizer.families.base import Family


class WordPieceFamily(Family):
    """Extension hooks of the WordPiece family."""

    name = "wordpiece"
    # WordPiece turns a whole word into [UNK] when any character is missing: add both forms of such characters.
    fallback_positions = (True, False)

    def __init__(self, data: dict[str, Any], model: Any = None) -> None:
        super().__init__(data if "model" in data else {"model": data}, model)
        self.prefix = self.model_json.get("continuing_subword_prefix") or "##"
        self.max_chars = self.model_json.get("max_input_chars_per_word") or 100

    def _unk(self) -> int | None:
        return self.vocab.get(self.model_json.get("unk_token") or "[UNK]")

    def initial_surface(self, token: str) -> str | None:
        """Every entry without the "##" prefix starts a word. Example: "love" -> "love", "##ly" -> None."""
        return None if token.startswith(self.prefix) else token

    def entry(self, surface: str, initial: bool) -> str:
        """The vocab entry of a piece. Example: entry("abc", False) -> "##abc"."""
        return surface if initial else self.prefix + surface

    def base_ids(self, surface: str, initial: bool) -> list[int]:
        """How the base tokenizes `surface` as a word start (initial) or as the rest of a word (continuation).

        WordPiece's own greedy longest-match-first, started in the given position: a continuation uses only
        "##" entries, exactly as WordPiece does after an earlier piece of the same word. Like WordPiece, a piece
        that cannot be fully matched is one [UNK].
        """
        if len(surface) > self.max_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(surface):
            for end in range(len(surface), start, -1):
                token = surface[start:end] if initial and start == 0 else self.prefix + surface[start:end]
                if token in self.vocab:
                    ids.append(self.vocab[token])
                    start = end
                    break
            else:
                return [self.unk]
        return ids

    def tokens(self, surface: str, initial: bool) -> list[tuple[int, str]]:
        ids = self.base_ids(surface, initial)
        return [(self.unk, surface)] if ids == [self.unk] else [(i, "") for i in ids]

    def unknown(self, char: str, initial: bool) -> bool:
        return self.base_ids(char, initial) == [self.unk]

    def append(self, chosen: list[dict[str, Any]], start: int, limit: int) -> tuple[dict[str, Any], list[dict]]:
        """A copy of the model JSON with the entries appended as ids start, start+1, ..."""
        chosen = chosen[:limit]
        vocab = dict(self.vocab)
        vocab.update({entry["token"]: start + i for i, entry in enumerate(chosen)})
        return {**self.model_json, "vocab": vocab}, chosen

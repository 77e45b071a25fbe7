"""BPE: vocab entries plus merges spliced in, for byte-level BPE (GPT-2, Llama-3) and SentencePiece-BPE (Llama-2).

BPE only ever emits a token that a merge builds, so every new entry needs a merge of two tokens that the model's
merging actually produces for that text. New entries are placed shorter first; for each, the text is merged with
the merges so far (base + new), and the resulting parts are joined left to right by new merges appended after the
base's, so base merges keep their priority. Parts joined on the way that are not in the vocabulary yet become
helper entries ("intermediate": true), counted in the budget. A character missing from a byte-fallback vocabulary
(Llama-2) enters as a plain vocab entry: the model looks characters up before falling back to bytes.
"""

from __future__ import annotations

from typing import Any

from polytune.errors import ConfigError
from polytune.tokenizer.families.base import Family


class BPEFamily(Family):
    """Extension hooks of the BPE family."""

    name = "bpe"

    def __init__(self, data: dict[str, Any], model: Any) -> None:
        super().__init__(data, model)
        if self.model_json.get("continuing_subword_prefix") or self.model_json.get("end_of_word_suffix"):
            raise ConfigError(
                "BPE bases with continuing_subword_prefix or end_of_word_suffix are not supported: use a "
                "byte-level (GPT-2/Llama-3) or SentencePiece-style (Llama-2) BPE tokenizer"
            )
        self.marker = _marker(data)
        self.byte_level = _has(data.get("pre_tokenizer"), "ByteLevel")
        self.byte_fallback = bool(self.model_json.get("byte_fallback"))
        # Byte-level BPE reads every character; the others read a missing one as bytes or as the unknown token.
        self.fallback_positions = () if self.byte_level else (False,)
        merges = self.model_json.get("merges") or []
        self.pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
        self.as_strings = bool(merges) and isinstance(merges[0], str)

    def symbols(self, text: str, vocab: dict[str, int]) -> list[str]:
        """The symbols BPE starts from: characters in the vocab, else their bytes (byte fallback) or themselves."""
        out: list[str] = []
        for char in text:
            if char in vocab or not self.byte_fallback:
                out.append(char)
            else:
                out += [f"<0x{b:02X}>" for b in char.encode("utf-8")]
        return out

    def unknown(self, char: str, initial: bool) -> bool:
        """Whether `char` is missing from the vocabulary (read as bytes or as the unknown token)."""
        return not self.byte_level and char not in self.vocab

    @staticmethod
    def merge(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
        """Apply merges lowest rank first. Example: merge(["a", "b", "c"], {("a", "b"): 0}) -> ["ab", "c"]."""
        symbols = list(symbols)
        while len(symbols) > 1:
            found = [(ranks[p], i) for i, p in enumerate(zip(symbols, symbols[1:], strict=False)) if p in ranks]
            if not found:
                break
            _, i = min(found)
            symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
        return symbols

    def _helper(self, token: str) -> dict[str, Any]:
        initial = bool(self.marker) and token.startswith(self.marker)
        piece = token[len(self.marker) :] if initial else token
        return {"token": token, "piece": piece, "initial": initial, "base_ids": self.base_ids(piece, initial),
                "saved": 0, "intermediate": True}  # fmt: skip

    def append(self, chosen: list[dict[str, Any]], start: int, limit: int) -> tuple[dict[str, Any], list[dict]]:
        """Vocab and merges with the entries spliced in; entries in id order, helper entries included."""
        vocab, ranks, pairs, added = dict(self.vocab), {p: r for r, p in enumerate(self.pairs)}, [], []
        # Jargon first (asked for by name), then shorter first; stable: best first within a length.
        for entry in sorted(chosen[:limit], key=lambda e: (not e.get("jargon"), len(e["token"]))):
            token = entry["token"]
            if token in vocab:
                continue
            chars = [] if self.byte_level else sorted({c for c in token if c not in vocab and c != token})
            parts = self.merge(self.symbols(token, {**vocab, **dict.fromkeys(chars, 0)}), ranks)
            missing = len(chars) + sum(1 for i in range(2, len(parts) + 1) if "".join(parts[:i]) not in vocab)
            if len(added) + max(missing, 1) > limit:
                continue
            for char in chars:  # characters first: merges start from them, never from their bytes
                vocab[char] = start + len(added)
                added.append(self._helper(char))
            if len(parts) == 1:  # a single character read as bytes (or unknown) so far
                vocab[token] = start + len(added)
                added.append(entry)
                continue
            while len(parts) > 1:
                joined = parts[0] + parts[1]
                if joined not in vocab:
                    vocab[joined] = start + len(added)
                    added.append(entry if joined == token else self._helper(joined))
                if (parts[0], parts[1]) not in ranks:
                    ranks[(parts[0], parts[1])] = len(self.pairs) + len(pairs)
                    pairs.append((parts[0], parts[1]))
                parts = [joined, *parts[2:]]
        merges = [*(self.model_json.get("merges") or [])]
        merges += [f"{a} {b}" if self.as_strings else [a, b] for a, b in pairs]
        return {**self.model_json, "vocab": vocab, "merges": merges}, added


def _has(node: dict[str, Any] | None, kind: str) -> bool:
    """Whether a normalizer/pre-tokenizer JSON (possibly a Sequence) contains a component of type `kind`."""
    stack = [node or {}]
    while stack:
        node = stack.pop()
        if node.get("type") == kind:
            return True
        stack.extend(node.get("pretokenizers", []) + node.get("normalizers", []))
    return False


def _marker(data: dict[str, Any]) -> str:
    """The word-start marker: "Ġ" (byte-level), the Metaspace replacement, or "▁" when the normalizer writes it."""
    if _has(data.get("pre_tokenizer"), "ByteLevel"):
        return "Ġ"
    stack = [data.get("pre_tokenizer") or {}]
    while stack:
        node = stack.pop()
        if node.get("type") == "Metaspace":
            return node.get("replacement", "▁")
        stack.extend(node.get("pretokenizers", []))
    return "▁" if "▁" in str(data.get("normalizer")) else ""

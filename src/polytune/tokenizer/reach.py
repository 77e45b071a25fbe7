"""Two checks of an extended tokenizer against its base, for the analysis report:

- **reachable pieces**: every added word-initial piece with a complete text of its own (not a BPE helper entry,
  not part of a character) is produced when that text is encoded. A piece no text produces wastes a row and can
  never be trained. (Continuation pieces depend on the word before them, so they are not checked alone.)
- **re-tokenized records**: the share of a language's records whose token ids differ between the base and the
  extended tokenizer; on held-out records of the source language it says how much of the base's own language the
  extension touched (0 is the goal; the extension guards its words).

Example: unreachable(extension, tokenizer) -> [] for a sound extension.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _byte_level_bytes() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable character that stands for each byte (its `bytes_to_unicode`)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            chars[chr(byte)] = byte
        else:
            chars[chr(256 + extra)] = byte
            extra += 1
    return chars


_BYTES = _byte_level_bytes()


def surface(entry: dict[str, Any]) -> str | None:
    """The text a word-initial entry stands for, as a user would type it; None for a continuation piece, a helper
    entry, or a byte-level piece that holds part of a character (no text of its own).

    Example: {"token": "Ġkuna", "piece": "kuna", "initial": true} -> " kuna"; {"token": "▁kuna", ...} -> "kuna"
    """
    token, piece = str(entry.get("token", "")), str(entry.get("piece", ""))
    if entry.get("intermediate") or not entry.get("initial", True) or not piece.strip():
        return None
    if not token.startswith("Ġ"):
        return piece
    try:
        return " " + bytes(_BYTES[c] for c in piece).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None


def marks_text_start(backend: Any) -> bool:
    """Whether a tokenizer writes its word-start marker "▁" before a text's first word, as Llama-2 and XLM-R do;
    Gemma 3 does not ("kuna" -> "k", "una"; " kuna" -> "▁kuna")."""
    tokens = backend.encode("a", add_special_tokens=False).tokens
    return bool(tokens) and tokens[0].startswith("▁")


def unreachable(extension: dict[str, Any], tokenizer: Any) -> list[str]:
    """The tokens of added word-initial entries that encoding their own text does not produce. A "▁" entry's text
    is read as a word inside running text: after a space where the tokenizer marks no text start itself."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    space = "" if marks_text_start(backend) else " "
    missing = []
    for entry in extension.get("added", []):
        text = surface(entry)
        if text is not None and str(entry["token"]).startswith("▁"):
            text = space + text
        if text is not None and int(entry["id"]) not in backend.encode(text, add_special_tokens=False).ids:
            missing.append(str(entry["token"]))
    return missing


def retokenized(base: Any, extended: Any, texts: Iterable[str]) -> float:
    """Share of `texts` whose token ids differ between two tokenizers (0.0 without texts)."""
    a, b = getattr(base, "backend_tokenizer", base), getattr(extended, "backend_tokenizer", extended)
    texts = list(texts)
    changed = sum(a.encode(t, add_special_tokens=False).ids != b.encode(t, add_special_tokens=False).ids
                  for t in texts)  # fmt: skip
    return changed / len(texts) if texts else 0.0

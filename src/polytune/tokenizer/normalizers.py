"""What a base tokenizer's normalizer does, in words, and replacing it on request (e.g. keep accents).

A tokenizer.json normalizer is a JSON tree (a `Sequence` of components, or one component); both helpers walk it.
"""

from __future__ import annotations

import copy
from typing import Any

from polytune.errors import ConfigError

# normalizer choice -> what `replace_normalizer` does
NORMALIZERS = {
    "base": "keep the base tokenizer's normalizer",
    "keep-accents": "drop accent stripping (BERT strip_accents, StripAccents); NFD/NFKD become NFC/NFKC",
    "nfc": "Unicode NFC only (no lowercasing, no accent stripping; a word marker Replace/Prepend stays)",
    "nfkc": "Unicode NFKC only (a word marker Replace/Prepend stays)",
}


def _components(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not node:
        return []
    if node.get("type") == "Sequence":
        return [c for child in node.get("normalizers", []) for c in _components(child)]
    return [node]


def describe_normalizer(data: dict[str, Any]) -> list[str]:
    """The effects of a tokenizer.json's normalizer, in words. Example (BERT uncased): ["lowercases", ...]."""
    effects = []
    for node in _components(data.get("normalizer")):
        kind = node.get("type")
        if kind == "BertNormalizer":
            lower = node.get("lowercase", True)
            strip = node.get("strip_accents")
            effects += ["lowercases"] if lower else []
            effects += ["strips accents"] if strip or (strip is None and lower) else []
            effects += ["cleans control characters"] if node.get("clean_text", True) else []
            effects += ["spaces out CJK characters"] if node.get("handle_chinese_chars", True) else []
        elif kind == "Lowercase":
            effects.append("lowercases")
        elif kind == "StripAccents":
            effects.append("strips accents")
        elif kind in ("NFC", "NFD", "NFKC", "NFKD"):
            effects.append(f"Unicode {kind}")
        elif kind == "Precompiled":
            effects.append("SentencePiece precompiled character map (NFKC-like)")
        elif kind in ("Replace", "Prepend"):
            effects.append(f"{kind.lower()}s {node.get('pattern', {}).get('String', '')!r} -> "
                           f"{node.get('content', node.get('prepend', ''))!r}".replace("prepends '' -> ", "prepends "))
        else:
            effects.append(str(kind))
    return effects or ["none"]


def _keep_accents(node: dict[str, Any] | None, changes: list[str]) -> dict[str, Any] | None:
    if not node:
        return node
    kind = node.get("type")
    if kind == "Sequence":
        children = [_keep_accents(c, changes) for c in node.get("normalizers", [])]
        return {**node, "normalizers": [c for c in children if c is not None]}
    if kind == "BertNormalizer" and (node.get("strip_accents") or (node.get("strip_accents") is None
                                                                   and node.get("lowercase", True))):
        changes.append("BertNormalizer strip_accents -> false (NFC first)")
        return {"type": "Sequence", "normalizers": [{"type": "NFC"}, {**node, "strip_accents": False}]}
    if kind == "StripAccents":
        changes.append("StripAccents removed")
        return None
    if kind in ("NFD", "NFKD"):
        changes.append(f"{kind} -> {kind.replace('D', 'C')}")
        return {"type": kind.replace("D", "C")}
    return node


def replace_normalizer(data: dict[str, Any], choice: str) -> tuple[dict[str, Any], list[str]]:
    """A copy of a tokenizer.json with its normalizer replaced, and the list of changes made.

    Example: replace_normalizer(bert, "keep-accents") -> (…, ["BertNormalizer strip_accents -> false (NFC first)"]).

    Raises:
        ConfigError: an unknown choice.
    """
    if choice not in NORMALIZERS:
        raise ConfigError(f"normalizer must be one of {', '.join(NORMALIZERS)}, got {choice!r}")
    if choice == "base":
        return data, []
    data = copy.deepcopy(data)
    changes: list[str] = []
    if choice == "keep-accents":
        data["normalizer"] = _keep_accents(data.get("normalizer"), changes)
    else:
        # Replace/Prepend write the word marker of SentencePiece-style models (Llama-2): they stay.
        kept = [c for c in _components(data.get("normalizer")) if c.get("type") in ("Replace", "Prepend")]
        changes.append(f"normalizer ({', '.join(describe_normalizer(data))}) -> Unicode {choice.upper()}")
        data["normalizer"] = {"type": "Sequence", "normalizers": [{"type": choice.upper()}, *kept]}
    return data, changes

"""Tokenizer families that vocabulary extension supports, looked up by the tokenizer.json model type.

Each family fills a few hooks of `Family` (see base.py): how a learned piece is written as a vocab entry, how
the base tokenizes it, and how new entries enter the model section of tokenizer.json. Modules load lazily.
"""

from __future__ import annotations

from typing import Any

from polytune import registry
from polytune.errors import ConfigError
from polytune.tokenizer.families.base import Family

# tokenizer.json model types with a family: the registry's `tokenizer_families` table
FAMILIES = tuple(registry.TABLES["tokenizer_families"])


def get_family(data: dict[str, Any], model: Any, base: str) -> Family:
    """The family hooks of a parsed tokenizer.json.

    Args:
        data: the whole parsed tokenizer.json.
        model: the loaded `tokenizers` model of the same file (used to tokenize pieces the base's own way).
        base: the base's name, for messages.

    Raises:
        ConfigError: the model type is not supported (the message lists the supported ones).
    """
    kind = data.get("model", {}).get("type", "?")
    if kind not in FAMILIES:
        raise ConfigError(
            f"base tokenizer {base} is a {kind} model; vocabulary extension supports {', '.join(FAMILIES)}: "
            "use a base with one of those tokenizer models"
        )
    return registry.load("tokenizer_families", kind)(data, model)


__all__ = ["FAMILIES", "Family", "get_family"]

"""Helpers shared by the CLI modules."""

from __future__ import annotations

import json
from typing import Any


def parse_pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """Parse NAME=VALUE pairs from the command line. Example: ["a=x", "b=y"] -> {"a": "x", "b": "y"}."""
    from polytune.errors import ConfigError

    pairs = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name or not rest:
            raise ConfigError(f"{what}: expected NAME=VALUE, got {value!r}")
        pairs[name] = rest
    return pairs


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))

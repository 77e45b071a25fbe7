"""JSONL shard files of the filter's work folder: many open at once, written key-sorted for stable bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO


class JsonlShards:
    """Lazily opened JSONL files under `root` (one per relative path), key-sorted lines for stable bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handles: dict[str, TextIO] = {}  # by relative path: no Path built per record

    def write(self, relative: str, record: dict[str, Any]) -> None:
        handle = self._handles.get(relative)
        if handle is None:
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            # A lone surrogate (legal in JSON input as "\ud800", not encodable as UTF-8) may survive in fields
            # other than text; backslashreplace writes it back as the same JSON escape.
            handle = self._handles[relative] = open(path, "w", encoding="utf-8", errors="backslashreplace")
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n")

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one shard, in order."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)

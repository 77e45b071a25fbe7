"""JSONL shard files of the filter's work folder: many open at once, written key-sorted for stable bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

# One encoder for every line the filter writes (json.dumps builds a new one per call when given options).
ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def line_bytes(record: dict[str, Any]) -> bytes:
    """A record as one key-sorted JSON line in UTF-8.

    A lone surrogate (legal in JSON input as "\\ud800", not encodable as UTF-8) may survive in fields other than
    text; backslashreplace writes it back as the same JSON escape.
    """
    return (ENCODER.encode(record) + "\n").encode("utf-8", "backslashreplace")


class JsonlShards:
    """Lazily opened JSONL files under `root` (one per relative path), key-sorted lines for stable bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handles: dict[str, BinaryIO] = {}  # by relative path: no Path built per record

    def write(self, relative: str, record: dict[str, Any]) -> None:
        self.write_line(relative, line_bytes(record))

    def write_line(self, relative: str, line: bytes) -> None:
        """Append a line that is already encoded (stage two writes stage one's bytes with fields inserted)."""
        handle = self._handles.get(relative)
        if handle is None:
            path = self.root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._handles[relative] = open(path, "wb")
        handle.write(line)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


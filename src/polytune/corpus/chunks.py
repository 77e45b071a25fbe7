"""Stage one's per-language chunks and the arrays beside them: everything stage two reads.

A chunk `s1/<lang>/<rank>-<part>.jsonl` holds at most CHUNK_RECORDS records as key-sorted JSON lines. Beside it:
- `<stem>.meta`: one META row per record: where its line starts, its LID score and mixed flag, its exact-dedup key,
  and the byte positions in the line where the fields stage two adds (ADDED) go;
- `<stem>.minhash` (near-dedup on): the record's MinHash values, `num_perm` uint64 each.

Stage two thresholds and buckets records from these arrays, names a record by reading its one line, and writes
each output line by inserting its added fields into the bytes stage one wrote: no record is parsed or serialized
again (parsing every record twice and dumping it once more was most of stage two's time).
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from polytune.config import FilterConfig
from polytune.corpus.dedup import MinHasher, exact_key, lsh_bands
from polytune.corpus.shards import ENCODER, line_bytes

CHUNK_RECORDS = 50_000  # records per chunk = per stage-two task: bounds its memory (MinHash: 0.5 KB a record)
BATCH = 256  # records MinHashed in one vectorized pass
ADDED = ("detail", "dup_cluster_size", "reject_reason")  # sorted, as they sit in a key-sorted line (encode_record)
_ADDED_NAMES = frozenset(ADDED)
META = np.dtype([("offset", "<u8"), ("score", "<f8"), ("key", "<u8", (2,)), ("mixed", "u1"), ("parse", "u1"),
                 ("at", "<u4", (len(ADDED),))])  # fmt: skip


def encode_record(record: dict[str, Any]) -> tuple[bytes, bool, list[int]]:
    """(line, parse, at): `line_bytes(record)` and where each ADDED field goes in it; parse=True (and no positions)
    when the record holds one of them already.

    A position is 1 (just after "{": the field comes first) or the byte just past the last value that sorts before
    it (the field follows after ", "). Example: for {"id": "a", "text": "b"} the line is b'{"id": "a", "text": "b"}\\n'
    and at = [1, 1, 10] (10: the end of `{"id": "a"`).
    """
    line = line_bytes(record)
    if not _ADDED_NAMES.isdisjoint(record):
        return line, True, [0] * len(ADDED)
    keys = sorted(record)
    first = keys[0]  # usually "id" or "lang": the first two ADDED names go at 1
    at = [1 if first > name else _point(line, keys, name) for name in ADDED]
    return line, False, at if -1 not in at else _segment_points(record, keys)


def _key_pattern(key: str) -> bytes:
    """How a key that is not the first one starts its item in a line: `, "key": `."""
    pattern = _PATTERNS.get(key)
    if pattern is None:
        pattern = _PATTERNS[key] = f", {ENCODER.encode(key)}: ".encode("utf-8", "backslashreplace")
        if len(_PATTERNS) > 4096:  # records with ever new keys: keep the cache bounded
            _PATTERNS.clear()
    return pattern


_PATTERNS: dict[str, bytes] = {}


def _point(line: bytes, keys: list[str], name: str) -> int:
    """Where `name` goes in the line: found as the start of the item of the first key after it; -1 when that item's
    pattern also occurs inside a value (a nested object with the same key), which `_segment_points` settles.

    Inside a JSON string every quote is escaped, so `, "key": ` occurs only where an object holds that key.
    """
    after = bisect_left(keys, name)
    if after == 0:
        return 1
    if after == len(keys):
        return len(line) - 2  # before "}\n"
    pattern = _key_pattern(keys[after])
    return line.find(pattern) if line.count(pattern) == 1 else -1


def _segment_points(record: dict[str, Any], keys: list[str]) -> list[int]:
    """The ADDED positions, from encoding the record in segments split at the ADDED names (joined as one would be)."""
    bounds = [0, *(bisect_left(keys, name) for name in ADDED), len(keys)]
    at, end, bodies = [], 1, 0
    for segment, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        if segment:  # ADDED[segment - 1] goes between the segments before and this one
            at.append(end)
        if hi > lo:
            body = ENCODER.encode({key: record[key] for key in keys[lo:hi]})[1:-1]
            end += len(body.encode("utf-8", "backslashreplace")) + 2 * bool(bodies)
            bodies += 1
    return at


def with_fields(line: bytes, at: list[int], values: dict[str, Any]) -> bytes:
    """`line` with the ADDED fields of `values` inserted where `encode_record` said, as `line_bytes` of the record
    with those fields would be. Example: with_fields(b'{"id": "a"}\\n', [1, 1, 10], {"dup_cluster_size": 2})
    -> b'{"dup_cluster_size": 2, "id": "a"}\\n'."""
    pieces, end = [], len(line)
    wanted = [(point, index) for index, point in enumerate(at) if ADDED[index] in values]
    for point, index in sorted(wanted, reverse=True):  # from the end, so earlier positions stay where they were
        name = ADDED[index]
        field = f"{json.dumps(name)}: {ENCODER.encode(values[name])}".encode("utf-8", "backslashreplace")
        pieces.append(line[point:end])
        pieces.append(field + b", " if point == 1 else b", " + field)
        end = point
    pieces.append(line[:end])
    return b"".join(reversed(pieces))


def read_meta(chunk: Path) -> np.ndarray:
    """The META rows of a chunk (path of its .jsonl)."""
    return np.fromfile(chunk.with_suffix(".meta"), dtype=META)


def read_minhash(chunk: Path, num_perm: int) -> np.ndarray:
    """The (records, num_perm) MinHash values of a chunk (path of its .jsonl)."""
    return np.fromfile(chunk.with_suffix(".minhash"), dtype="<u8").reshape(-1, num_perm)


def record_at(handle: BinaryIO, offset: int) -> dict[str, Any]:
    """The record whose line starts at `offset` of an open chunk."""
    handle.seek(offset)
    return json.loads(handle.readline())


class _Chunk:
    """One chunk being written: its line, META and MinHash files, and the rows waiting to be written in a batch."""

    def __init__(self, path: Path, hasher: MinHasher | None, keys: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lines, self.meta = open(path, "wb"), open(path.with_suffix(".meta"), "wb")
        self.minhash = open(path.with_suffix(".minhash"), "wb") if hasher else None
        self.hasher, self.keys, self.rows, self.texts, self.records = hasher, keys, [], [], 0

    def write(self, record: dict[str, Any]) -> None:
        text = record["text"]
        line, parse, at = encode_record(record)
        key = exact_key(text) if self.keys else (0, 0)
        self.rows.append((self.lines.tell(), record["lid_score"], key, bool(record.get("lid_mixed")), parse, at))
        self.lines.write(line)
        if self.minhash is not None:
            self.texts.append(text)
        self.records += 1
        if len(self.rows) == BATCH:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.meta.write(np.array(self.rows, dtype=META).tobytes())
            if self.minhash is not None:
                self.minhash.write(self.hasher.signatures(self.texts).tobytes())
            self.rows.clear()
            self.texts.clear()

    def close(self) -> None:
        self._flush()
        for handle in (self.lines, self.meta, self.minhash):
            if handle is not None:
                handle.close()


class ChunkWriter:
    """Writes the records of one stage-one task into per-language chunks with their META and MinHash arrays."""

    def __init__(self, folder: Path, rank: int, cfg: FilterConfig) -> None:
        self.folder, self.rank, self.cfg = folder, rank, cfg
        bands, rows = lsh_bands(cfg.near_threshold, cfg.num_perm)
        self.num_perm, self.open, self.hashers, self.parts = bands * rows, {}, {}, Counter()
        self.word_hashes: dict[str, int] | None = None  # shared by the languages' hashers: words hash alike in all

    def _hasher(self, lang: str) -> MinHasher | None:
        if not self.cfg.near_dedup:
            return None
        if lang not in self.hashers:
            self.hashers[lang] = MinHasher(lang, self.num_perm, self.cfg.minhash_seed, self.word_hashes)
            self.word_hashes = self.hashers[lang].word_hashes
        return self.hashers[lang]

    def write(self, record: dict[str, Any]) -> None:
        lang = record["lang"]
        chunk = self.open.get(lang)
        if chunk is not None and chunk.records == CHUNK_RECORDS:
            chunk.close()
            chunk = None
        if chunk is None:
            path = self.folder / lang / f"{self.rank:05d}-{self.parts[lang]:05d}.jsonl"
            self.parts[lang] += 1
            chunk = self.open[lang] = _Chunk(path, self._hasher(lang), self.cfg.dedup)
        chunk.write(record)

    def close(self) -> None:
        for chunk in self.open.values():
            chunk.close()

"""Stage two's bucket merge: the pairs of records that share a band (or an exact key), in datatrove's file formats.

A bucket folder holds one sorted `<chunk>.minhash.sig` file per chunk (rows of `rows` uint64 hashes, then the
record's position as uint32, as datatrove's MinHash stage 1 writes them). The merge orders every row of the bucket
by (hashes, file, position) and writes, for each row whose hashes equal the previous row's, the pair
(previous file stem, previous position, file stem, position) as four uint32 to a `.dups` file: the pairs
datatrove's `MinhashDedupBuckets` writes, byte for byte (`tests/corpus/test_buckets.py` compares the two).

datatrove merges the files one row at a time through a heap of Python objects (~13 µs a record here, the largest
share of stage two); this sorts slabs of rows with numpy. A slab is one range of the first hash, cut from every
file by binary search, so a task holds about SLAB_ROWS rows at a time whatever the size of the language: rows with
equal hashes have the same first hash and so meet in one slab.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SLAB_ROWS = 1 << 18  # rows sorted at once (~25 MB of near-dedup rows, ~100 MB with the sort's copies), in expectation
SAMPLE_EVERY = 1024  # rows per sampled first hash when choosing the slab edges
SUFFIX = ".minhash.sig"


def sig_dtype(rows: int) -> np.dtype:
    """datatrove's signature row: `rows` uint64 hashes, then the record's position (uint32)."""
    return np.dtype([(f"h{i}", "<u8") for i in range(rows)] + [("doc", "<u4")])


def _open(path: Path, dtype: np.dtype) -> np.ndarray:
    """A file's rows, mapped: only the pages a binary search or a slab touches are read. Mapped pages count as the
    process's memory until the map is dropped, so callers drop it after each slab."""
    return np.memmap(path, dtype=dtype, mode="r") if path.stat().st_size else np.zeros(0, dtype=dtype)


def _slab_bounds(paths: list[Path], dtype: np.dtype, slab_rows: int) -> np.ndarray:
    """Increasing edges of first-hash ranges that hold about `slab_rows` rows each, from 0 to past the largest.

    The edges are quantiles of a sample: every SAMPLE_EVERY-th row of each (sorted) file, so each sampled value
    stands for that many rows. A uniform split would not do: a band's first hash is a minimum over the shingles,
    so its values crowd near 0.
    """
    samples, total, top = [], 0, 0
    for path in paths:
        rows_of_file = _open(path, dtype)
        if len(rows_of_file):
            samples.append(np.array(rows_of_file["h0"][::SAMPLE_EVERY]))
            total += len(rows_of_file)
            top = max(top, int(rows_of_file["h0"][-1]))  # each file is sorted: its largest first hash is last
        del rows_of_file
    slabs = max(1, -(-total // slab_rows))
    pooled = np.sort(np.concatenate(samples)) if samples else np.zeros(0, dtype=np.uint64)
    inner = pooled[(np.arange(1, slabs) * len(pooled)) // slabs] if len(pooled) else pooled
    return np.unique(np.concatenate([np.array([0], np.uint64), inner, np.array([top + 1], np.uint64)]))


def _slab_pairs(paths: list[Path], stems: np.ndarray, rows: int, lo: np.uint64, hi: np.uint64) -> np.ndarray:
    """(n, 4) uint32 pairs of one first-hash range [lo, hi)."""
    parts, owners = [], []
    for index, path in enumerate(paths):
        rows_of_file = _open(path, sig_dtype(rows))
        start, end = np.searchsorted(rows_of_file["h0"], np.array([lo, hi], dtype=np.uint64))
        parts.append(np.array(rows_of_file[start:end]))  # a copy: the map is dropped with rows_of_file
        owners.append(np.full(end - start, index, dtype=np.uint32))
        del rows_of_file
    if not parts:
        return np.zeros((0, 4), dtype="<u4")
    slab, owner = np.concatenate(parts), np.concatenate(owners)
    # Stable sort on the hashes alone: files are concatenated in order and each is sorted by (hashes, position),
    # so rows with equal hashes stay in (file, position) order, as datatrove's merge yields them.
    order = np.lexsort([slab[f"h{row}"] for row in reversed(range(rows))])
    slab, owner = slab[order], owner[order]
    same = np.ones(max(len(slab) - 1, 0), dtype=bool)
    for row in range(rows):
        column = slab[f"h{row}"]
        same &= column[1:] == column[:-1]
    first = np.flatnonzero(same)
    pairs = np.empty((len(first), 4), dtype="<u4")
    pairs[:, 0], pairs[:, 1] = stems[owner[first]], slab["doc"][first]
    pairs[:, 2], pairs[:, 3] = stems[owner[first + 1]], slab["doc"][first + 1]
    return pairs


def merge_bucket(folder: Path, out: Path, rows: int, slab_rows: int = SLAB_ROWS) -> int:
    """Write the `.dups` pairs of one bucket folder to `out`; returns how many pairs.

    Args:
        folder: the bucket's folder of `<chunk>.minhash.sig` files (stems are chunk numbers).
        out: the `.dups` file to write.
        rows: hashes per row (rows per band for MinHash, 2 for exact keys).
        slab_rows: rows sorted at once (bounds memory).
    """
    paths = sorted(folder.glob(f"*{SUFFIX}"))  # name order: the file order datatrove's merge breaks ties by
    stems = np.array([int(path.name.removesuffix(SUFFIX)) for path in paths], dtype=np.uint32)
    bounds = _slab_bounds(paths, sig_dtype(rows), slab_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(out, "wb") as handle:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            pairs = _slab_pairs(paths, stems, rows, lo, hi)
            handle.write(pairs.tobytes())
            count += len(pairs)
    return count

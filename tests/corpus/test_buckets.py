"""The numpy bucket merge writes the pairs datatrove's MinhashDedupBuckets writes, byte for byte, in any number of
slabs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupBuckets
from datatrove.utils.hashing import HashConfig
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.corpus.buckets import merge_bucket, sig_dtype


def _write_files(folder: Path, files: list[list[tuple[tuple[int, ...], int]]], rows: int) -> None:
    """Each file's (hashes, position) rows, sorted as stage two writes them."""
    folder.mkdir(parents=True)
    for chunk, file_rows in enumerate(files):
        array = np.zeros(len(file_rows), dtype=sig_dtype(rows))
        for index, (hashes, doc) in enumerate(sorted(file_rows)):
            for row in range(rows):
                array[f"h{row}"][index] = hashes[row]
            array["doc"][index] = doc
        (folder / f"{chunk * 3:05d}.minhash.sig").write_bytes(array.tobytes())  # stems need not be 0, 1, 2


def _datatrove_pairs(root: Path, rows: int) -> bytes:
    config = MinhashConfig(num_buckets=1, hashes_per_bucket=rows, hash_config=HashConfig(precision=64))
    step = MinhashDedupBuckets(str(root / "in"), str(root / "dt"), config=config, lines_to_buffer=7)
    for _ in step.run(None, rank=0, world_size=1) or ():
        pass
    return (root / "dt" / "00000_00.dups").read_bytes()


def _files(rows: int):
    # Few distinct values so that rows share hashes within and across files, and whole rows repeat.
    hashes = st.tuples(*[st.sampled_from([0, 1, 5, 2**59, 2**61 - 2]) for _ in range(rows)])
    docs = st.lists(st.tuples(hashes, st.integers(0, 2**32 - 1)), max_size=12, unique_by=lambda r: r[1])
    return st.lists(docs, min_size=0, max_size=4)


@pytest.mark.parametrize("rows", [1, 2, 3])
@settings(max_examples=60, deadline=None)
@given(data=st.data(), slab_rows=st.sampled_from([1, 2, 5, 1 << 20]))
def test_pairs_equal_datatrove_bytes_for_any_slab_size(tmp_path_factory, rows, data, slab_rows):
    root = tmp_path_factory.mktemp("bucket")
    _write_files(root / "in" / "bucket_000", data.draw(_files(rows)), rows)
    expected = _datatrove_pairs(root, rows)
    count = merge_bucket(root / "in" / "bucket_000", root / "ours.dups", rows, slab_rows=slab_rows)
    assert (root / "ours.dups").read_bytes() == expected
    assert count == len(expected) // 16


def test_a_table_of_pairs(tmp_path):
    # File 00000: (7, doc 1), (9, doc 2); file 00003: (7, doc 0), (7, doc 4), (8, doc 5): hash 7 chains 00000:1 ->
    # 00003:0 -> 00003:4, hash 9 and 8 are alone.
    _write_files(tmp_path / "b", [[((7,), 1), ((9,), 2)], [((7,), 0), ((7,), 4), ((8,), 5)]], rows=1)
    assert merge_bucket(tmp_path / "b", tmp_path / "o.dups", rows=1, slab_rows=2) == 2
    pairs = np.fromfile(tmp_path / "o.dups", dtype="<u4").reshape(-1, 4).tolist()
    assert pairs == [[0, 1, 3, 0], [3, 0, 3, 4]]


def test_an_empty_bucket_writes_an_empty_file(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "00000.minhash.sig").write_bytes(b"")
    assert merge_bucket(tmp_path / "b", tmp_path / "o.dups", rows=3) == 0
    assert (tmp_path / "o.dups").read_bytes() == b""

"""The numpy bucket merge writes the pairs datatrove's MinhashDedupBuckets writes, byte for byte, in any number of
slabs; packing small units of stage two into fewer tasks changes no byte of the output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupBuckets
from datatrove.utils.hashing import HashConfig
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.config import FilterConfig
from polytune.corpus import buckets, dedup_steps, steps
from polytune.corpus.buckets import merge_bucket, sig_dtype
from polytune.corpus.dedup import lsh_bands


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
@given(data=st.data(), slab_rows=st.sampled_from([1, 2, 5, 1 << 20]), sample_every=st.sampled_from([1, 3, 1024]))
def test_pairs_equal_datatrove_bytes_for_any_slab_size(tmp_path_factory, rows, data, slab_rows, sample_every):
    root = tmp_path_factory.mktemp("bucket")
    _write_files(root / "in" / "bucket_000", data.draw(_files(rows)), rows)
    expected = _datatrove_pairs(root, rows)
    default, buckets.SAMPLE_EVERY = buckets.SAMPLE_EVERY, sample_every  # dense samples: many slab edges
    try:
        count = merge_bucket(root / "in" / "bucket_000", root / "ours.dups", rows, slab_rows=slab_rows)
    finally:
        buckets.SAMPLE_EVERY = default
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


def test_packing_table():
    assert dedup_steps._packed([("a", 3), ("b", 3), ("c", 9), ("d", 1)], 6) == [["a", "b"], ["c"], ["d"]]
    assert dedup_steps._packed([("a", 1), ("b", 1)], 0) == [["a"], ["b"]]  # a limit of 0: every unit alone
    assert dedup_steps._packed([], 5) == []


def test_packed_tasks_write_the_same_bytes_as_one_task_per_unit(tmp_path, monkeypatch):
    # Three input shards -> several small chunks; packed, every stage-two pipeline runs one task.
    texts = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light."] * 6
    texts += ["And God said, Let there be light: and there was light.", "the heaven and the earth were finished"]
    for shard in range(3):
        rows = (json.dumps({"id": f"s{shard}-{i}", "text": t}) for i, t in enumerate(texts))
        (tmp_path / f"in{shard}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    counts, original = {}, steps._executor

    def run(name):
        counts[name] = []

        def counting(cfg, pipeline, tasks, logs):
            counts[name].append(tasks)
            return original(cfg, pipeline, tasks, logs)

        monkeypatch.setattr(steps, "_executor", counting)
        cfg = FilterConfig(inputs=[str(tmp_path / f"in{i}.jsonl") for i in range(3)], out=tmp_path / name,
                           threshold=0, near_threshold=0.5, tasks=3)  # fmt: skip
        return steps.run_filter(cfg)

    packed = run("packed")
    monkeypatch.setattr(dedup_steps, "TASK_RECORDS", 0)
    monkeypatch.setattr(dedup_steps, "CHUNK_RECORDS", 0)
    alone = run("alone")
    assert packed == alone and packed["rejected"]["duplicate"] > 0
    assert counts["packed"][1:] == [1, 1, 1, 1]  # signatures, buckets, clusters, filter
    langs = len(packed["thresholds"])  # one chunk per language and shard; exact + near buckets per language
    buckets = dedup_steps.EXACT_BUCKETS + lsh_bands(0.5, FilterConfig(inputs=["x"], out=tmp_path).num_perm)[0]
    assert counts["alone"][1:] == [3 * langs, buckets * langs, langs, 3 * langs]
    for path in sorted((tmp_path / "packed").rglob("*.jsonl")):
        assert path.read_bytes() == (tmp_path / "alone" / path.relative_to(tmp_path / "packed")).read_bytes()


def test_slab_edges_follow_the_rows_not_the_range(tmp_path):
    # First hashes crowd near 0 (minima): uniform edges would put nearly every row in the first slab.
    folder = tmp_path / "b"
    values = (np.arange(40_000, dtype=np.uint64) ** 2) // 1000  # dense at 0, sparse up to 1.6e6
    _write_files(folder, [[((int(v), 0), i) for i, v in enumerate(values[part::2])] for part in range(2)], rows=2)
    edges = buckets._slab_bounds(sorted(folder.glob("*.sig")), sig_dtype(2), slab_rows=10_000)
    counts = np.histogram(values, bins=edges.astype(np.float64))[0]
    assert len(counts) == 4 and counts.sum() == 40_000 and counts.max() <= 12_000

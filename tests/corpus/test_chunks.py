"""Stage one's chunks and the arrays beside them: output lines are stage one's bytes with fields inserted, and the
shortcuts stage two takes from the arrays decide exactly as the work they skip."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.config import FilterConfig
from polytune.corpus import dedup_steps
from polytune.corpus.chunks import ADDED, META, encode_record, read_meta, read_minhash, with_fields
from polytune.corpus.shards import line_bytes
from polytune.corpus.steps import run_filter, stage_one, work_folder

# Keys that sort before, between and after the added fields ("detail" < "dup_cluster_size" < "reject_reason").
KEYS = ["author", "d", "dz", "e", "id", "lang", "lid_score", "lid_topk", "rejected", "rz", "text", "url"]
surrogate_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]) | st.just("\ud800"), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), surrogate_text)


def _containers(inner):
    return st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)


values = st.recursive(scalars, _containers, max_leaves=6)
records = st.dictionaries(st.sampled_from(KEYS + list(ADDED)), values, max_size=6).map(lambda r: {**r, "text": "x"})
FIELDS = {"detail": "near-duplicate of r\u00e91", "dup_cluster_size": 3, "reject_reason": "near_duplicate"}


@settings(max_examples=400, deadline=None)
@given(records)
def test_inserted_fields_give_the_bytes_of_the_whole_record(record):
    # Nested objects with the same keys as the record (the patterns the fast path searches for) included.
    line, parse, at = encode_record(record)
    assert line == line_bytes(record)
    assert parse == any(name in record for name in ADDED)
    if not parse:
        for size in (1, 2):
            for names in combinations(ADDED, size):
                fields = {name: FIELDS[name] for name in names}
                assert with_fields(line, at, fields) == line_bytes({**record, **fields})


def test_insertion_points_table():
    table = [
        ({"id": "a", "text": "b"}, [1, 1, 10]),
        ({"text": "x"}, [1, 1, 1]),
        ({"a": 1, "text": "y"}, [7, 7, 7]),  # "a" sorts before all three
        ({"e": None, "id": {"x": 1, "text": 2}, "text": "t"}, [1, 1, 37]),  # nested "text" is first there: no clash
        ({"id": {"a": 1, "text": 2}, "text": "t"}, [1, 1, 26]),  # the nested `, "text": ` clash: segments decide
    ]
    for record, at in table:
        assert encode_record(record) == (line_bytes(record), False, at)


def _copies_input(tmp_path: Path) -> str:
    verses = ["In the beginning God created the heaven and the earth.",
              "And the earth was without form, and void; and darkness was upon the face of the deep.",
              "And God said, Let there be light: and there was light.",
              "And God saw the light, that it was good: and God divided the light from the darkness."]  # fmt: skip
    texts = [verses[i % 4] if i % 3 else verses[i % 4].lower() for i in range(24)]  # exact copies, case differing
    texts += [verses[0] + " Amen.", verses[1] + " and the deep", "   " + verses[2]]  # near copies, a spaced copy
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "lang": "en"}) + "\n" for i, t in enumerate(texts)))
    return str(path)


def test_leaving_exact_copies_out_of_the_near_buckets_changes_no_decision(tmp_path, monkeypatch):
    data = _copies_input(tmp_path)
    fast = run_filter(FilterConfig(inputs=[data], out=tmp_path / "fast", threshold=0, near_threshold=0.5))
    rows = []
    original = dedup_steps._without_exact_copies

    def every_record(positions, keys, near):
        rows.append((len(positions), len(original(positions, keys, near)[0])))
        return positions, near

    monkeypatch.setattr(dedup_steps, "_without_exact_copies", every_record)
    slow = run_filter(FilterConfig(inputs=[data], out=tmp_path / "slow", threshold=0, near_threshold=0.5))
    assert rows == [(27, 6)]  # 4 verses + 2 near copies are bucketed instead of 27 records
    assert fast == slow
    for name in ("eng_Latn/part-00000.jsonl", "rejected/duplicate.jsonl", "rejected/near_duplicate.jsonl"):
        assert (tmp_path / "fast" / name).read_bytes() == (tmp_path / "slow" / name).read_bytes()
    assert fast["rejected"]["duplicate"] == 21 and fast["rejected"]["near_duplicate"] >= 1


def test_chunk_arrays_line_up_with_the_lines(tmp_path):
    data = _copies_input(tmp_path)
    cfg = FilterConfig(inputs=[data], out=tmp_path / "out", threshold=0)
    work = work_folder(cfg)
    pipeline = stage_one(cfg, work)
    stream = None
    for step in pipeline:
        stream = step.run(stream, 0, 1)
    list(stream)
    chunk = work / "s1" / "eng_Latn" / "00000-00000.jsonl"
    meta, lines = read_meta(chunk), chunk.read_bytes().splitlines(keepends=True)
    assert meta.dtype == META and len(meta) == len(lines) == 27
    assert meta["offset"].tolist() == np.cumsum([0] + [len(x) for x in lines[:-1]]).tolist()
    assert meta["score"].tolist() == [json.loads(x)["lid_score"] for x in lines]
    assert read_minhash(chunk, 55).shape == (27, 55)  # 5 bands x 11 rows for 0.8 and 64 permutations

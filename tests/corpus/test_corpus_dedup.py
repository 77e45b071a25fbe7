"""Stage two, sharded: thresholds from merged histograms equal the list rule, LSH banding equals datasketch's choice,
clusters name their first record, and the output is the same bytes whatever the chunk size."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

import numpy as np
import pytest

from polytune.config import FilterConfig
from polytune.corpus import chunks, dedup_steps
from polytune.corpus.dedup import (
    MinHasher,
    auto_threshold,
    lsh_bands,
    merge_histograms,
    score_bin,
    score_summary,
    threshold_from,
)
from polytune.corpus.steps import run_filter

PSALM = ("Blessed is the man that walketh not in the counsel of the ungodly, nor standeth in the way of sinners, "
         "nor sitteth in the seat of the scornful. But his delight is in the law of the Lord; and in his law doth he "
         "meditate day and night.")  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_merged_task_histograms_give_the_rule_on_every_score(seed):
    rng = random.Random(seed)
    scores = [round(rng.betavariate(5, 1.5), 4) for _ in range(rng.randint(1, 3000))]
    parts = [scores[i::3] for i in range(3)]  # three tasks, each counting its own
    hist = merge_histograms(_count(part) for part in parts)
    median, std = statistics.median(scores), statistics.pstdev(scores)
    assert threshold_from(hist) == pytest.approx(round(max(0.3, min(0.9, median - std)), 4), abs=1e-4)
    summary = score_summary(hist)
    assert summary["n"] == len(scores) and sum(summary["histogram"]) == len(scores)
    assert summary["median"] == pytest.approx(median, abs=1e-4)
    assert summary["mean"] == pytest.approx(statistics.fmean(scores), abs=1e-4)


def _count(scores: list[float]) -> dict[str, int]:
    out: dict[str, int] = {}
    for score in scores:
        out[str(score_bin(score))] = out.get(str(score_bin(score)), 0) + 1
    return out


def test_auto_threshold_of_no_scores_is_the_floor():
    assert auto_threshold([]) == threshold_from({}) == 0.3


@pytest.mark.parametrize(
    ("threshold", "num_perm", "bands"),
    [(0.8, 64, (5, 11)), (0.7, 112, (12, 9)), (0.9, 128, (5, 25)), (0.5, 32, (8, 4))],
)  # the (bands, rows) datasketch's MinHashLSH picks for the same threshold and permutations
def test_lsh_banding_is_datasketchs_choice(threshold, num_perm, bands):
    assert lsh_bands(threshold, num_perm) == bands


def test_minhash_of_a_batch_equals_one_by_one_and_tracks_jaccard():
    hasher = MinHasher("eng_Latn", 128, 13)
    texts = [PSALM, PSALM.upper(), PSALM + " Amen.", "The Lord is my shepherd; I shall not want.", "hi"]
    batch = hasher.signatures(texts)
    assert np.array_equal(batch, np.concatenate([hasher.signatures([t]) for t in texts]))
    same = [(batch[0] == row).mean() for row in batch]
    assert same[1] == 1.0 and same[2] > 0.8 and same[3] < 0.1 and same[4] < 0.1


@pytest.mark.parametrize(
    ("pairs", "first"),
    [([(5, 9), (9, 12)], {5: 5, 9: 5, 12: 5}),  # transitive: 12 joins 5 through 9
     ([(3, 4), (1, 2)], {1: 1, 2: 1, 3: 3, 4: 3}),
     ([(7, 2), (2 << 32 | 1, 7)], {2: 2, 7: 2, 2 << 32 | 1: 2})],  # across chunks: the smallest is first
)  # fmt: skip
def test_clusters_point_at_their_first_record(pairs, first):
    a = np.array([p[0] for p in pairs], dtype=np.uint64)
    b = np.array([p[1] for p in pairs], dtype=np.uint64)
    nodes, root = dedup_steps._components(a, b)
    assert dict(zip(nodes.tolist(), root.tolist(), strict=True)) == first


def _input(tmp_path: Path) -> str:
    rows = [{"id": f"r{i}", "text": text, "lang": "en"} for i, text in enumerate(
        [PSALM, "In the beginning God created the heaven and the earth.", PSALM + " Amen.",
         "In the beginning God created the heaven and the earth.", "The Lord is my shepherd; I shall not want.",
         PSALM.replace("night", "day"), "in the  beginning god created the heaven and the earth.",
         "And the earth was without form, and void; and darkness was upon the face of the deep."])]  # fmt: skip
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}  # fmt: skip


def test_any_chunk_size_gives_the_same_bytes_and_names_across_chunks(tmp_path, monkeypatch):
    data = _input(tmp_path)
    whole = run_filter(FilterConfig(inputs=[data], out=tmp_path / "whole", threshold=0))
    monkeypatch.setattr(chunks, "CHUNK_RECORDS", 3)  # chunks of 3, 3 and 2 records: duplicates in other chunks
    chunked = run_filter(FilterConfig(inputs=[data], out=tmp_path / "chunked", threshold=0))
    assert whole == chunked and _tree(tmp_path / "whole") == _tree(tmp_path / "chunked")
    assert whole["rejected"] == {"duplicate": 2, "near_duplicate": 2}
    rejected = tmp_path / "chunked" / "rejected"
    near = [json.loads(line) for line in (rejected / "near_duplicate.jsonl").open()]
    assert [(r["id"], r["detail"]) for r in near] == [("r2", "near-duplicate of r0"), ("r5", "near-duplicate of r0")]
    exact = [json.loads(line) for line in (rejected / "duplicate.jsonl").open()]
    assert [(r["id"], r["detail"]) for r in exact] == [("r3", "same text as r1"), ("r6", "same text as r1")]
    kept = [json.loads(line) for line in (tmp_path / "chunked" / "eng_Latn" / "part-00000.jsonl").open()]
    assert [(r["id"], r["dup_cluster_size"]) for r in kept] == [("r0", 3), ("r1", 3), ("r4", 1), ("r7", 1)]

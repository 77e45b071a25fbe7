"""Bitext retrieval and probe scoring without torch: hand-made vectors, ranks, accuracy@k, CIs, paired Δ, reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from polytune.errors import ConfigError, InputError
from polytune.evaluation.probes import ratio_table, score_probes
from polytune.evaluation.retrieval import (
    accuracy_at,
    cosine_matrix,
    hits_at,
    pair_by_id,
    query_ranks,
    ranks_and_ties,
    resolve_layer,
    retrieval_ranks,
)

SETTINGS = {"n_resamples": 200, "seed": 13, "confidence": 0.95}


def test_identical_embeddings_retrieve_every_translation_first():
    emb = np.random.default_rng(0).normal(size=(30, 8))
    texts = [f"verse {i}" for i in range(30)]
    ranks = retrieval_ranks(emb, emb.copy(), texts, texts)
    assert ranks["t2s"].tolist() == ranks["s2t"].tolist() == [1] * 30
    assert accuracy_at(ranks["t2s"], 1) == accuracy_at(ranks["s2t"], 1) == 100.0


# Targets (rows) against sources: target 0 is nearest its translation, target 1 sits between sources 0 and 1 but
# nearer 0, target 2 is nearest source 3, then 0, then its own source 2, and target 3 points away from every source.
# Seen from the sources, only source 3 has other targets (2, 0, 1) nearer than its own.
TARGETS = np.array([[1.0, 0.0, 0.0], [0.9, 0.5, 0.0], [0.6, 0.0, 1.0], [0.0, 0.0, -1.0]])
SOURCES = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, -1.0, 0.2], [0.3, 0.0, 1.0]])


@pytest.mark.parametrize(
    "direction, k, expected",
    [("t2s", 1, 25.0), ("t2s", 2, 50.0), ("t2s", 3, 75.0), ("t2s", 4, 100.0), ("t2s", 10, 100.0),
     ("s2t", 1, 75.0), ("s2t", 3, 75.0), ("s2t", 4, 100.0)],
)
def test_accuracy_at_k_on_hand_made_vectors(direction, k, expected):
    ranks = retrieval_ranks(TARGETS, SOURCES, list("abcd"), list("wxyz"))
    assert ranks["t2s"].tolist() == [1, 2, 3, 4]
    assert ranks["s2t"].tolist() == [1, 1, 1, 4]
    assert accuracy_at(ranks[direction], k) == pytest.approx(expected)


def test_directions_differ_when_similarity_is_not_symmetric_in_rank():
    sim = np.array([[0.9, 0.8], [0.95, 0.7]])  # both targets prefer source 0; source 1 prefers target 0
    assert query_ranks(sim, ["s0", "s1"]).tolist() == [1, 2]
    assert query_ranks(sim.T, ["t0", "t1"]).tolist() == [2, 2]


def test_a_duplicate_translation_counts_as_found_and_other_ties_count_half():
    sim = np.array([[0.5, 0.5, 0.1], [0.5, 0.5, 0.1], [0.0, 0.9, 0.2]])
    ranks, ties = ranks_and_ties(sim, ["a", "same", "same"])  # candidates 1 and 2 are one text
    assert ranks.tolist() == [1, 1, 1] and ties.tolist() == [1, 1, 0]
    assert hits_at(ranks, 1, ties).tolist() == [0.5, 0.5, 1.0]  # 0 and 1 tie: a coin decides which comes first
    ranks, ties = ranks_and_ties(sim, ["a", "b", "c"])
    assert ranks.tolist() == [1, 1, 2] and ties.tolist() == [1, 1, 0]


@pytest.mark.parametrize("k, expected", [(1, 100 / 6), (2, 100 / 3), (6, 100.0), (10, 100.0)])
def test_a_model_that_sees_nothing_scores_chance(k, expected):
    flat = np.ones((6, 4))  # every sentence the same vector
    ranks = retrieval_ranks(flat, flat.copy(), list("abcdef"), list("uvwxyz"))
    assert ranks["t2s"].tolist() == [1] * 6 and ranks["t2s_ties"].tolist() == [5] * 6
    assert accuracy_at(ranks["t2s"], k, ranks["t2s_ties"]) == pytest.approx(expected)
    assert accuracy_at(ranks["s2t"], k, ranks["s2t_ties"]) == pytest.approx(expected)


def test_cosine_ignores_length():
    assert cosine_matrix(np.array([[2.0, 0.0]]), np.array([[5.0, 0.0], [0.0, 1.0]])).tolist() == [[1.0, 0.0]]


def test_ids_without_counterpart_are_skipped_and_counted():
    targets = [{"id": "1.1", "text": "a"}, {"id": "1.2", "text": "b"}, {"id": 7, "text": "c"}]
    sources = [{"id": "1.1", "text": "A"}, {"id": "7", "text": "C"}, {"id": "1.1", "text": "dup"}]
    pairs, missing = pair_by_id(targets, sources)
    assert [(t["text"], s["text"]) for t, s in pairs] == [("a", "A"), ("c", "C")]
    assert missing == ["1.2"]


@pytest.mark.parametrize(
    "layer, depth, layers, expected",
    [(None, 0.667, 12, 8), (None, 0.667, 6, 4), (None, 0.0, 6, 0), (None, 1.0, 6, 6), (None, 1, 6, 6),
     (8, 0.667, 12, 8), (0, 0.667, 2, 0), (2, 0.667, 2, 2), (None, 0.5, 2, 1), (1, 1.0, 6, 1)],
)  # fmt: skip
def test_layer_settings(layer, depth, layers, expected):
    """An index and a share are two settings: retrieval_layer 1 is the first layer, retrieval_depth 1 the last."""
    assert resolve_layer(layer, depth, layers) == expected


@pytest.mark.parametrize(
    ("layer", "depth", "name"),
    [(7, 0.5, "retrieval_layer"), (-1, 0.5, "retrieval_layer"), (1.0, 0.5, "retrieval_layer"),
     (True, 0.5, "retrieval_layer"), ("8", 0.5, "retrieval_layer"), (None, 1.5, "retrieval_depth"),
     (None, -0.1, "retrieval_depth"), (None, True, "retrieval_depth")],
)  # fmt: skip
def test_bad_layer_settings_are_config_errors(layer, depth, name):
    with pytest.raises(ConfigError, match=name):
        resolve_layer(layer, depth, 6)


def test_ratio_table_cis_contain_points_and_a_system_against_itself_has_p_1():
    rng = np.random.default_rng(1)
    hits = rng.integers(0, 2, size=(80, 1)).astype(float)
    better = np.maximum(hits, rng.integers(0, 2, size=(80, 1)))
    stats = {"xx_Latn": {"a": np.hstack([hits, np.ones((80, 1))]), "b": np.hstack([better, np.ones((80, 1))]),
                         "same": np.hstack([hits, np.ones((80, 1))])}}  # fmt: skip
    table = ratio_table(stats, ["a", "b", "same"], SETTINGS, scale=100.0)
    for t in (table["results"]["xx_Latn"], table["average"]):
        for entry in t["scores"].values():
            assert entry["ci"][0] <= entry["score"] <= entry["ci"][1]
    lang = table["results"]["xx_Latn"]
    assert lang["scores"]["a"]["score"] == pytest.approx(100 * hits.mean())
    assert lang["deltas"]["same"]["delta"] == 0.0 and lang["deltas"]["same"]["p_value"] == 1.0
    assert lang["deltas"]["b"]["delta"] == pytest.approx(100 * (better.mean() - hits.mean()))
    assert lang["deltas"]["b"]["p_value"] < 0.05


def write_probes(root, systems, ranks, losses):
    """probes/ as predict/probes.py writes it: {system: {lang: [(t2s, s2t)]}} and {system: {lang: [(nll, n)]}}
    (or [(nll, n, bytes)] for a decoder)."""
    langs = sorted(next(iter(ranks.values())))
    width = len(next(iter(next(iter(losses.values())).values()))[0])
    intrinsic = ("nll", "tokens", "bytes")[:width]
    for kind, table, fields in (("retrieval", ranks, ("t2s", "s2t")), ("intrinsic", losses, intrinsic)):
        for system, per in table.items():
            for lang, rows in per.items():
                path = root / "probes" / kind / system / f"{lang}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                lines = [json.dumps({"id": str(i), **dict(zip(fields, r, strict=True))}) for i, r in enumerate(rows)]
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta = {"systems": systems,
            "retrieval": {"source_lang": "eng_Latn", "layer": 4, "n_layers": 6,
                          "layer_setting": "retrieval_depth 0.667", "pooling": "mean", "source_encoder": "base",
                          "languages": langs,
                          "skipped": dict.fromkeys(langs, 2)},
            "intrinsic": {"objective": "mlm", "unit": "nats per masked token", "mask_probability": 0.15,
                          "languages": langs}}  # fmt: skip
    (root / "probes" / "manifest.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


RANKS = {"base": {"nya_Latn": [(1, 2), (3, 1), (12, 11), (1, 1)]},
         "la": {"nya_Latn": [(1, 1), (1, 1), (2, 9), (1, 1)]}}  # fmt: skip
LOSSES = {"base": {"nya_Latn": [(6.0, 2), (9.0, 3), (3.0, 1), (4.0, 2)]},
          "la": {"nya_Latn": [(4.0, 2), (6.0, 3), (2.0, 1), (2.0, 2)]}}  # fmt: skip


def test_score_probes_from_files(tmp_path):
    write_probes(tmp_path, ["base", "la"], RANKS, LOSSES)
    out = score_probes(tmp_path, ["base", "la"], SETTINGS)
    r = out["retrieval"]["results"]["nya_Latn"]
    assert (r["n"], r["skipped"]) == (4, 2)
    assert {m: r["scores"]["base"][m]["score"] for m in out["retrieval"]["measures"]} == {
        "t2s@1": 50.0, "t2s@10": 75.0, "s2t@1": 50.0, "s2t@10": 75.0}
    assert r["deltas"]["la"]["t2s@1"]["delta"] == pytest.approx(25.0)
    i = out["intrinsic"]["results"]["nya_Latn"]
    assert i["scores"]["base"]["loss"]["score"] == pytest.approx(22.0 / 8)
    assert i["scores"]["la"]["perplexity"]["score"] == pytest.approx(np.exp(14.0 / 8))
    assert i["deltas"]["la"]["loss"]["delta"] == pytest.approx(-1.0)
    assert i["tokens"] == {"base": 8, "la": 8}
    lo, hi = i["scores"]["base"]["perplexity"]["ci"]
    assert lo <= i["scores"]["base"]["perplexity"]["score"] <= hi


def test_decoder_probes_score_bits_per_byte(tmp_path):
    """Bits per byte = summed NLL / ln 2 / summed bytes, per system, with a paired Δ: here the adapter's extended
    tokenizer cuts the text into fewer, harder tokens (its loss per token rises) while the text costs fewer bits."""
    per_record = {"base": [(6.0, 2, 10), (9.0, 3, 12)], "la": [(6.0, 1, 10), (7.0, 2, 12)]}
    write_probes(tmp_path, ["base", "la"], RANKS, {s: {"nya_Latn": rows} for s, rows in per_record.items()})
    out = score_probes(tmp_path, ["base", "la"], SETTINGS)["intrinsic"]
    i = out["results"]["nya_Latn"]
    assert out["measures"] == ["loss", "perplexity", "bpb"] and i["bytes"] == 22
    assert i["scores"]["base"]["bpb"]["score"] == pytest.approx(15.0 / np.log(2) / 22)
    assert i["scores"]["la"]["bpb"]["score"] == pytest.approx(13.0 / np.log(2) / 22)
    assert i["deltas"]["la"]["bpb"]["delta"] < 0 < i["deltas"]["la"]["loss"]["delta"]


def test_probes_of_other_records_or_systems_are_input_errors(tmp_path):
    write_probes(tmp_path, ["base", "la"], RANKS, LOSSES)
    with pytest.raises(InputError, match="did not run system 'other'"):
        score_probes(tmp_path, ["base", "other"], SETTINGS)
    path = tmp_path / "probes" / "retrieval" / "la" / "nya_Latn.jsonl"
    path.write_text("\n".join(path.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(InputError, match="systems cover different records"):
        score_probes(tmp_path, ["base", "la"], SETTINGS)


def test_report_shows_probe_sections_beside_task_metrics(tmp_path):
    from tests.evaluation.marks import write_marked

    from polytune.evaluation.report import build_report

    write_marked(tmp_path / "predictions", {"base": {"nya_Latn": "110110"}, "la": {"nya_Latn": "111110"}})
    write_probes(tmp_path, ["base", "la"], RANKS, LOSSES)
    report = build_report(tmp_path, tmp_path / "rep", baseline="base", n_resamples=100)
    assert report["metrics"] == ["accuracy", "macro_f1"] and "retrieval" in report and "intrinsic" in report
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved["retrieval"]["results"]["nya_Latn"]["scores"]["la"]["t2s@1"]["score"] == 75.0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Retrieval acc@1, target → eng_Latn" in md and "## Retrieval acc@10, eng_Latn → target" in md
    assert "| nya_Latn | 4 | 2 | 50.0 [" in md and "## Intrinsic: LM loss" in md and "| -1.000 [" in md
    assert md.index("## macro-F1") < md.index("## Retrieval acc@1") < md.index("## Fairness")
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<h2>Retrieval acc@1, target → eng_Latn</h2>" in html and "<h2>Intrinsic: LM loss</h2>" in html
    assert "probes/manifest.json" in report["inputs"]

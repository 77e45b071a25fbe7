"""The filter on datatrove: tasks/workers give the same bytes, interrupted runs resume, every input format reads,
thresholds (fixed, per language, auto), near-dedup clusters, rules, and the Ray executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytune.config import FilterConfig
from polytune.corpus import steps
from polytune.corpus.dedup import auto_threshold
from polytune.corpus.steps import run_filter
from polytune.errors import ConfigError

EN = ["For God so loved the world, that he gave his only begotten Son.",
      "In the beginning God created the heaven and the earth.",
      "And the earth was without form, and void; and darkness was upon the face of the deep.",
      "The Lord is my shepherd; I shall not want."]  # fmt: skip
FR = ["Car Dieu a tant aimé le monde qu'il a donné son Fils unique.",
      "Au commencement, Dieu créa les cieux et la terre.",
      "L'Éternel est mon berger: je ne manquerai de rien."]  # fmt: skip


PSALM = ("Blessed is the man that walketh not in the counsel of the ungodly, nor standeth in the way of sinners, "
         "nor sitteth in the seat of the scornful. But his delight is in the law of the Lord; and in his law doth he "
         "meditate day and night. And he shall be like a tree planted by the rivers of water, that bringeth forth "
         "his fruit in his season; his leaf also shall not wither; and whatsoever he doeth shall prosper.")


def _files(root: Path) -> dict[str, bytes]:
    """Every output file but the manifest (which records the config, output path included)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}  # fmt: skip


def _write(tmp_path: Path) -> list[str]:
    a, b = tmp_path / "in" / "a.txt", tmp_path / "in" / "b.jsonl"
    a.parent.mkdir()
    a.write_text("\n".join(EN + FR + [EN[0], "tiny"]) + "\n", encoding="utf-8")
    b.write_bytes(b"".join(json.dumps({"id": f"b{i}", "text": t}).encode() + b"\n" for i, t in enumerate(FR + EN))
                  + b"\xff\n")  # fmt: skip
    return [str(a), str(b)]


@pytest.mark.slow
def test_tasks_and_workers_give_the_same_bytes(tmp_path):
    inputs = _write(tmp_path)
    one = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "one", tasks=2, workers=1))
    two = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "two", tasks=2, workers=2))
    assert one == two and _files(tmp_path / "one") == _files(tmp_path / "two")
    assert one["input"] == 17 and one["per_lang"] == {"eng_Latn": 4, "fra_Latn": 3}
    assert one["rejected"] == {"duplicate": 8, "invalid_utf8": 1, "too_short": 1}
    cluster = {r["text"]: r["dup_cluster_size"] for r in map(json.loads, (tmp_path / "one" / "eng_Latn" /
                                                                        "part-00000.jsonl").open())}  # fmt: skip
    assert cluster[EN[0]] == 3 and cluster[EN[1]] == 2
    assert not list(tmp_path.glob(".*.work"))


def test_interrupted_run_resumes_without_redoing_finished_tasks(tmp_path, monkeypatch):
    inputs = _write(tmp_path)
    cfg = FilterConfig(inputs=inputs, out=tmp_path / "out", tasks=2)
    calls = []
    real_run = steps.FilterStep.run

    def counting(self, data, rank=0, world_size=1):
        calls.append(rank)
        yield from real_run(self, data, rank, world_size)

    def broken(self, data=None, rank=0, world_size=1):
        raise KeyboardInterrupt  # the user pressed Ctrl-C during stage two
        yield

    monkeypatch.setattr(steps.FilterStep, "run", counting)
    monkeypatch.setattr(steps.LanguageStep, "run", broken)
    with pytest.raises(KeyboardInterrupt):
        run_filter(cfg)
    assert calls == [0, 1] and not (tmp_path / "out").exists()
    assert sorted(p.name for p in (tmp_path / ".out.work" / "logs1" / "completions").iterdir()) == ["00000", "00001"]
    monkeypatch.undo()
    monkeypatch.setattr(steps.FilterStep, "run", counting)
    stats = run_filter(cfg)
    assert calls == [0, 1] and stats["kept"] == 7  # stage one was not run again
    run_filter(FilterConfig(inputs=inputs, out=tmp_path / "fresh", tasks=2))
    assert _files(tmp_path / "out") == _files(tmp_path / "fresh") and calls == [0, 1, 0, 1]


def test_parquet_and_saved_hf_datasets_are_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict

    pq.write_table(pa.table({"body": EN[:2], "lang": ["en", "en"]}), tmp_path / "p.parquet")
    Dataset.from_dict({"body": FR, "n": [1, 2, 3]}).save_to_disk(str(tmp_path / "ds"))
    DatasetDict({"train": Dataset.from_dict({"body": [EN[2], None]})}).save_to_disk(str(tmp_path / "dd"))
    inputs = [str(tmp_path / "p.parquet"), str(tmp_path / "ds"), str(tmp_path / "dd")]
    stats = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "out", text_field="body"))
    assert stats["per_lang"] == {"eng_Latn": 3, "fra_Latn": 3} and stats["rejected"] == {"no_text": 1}
    bad = json.loads((tmp_path / "out" / "rejected" / "no_text.jsonl").read_text())
    assert bad["detail"] == f"{tmp_path / 'dd'}[train]:1: 'body' is NoneType, not a string"
    fra = [json.loads(line) for line in (tmp_path / "out" / "fra_Latn" / "part-00000.jsonl").open()]
    assert [(r["id"], r["n"]) for r in fra] == [("ds:train:0", 1), ("ds:train:1", 2), ("ds:train:2", 3)]


@pytest.mark.parametrize(
    ("scores", "tau"),
    [([0.99, 0.98, 0.97], 0.9), ([0.5, 0.6, 0.7, 0.4], 0.4382), ([0.1, 0.2, 0.3], 0.3), ([], 0.3),
     ([0.95, 0.9, 0.2, 0.85], 0.5698)],
)  # fmt: skip
def test_auto_threshold_is_the_fineweb2_rule(scores, tau):
    assert auto_threshold(scores) == pytest.approx(tau, abs=1e-4)


def test_thresholds_fixed_per_language_and_auto_are_recorded(tmp_path):
    inputs = _write(tmp_path)
    per_lang = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "m", threshold={"fr": 1.0, "*": 0.2}))
    assert per_lang["thresholds"] == {"eng_Latn": 0.2, "fra_Latn": 1.0}
    assert per_lang["per_lang_rejected"]["fra_Latn"].get("low_lid_score", 0) > 0
    auto = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "a", threshold="auto"))
    assert auto["threshold_rule"] == "auto" and set(auto["thresholds"]) == {"eng_Latn", "fra_Latn"}
    assert all(0.3 <= t <= 0.9 for t in auto["thresholds"].values())
    with pytest.raises(ConfigError, match="threshold must be a number"):
        FilterConfig(inputs=inputs, out=tmp_path / "x", threshold="high")


def test_near_duplicates_are_clustered_and_rules_apply_before_lid(tmp_path):
    long = PSALM
    rules = tmp_path / "rules.yaml"
    rules.write_text("'*':\n  - {pattern: '[\u2018\u2019]', replace: \"'\"}\n"
                     "en:\n  - {pattern: 'LORD', replace: Lord}\n")
    data = tmp_path / "d.jsonl"
    rows = [{"id": "a", "text": long, "lang": "en"}, {"id": "b", "text": long + " Amen.", "lang": "en"},
            {"id": "c", "text": "The LORD\u2019s word endures for ever and ever.", "lang": "en"}]  # fmt: skip
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    stats = run_filter(FilterConfig(inputs=[str(data)], out=tmp_path / "o", rules=str(rules)))
    assert stats["rejected"] == {"near_duplicate": 1} and stats["duplicates"] == 1
    kept = [json.loads(line) for line in (tmp_path / "o" / "eng_Latn" / "part-00000.jsonl").open()]
    assert [(r["id"], r["dup_cluster_size"]) for r in kept] == [("a", 2), ("c", 1)]
    assert kept[1]["text"] == "The Lord's word endures for ever and ever."
    near = json.loads((tmp_path / "o" / "rejected" / "near_duplicate.jsonl").read_text())
    assert near["detail"] == "near-duplicate of a"
    rules.write_text("en:\n  - {pattern: '(', replace: x}\n")
    with pytest.raises(ConfigError, match="bad pattern"):
        run_filter(FilterConfig(inputs=[str(data)], out=tmp_path / "o2", rules=str(rules)))


@pytest.mark.slow
def test_ray_executor_runs_the_same_pipeline(tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'polytune[cluster]')")
    inputs = _write(tmp_path)
    local = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "local", tasks=2))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        on_ray = run_filter(FilterConfig(inputs=inputs, out=tmp_path / "ray", tasks=2, workers=2, executor="ray"))
    finally:
        ray.shutdown()
    assert on_ray == local and _files(tmp_path / "ray") == _files(tmp_path / "local")

"""build_report on hand-written prediction files: exact numbers, markdown, determinism, bad folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytune.errors import ConfigError, InputError
from polytune.evaluation.report import build_report, render_markdown

# Gold labels per language; each system's predictions as a string of which examples it gets right ("1") or wrong.
GOLD = {
    "nya_Latn": ["law", "law", "gospels", "gospels", "history", "history", "law", "gospels"],
    "ara_Arab": ["law", "gospels", "history", "law", "gospels", "history"],
}
RIGHT = {
    "task-only": {"nya_Latn": "11000011", "ara_Arab": "100100"},
    "vocab+la": {"nya_Latn": "11111011", "ara_Arab": "111110"},
}
WRONG = {"law": "history", "gospels": "law", "history": "gospels"}


def write_predictions(root: Path, right=RIGHT, gold=GOLD) -> Path:
    for system, per_lang in right.items():
        (root / "predictions" / system).mkdir(parents=True, exist_ok=True)
        for lang, marks in per_lang.items():
            rows = [
                {"id": f"GEN.{i + 1}.1", "lang": lang, "label": g, "pred": g if m == "1" else WRONG[g]}
                for i, (g, m) in enumerate(zip(gold[lang], marks, strict=True))
            ]
            lines = [json.dumps(r, ensure_ascii=False) for r in reversed(rows)]  # order must not matter
            (root / "predictions" / system / f"{lang}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def preds(tmp_path) -> Path:
    return write_predictions(tmp_path / "run")


def test_exact_numbers(preds, tmp_path):
    report = build_report(preds, tmp_path / "out", baseline="task-only", n_resamples=200, seed=1)
    assert report["systems"] == ["task-only", "vocab+la"]
    assert report["languages"] == ["ara_Arab", "nya_Latn"]
    nya, ara = report["results"]["nya_Latn"], report["results"]["ara_Arab"]
    assert (nya["n"], ara["n"], nya["name"], ara["name"]) == (8, 6, "Chichewa", "Arabic")
    # Accuracy by hand: right answers / examples.
    assert nya["scores"]["task-only"]["accuracy"]["score"] == pytest.approx(100 * 4 / 8)
    assert nya["scores"]["vocab+la"]["accuracy"]["score"] == pytest.approx(100 * 7 / 8)
    assert ara["scores"]["task-only"]["accuracy"]["score"] == pytest.approx(100 * 2 / 6)
    assert ara["scores"]["vocab+la"]["accuracy"]["score"] == pytest.approx(100 * 5 / 6)
    assert nya["deltas"]["vocab+la"]["accuracy"]["delta"] == pytest.approx(37.5)
    assert ara["deltas"]["vocab+la"]["accuracy"]["delta"] == pytest.approx(50.0)
    assert "task-only" not in nya["deltas"]
    # Macro-F1 by hand for nya task-only, F1 = 2tp / (true + pred): law tp3 true3 pred5 -> 6/8;
    # gospels tp1 true3 pred3 -> 2/6; history tp0 true2 pred0 -> 0.
    assert nya["scores"]["task-only"]["macro_f1"]["score"] == pytest.approx(100 * (6 / 8 + 2 / 6 + 0) / 3)
    avg = report["average"]
    assert (avg["languages"], avg["n"]) == (2, 14)
    assert avg["scores"]["task-only"]["accuracy"]["score"] == pytest.approx((50 + 100 / 3) / 2)
    assert avg["deltas"]["vocab+la"]["accuracy"]["delta"] == pytest.approx((37.5 + 50) / 2)
    for table in (nya, ara, avg):
        for system_scores in table["scores"].values():
            for entry in system_scores.values():
                low, high = entry["ci"]
                assert 0 <= low <= high <= 100
        d = table["deltas"]["vocab+la"]["accuracy"]
        assert 0 < d["p_value"] <= 1 and d["ci"][0] <= d["ci"][1]
    assert set(report["inputs"]) == {f"{s}/{lang}.jsonl" for s in RIGHT for lang in GOLD}
    assert report["signatures"]["macro_f1"].startswith("metric:macro_f1|avg:macro|labels:3|impl:sklearn-")
    assert (report["seed"], report["n_resamples"], report["confidence"]) == (1, 200, 0.95)
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert on_disk == report
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"] == {
        "examples": 14, "languages": 2, "systems": 2,
    }  # fmt: skip


def test_markdown(preds, tmp_path):
    report = build_report(preds, tmp_path / "out", baseline="task-only", n_resamples=100, seed=1)
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert md == render_markdown(report)
    assert "| nya_Latn | Chichewa | Latin | — | — | 8 | — | 50.0 [" in md
    assert "| ara_Arab | Arabic | Arabic | 5 | — | 6 | — | 33.3 [" in md
    assert "| **average** | 2 languages |  |  |  | 14 |  | 41.7 [" in md
    assert "*tier 5*" not in md  # a tier of one language would repeat its row
    assert "vocab+la Δ macro-F1" in md and "+37.5 [" in md
    assert f"- macro-F1: `{report['signatures']['macro_f1']}`" in md


def test_deterministic_bytes(preds, tmp_path):
    for name in ("a", "b"):
        build_report(preds, tmp_path / name, n_resamples=100, seed=5)
    for file in ("report.json", "report.md"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    build_report(preds, tmp_path / "c", n_resamples=100, seed=6)
    assert (tmp_path / "a" / "report.json").read_bytes() != (tmp_path / "c" / "report.json").read_bytes()


def test_language_numbers_do_not_depend_on_other_languages(preds, tmp_path):
    both = build_report(preds, tmp_path / "both", n_resamples=100, seed=5)
    one = build_report(preds, tmp_path / "one", n_resamples=100, seed=5, langs=["ny"])
    assert one["languages"] == ["nya_Latn"]
    assert one["results"]["nya_Latn"] == both["results"]["nya_Latn"]


def test_default_baseline_direct_folder_extra_and_ignored_entries(preds, tmp_path):
    root = preds / "predictions"
    (root / ".tmp-partial").mkdir()
    (root / "manifest.json").write_text("{}", encoding="utf-8")
    (root / "task-only" / "manifest.json").write_text("{}", encoding="utf-8")
    extra = {"fertility": {"nya_Latn": 1.7}, "tokenizer": root}
    report = build_report(root, tmp_path / "out", n_resamples=50, extra=extra)
    assert report["baseline"] == "task-only"  # first by name
    assert report["extra"] == {"fertility": {"nya_Latn": 1.7}, "tokenizer": str(root)}
    only = build_report(preds, tmp_path / "out2", baseline="vocab+la", n_resamples=50, systems=["vocab+la"])
    assert only["systems"] == ["vocab+la"] and only["average"]["deltas"] == {}


def test_generation_metrics(tmp_path):
    root = tmp_path / "predictions"
    for system, hyp in (("base", "a cat is on mat"), ("tuned", "the cat sat on the mat")):
        (root / system).mkdir(parents=True)
        rows = [{"id": str(i), "label": "the cat sat on the mat", "pred": hyp} for i in range(5)]
        (root / system / "eng_Latn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = build_report(tmp_path, tmp_path / "out", metrics=("chrf", "bleu"), n_resamples=50)
    assert report["results"]["eng_Latn"]["scores"]["tuned"]["chrf"]["score"] == pytest.approx(100.0)
    assert report["results"]["eng_Latn"]["deltas"]["tuned"]["bleu"]["delta"] > 0
    assert report["signatures"]["chrf"].startswith("metric:chrf|nrefs:1|")


def _rewrite(path: Path, edit) -> None:
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in edit(rows)), encoding="utf-8")


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda p: _rewrite(p / "vocab+la" / "nya_Latn.jsonl", lambda r: r[:-1]), "differ in ids"),
        (
            lambda p: _rewrite(p / "vocab+la" / "nya_Latn.jsonl", lambda r: [{**r[0], "id": "X.1.1"}, *r[1:]]),
            "differ in ids",
        ),
        (
            lambda p: _rewrite(p / "vocab+la" / "nya_Latn.jsonl", lambda r: [{**r[0], "label": "zzz"}, *r[1:]]),
            "disagree on the label",
        ),
        (lambda p: _rewrite(p / "vocab+la" / "nya_Latn.jsonl", lambda r: [r[0], r[0], *r[1:]]), "duplicate id"),
        (
            lambda p: _rewrite(p / "vocab+la" / "nya_Latn.jsonl", lambda r: [{"id": "1", "label": "a"}]),
            "'pred' must be a string or a list of strings",
        ),
        (lambda p: (p / "vocab+la" / "ara_Arab.jsonl").unlink(), "no ara_Arab.jsonl for system"),
        (lambda p: (p / "vocab+la" / "ara_Arab.jsonl").write_text("{oops\n"), "ara_Arab.jsonl:1: malformed JSON"),
        (lambda p: (p / "vocab+la" / "ara_Arab.jsonl").write_bytes(b"\xff\xfe"), "not valid UTF-8"),
        (lambda p: (p / "bad name").mkdir(), "system names are letters"),
        (lambda p: (p / "vocab+la" / "..jsonl").write_text(""), None),  # hidden: skipped, not an error
        (lambda p: (p / "vocab+la" / "notalang1.jsonl").write_text(""), "file name is not a language"),
        (lambda p: (p / "vocab+la" / "ny.jsonl").write_text(""), "both nya_Latn"),
    ],
)
def test_bad_prediction_folders(preds, tmp_path, break_it, message):
    break_it(preds / "predictions")
    if message is None:
        build_report(preds, tmp_path / "out", n_resamples=10)
        return
    with pytest.raises(InputError, match=message):
        build_report(preds, tmp_path / "out", n_resamples=10)
    assert not (tmp_path / "out" / "report.json").exists()  # nothing half-written


def test_bad_arguments(preds, tmp_path):
    with pytest.raises(ConfigError, match=r"baseline 'task_only' .*did you mean 'task-only'"):
        build_report(preds, tmp_path / "out", baseline="task_only")
    with pytest.raises(ConfigError, match="unknown metric 'f1'"):
        build_report(preds, tmp_path / "out", metrics=("f1",))
    with pytest.raises(ConfigError, match="n_resamples"):
        build_report(preds, tmp_path / "out", n_resamples=0)
    with pytest.raises(InputError, match="predictions folder not found"):
        build_report(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(InputError, match="no <system>/<lang>.jsonl files"):
        build_report(tmp_path, tmp_path / "out")
    with pytest.raises(InputError, match="no predictions for ghost"):
        build_report(preds, tmp_path / "out", systems=["ghost"])


@pytest.mark.parametrize("task, expected", [
    (None, ["accuracy", "macro_f1"]),  # one-word labels that repeat look like classes
    ("causal_lm", ["bleu", "chrf", "chrf_pp", "ter", "exact_match"]),  # the task that made them says otherwise
    ("sequence_classification", ["accuracy", "macro_f1"]),
])  # fmt: skip
def test_metrics_follow_the_task_recorded_by_eval(preds, tmp_path, task, expected):
    if task is not None:
        (preds / "predictions" / "manifest.json").write_text(json.dumps({"task": task}), encoding="utf-8")
    report = build_report(preds, tmp_path / "out", n_resamples=20)
    assert report["metrics"] == expected and report["task"] == task

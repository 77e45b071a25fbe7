"""run_eval and `polytune eval --base ...` end to end: tiny BERT, a task adapter of a few steps, real predictions."""

from __future__ import annotations

import json

import pytest

from polytune.config import EvalConfig, SystemConfig, TaskAdapterConfig


@pytest.fixture(scope="module")
def task_adapter(tmp_path_factory, tiny_bert, synthetic_corpus):
    from polytune.adapters import train_task_adapter

    out = tmp_path_factory.mktemp("task") / "adapter"
    cfg = TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="eng_Latn", out=out, max_steps=3)
    train_task_adapter(cfg)
    return out


@pytest.mark.slow
def test_run_eval_scores_what_predict_wrote(tmp_path, tiny_bert, synthetic_corpus, task_adapter):
    from polytune.evaluation.report import run_eval

    cfg = EvalConfig(
        base=str(tiny_bert), task_adapter=str(task_adapter), input=synthetic_corpus, out=tmp_path / "eval",
        systems=[SystemConfig("task-only")], langs=["eng_Latn", "nya_Latn"], max_records=12, bootstrap=50,
    )  # fmt: skip
    report = run_eval(cfg, extra={"note": "e2e"})
    assert report["languages"] == ["eng_Latn", "nya_Latn"] and report["systems"] == ["task-only"]
    for lang in report["languages"]:
        lines = (tmp_path / "eval" / "predictions" / "task-only" / f"{lang}.jsonl").read_text().splitlines()
        rows = [json.loads(x) for x in lines]
        right = sum(r["label"] == r["pred"] for r in rows)
        assert report["results"][lang]["n"] == len(rows) == 12
        assert report["results"][lang]["scores"]["task-only"]["accuracy"]["score"] == pytest.approx(100 * right / 12)
    assert report["extra"] == {"note": "e2e"}
    assert json.loads((tmp_path / "eval" / "manifest.json").read_text())["config"]["bootstrap"] == 50


@pytest.mark.slow
def test_cli_eval_run(tmp_path, tiny_bert, synthetic_corpus, task_adapter, capsys, monkeypatch):
    from polytune.cli import main

    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))
    argv = ["eval", "--base", str(tiny_bert), "--task-adapter", str(task_adapter), "--input", str(synthetic_corpus)]
    argv += ["--out", str(tmp_path / "rep"), "--langs", "ny", "--system", "task-only", "--max-records", "6"]
    assert main.main([*argv, "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert f"report: {tmp_path / 'rep'}/report.md (1 language, baseline task-only)" in out
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "| nya_Latn | Nyanja | Latin | — | — | 6 |" in md and "| **average** | 1 language |  |  |  | 6 |" in md


@pytest.mark.slow
def test_the_source_ceiling_is_scored_and_each_target_read_against_it(tmp_path, tiny_bert, synthetic_corpus,
                                                                      task_adapter):  # fmt: skip
    from polytune.evaluation.report import run_eval

    cfg = EvalConfig(
        base=str(tiny_bert), task_adapter=str(task_adapter), input=synthetic_corpus, out=tmp_path / "eval",
        systems=[SystemConfig("task-only")], langs=["nya_Latn"], max_records=12, bootstrap=50, source_lang="eng_Latn",
    )  # fmt: skip
    report = run_eval(cfg)
    ceiling = report["extra"]["ceiling"]
    rows = [json.loads(x) for x in (tmp_path / "eval" / "ceiling" / "predictions" / "task-adapter" /
                                    "eng_Latn.jsonl").read_text().splitlines()]  # fmt: skip
    assert ceiling["lang"] == "eng_Latn" and ceiling["n"] == len(rows) == 12 and ceiling["split"] == "test"
    top = ceiling["scores"]["accuracy"]["score"]
    assert top == pytest.approx(100 * sum(r["label"] == r["pred"] for r in rows) / 12)
    md = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert "## Zero-shot / eng_Latn ceiling" in md
    target = report["results"]["nya_Latn"]["scores"]["task-only"]["accuracy"]["score"]
    assert f"| nya_Latn | {target / top:.2f} |" in md if top else "—" in md
    assert "Zero-shot / eng_Latn ceiling" in (tmp_path / "eval" / "report.html").read_text(encoding="utf-8")
    # evaluated as a language of its own, the source language is no ceiling
    again = run_eval(EvalConfig(**{**cfg.__dict__, "out": tmp_path / "both", "langs": ["eng_Latn", "nya_Latn"]}))
    assert "ceiling" not in again["extra"]

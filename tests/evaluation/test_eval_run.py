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
    from polytune.evaluation.run import run_eval

    cfg = EvalConfig(
        base=str(tiny_bert), task_adapter=str(task_adapter), input=synthetic_corpus, out=tmp_path / "eval",
        systems=[SystemConfig(name="task-only")], langs=["eng_Latn", "nya_Latn"], max_records=12, bootstrap=50,
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
    assert "| nya_Latn | Chichewa | Latin | — | — | 6 |" in md and "| **average** | 1 language |  |  |  | 6 |" in md


@pytest.mark.slow
def test_the_source_ceiling_is_scored_and_each_target_read_against_it(tmp_path, tiny_bert, synthetic_corpus,
                                                                      task_adapter):  # fmt: skip
    from polytune.evaluation.run import run_eval

    cfg = EvalConfig(
        base=str(tiny_bert), task_adapter=str(task_adapter), input=synthetic_corpus, out=tmp_path / "eval",
        systems=[SystemConfig(name="task-only")], langs=["nya_Latn"], max_records=12, bootstrap=50,
        source_lang="eng_Latn",
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


def test_systems_with_task_adapters_of_their_own(tmp_path, tiny_bert, synthetic_corpus, task_adapter):
    """Each system runs its own task adapter ('{lang}' filled); the baseline's predictions are not reused."""
    import shutil

    from polytune.adapters import train_task_adapter
    from polytune.evaluation.run import run_eval

    other = tmp_path / "other"
    train_task_adapter(TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="eng_Latn", out=other,
                                         max_steps=3, seed=99, learning_rate=0.05))  # fmt: skip
    per_lang = tmp_path / "per-lang" / "nya_Latn"
    shutil.copytree(other, per_lang)
    cfg = EvalConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path / "eval", langs=["nya_Latn"],
                     systems=[SystemConfig(name="a", task_adapter=str(task_adapter)),
                              SystemConfig(name="b", task_adapter=str(tmp_path / "per-lang" / "{lang}"))],
                     max_records=40, bootstrap=20)  # fmt: skip
    assert cfg.has_task
    report = run_eval(cfg)
    preds = {s: [json.loads(x)["pred"] for x in (tmp_path / "eval" / "predictions" / s / "nya_Latn.jsonl").open()]
             for s in ("a", "b")}  # fmt: skip
    assert preds["a"] != preds["b"] and report["systems"] == ["a", "b"]
    meta = json.loads((tmp_path / "eval" / "predictions" / "manifest.json").read_text())
    assert meta["task_adapters"] == {"a": str(task_adapter), "b": str(tmp_path / "per-lang" / "{lang}")}


def test_a_system_without_a_task_adapter_among_systems_that_have_one(tmp_path, tiny_bert, synthetic_corpus):
    from polytune.errors import ConfigError

    with pytest.raises(ConfigError, match="system 'b' has no task adapter"):
        EvalConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path,
                   systems=[SystemConfig(name="a", task_adapter="x"), SystemConfig(name="b")])  # fmt: skip

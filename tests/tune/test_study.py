"""`polytune tune` end to end on a tiny BERT: a 3-trial study writes the best YAML, the trials table and the page;
a killed study resumes to n_trials in all; a bad trial is pruned; a seeded sampler draws the same trials."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pytest
import yaml

from polytune.cli.main import main
from polytune.tune.study import load_study, prepare, run_study

pytestmark = pytest.mark.slow

SPACE = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    "lora_r": {"type": "categorical", "choices": [2, 4]},
    "class_weights": {"type": "bool"},
    "layers_to_transform": {"type": "categorical", "choices": [[0], [0, 1]]},
}


def _config(tmp_path: Path, corpus: Path, base: Path, **tune) -> Path:
    """A run config whose workdir holds the synthetic corpus and class weights, with a tune block."""
    work = tmp_path / "work"
    shutil.copytree(corpus / "eng_Latn", work / "corpus" / "eng_Latn")
    weights = {"label_field": "genre", "method": "inverse", "weights": {"law": 2.0}}
    (work / "class-weights").mkdir(parents=True)
    (work / "class-weights" / "class_weights.json").write_text(json.dumps(weights), encoding="utf-8")
    raw = {
        "workdir": str(work), "base": str(base), "target_langs": ["nya_Latn"], "seed": 3,
        "class_weights": {"method": "inverse"},
        "task_adapter": {"max_steps": 12, "batch_size": 8, "max_length": 32, "eval_every": 4, "patience": 5,
                         "max_eval_records": 16, "target_modules": ["query", "value"]},
        "tune": {"step": "task_adapter", "metric": "dev_accuracy", "n_trials": 3, "pruner": "none",
                 "params": SPACE, **tune},
    }  # fmt: skip
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_three_trials_write_best_yaml_table_and_page(tmp_path, synthetic_corpus, tiny_bert, capsys):
    config = _config(tmp_path, synthetic_corpus, tiny_bert)
    assert main(["--quiet", "tune", str(config), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    trials = json.loads((out / "trials.json").read_text(encoding="utf-8"))
    assert [t["state"] for t in trials["trials"]] == ["complete"] * 3
    best = max(trials["trials"], key=lambda t: t["value"])
    assert trials["best_trial"] == best["number"]
    text = (out / "best.yaml").read_text(encoding="utf-8")
    assert text.startswith(f"# polytune run {out / 'best.yaml'}")
    best_cfg = yaml.safe_load(text)
    assert "tune" not in best_cfg and best_cfg["task_adapter"]["lora_r"] == best["lora_r"]
    assert best_cfg["task_adapter"]["learning_rate"] == pytest.approx(best["learning_rate"])
    assert ("class_weights" in best_cfg) == best["class_weights"]  # off: the class-weights stage is dropped
    assert len((out / "trials.csv").read_text(encoding="utf-8").splitlines()) == 4
    page = (out / "tune.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 1 and "Optimization history" in page
    assert (out / "study.db").is_file() and "best trial" in capsys.readouterr().out


def test_a_killed_study_resumes_to_n_trials_in_all(tmp_path, synthetic_corpus, tiny_bert, monkeypatch):
    config = _config(tmp_path, synthetic_corpus, tiny_bert)
    search = prepare(config, tmp_path / "out")
    import polytune.tune.study as study_module

    real, calls = study_module._train, []

    def dies_on_the_second(step, cfg, callbacks):
        calls.append(cfg.out)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the worker is killed in the middle of trial 1
        return real(step, cfg, callbacks)

    monkeypatch.setattr(study_module, "_train", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_study(search)
    monkeypatch.setattr(study_module, "_train", real)
    summary = run_study(prepare(config, tmp_path / "out"))  # the same storage: 2 trials are missing
    assert summary["trials"] == 3 and summary["ran"] == 2
    study = optuna.load_study(study_name=summary["study"], storage=summary["storage"])
    states = [t.state.name for t in study.get_trials()]
    assert states.count("COMPLETE") == 3 and states.count("FAIL") == 1


def test_a_bad_trial_is_pruned(tmp_path, synthetic_corpus, tiny_bert, monkeypatch):
    """Trials whose dev metric every 4 steps is 0.9 set the median; one at 0.1 is pruned at its first report.

    Training is replaced by a loop that hands the callbacks what early stopping logs, so the values are exact.
    """
    import polytune.tune.study as study_module

    def fake_train(step, cfg, callbacks):
        for s in range(1, cfg.max_steps + 1):
            logs = {"loss": 1.0, **({"dev_accuracy": 0.9 if cfg.learning_rate > 1e-3 else 0.1} if s % 4 == 0 else {})}
            for callback in callbacks:
                callback.on_step(s, logs)
        return {"dev_accuracy": 0.9 if cfg.learning_rate > 1e-3 else 0.1, "steps": cfg.max_steps}

    monkeypatch.setattr(study_module, "_train", fake_train)
    config = _config(tmp_path, synthetic_corpus, tiny_bert, pruner="median", startup_trials=2, n_trials=3)
    search = prepare(config, tmp_path / "out")
    study = load_study(search)
    for lr in (3e-3, 2e-3, 2e-4):
        study.enqueue_trial({"learning_rate": lr, "lora_r": 4, "class_weights": False, "layers_to_transform": 1})
    summary = run_study(search)
    rows = json.loads((tmp_path / "out" / "trials.json").read_text(encoding="utf-8"))["trials"]
    assert [r["state"] for r in rows] == ["complete", "complete", "pruned"] and summary["pruned"] == 1
    assert rows[2]["last_step"] == 4 and rows[2]["last_reported"] == 0.1  # stopped at its first report


def test_early_stopping_logs_its_measurement_for_the_callbacks_after_it():
    import torch

    from polytune.adapters.early_stop import early_stopping

    callback = early_stopping(torch.nn.Linear(1, 1), lambda: 0.25, every=2, patience=3, metric="dev_accuracy")
    logs = {"loss": 1.0}
    callback.on_step(1, logs)
    assert "dev_accuracy" not in logs
    callback.on_step(2, logs)
    assert logs["dev_accuracy"] == 0.25


def test_a_seeded_sampler_draws_the_same_trials(tmp_path, synthetic_corpus, tiny_bert, monkeypatch):
    """Same seed, same space: the same parameter values in the same order (training stubbed: sampling only)."""
    import polytune.tune.study as study_module

    monkeypatch.setattr(study_module, "_train", lambda step, cfg, cb: {"dev_accuracy": cfg.learning_rate * 100,
                                                                       "steps": 1})  # fmt: skip
    drawn = []
    for run in ("a", "b"):
        config = _config(tmp_path / run, synthetic_corpus, tiny_bert, n_trials=6)
        run_study(prepare(config, tmp_path / run / "out"))
        rows = json.loads((tmp_path / run / "out" / "trials.json").read_text(encoding="utf-8"))["trials"]
        drawn.append([{k: r[k] for k in SPACE} for r in rows])
    assert drawn[0] == drawn[1] and len({json.dumps(d) for d in drawn[0]}) > 1


@pytest.mark.parametrize(
    "tune, message",
    [
        ({"metric": "dev_f1"}, "not produced by a sequence_classification"),
        ({"params": {"lora_dropout": {"type": "float", "low": 0.0, "high": 1.5}}}, "lora_dropout"),
        ({"params": {"max_step": {"type": "int", "low": 1, "high": 5}}}, "did you mean 'max_steps'"),
        ({"pruner": "median", "params": SPACE}, None),
    ],
)
def test_bad_input_is_one_line_exit_2_before_any_trial(tmp_path, synthetic_corpus, tiny_bert, capsys, tune, message):
    config = _config(tmp_path, synthetic_corpus, tiny_bert, **tune)
    if message is None:  # pruning without eval_every: nothing would feed the pruner
        raw = yaml.safe_load(config.read_text(encoding="utf-8"))
        del raw["task_adapter"]["eval_every"]
        config.write_text(yaml.safe_dump(raw), encoding="utf-8")
        message = "eval_every"
    assert main(["tune", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "out" / "study.db").exists()

"""Training curves through accelerate's trackers (`report_to`), read back from TensorBoard's event files."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.tracking import run_name, tracker_names, tracking_dir
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ConfigError

pytest.importorskip("tensorboard", reason="the track extra: pip install 'polytune[track]'")

PER_STEP = ("loss", "learning_rate", "grad_norm", "tokens_per_second")


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of the TensorBoard event files in `folder` (not its subfolders)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_language_adapter_curves_are_written_per_step(tmp_path, tiny_bert, synthetic_corpus):
    class StopAtThree:  # any callback that stops training logs the event, early stopping's or a user's
        def on_step(self, step, logs):
            return step == 3

    cfg = LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="nya", out=tmp_path / "la" / "nya",
                                max_steps=6, batch_size=8, eval_every=2, patience=5, max_eval_records=16,
                                report_to="tensorboard", learning_rate=3e-3)  # fmt: skip
    summary = train_language_adapter(cfg, callbacks=[StopAtThree()])
    curves = _scalars(tmp_path / "la" / "tracking" / "nya")  # the default: tracking/ beside the output, run = its name
    assert summary["steps"] == 3
    for tag in PER_STEP:
        assert [s for s, _ in curves[tag]] == [1, 2, 3], tag
    assert [v for _, v in curves["loss"]] == pytest.approx(
        __import__("json").loads((tmp_path / "la" / "nya" / "manifest.json").read_text())["losses"]["train"])
    assert curves["learning_rate"][0][1] == pytest.approx(3e-3)  # linear decay from the peak
    assert all(v > 0 for _, v in curves["tokens_per_second"])
    assert [s for s, _ in curves["dev_loss"]] == [2]  # measured at eval_every
    assert curves["early_stop"] == [(3, 1.0)]


def test_task_adapter_curves_carry_the_dev_metric(tmp_path, tiny_bert, synthetic_corpus):
    cfg = TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path / "task", max_steps=4,
                            batch_size=8, eval_every=2, max_eval_records=16, report_to="tensorboard",
                            tracking_dir=tmp_path / "curves")  # fmt: skip
    train_task_adapter(cfg)
    curves = _scalars(tmp_path / "curves" / "task")
    assert [s for s, _ in curves["dev_accuracy"]] == [2, 4]
    assert all(0 <= v <= 1 for _, v in curves["dev_accuracy"])
    assert [s for s, _ in curves["loss"]] == [1, 2, 3, 4]


def test_embedding_first_stage_is_its_own_run(tmp_path, tiny_bert, synthetic_corpus, extended_tokenizer):
    cfg = LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="nya", out=tmp_path / "nya",
                                tokenizer=str(extended_tokenizer), embedding_steps=2, max_steps=3, batch_size=8,
                                max_eval_records=8, report_to="tensorboard")  # fmt: skip
    train_language_adapter(cfg)
    assert [s for s, _ in _scalars(tmp_path / "tracking" / "nya-embedding-first")["loss"]] == [1, 2]
    assert [s for s, _ in _scalars(tmp_path / "tracking" / "nya")["loss"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("none", []), (None, []), ("", []), ("tensorboard", ["tensorboard"]), ("none,tensorboard", ["tensorboard"]),
     (["tensorboard"], ["tensorboard"])],
)  # fmt: skip
def test_tracker_names_table(value, expected):
    assert tracker_names(value) == expected


def test_unknown_tracker_is_refused_before_training(tmp_path, tiny_bert):
    with pytest.raises(ConfigError, match="report_to must be one of none, tensorboard, wandb, mlflow, trackio"):
        LanguageAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), lang="nya", report_to="tensorbord")
    with pytest.raises(ConfigError, match="unknown report_to 'comet'"):
        tracker_names("comet")


def test_run_names_and_folders():
    cfg = LanguageAdapterConfig(input="in.jsonl", base="x", lang="nya", out=Path("runs/a/lang/nya_Latn"))
    assert tracking_dir(cfg) == Path("runs/a/lang/tracking")
    assert run_name(cfg, None) == "nya_Latn" and run_name(cfg, "head-warmup") == "nya_Latn-head-warmup"


def test_run_config_report_to_reaches_every_adapter_step(tmp_path):
    from polytune.pipeline import adapter_steps

    raw = {"workdir": str(tmp_path / "w"), "base": "some/base", "target_langs": ["nya"], "report_to": "tensorboard",
           "task_adapter": {"report_to": "none"}}  # fmt: skip
    steps = {s.name: s.config for s in adapter_steps(raw)}
    assert steps["lang/nya_Latn"].report_to == "tensorboard"
    assert steps["lang-ext/nya_Latn"].tracking_dir == tmp_path / "w" / "tracking" / "lang-ext"
    assert steps["task"].report_to == "none"  # a section overrides the top-level value


def test_tune_trials_write_curves_under_the_study(tmp_path):
    from polytune.tune.study import apply

    cfg = TaskAdapterConfig(input="in.jsonl", base="x", out=tmp_path / "task", report_to="tensorboard")
    trial = apply(cfg, {"lora_r": 4}, tmp_path / "tune" / "trials" / "0007")
    assert trial.tracking_dir == tmp_path / "tune" / "tracking" and run_name(trial, None) == "0007"


def test_the_demo_writes_training_curves():
    """examples/demo.yaml turns the curves on for every adapter it trains (README: tensorboard --logdir
    runs/demo/tracking)."""
    from polytune.config import load_yaml
    from polytune.pipeline import adapter_steps

    raw = load_yaml(Path(__file__).parents[2] / "examples" / "demo.yaml")
    steps = adapter_steps(raw)
    assert steps and all(s.config.report_to == "tensorboard" for s in steps)
    assert {s.config.tracking_dir for s in steps} == {Path("runs/demo/tracking"), Path("runs/demo/tracking/lang"),
                                                      Path("runs/demo/tracking/lang-ext")}

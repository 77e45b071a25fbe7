"""The search space of `polytune tune`: good spaces parse, every bad one is one ConfigError naming the fix,
and trial values land on the step's config fields."""

from __future__ import annotations

import pytest

from polytune.config import TaskAdapterConfig
from polytune.errors import ConfigError
from polytune.tune.metrics import metric_for
from polytune.tune.space import ParamSpec, parse_tune
from polytune.tune.study import apply

GOOD = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "lora_r": {"type": "int", "low": 2, "high": 16, "step": 2},
    "target_modules": {"type": "categorical", "choices": [["query", "value"], ["query", "key", "value"]]},
    "layers_to_transform": {"type": "categorical", "choices": [[0], [1], [0, 1]]},
    "class_weights": {"type": "bool"},
}


def _raw(params, **tune):
    return {"tune": {"step": "task_adapter", "metric": "dev_accuracy", "params": params, **tune}}


@pytest.mark.parametrize(
    "params, tune, message",
    [
        ({"learning_rat": {"type": "float", "low": 0.1, "high": 1}}, {}, "did you mean 'learning_rate'"),
        ({"learning_rate": {"type": "float", "low": 0.1, "high": 0.1}}, {}, "empty or inverted range"),
        ({"learning_rate": {"type": "float", "low": 0.5, "high": 0.1}}, {}, "empty or inverted range"),
        ({"lora_r": {"type": "int", "low": 0, "high": 8, "log": True}}, {}, "log scale needs low > 0"),
        ({"lora_r": {"type": "int", "low": 2.5, "high": 8}}, {}, "whole numbers"),
        ({"lora_r": {"type": "integer", "low": 2, "high": 8}}, {}, "type must be one of"),
        ({"lora_r": {"type": "int", "low": 2, "hihg": 8}}, {}, "did you mean 'high'"),
        ({"batch_size": {"type": "categorical", "choices": []}}, {}, "non-empty list of choices"),
        ({"seed": {"type": "int", "low": 1, "high": 5}}, {}, "fixed for every trial"),
        ({"init": {"type": "categorical", "choices": ["mean"]}}, {}, "not a field of task_adapter"),
        (GOOD, {"metric": "dev_bleu"}, "is not produced by task_adapter"),
        (GOOD, {"metric": "dev_mlm_loss"}, "is not produced by task_adapter"),
        (GOOD, {"step": "tokenizer"}, "tune.step must be one of"),
        (GOOD, {"pruner": "medain"}, "did you mean 'median'"),
        (GOOD, {"n_trials": 0}, "n_trials"),
        ({}, {}, "at least one parameter"),
    ],
)
def test_bad_spaces_are_one_config_error(params, tune, message):
    with pytest.raises(ConfigError, match=message):
        parse_tune(_raw(params, **tune))


def test_unknown_key_of_the_block_says_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'n_trials'"):
        parse_tune(_raw(GOOD, n_trails=3))


def test_a_good_space_parses_into_param_specs():
    tune = parse_tune(_raw(GOOD, pruner="hyperband"))
    assert set(tune.params) == set(GOOD) and all(isinstance(p, ParamSpec) for p in tune.params.values())
    assert tune.params["learning_rate"].log and tune.pruner == "hyperband" and tune.sampler == "tpe"


@pytest.mark.parametrize(
    "metric, objectives, ok",
    [
        ("dev_mlm_loss", {"mlm"}, True),
        ("dev_mlm_loss", {"auto"}, True),
        ("dev_mlm_loss", {"align"}, False),  # an align run's dev loss is the alignment loss
        ("dev_mlm_loss", {"align", "mlm"}, False),
        ("dev_retrieval_acc1", {"align"}, True),
        ("dev_retrieval_acc1", {"align", "mlm"}, True),
        ("dev_retrieval_acc1", {"mlm"}, False),  # only align measures dev retrieval
    ],
)
def test_language_adapter_metrics_follow_the_objective(metric, objectives, ok):
    if ok:
        assert metric_for("language_adapter", metric, objectives=frozenset(objectives)).name == metric
    else:
        with pytest.raises(ConfigError, match="trained with objective"):
            metric_for("language_adapter", metric, objectives=frozenset(objectives))


@pytest.mark.parametrize(
    "step, metric, task, ok",
    [
        ("task_adapter", "dev_accuracy", "sequence_classification", True),
        ("task_adapter", "dev_f1", "token_classification", True),
        ("task_adapter", "dev_accuracy", "token_classification", False),
        ("task_adapter", "dev_loss", "seq2seq", True),
        ("language_adapter", "dev_mlm_loss", None, True),
        ("language_adapter", "dev_accuracy", None, False),
    ],
)
def test_metric_table(step, metric, task, ok):
    if ok:
        assert metric_for(step, metric, task).name == metric
    else:
        with pytest.raises(ConfigError):
            metric_for(step, metric, task)


def test_values_land_on_the_config_fields_and_a_refused_value_is_named(tmp_path):
    base = TaskAdapterConfig(input="in.jsonl", out="out", base=str(tmp_path), class_weights="cw.json")
    cfg = apply(base, {"lora_r": 16, "layers_to_transform": [1, 0], "class_weights": False}, tmp_path / "t")
    assert (cfg.lora_r, cfg.layers_to_transform, cfg.class_weights, cfg.save_every) == (16, [0, 1], None, 0)
    assert apply(base, {"class_weights": True}).class_weights == "cw.json"
    with pytest.raises(ConfigError, match="lora_dropout"):
        apply(base, {"lora_dropout": 1.5})

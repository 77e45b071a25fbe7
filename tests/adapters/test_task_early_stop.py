"""Early stopping of task adapters on the task's dev metric: the callback's stop rule, best-weight restore and
checkpoint round trip on a hand-driven model, and an NER run that stops before max_steps and saves the best step's
adapter."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from tests.adapters.test_task_types import _write, ner_bert, ner_corpus  # noqa: F401  (fixtures used by name)

from polytune.adapters.early_stop import early_stopping, improved
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ConfigError


def _drive(callback, model, steps: int) -> int:
    """Train by hand: at step s every weight becomes s; return the step the callback stopped at (or `steps`)."""
    for step in range(1, steps + 1):
        with torch.no_grad():
            model.weight.fill_(float(step))
        if callback.on_step(step, {}):
            return step
    return steps


@pytest.mark.parametrize(
    "scores, higher, stop, best",
    [
        ([0.2, 0.5, 0.7, 0.6, 0.7, 0.65, 0.9], True, 10, 6),  # a tie with the best is no improvement
        ([3.0, 2.0, 2.5, 1.0, 1.5, 1.2, 0.5], False, 12, 8),  # losses: lower is better
        ([0.1, 0.1, 0.1], True, 6, 2),  # never improves after the first measurement
    ],
)
def test_stops_after_patience_and_restores_the_best_steps_weights(scores, higher, stop, best, tmp_path):
    model = torch.nn.Linear(2, 2, bias=False)
    values = iter(scores)
    callback = early_stopping(model, lambda: next(values), every=2, patience=2, metric="m", higher_is_better=higher,
                              keep_best=True)  # fmt: skip
    assert _drive(callback, model, 2 * len(scores)) == stop
    assert callback.best_step == best and [s for s, _ in callback.history] == list(range(2, stop + 1, 2))
    assert callback.restore_best() == best
    assert torch.equal(model.weight, torch.full((2, 2), float(best)))  # the best step's weights, not the last
    summary = callback.summary()
    assert summary["best_step"] == best and summary["best"] == scores[best // 2 - 1]


def test_state_round_trips_through_a_checkpoint_and_resumes_the_same(tmp_path):
    """A callback restored from a checkpoint mid-run stops and restores exactly as the uninterrupted one."""
    scores = [0.3, 0.6, 0.5, 0.55, 0.58, 0.4]

    def fresh(model, start=0):
        values = iter(scores[start:])
        return early_stopping(model, lambda: next(values), 1, 3, "m", True, keep_best=True)

    whole_model = torch.nn.Linear(2, 2, bias=False)
    whole = fresh(whole_model)
    whole_stop = _drive(whole, whole_model, 6)

    model = torch.nn.Linear(2, 2, bias=False)
    first = fresh(model)
    _drive(first, model, 3)
    first.save_checkpoint(tmp_path)
    resumed_model = torch.nn.Linear(2, 2, bias=False)
    resumed = fresh(resumed_model, start=3)
    resumed.load_checkpoint(tmp_path)
    stop = 3
    for step in range(4, 7):
        with torch.no_grad():
            resumed_model.weight.fill_(float(step))
        stop = step
        if resumed.on_step(step, {}):
            break
    assert (stop, resumed.summary()) == (whole_stop, whole.summary())
    resumed.restore_best(), whole.restore_best()
    assert torch.equal(resumed_model.weight, whole_model.weight)


def test_improved_is_strict():
    assert improved(0.6, 0.5, True) and not improved(0.5, 0.5, True) and improved(0.4, 0.5, False)


def test_eval_every_and_patience_are_shared_training_keys(tiny_bert):
    cfg = TaskAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), eval_every=5, patience=2)
    assert (cfg.eval_every, cfg.patience) == (5, 2)
    for kw, name in (({"eval_every": 0}, "eval_every"), ({"patience": 0}, "patience")):
        with pytest.raises(ConfigError, match=name):
            TaskAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), **kw)
        with pytest.raises(ConfigError, match=name):
            LanguageAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), lang="nya", **kw)


@pytest.mark.slow
def test_ner_stops_early_on_entity_f1_and_saves_the_best_steps_adapter(
    tmp_path, ner_bert, ner_corpus  # noqa: F811 (fixtures imported from test_task_types)
):  # fmt: skip
    """Entity F1 rises, then stops improving: training ends `patience` measurements after the best, before
    max_steps, and the adapter on disk is the best step's (its reloaded dev F1 is the best measured)."""
    from polytune.adapters import train_task_adapter
    from polytune.adapters.data import load_split, pad_collator, token_classification_dataset
    from polytune.adapters.tasks.token_classification import _tag_scores
    from polytune.models import load_task_model

    out = tmp_path / "ner"
    cfg = TaskAdapterConfig(base=str(ner_bert), input=ner_corpus, out=out, task="token_classification",
                            label_field="ner_tags", max_steps=100, batch_size=16, learning_rate=1e-1, eval_every=4,
                            patience=3, max_eval_records=32)  # fmt: skip
    s = train_task_adapter(cfg)
    stopping = json.loads((out / "manifest.json").read_text())["early_stopping"]
    history = stopping["history"]
    assert s["steps"] < cfg.max_steps and stopping["steps"] == s["steps"] == history[-1][0]
    assert stopping["metric"] == "dev_f1" and stopping["higher_is_better"] is True
    best = max(v for _, v in history)
    first_best = next(step for step, v in history if v == best)
    assert best > history[0][1] + 0.2  # it learned before it stopped improving
    assert stopping["best_step"] == s["best_step"] == first_best and stopping["best"] == best
    assert history[-1][0] - first_best == cfg.patience * cfg.eval_every  # stopped `patience` measurements later
    assert s["dev_f1"] == best  # measured after the restore, on the best step's weights
    model, tokenizer, labels, _ = load_task_model(str(ner_bert), out)
    dev = load_split(ner_corpus, "eng_Latn", "dev", 32, label_field="ner_tags")
    data = token_classification_dataset(tokenizer, dev, ("text", "ner_tags"), labels, "IOB2", cfg.max_length)
    run = SimpleNamespace(model=model, dev_data=data, collator=pad_collator(tokenizer.pad_token_id))
    assert _tag_scores(run, labels, "IOB2", 16)["dev_f1"] == pytest.approx(best, abs=1e-6)

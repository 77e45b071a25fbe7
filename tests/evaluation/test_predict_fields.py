"""Which record fields `polytune eval` reads, and the small helpers generation relies on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from polytune.config import EvalConfig
from polytune.errors import ConfigError
from polytune.evaluation.predict import _fields
from polytune.evaluation.stats import sacrebleu_seed
from polytune.prompts import keep_end, pad_id, prompt_fields

NER = {"task": "token_classification", "text_field": "tokens", "label_field": "ner_tags", "prompt": None}
GEN = {"task": "causal_lm", "text_field": "question", "label_field": "answer", "prompt": None}


def _cfg(tmp_path, **kw) -> EvalConfig:
    return EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path / "o", **kw)


@pytest.mark.parametrize("label_field, suite_label, info, expected", [
    ("genre", False, NER, ("ner_tags", {"ner_tags": "label_field", "tokens": "the task adapter's text_field"})),
    ("tags", False, NER, ("tags", {"tags": "label_field", "tokens": "the task adapter's text_field"})),
    # a suite that says label_field: genre means genre, even though genre is also the config's default
    ("genre", True, NER, ("genre", {"genre": "label_field", "tokens": "the task adapter's text_field"})),
    # no prompt recorded: the task's default template over its text field
    ("genre", False, GEN, ("answer", {"answer": "label_field", "question": "the task adapter's prompt"})),
])  # fmt: skip
def test_fields_table(tmp_path, label_field, suite_label, info, expected):
    assert _fields(_cfg(tmp_path, label_field=label_field), info, suite_label) == expected


@pytest.mark.parametrize("template", [None, 3, ["{text}"]])
def test_a_prompt_that_is_not_text_is_a_config_error(template):
    with pytest.raises(ConfigError, match="prompt must be a text template"):
        prompt_fields(template)


@pytest.mark.parametrize("tokenizer_pad, config_pad, expected", [(5, 7, 5), (None, 7, 7), (None, None, 0)])
def test_pad_id_falls_back_to_the_config_then_zero(tokenizer_pad, config_pad, expected):
    assert pad_id(SimpleNamespace(pad_token_id=tokenizer_pad), SimpleNamespace(pad_token_id=config_pad)) == expected


@pytest.mark.parametrize("value, expected", [("12345", 12345), ("7", 7), ("none", None), ("None", None)])
def test_sacrebleu_seed(monkeypatch, value, expected):
    monkeypatch.setenv("SACREBLEU_SEED", value)
    assert sacrebleu_seed() == expected


def test_a_bad_sacrebleu_seed_is_a_config_error(monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "abc")
    with pytest.raises(ConfigError, match="SACREBLEU_SEED must be an integer or 'none', got 'abc'"):
        sacrebleu_seed()


@pytest.mark.parametrize("ids, keep, bos, expected", [
    ([1, 5, 6, 7], 3, 1, [1, 6, 7]),  # bos stays in front
    ([1, 5, 6, 7], 4, 1, [1, 5, 6, 7]),  # short enough: unchanged
    ([5, 6, 7], 2, None, [6, 7]),  # no bos: the end only
    ([5, 6, 7], 2, 1, [6, 7]),  # a bos id the prompt does not start with is not invented
])  # fmt: skip
def test_keep_end_keeps_the_prompt_end_and_its_bos(ids, keep, bos, expected):
    assert keep_end(ids, keep, bos) == expected


def test_causal_example_keeps_bos_when_the_prompt_is_cut():
    from polytune.adapters.data import causal_example

    ids, labels = causal_example([1, 10, 11, 12, 13, 14], [20], eos=2, max_length=6, bos=1)
    assert ids == [1, 12, 13, 14, 20, 2] and labels == [-100, -100, -100, -100, 20, 2]

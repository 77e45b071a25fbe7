"""The registry: every extension point is a name -> "module:attr" table; config and the stages ask it.

A new LID backend is its class plus one row (no config.py edit); misspelt names and keys fail in one line with
"did you mean", for registry names, suite keys, augment op parameters and the tune block alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polytune import registry
from polytune.config import AugmentConfig, BalanceConfig, FilterConfig
from polytune.corpus.langid import LidBackend, get_backend
from polytune.corpus.steps import run_filter
from polytune.errors import ConfigError
from polytune.evaluation.metrics import Metric
from polytune.evaluation.suites import load_suite
from polytune.tokenizer.families import Family
from polytune.tune.space import parse_tune

# What each kind's rows must be.
BASES = {"lid_backends": LidBackend, "metrics": Metric, "tokenizer_families": Family}


@pytest.mark.parametrize("kind", sorted(registry.TABLES))
def test_every_row_points_at_something_of_its_kind(kind):
    for name in registry.names(kind):
        target = registry.load(kind, name)
        if kind in BASES:
            assert isinstance(target, type) and issubclass(target, BASES[kind]), (kind, name)
        else:
            assert callable(target.build if kind == "adapter_methods" else target), (kind, name)
        if kind == "adapter_methods":
            assert target.name == name  # the row's name is the method's own
        if kind == "metrics":
            assert target.name == name  # the row's name is the metric's own
        if kind == "augment_ops":
            assert target.__dataclass_fields__ is not None  # its params are its fields


def test_the_registry_imports_nothing_heavy():
    code = ("import sys, polytune.registry as r; r.names('metrics');"
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'polytune.corpus', 'polytune.adapters',"
            " 'polytune.evaluation', 'polytune.tokenizer') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("kind", "name", "message"), [
    ("lid_backends", "langidd", "unknown LID backend 'langidd' (did you mean 'langid'?); available: fasttext, "),
    ("metrics", "macro-f1", "unknown metric 'macro-f1' (did you mean 'macro_f1'?)"),
    ("balance_strategies", "unimx", "unknown balance strategy 'unimx' (did you mean 'unimax'?)"),
    ("augment_ops", "word_swp", "unknown augmentation 'word_swp' (did you mean 'word_swap'?)"),
    ("task_types", "seq2sq", "unknown task type 'seq2sq' (did you mean 'seq2seq'?)"),
    ("objectives", "mlmm", "unknown objective 'mlmm' (did you mean 'mlm'?)"),
    ("tokenizer_families", "Wordpiece", "unknown tokenizer family 'Wordpiece' (did you mean 'WordPiece'?)"),
    ("extension_points", "x", "unknown extension point 'extension_points'"),
])  # fmt: skip
def test_an_unknown_name_is_one_line_with_did_you_mean(kind, name, message):
    with pytest.raises(ConfigError) as err:
        registry.load(kind, name)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_config_validates_against_the_tables():
    for cfg, message in ((lambda: FilterConfig(inputs=["x"], out="o", backend="heliportt"), "did you mean 'heliport'"),
                         (lambda: BalanceConfig(input="i", out="o", strategy="unimx"), "did you mean 'unimax'")):
        with pytest.raises(ConfigError, match=message):
            cfg()


class TinyBackend(LidBackend):
    """Says English with 0.9 for every text: a backend that exists only in this test."""

    name = "tiny"

    def __init__(self, model: str | None = None) -> None:
        self.model = model

    def _predict_topk(self, texts, k):
        return [[("en", 0.9), ("fr", 0.1)][:k] for _ in texts]

    def _labels(self):
        return ["en", "fr"]


def test_a_new_lid_backend_is_one_row(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="unknown LID backend 'tiny'"):
        get_backend("tiny")
    monkeypatch.setitem(registry.TABLES["lid_backends"], "tiny", f"{__name__}:TinyBackend")
    assert isinstance(get_backend("tiny"), TinyBackend)
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"id": str(i), "text": f"record number {i} of a tiny test"}) + "\n"
                            for i in range(3)))  # fmt: skip
    cfg = FilterConfig(inputs=[str(data)], out=tmp_path / "out", backend="tiny", near_dedup=False)
    stats = run_filter(cfg)
    assert stats["per_lang"] == {"eng_Latn": 3}
    kept = [json.loads(line) for line in (tmp_path / "out" / "eng_Latn" / "part-00000.jsonl").open()]
    assert [(r["id"], r["lid_score"]) for r in kept] == [("0", 0.9), ("1", 0.9), ("2", 0.9)]
    second = FilterConfig(inputs=[str(data)], out=tmp_path / "o2", backend="langid", second_backend="tiny")
    assert second.second_backend == "tiny"


SUITE = "task: t\nlang: nya_Latn\nsplit: test\nmetrics: [accuracy]\n"


@pytest.mark.parametrize(("extra", "message"), [
    ("label_feild: genre\n", "unknown key 'label_feild' (did you mean 'label_field'?)"),
    ("max_record: 10\n", "unknown key 'max_record' (did you mean 'max_records'?)"),
    ("metric: [chrf]\n", "unknown key 'metric' (did you mean 'metrics'?)"),
])  # fmt: skip
def test_a_misspelt_suite_key_is_an_error(tmp_path, extra, message):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_suite(path)
    assert str(err.value) == f"{path}: {message}"
    path.write_text(SUITE + "label_field: genre\nmax_records: 10\n", encoding="utf-8")
    assert load_suite(path)["label_field"] == "genre"


@pytest.mark.parametrize(("op", "message"), [
    ({"name": "word_swap", "params": {"prb": 0.2}}, "word_swap: unknown parameter 'prb' (did you mean 'prob'?)"),
    ({"name": "synonyms", "params": {"lexicon": "x", "porb": 0.2}}, "did you mean 'prob'"),
    ({"name": "code_switch", "params": {"dictionray": "d.tsv"}}, "code_switch needs dictionary"),
    ({"name": "lm_generate", "params": {"model": "m", "prefix_word": 2}}, "did you mean 'prefix_words'"),
    ({"name": "back_translation", "params": {"model": "m", "num_beam": 2}}, "did you mean 'num_beams'"),
    ({"name": "word_swap", "params": {"prob": 1.5}}, "word_swap prob must be in (0, 1]"),
])  # fmt: skip
def test_a_misspelt_augment_parameter_is_an_error(tmp_path, synthetic_corpus, op, message):
    from polytune.corpus.augment import run_augment

    with pytest.raises(ConfigError) as err:
        run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / "x", ops=[op]))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("block", "message"), [
    ({"stpe": "task_adapter"}, "tune: unknown key 'stpe' (did you mean 'step'?)"),
    ({"step": "task_adapter", "metric": "m", "n_trial": 3}, "did you mean 'n_trials'"),
])  # fmt: skip
def test_a_misspelt_tune_key_is_an_error(block, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_tune({"tune": block})


def test_text_ops_record_their_full_params(tmp_path, synthetic_corpus):
    from polytune.corpus.augment import run_augment

    run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / "x", ops=[{"name": "word_swap", "ratio": 0.2}]))
    info = json.loads(Path(tmp_path / "x" / "manifest.json").read_text())
    assert info["ops"] == [{"name": "word_swap", "ratio": 0.2, "params": {"prob": 0.1}}]

"""predict(): one file per (system, language) with the right counts and fields; missing adapters are named."""

from __future__ import annotations

import json

import pytest

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.config import EvalConfig, LanguageAdapterConfig, SystemConfig, TaskAdapterConfig
from polytune.errors import ModelError
from polytune.evaluation.predict import predict


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_bert, synthetic_corpus):
    root = tmp_path_factory.mktemp("adapters")
    train_task_adapter(
        TaskAdapterConfig(
            base=str(tiny_bert),
            input=synthetic_corpus,
            out=root / "task",
            max_steps=3,
            batch_size=8,
            max_eval_records=16,
        )
    )
    train_language_adapter(
        LanguageAdapterConfig(
            base=str(tiny_bert),
            input=synthetic_corpus,
            lang="nya",
            out=root / "lang" / "nya_Latn",
            max_steps=3,
            batch_size=8,
            max_eval_records=16,
        )
    )
    return root


def _cfg(tiny_bert, corpus, adapters, out, systems, langs, **kw):
    return EvalConfig(
        base=str(tiny_bert),
        task_adapter=str(adapters / "task"),
        input=corpus,
        out=out,
        systems=systems,
        langs=langs,
        **kw,
    )


def test_predict_writes_one_file_per_system_and_language(tmp_path, tiny_bert, synthetic_corpus, adapters):
    systems = [
        SystemConfig(name="task-only"),
        SystemConfig(name="lang+task", lang_adapter=str(adapters / "lang/{lang}")),
    ]
    out = predict(_cfg(tiny_bert, synthetic_corpus, adapters, tmp_path, systems, ["nya"], max_records=7))
    assert out == tmp_path / "predictions"
    labels = json.loads((adapters / "task" / "labels.json").read_text())
    for system in ("task-only", "lang+task"):
        rows = [json.loads(line) for line in (out / system / "nya_Latn.jsonl").read_text().splitlines()]
        assert len(rows) == 7
        assert all(set(r) == {"id", "lang", "label", "pred"} and r["lang"] == "nya_Latn" for r in rows)
        assert all(r["pred"] in labels for r in rows)
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["counts"] == {"task-only": {"nya_Latn": 7}, "lang+task": {"nya_Latn": 7}}


def test_predict_all_test_records_and_stable_bytes(tmp_path, tiny_bert, synthetic_corpus, adapters):
    cfg = _cfg(tiny_bert, synthetic_corpus, adapters, tmp_path / "a", [], ["eng", "ara"])
    first = predict(cfg)
    test_ids = [
        json.loads(line)["id"]
        for line in (synthetic_corpus / "ara_Arab" / "part-00000.jsonl").open()
        if json.loads(line)["split"] == "test"
    ]
    rows = [json.loads(line) for line in (first / "task-only" / "ara_Arab.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == test_ids
    second = predict(_cfg(tiny_bert, synthetic_corpus, adapters, tmp_path / "b", [], ["eng", "ara"]))
    assert (first / "task-only/eng_Latn.jsonl").read_bytes() == (second / "task-only/eng_Latn.jsonl").read_bytes()


def test_predict_names_a_missing_language_adapter(tmp_path, tiny_bert, synthetic_corpus, adapters):
    systems = [SystemConfig(name="lang", lang_adapter=str(adapters / "lang/{lang}"))]
    with pytest.raises(ModelError, match="lang/ara_Arab"):
        predict(_cfg(tiny_bert, synthetic_corpus, adapters, tmp_path, systems, ["nya", "ara"]))
    assert not (tmp_path / "predictions").exists()

"""Transfer without a target adapter: related languages' adapters merged (peft weighted sum) or averaged."""

from __future__ import annotations

import pytest
import torch

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ModelError
from polytune.evaluation.predict import classify, classify_average, load_merged_ensemble
from polytune.models import load_classifier

TEXTS = ["ku ndi chi tha", "the lord said unto them", "mbe ngu ku"]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_bert, synthetic_corpus, extended_tokenizer):
    root = tmp_path_factory.mktemp("ens")
    common = {"base": str(tiny_bert), "input": synthetic_corpus, "batch_size": 8, "max_eval_records": 16,
              "learning_rate": 5e-2}
    for lang in ("nya", "ara"):
        train_language_adapter(LanguageAdapterConfig(lang=lang, out=root / lang, max_steps=4, **common))
    train_language_adapter(LanguageAdapterConfig(lang="nya", out=root / "ext", tokenizer=str(extended_tokenizer),
                                                 max_steps=2, **common))
    train_task_adapter(TaskAdapterConfig(out=root / "task", max_steps=4, **common))
    return root


def _logits(model, tok):
    with torch.no_grad():
        return model(**tok(TEXTS, padding=True, return_tensors="pt")).logits


def test_merged_ensemble_of_one_adapter_is_that_adapter(adapters, tiny_bert):
    merged = load_merged_ensemble(str(tiny_bert), adapters / "task", [adapters / "nya"])
    single = load_classifier(str(tiny_bert), adapters / "task", adapters / "nya")
    assert torch.allclose(_logits(*merged[:2]), _logits(*single[:2]), atol=1e-5)


def test_merged_ensemble_lies_between_its_members(adapters, tiny_bert):
    model, tok, labels = load_merged_ensemble(str(tiny_bert), adapters / "task", [adapters / "nya", adapters / "ara"],
                                              weights=[3, 1])
    both = _logits(model, tok)
    alone = [_logits(*load_classifier(str(tiny_bert), adapters / "task", adapters / la)[:2]) for la in ("nya", "ara")]
    assert both.shape == (len(TEXTS), len(labels))
    assert not torch.allclose(both, alone[0]) and not torch.allclose(both, alone[1])


def test_average_of_one_adapter_predicts_like_it(adapters, tiny_bert):
    model, tok, labels = load_classifier(str(tiny_bert), adapters / "task", adapters / "nya")
    assert classify_average(str(tiny_bert), adapters / "task", [adapters / "nya"], TEXTS) == classify(
        model, tok, TEXTS, labels, 32, 128
    )
    preds = classify_average(str(tiny_bert), adapters / "task", [adapters / "nya", adapters / "ara"], TEXTS)
    assert len(preds) == len(TEXTS) and set(preds) <= set(labels)


@pytest.mark.parametrize(
    ("las", "weights", "match"),
    [
        ([], None, "at least one"),
        (["nya", "ara"], [1], "must be 2 positive"),
        (["nya", "ext"], None, "different tokenizers"),
    ],
)
def test_bad_ensembles_are_refused(adapters, tiny_bert, las, weights, match):
    with pytest.raises(ModelError, match=match):
        load_merged_ensemble(str(tiny_bert), adapters / "task", [adapters / la for la in las], weights)


@pytest.mark.parametrize("ensemble", ["merge", "average"])
def test_an_ensemble_needs_a_classifier_task_adapter(adapters, tiny_bert, tmp_path, ensemble):
    import json
    import shutil

    tagger = shutil.copytree(adapters / "task", tmp_path / "tagger")  # the same files, recorded as a NER adapter
    meta = json.loads((tagger / "manifest.json").read_text())
    (tagger / "manifest.json").write_text(json.dumps({**meta, "task": "token_classification"}))
    with pytest.raises(ModelError, match="is a token_classification task adapter, not a classifier"):
        if ensemble == "merge":
            load_merged_ensemble(str(tiny_bert), tagger, [adapters / "nya", adapters / "ara"])
        else:
            classify_average(str(tiny_bert), tagger, [adapters / "nya", adapters / "ara"], TEXTS)

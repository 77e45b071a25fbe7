"""Language and task adapters on the tiny BERT: what is saved, what changes, determinism, composition, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.methods import METHODS
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import InputError, ModelError
from polytune.models import config_hash, load_classifier

DELTA = "base_model.model.bert.embeddings.word_embeddings.token_adapter.trainable_tokens_delta"


def _lang_cfg(base, corpus, out, tokenizer=None, **kw):
    kw = {"lang": "nya", "max_steps": 30, "batch_size": 8, "learning_rate": 5e-3, "max_eval_records": 32, **kw}
    return LanguageAdapterConfig(base=str(base), input=corpus, out=out, tokenizer=tokenizer, **kw)


@pytest.fixture(scope="module")
def lang_adapter(tmp_path_factory, tiny_bert, synthetic_corpus, extended_tokenizer):
    out = tmp_path_factory.mktemp("la") / "nya_Latn"
    summary = train_language_adapter(_lang_cfg(tiny_bert, synthetic_corpus, out, str(extended_tokenizer)))
    return out, summary


@pytest.fixture(scope="module")
def task_adapter(tmp_path_factory, tiny_bert, synthetic_corpus):
    out = tmp_path_factory.mktemp("ta") / "genre"
    cfg = TaskAdapterConfig(
        base=str(tiny_bert),
        input=synthetic_corpus,
        out=out,
        max_steps=10,
        batch_size=8,
        learning_rate=5e-3,
        max_eval_records=32,
    )
    return out, train_task_adapter(cfg)


def test_language_adapter_saves_lora_and_only_the_new_rows(lang_adapter, extended_tokenizer):
    out, summary = lang_adapter
    tensors = load_file(out / "adapter_model.safetensors")
    n_new = len(json.loads((extended_tokenizer / "extension.json").read_text())["added"])
    assert tensors[DELTA].shape == (n_new, 32)
    lora = {k: v.shape for k, v in tensors.items() if METHODS["lora"].prefix in k}
    assert len(lora) == 2 * 2 * 2  # 2 layers x (query, value) x (A, B)
    assert all(shape in {(8, 32), (32, 8)} for shape in lora.values())
    assert set(tensors) == set(lora) | {DELTA}  # no embedding matrix, no MLM head
    assert summary["new_tokens"] == n_new == 6


def test_language_adapter_folder_and_manifest(lang_adapter, tiny_bert):
    out, summary = lang_adapter
    for name in ("adapter_config.json", "tokenizer.json", "extension.json", "manifest.json"):
        assert (out / name).is_file(), name
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["adapter"] == "language" and meta["lang"] == "nya_Latn" and meta["steps"] == 30
    assert meta["base_config_hash"] == config_hash(str(tiny_bert))
    assert meta["losses"]["train_first"] == summary["loss_first"] and len(meta["losses"]["train"]) == 30
    assert meta["counts"]["new_tokens"] == 6


def test_language_adapter_learns(lang_adapter):
    _, summary = lang_adapter
    losses = json.loads((lang_adapter[0] / "manifest.json").read_text())["losses"]["train"]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert summary["dev_loss_after"] < summary["dev_loss_before"]


def test_base_rows_unchanged_and_new_rows_trained(lang_adapter, tiny_bert, extended_tokenizer):
    from peft import PeftModel
    from transformers import AutoModelForMaskedLM

    from polytune.adapters.embeddings import extend_model

    out, _ = lang_adapter
    ext = json.loads((extended_tokenizer / "extension.json").read_text())
    model = AutoModelForMaskedLM.from_pretrained(tiny_bert)
    ids = extend_model(model, ext, ext["vocab_size"], "subword_mean", 0)
    initial = model.get_input_embeddings().weight.detach().clone()
    merged = PeftModel.from_pretrained(model, out).merge_and_unload().get_input_embeddings().weight.detach()
    base_vocab = ext["base_vocab_size"]
    assert torch.equal(merged[:base_vocab], initial[:base_vocab])
    assert not torch.allclose(merged[ids], initial[ids])


def test_same_seed_gives_identical_adapter(tmp_path, lang_adapter, tiny_bert, synthetic_corpus, extended_tokenizer):
    out = tmp_path / "again"
    train_language_adapter(_lang_cfg(tiny_bert, synthetic_corpus, out, str(extended_tokenizer)))
    first, second = (load_file(p / "adapter_model.safetensors") for p in (lang_adapter[0], out))
    assert set(first) == set(second) and all(torch.equal(first[k], second[k]) for k in first)


def test_language_adapter_without_extension(tmp_path, tiny_bert, synthetic_corpus):
    out = tmp_path / "plain"
    summary = train_language_adapter(_lang_cfg(tiny_bert, synthetic_corpus, out, max_steps=3))
    assert summary["new_tokens"] == 0 and summary["steps"] == 3
    assert all(METHODS["lora"].prefix in k for k in load_file(out / "adapter_model.safetensors"))


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"lang": "amh"}, InputError, "no amh_Ethi records"),
        ({"tokenizer": "BASE"}, ModelError, "no extension.json"),
        ({"base": "/nonexistent/model"}, ModelError, "/nonexistent/model"),
    ],
)
def test_language_adapter_bad_input(tmp_path, tiny_bert, synthetic_corpus, kw, error, match):
    kw = {k: str(tiny_bert) if v == "BASE" else v for k, v in kw.items()}
    cfg = _lang_cfg(kw.pop("base", tiny_bert), synthetic_corpus, tmp_path / "x", **kw)
    with pytest.raises(error, match=match):
        train_language_adapter(cfg)
    assert not (tmp_path / "x").exists()


def test_task_adapter_saves_lora_classifier_and_labels(task_adapter):
    out, summary = task_adapter
    labels = json.loads((out / "labels.json").read_text())
    assert labels == sorted(labels) and len(labels) == 8 and summary["labels"] == labels
    tensors = load_file(out / "adapter_model.safetensors")
    head = {k: v.shape for k, v in tensors.items() if "classifier" in k}
    assert head == {"base_model.model.classifier.weight": (8, 32), "base_model.model.classifier.bias": (8,)}
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["adapter"] == "task" and meta["dev_accuracy"] == summary["dev_accuracy"]


def test_task_adapter_needs_the_label_field(tmp_path, tiny_bert, synthetic_corpus):
    cfg = TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path / "t", label_field="topic")
    with pytest.raises(InputError, match="no 'topic' field"):
        train_task_adapter(cfg)


@pytest.mark.parametrize("with_lang", [False, True])
def test_load_classifier_composes(task_adapter, lang_adapter, tiny_bert, with_lang):
    model, tokenizer, labels = load_classifier(str(tiny_bert), task_adapter[0], lang_adapter[0] if with_lang else None)
    assert not model.training and len(labels) == 8
    assert len(tokenizer) == (406 if with_lang else model.get_input_embeddings().weight.shape[0])
    batch = tokenizer(["kuna ndi mbe chi", "the lord said"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 8)


def test_load_classifier_merges_the_trained_rows(task_adapter, lang_adapter, tiny_bert, extended_tokenizer):
    ext = json.loads((extended_tokenizer / "extension.json").read_text())
    ids = [a["id"] for a in ext["added"]]
    model, _, _ = load_classifier(str(tiny_bert), task_adapter[0], lang_adapter[0])
    delta = load_file(lang_adapter[0] / "adapter_model.safetensors")[DELTA]
    assert torch.allclose(model.get_input_embeddings().weight.detach()[ids], delta)


def test_load_classifier_refuses_another_base(tmp_path_factory, task_adapter, synthetic_corpus, tiny_bert):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).parents[1] / "conftest.py")
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    texts = [json.loads(line)["text"] for line in (synthetic_corpus / "nya_Latn" / "part-00000.jsonl").open()]
    other = root.make_tiny_bert(tmp_path_factory.mktemp("other"), texts, vocab_size=300)
    with pytest.raises(ModelError, match="made for base"):
        load_classifier(str(other), task_adapter[0])


def test_load_classifier_missing_folders(tmp_path, task_adapter, tiny_bert):
    with pytest.raises(ModelError, match="no adapter in"):
        load_classifier(str(tiny_bert), tmp_path / "missing")
    with pytest.raises(ModelError, match="no adapter in"):
        load_classifier(str(tiny_bert), task_adapter[0], tmp_path / "missing")


@pytest.mark.parametrize("with_lora", [False, True])
def test_masked_only_loss_equals_the_models_own_loss(tiny_bert, synthetic_corpus, with_lora):
    """The fast MLM loss (head on masked positions only) must equal BertForMaskedLM's full-vocabulary loss."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForLanguageModeling

    from polytune.adapters.objectives.lm import masked_lm_loss
    from polytune.models import load_mlm, load_tokenizer

    torch.manual_seed(0)
    tokenizer, model = load_tokenizer(str(tiny_bert)), load_mlm(str(tiny_bert))
    if with_lora:
        model = get_peft_model(model, LoraConfig(r=4, target_modules=["query", "value"], init_lora_weights=False))
    lines = (synthetic_corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()[:8]
    features = [tokenizer(json.loads(line)["text"], truncation=True, max_length=32) for line in lines]
    batch = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.3, seed=1)(features)
    model.eval()
    with torch.no_grad():
        assert float(masked_lm_loss(model, batch)) == pytest.approx(float(model(**batch).loss), rel=1e-5)

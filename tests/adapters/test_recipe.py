"""The MAD-X recipe: a missing MLM head starts as identity read-out; task adapters stack on a source LA."""

from __future__ import annotations

import json

import pytest
import torch

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.methods import METHODS
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ConfigError, ModelError
from polytune.models import load_classifier, load_mlm


def test_missing_mlm_head_starts_as_identity_readout(tiny_bert):
    model = load_mlm(str(tiny_bert))
    head = model.cls.predictions
    assert torch.equal(head.transform.dense.weight, torch.eye(32))
    assert not head.transform.dense.bias.any() and not head.bias.any()
    assert torch.equal(head.transform.LayerNorm.weight, torch.ones(32))
    assert head.decoder.weight.data_ptr() == model.bert.embeddings.word_embeddings.weight.data_ptr()


def _common(tiny_bert, corpus):
    return {"base": str(tiny_bert), "input": corpus, "batch_size": 8, "max_eval_records": 16, "learning_rate": 5e-3}


@pytest.fixture(scope="module")
def stacked(tmp_path_factory, tiny_bert, synthetic_corpus):
    root = tmp_path_factory.mktemp("madx")
    common = _common(tiny_bert, synthetic_corpus)
    for lang in ("eng", "nya"):
        train_language_adapter(LanguageAdapterConfig(lang=lang, out=root / lang, max_steps=8, **common))
    summary = train_task_adapter(TaskAdapterConfig(out=root / "task", lang_adapter=str(root / "eng"), max_steps=6,
                                                   **common))
    return root, summary


def _accuracy(base, task, la, records) -> tuple[float, torch.Tensor]:
    """(accuracy, logits) of base + language adapter `la` (or none) + task adapter on `records`."""
    model, tokenizer, labels = load_classifier(str(base), task, la)
    with torch.no_grad():
        logits = model(**tokenizer([r["text"] for r in records], padding=True, return_tensors="pt")).logits
    preds = [labels[i] for i in logits.argmax(-1).tolist()]
    return sum(p == r["genre"] for p, r in zip(preds, records, strict=True)) / len(records), logits


def test_task_adapter_trains_on_the_source_language_adapter(stacked, tiny_bert, synthetic_corpus):
    from polytune.adapters.data import load_split

    root, summary = stacked
    meta = json.loads((root / "task" / "manifest.json").read_text())
    assert meta["lang_adapter"] == str(root / "eng") and meta["config"]["lang_adapter"] == str(root / "eng")
    # The reported dev accuracy is the task adapter's on top of the English adapter (recomputed here), and the
    # adapter changes the predictions: the stacked model is what trained and what was measured.
    records = load_split(synthetic_corpus, "eng_Latn", "dev", 16, label_field="genre")  # the dev set it measured
    with_la, without = (_accuracy(tiny_bert, root / "task", la, records) for la in (root / "eng", None))
    assert summary["dev_accuracy"] == pytest.approx(with_la[0])
    assert not torch.allclose(with_la[1], without[1], atol=1e-4)
    # The language adapter was under the task adapter while it trained: the same run on the bare base (same seed,
    # data and steps) ends with other weights. An accuracy on 16 dev records alone could not tell the two apart.
    from safetensors.torch import load_file

    train_task_adapter(TaskAdapterConfig(out=root / "bare", max_steps=6, **_common(tiny_bert, synthetic_corpus)))
    stacked_w, bare_w = (load_file(str(root / name / "adapter_model.safetensors")) for name in ("task", "bare"))
    assert stacked_w.keys() == bare_w.keys()
    assert max(float((stacked_w[k] - bare_w[k]).abs().max()) for k in stacked_w) > 1e-4


def test_stacked_task_adapter_swaps_in_the_target_language_adapter(stacked, tiny_bert):
    root, _ = stacked
    logits = []
    for la in (root / "eng", root / "nya"):
        model, tok, labels = load_classifier(str(tiny_bert), root / "task", la)
        with torch.no_grad():
            logits.append(model(**tok(["ku ndi chi"], return_tensors="pt")).logits)
    assert logits[0].shape == (1, len(labels)) and not torch.equal(logits[0], logits[1])


def test_task_adapter_refuses_a_task_adapter_as_language_adapter(stacked, tmp_path, tiny_bert, synthetic_corpus):
    root, _ = stacked
    cfg = TaskAdapterConfig(out=tmp_path / "t", lang_adapter=str(root / "task"), max_steps=1,
                            **_common(tiny_bert, synthetic_corpus))
    with pytest.raises(ModelError, match="is a 'task' adapter, not a language adapter"):
        train_task_adapter(cfg)


def test_cli_task_with_a_missing_language_adapter_exits_2(tmp_path, tiny_bert, synthetic_corpus, capsys):
    code = main(["adapt", "task", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out",
                 str(tmp_path / "t"), "--max-steps", "1", "--lang-adapter", str(tmp_path / "nope")])
    assert code == 2 and "no adapter in" in capsys.readouterr().err


@pytest.mark.parametrize(("kw", "match"), [({"precision": "fp8"}, "precision must be one of"),
                                           ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps")])
def test_training_options_are_checked(tiny_bert, kw, match):
    with pytest.raises(ConfigError, match=match):
        TaskAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), **kw)


def test_accumulation_and_checkpointing_train_as_one_plain_batch(tmp_path, tiny_bert, synthetic_corpus, caplog):
    """2 accumulated batches of 4 with activation checkpointing (and bf16 asked for on a CPU: fp32, with a warning)
    train the adapter one batch of 8 trains, to float rounding (dropout off, so the runs see the same numbers)."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    base = tmp_path / "base"
    config = BertConfig.from_pretrained(tiny_bert)
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
    BertModel.from_pretrained(tiny_bert, config=config).save_pretrained(base)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (base / name).write_bytes((tiny_bert / name).read_bytes())
    common = {**_common(base, synthetic_corpus), "max_steps": 2}
    plain = train_task_adapter(TaskAdapterConfig(out=tmp_path / "plain", **common))
    with caplog.at_level("WARNING"):
        tricked = train_task_adapter(TaskAdapterConfig(out=tmp_path / "t", **{**common, "batch_size": 4},
                                                       gradient_accumulation_steps=2, gradient_checkpointing=True,
                                                       precision="bf16"))  # fmt: skip
    assert "precision bf16 needs a GPU; training in fp32 on CPU" in caplog.text
    assert tricked["steps"] == 2 and tricked["loss_last"] == pytest.approx(plain["loss_last"], rel=1e-5)
    a, b = (load_file(str(tmp_path / name / "adapter_model.safetensors")) for name in ("plain", "t"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


def _weights_file(path, **kw):
    data = {"label_field": "genre", "method": "inverse", "weights": {"law": 3.0, "gospel": 0.5}, "counts": {}, **kw}
    path.write_text(json.dumps(data))
    return path


def test_read_class_weights_orders_by_labels_and_defaults_to_one(tmp_path):
    from polytune.adapters.tasks import read_class_weights

    path = _weights_file(tmp_path / "class_weights.json")
    assert read_class_weights(path, "genre", ["gospel", "law", "poetry"]) == [0.5, 3.0, 1.0]
    assert read_class_weights(tmp_path, "genre", ["law"]) == [3.0]  # the balance stage's folder works too


@pytest.mark.parametrize(("kw", "match"), [({"label_field": "topic"}, "weighs 'topic' labels"),
                                           ({"weights": {"law": 0}}, "weights must be positive"),
                                           ({"weights": [1, 2]}, "no 'weights' object")])
def test_bad_class_weights_are_refused(tmp_path, kw, match):
    from polytune.adapters.tasks import read_class_weights
    from polytune.errors import InputError

    with pytest.raises(InputError, match=match):
        read_class_weights(_weights_file(tmp_path / "w.json", **kw), "genre", ["law"])


def test_weighted_loss_matches_torch_and_training_records_weights(tmp_path, tiny_bert, synthetic_corpus):
    from polytune.adapters.losses import TokenCrossEntropy

    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])

    class _Model(torch.nn.Module):
        def forward(self, **kw):
            return type("O", (), {"logits": logits})

    labels = torch.tensor([0, 1])
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=torch.tensor([2.0, 1.0]), label_smoothing=0.1)
    loss, batch = TokenCrossEntropy([2.0, 1.0], 0.1), {"labels": labels}
    assert loss.units(batch) == {"loss": 3.0}  # the class weights of the two labels
    assert torch.allclose(loss.combine(loss.sums(_Model(), batch), loss.units(batch)), expected)
    weights = str(_weights_file(tmp_path / "w.json"))
    cfg = TaskAdapterConfig(out=tmp_path / "t", max_steps=2, label_smoothing=0.1, class_weights=weights,
                            **_common(tiny_bert, synthetic_corpus))
    train_task_adapter(cfg)
    recorded = json.loads((tmp_path / "t" / "manifest.json").read_text())["class_weights"]
    assert recorded["law"] == 3.0 and set(recorded) == set(json.loads((tmp_path / "t" / "labels.json").read_text()))


def test_head_warmup_fits_the_head_then_freezes_it(tmp_path, tiny_bert, synthetic_corpus):
    from safetensors.torch import load_file

    cfg = LanguageAdapterConfig(lang="nya", out=tmp_path / "la", max_steps=4, head_warmup_steps=6,
                                **_common(tiny_bert, synthetic_corpus))
    summary = train_language_adapter(cfg)
    # dev loss "before" is measured after the warm-up: a fitted head is better than uniform over the vocabulary.
    vocab = len(json.loads((tiny_bert / "tokenizer.json").read_text())["model"]["vocab"])
    assert summary["dev_loss_before"] < torch.log(torch.tensor(float(vocab))).item()
    assert all(METHODS["lora"].prefix in k for k in load_file(tmp_path / "la" / "adapter_model.safetensors"))

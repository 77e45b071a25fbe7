"""Adapter methods as a table (lora, dora, ia3, loha): peft configs, what trains, what is saved, composition."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from polytune.adapters import methods, train_language_adapter, train_task_adapter
from polytune.adapters.packs import build_pack
from polytune.adapters.tasks import train as task_training
from polytune.cli.main import main
from polytune.config import ADAPTER_METHODS, LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ConfigError, ModelError
from polytune.evaluation.predict import classify_average, load_merged_ensemble
from polytune.models import load_classifier, load_sequence_classifier, load_task_model

TEXTS = ["ndi kuchita chinthu", "the word of the lord said", "kuna mulu ngu"]
# method -> (peft config class, use_dora, trainable parameters of the tiny BERT's genre task adapter, 8 labels:
# adapter weights + classifier + pooler), measured.
EXPECTED = {
    "lora": ("LoraConfig", False, 2 * 2 * (8 * 32 + 32 * 8)),
    "dora": ("LoraConfig", True, 2 * 2 * (8 * 32 + 32 * 8 + 32)),
    "ia3": ("IA3Config", None, 2 * 2 * 32),
    "loha": ("LoHaConfig", None, 2 * 2 * 2 * (8 * 32 + 8 * 32)),
}
HEAD = 32 * 8 + 8 + 32 * 32 + 32  # classifier + pooler (modules_to_save)


def _task_cfg(tiny_bert, corpus, out, **kw):
    kw = {"max_steps": 4, "batch_size": 8, "learning_rate": 5e-3, "max_eval_records": 16, **kw}
    return TaskAdapterConfig(base=str(tiny_bert), input=corpus, out=out, **kw)


def _lang_cfg(tiny_bert, corpus, out, **kw):
    kw = {"lang": "nya", "max_steps": 4, "batch_size": 8, "learning_rate": 5e-3, "max_eval_records": 16, **kw}
    return LanguageAdapterConfig(base=str(tiny_bert), input=corpus, out=out, **kw)


def _logits(model, tokenizer) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


def _trained(monkeypatch) -> list:
    """The peft models that train_task_adapter saves, in memory (save_adapter is wrapped, not replaced)."""
    kept, real = [], task_training.save_adapter
    monkeypatch.setattr(task_training, "save_adapter",
                        lambda out, model, *a: (kept.append(model), real(out, model, *a)))  # fmt: skip
    return kept


def test_table_rows_match_config_and_peft():
    from peft.tuners import IA3Model, LoHaModel, LoraModel

    assert tuple(sorted(methods.METHODS)) == ADAPTER_METHODS  # the registry table names every row
    tuners = {"LORA": LoraModel, "IA3": IA3Model, "LOHA": LoHaModel}
    for row in methods.METHODS.values():
        assert row.prefix == tuners[row.peft_type].prefix, row.name  # the parameter marker is peft's own
        assert row.compose in ("merge", "stacked")


@pytest.mark.parametrize("name", ADAPTER_METHODS)
def test_peft_config_per_method(name, tmp_path, tiny_bert, synthetic_corpus):
    cls, dora, _ = EXPECTED[name]
    config = methods.peft_config(_task_cfg(tiny_bert, synthetic_corpus, tmp_path, method=name), task_type="SEQ_CLS")
    assert type(config).__name__ == cls and sorted(config.target_modules) == ["query", "value"]
    if dora is not None:
        assert config.use_dora is dora and config.r == 8 and config.lora_alpha == 16
    if name == "loha":
        assert (config.r, config.alpha) == (8, 16)


@pytest.mark.parametrize(
    ("name", "option", "value", "match"),
    [
        ("ia3", "lora_r", 16, "method ia3 has no lora_r"),
        ("ia3", "layers_to_transform", [1], "method ia3 has no layers_to_transform"),
        ("loha", "lora_dropout", 0.1, "method loha has no lora_dropout"),
    ],
)
def test_option_the_method_lacks_is_one_line(tmp_path, tiny_bert, synthetic_corpus, name, option, value, match):
    cfg = _task_cfg(tiny_bert, synthetic_corpus, tmp_path, method=name, **{option: value})
    with pytest.raises(ConfigError, match=match) as err:
        methods.peft_config(cfg)
    assert "\n" not in str(err.value) and "use method" in str(err.value)


def test_unknown_method_in_config_is_refused(tmp_path, tiny_bert, synthetic_corpus):
    with pytest.raises(ConfigError, match="did you mean 'loha'"):
        _task_cfg(tiny_bert, synthetic_corpus, tmp_path, method="lohaa")


@pytest.mark.parametrize("name", ADAPTER_METHODS)
def test_task_adapter_per_method_trains_saves_and_composes(name, tmp_path, tiny_bert, synthetic_corpus, monkeypatch):
    kept = _trained(monkeypatch)
    out = tmp_path / name
    summary = train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, out, method=name))
    assert summary["loss_first"] != summary["loss_last"]
    model = kept[0]
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    own = sum(p.numel() for n, p in trainable.items() if methods.METHODS[name].prefix in n)
    assert own == EXPECTED[name][2]
    assert sum(p.numel() for p in trainable.values()) == own + HEAD  # the method's weights and the head, no more
    assert all(methods.adapter_parameter(n) or "modules_to_save" in n for n in trainable)
    # The base's weights are unchanged: every encoder tensor equals the freshly loaded base's (the head is new).
    fresh = dict(load_sequence_classifier(str(tiny_bert), summary["labels"]).named_parameters())
    compared = 0
    for n, p in model.get_base_model().named_parameters():
        plain = n.replace(".base_layer", "")
        if plain.startswith(("bert.encoder.", "bert.embeddings.")) and not methods.adapter_parameter(n):
            assert not p.requires_grad and torch.equal(p.detach(), fresh[plain].detach()), n
            compared += 1
    assert compared == len([n for n in fresh if n.startswith(("bert.encoder.", "bert.embeddings."))])
    meta = json.loads((out / "manifest.json").read_text())
    assert (meta["method"], meta["compose"]) == (name, "merge")
    assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == methods.METHODS[name].peft_type
    saved = load_file(out / "adapter_model.safetensors")
    assert all(methods.METHODS[name].prefix in k or "modules_to_save" in k or "classifier" in k or "pooler" in k
               for k in saved)  # fmt: skip
    reloaded, tokenizer, _ = load_classifier(str(tiny_bert), out)
    assert torch.allclose(_logits(model, tokenizer), _logits(reloaded, tokenizer), atol=1e-5)
    assert not hasattr(reloaded, "peft_config")  # merged: a plain transformers model


@pytest.fixture(scope="module")
def lang_adapters(tmp_path_factory, tiny_bert, synthetic_corpus, extended_tokenizer):
    """LoRA and DoRA language adapters with new rows, and an IA3 one on the base vocabulary."""
    root = tmp_path_factory.mktemp("methods_la")
    for name in ("lora", "dora"):
        train_language_adapter(_lang_cfg(tiny_bert, synthetic_corpus, root / name, tokenizer=str(extended_tokenizer),
                                         method=name))  # fmt: skip
    train_language_adapter(_lang_cfg(tiny_bert, synthetic_corpus, root / "ia3", method="ia3"))
    return root


def test_language_adapter_records_method_and_new_rows(lang_adapters):
    for name, rows in (("lora", 6), ("dora", 6), ("ia3", 0)):
        meta = json.loads((lang_adapters / name / "manifest.json").read_text())
        assert (meta["method"], meta["compose"], meta["counts"]["new_tokens"]) == (name, "merge", rows)
        saved = load_file(lang_adapters / name / "adapter_model.safetensors")
        assert saved and all(methods.adapter_parameter(k) for k in saved), name  # no MLM head, no embedding matrix
        deltas = [v.shape for k, v in saved.items() if k.endswith("trainable_tokens_delta")]
        assert deltas == ([(rows, 32)] if rows else []), name
    assert any(k.startswith("base_model") and "ia3_l" in k for k in load_file(lang_adapters / "ia3" /
                                                                              "adapter_model.safetensors"))


@pytest.mark.parametrize("name", ["ia3", "loha"])
def test_new_rows_with_a_method_without_trainable_tokens_are_refused(name, tmp_path, tiny_bert, synthetic_corpus,
                                                                     extended_tokenizer):  # fmt: skip
    cfg = _lang_cfg(tiny_bert, synthetic_corpus, tmp_path / "x", tokenizer=str(extended_tokenizer), method=name)
    with pytest.raises(ConfigError, match=f"method {name} cannot train new embedding rows") as err:
        train_language_adapter(cfg)
    assert "use method lora, dora" in str(err.value) and not (tmp_path / "x").exists()


@pytest.mark.parametrize(("la", "task"), [("lora", "ia3"), ("ia3", "lora"), ("lora", "loha"), ("dora", "dora")])
def test_language_and_task_adapters_of_different_methods_compose(la, task, lang_adapters, tmp_path, tiny_bert,
                                                                 synthetic_corpus, monkeypatch):  # fmt: skip
    kept = _trained(monkeypatch)
    out = tmp_path / "task"
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, out, method=task, lang_adapter=lang_adapters / la))
    model, tokenizer, _ = load_classifier(str(tiny_bert), out, lang_adapters / la)
    assert torch.allclose(_logits(kept[0], tokenizer), _logits(model, tokenizer), atol=1e-5)


def test_pack_of_another_method_records_it_and_loads_like_its_adapter(lang_adapters, tmp_path, tiny_bert,
                                                                       synthetic_corpus):  # fmt: skip
    build_pack(lang_adapters / "ia3", tmp_path / "pack")
    meta = json.loads((tmp_path / "pack" / "manifest.json").read_text())
    assert (meta["method"], meta["compose"], meta["ensemble_sum"]) == ("ia3", "merge", None)
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, tmp_path / "task", method="loha"))
    logits = [_logits(*load_classifier(str(tiny_bert), tmp_path / "task", la)[:2])
              for la in (lang_adapters / "ia3", tmp_path / "pack")]  # fmt: skip
    assert torch.equal(logits[0], logits[1])


def test_from_keeps_the_parents_method(tmp_path, tiny_bert, synthetic_corpus):
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, tmp_path / "parent", method="ia3", max_steps=2))
    child = tmp_path / "child"
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, child, from_adapter=str(tmp_path / "parent"),
                                 max_steps=2))  # fmt: skip
    assert json.loads((child / "manifest.json").read_text())["method"] == "ia3"
    assert json.loads((child / "adapter_config.json").read_text())["peft_type"] == "IA3"
    with pytest.raises(ConfigError, match="continues the parent's ia3 adapter; leave out method loha"):
        train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, tmp_path / "c2", method="loha",
                                     from_adapter=str(tmp_path / "parent"), max_steps=2))  # fmt: skip


def test_ensembles_per_method(lang_adapters, tmp_path, tiny_bert, synthetic_corpus):
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, tmp_path / "task"))
    with pytest.raises(ModelError, match="ia3 adapter, whose deltas do not sum into a merged ensemble") as err:
        load_merged_ensemble(str(tiny_bert), tmp_path / "task", [lang_adapters / "ia3"])
    assert "\n" not in str(err.value)
    preds = classify_average(str(tiny_bert), tmp_path / "task", [lang_adapters / "ia3"], TEXTS)
    model, tokenizer, labels = load_classifier(str(tiny_bert), tmp_path / "task", lang_adapters / "ia3")
    assert preds == [labels[i] for i in _logits(model, tokenizer).argmax(-1).tolist()]  # average mode takes any


def test_compose_mode_comes_from_the_manifest(lang_adapters, tmp_path, tiny_bert, synthetic_corpus):
    task = tmp_path / "task"
    train_task_adapter(_task_cfg(tiny_bert, synthetic_corpus, task, method="ia3"))
    merged, tokenizer, _, _ = load_task_model(str(tiny_bert), task)
    meta = json.loads((task / "manifest.json").read_text())
    (task / "manifest.json").write_text(json.dumps({**meta, "compose": "stacked"}))
    stacked, _, _, _ = load_task_model(str(tiny_bert), task)
    assert hasattr(stacked, "peft_config")  # kept as a peft layer
    assert torch.allclose(_logits(merged, tokenizer), _logits(stacked, tokenizer), atol=1e-5)
    (task / "manifest.json").write_text(json.dumps({**meta, "compose": "sideways"}))
    with pytest.raises(ModelError, match="composes 'sideways'"):
        load_task_model(str(tiny_bert), task)
    la = shutil.copytree(lang_adapters / "ia3", tmp_path / "la")
    la_meta = json.loads((la / "manifest.json").read_text())
    (la / "manifest.json").write_text(json.dumps({**la_meta, "compose": "stacked"}))
    (task / "manifest.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="composes stacked, and a task adapter needs it merged"):
        load_task_model(str(tiny_bert), task, la)


@pytest.mark.parametrize(
    ("command", "extra", "match"),
    [
        ("task", ["--method", "lorra"], "method must be one of dora, ia3, loha, lora, got 'lorra'"),
        ("language", ["--lang", "nya", "--method", "ia3", "--lora-r", "4"], "method ia3 has no lora_r"),
    ],
)
def test_cli_method_bad_input_exits_2(command, extra, match, tmp_path, tiny_bert, synthetic_corpus, capsys):
    rc = main(["adapt", command, "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out",
               str(tmp_path / "x"), "--max-steps", "1", *extra])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and match in err and len(err.splitlines()) == 1, err


def test_cli_method_flag_trains_that_method(tmp_path, tiny_bert, synthetic_corpus):
    rc = main(["adapt", "task", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out",
               str(tmp_path / "t"), "--max-steps", "2", "--batch-size", "8", "--method", "loha"])  # fmt: skip
    assert rc == 0 and json.loads((tmp_path / "t" / "manifest.json").read_text())["method"] == "loha"

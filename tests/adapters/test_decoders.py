"""Causal-LM language adapters on tiny decoders built from configs (GPT-2 tied, Llama untied), early stopping."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file

from polytune.adapters import train_language_adapter
from polytune.config import LanguageAdapterConfig
from polytune.models import lm_objective


def _decoder(tiny_bert, folder, kind):
    """A 1-layer decoder over the tiny BERT's WordPiece tokenizer (any tokenizer works for a decoder's ids)."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    torch.manual_seed(0)
    ids = {"bos_token_id": tok.cls_token_id, "eos_token_id": tok.sep_token_id, "pad_token_id": tok.pad_token_id}
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, **ids))
    else:
        config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False, **ids)
        model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tiny_bert / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def decoders(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("dec")
    return {kind: _decoder(tiny_bert, root / kind, kind) for kind in ("gpt2", "llama")}


def _cfg(base, corpus, out, **kw):
    kw = {"lang": "nya", "max_steps": 8, "batch_size": 8, "learning_rate": 5e-3, "max_eval_records": 16,
          "target_modules": ["q_proj", "v_proj"], **kw}
    return LanguageAdapterConfig(base=str(base), input=corpus, out=out, **kw)


def test_objective_follows_the_architecture(decoders, tiny_bert):
    assert lm_objective(str(tiny_bert)) == "mlm"
    assert lm_objective(str(decoders["gpt2"])) == lm_objective(str(decoders["llama"])) == "clm"


def test_gpt2_language_adapter_learns_by_next_token_loss(decoders, tmp_path, synthetic_corpus):
    summary = train_language_adapter(
        _cfg(decoders["gpt2"], synthetic_corpus, tmp_path / "la", target_modules=["c_attn"], learning_rate=1e-2)
    )
    assert summary["dev_loss_after"] < summary["dev_loss_before"]
    assert json.loads((tmp_path / "la" / "manifest.json").read_text())["objective"] == "clm"


def test_llama_untied_head_trains_new_rows_in_both_matrices(decoders, tmp_path, synthetic_corpus, extended_tokenizer):
    summary = train_language_adapter(
        _cfg(decoders["llama"], synthetic_corpus, tmp_path / "la", tokenizer=str(extended_tokenizer))
    )
    tensors = load_file(tmp_path / "la" / "adapter_model.safetensors")
    deltas = sorted(k for k in tensors if k.endswith("trainable_tokens_delta"))
    assert len(deltas) == 2 and any("lm_head" in k for k in deltas) and any("embed_tokens" in k for k in deltas)
    assert all(tensors[k].shape == (summary["new_tokens"], 32) for k in deltas)


def test_early_stopping_on_held_out_loss(tiny_bert, tmp_path, synthetic_corpus):
    # A learning rate far too high makes held-out loss worse after the first evaluation: training stops early.
    cfg = LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path / "la", lang="nya",
                                max_steps=40, batch_size=8, learning_rate=3.0, max_eval_records=16, eval_every=2,
                                patience=1)
    summary = train_language_adapter(cfg)
    history = json.loads((tmp_path / "la" / "manifest.json").read_text())["losses"]["dev_history"]
    assert summary["steps"] < 40 and len(history) >= 2 and history[0][0] == 2


@pytest.mark.parametrize(("kind", "expected"), [("gpt2", ["c_attn"]), ("llama", ["q_proj", "v_proj"])])
def test_default_target_modules_follow_the_architecture(decoders, tmp_path, synthetic_corpus, kind, expected):
    """No target_modules given: the attention projections of the base's own architecture (BERT's query/value
    default once broke every decoder: 'Target modules {query, value} not found')."""
    train_language_adapter(_cfg(decoders[kind], synthetic_corpus, tmp_path / "la", target_modules=None,
                                max_steps=1))  # fmt: skip
    assert json.loads((tmp_path / "la" / "adapter_config.json").read_text())["target_modules"] == expected


def test_an_architecture_without_a_default_asks_for_target_modules():
    from types import SimpleNamespace

    from polytune.adapters.methods import target_modules
    from polytune.errors import ModelError

    cfg = LanguageAdapterConfig(input="in.jsonl", out="out", base="x", lang="nya")
    model = SimpleNamespace(config=SimpleNamespace(model_type="made_up"))
    with pytest.raises(ModelError, match="no default target_modules for a made_up base; set target_modules"):
        target_modules(cfg, model)
    named = LanguageAdapterConfig(input="in.jsonl", out="out", base="x", lang="nya", target_modules=["a"])
    assert target_modules(named, model) == ["a"]


def test_replay_mixes_source_text_into_the_language_adapter(decoders, tmp_path, synthetic_corpus):
    """replay 0.25: one source-language record for every three of the target's, counted in the manifest."""
    summary = train_language_adapter(_cfg(decoders["gpt2"], synthetic_corpus, tmp_path / "la", replay=0.25,
                                          target_modules=["c_attn"], max_steps=1, lang="nya_Latn"))  # fmt: skip
    counts = json.loads((tmp_path / "la" / "manifest.json").read_text())["counts"]
    target = counts["train_records"] - counts["replay_records"]
    assert summary["train_records"] == counts["train_records"] and counts["replay_records"] == round(target / 3)


@pytest.mark.parametrize(("kw", "message"), [({"replay": 1.0}, "replay must be a share in"),
                                             ({"replay": 0.2, "objective": "align"}, "set replay to 0")])
def test_bad_replay(decoders, tiny_bert, tmp_path, synthetic_corpus, kw, message):
    from polytune.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        train_language_adapter(LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="nya",
                                                     out=tmp_path / "x", **kw))  # fmt: skip

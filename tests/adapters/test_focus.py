"""FOCUS initialization: sparsemax, rows as sparse convex mixes of overlapping rows, untied heads, LA training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polytune.adapters import train_language_adapter
from polytune.adapters.focus import focus_init, focus_rows, sparsemax
from polytune.config import LanguageAdapterConfig


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([2.0, 0.0], [1.0, 0.0]), ([0.5, 0.5], [0.5, 0.5]), ([1.0, 0.8, -3.0], [0.6, 0.4, 0.0])],
)
def test_sparsemax_table(scores, expected):
    assert torch.allclose(sparsemax(torch.tensor(scores)), torch.tensor(expected), atol=1e-6)


def test_focus_rows_copy_the_most_similar_overlapping_row():
    base = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    new = np.array([[1.0, 0.0, 0.0]], dtype="float32")  # fastText-space vector of one new token
    overlap = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype="float32")
    assert torch.equal(focus_rows(base, new, [0, 2], overlap), torch.tensor([[5.0, 5.0]]))


def _nya_texts(corpus):
    lines = (corpus / "nya_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:120]]


def test_focus_init_writes_mixes_of_base_rows_into_input_and_untied_output(tiny_bert, extended_tokenizer,
                                                                         synthetic_corpus):
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tokenizer = AutoTokenizer.from_pretrained(extended_tokenizer)
    extension = json.loads((extended_tokenizer / "extension.json").read_text())
    base_vocab = extension["base_vocab_size"]
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, tie_word_embeddings=False,
                        bos_token_id=None, eos_token_id=None)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    before = model.get_output_embeddings().weight.detach().clone()
    count = focus_init(model, extension, tokenizer, _nya_texts(synthetic_corpus), seed=1, dim=16, epoch=2)
    assert count > 0
    ids = [a["id"] for a in extension["added"]][:count]
    for weight, base in ((model.get_input_embeddings().weight, None), (model.get_output_embeddings().weight, before)):
        rows = weight[ids].detach()
        lo, hi = weight[:base_vocab].min(0).values, weight[:base_vocab].max(0).values
        assert bool(((rows >= lo - 1e-5) & (rows <= hi + 1e-5)).all())  # convex mixes stay in the base rows' box
        if base is not None:
            assert not torch.equal(rows, base[ids])


def test_language_adapter_with_focus_init(tmp_path, tiny_bert, synthetic_corpus, extended_tokenizer):
    cfg = LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, out=tmp_path / "la", lang="nya",
                                tokenizer=str(extended_tokenizer), init="focus", max_steps=3, batch_size=8,
                                max_eval_records=16)
    summary = train_language_adapter(cfg)
    assert summary["new_tokens"] == 6
    assert json.loads((tmp_path / "la" / "manifest.json").read_text())["init"] == "focus"

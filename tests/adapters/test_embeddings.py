"""New-row initialization: hand-computed rows per method, seeding, and resizing a model with padding rows."""

from __future__ import annotations

import pytest
import torch

from polytune.adapters.embeddings import check_extension, extend_model, init_rows
from polytune.errors import ConfigError, ModelError

BASE = torch.tensor([[0.0, 0.0], [2.0, 4.0], [4.0, -2.0], [-2.0, 2.0]])


@pytest.mark.parametrize(
    ("method", "base_ids", "expected"),
    [
        ("subword_mean", [[1]], [[2.0, 4.0]]),
        ("subword_mean", [[0, 1]], [[1.0, 2.0]]),
        ("subword_mean", [[1, 2, 3], [2, 2]], [[4 / 3, 4 / 3], [4.0, -2.0]]),
        ("subword_mean", [[]], [[1.0, 1.0]]),  # nothing to average: mean of all base rows
        ("mean", [[1], [0, 3]], [[1.0, 1.0], [1.0, 1.0]]),
        ("subword_mean_norm", [[1]], [[2.0, 4.0]]),  # one row: already its own norm
        ("subword_mean_norm", [[1, 2]], [[3 * 2**0.5, 2**0.5]]),  # mean [3, 1] (norm 10^.5) to norm 20^.5
        ("subword_mean_norm", [[1, 3]], [[0.0, (20**0.5 + 8**0.5) / 2]]),  # mean [0, 3] to the mean norm
    ],
)
def test_init_rows_table(method, base_ids, expected):
    assert torch.allclose(init_rows(BASE, base_ids, method), torch.tensor(expected))


def test_random_rows_are_seeded_and_scaled():
    base = torch.randn(500, 16, generator=torch.Generator().manual_seed(0)) * 3.0
    a = init_rows(base, [[0]] * 400, "random", seed=5)
    assert torch.equal(a, init_rows(base, [[0]] * 400, "random", seed=5))
    assert not torch.equal(a, init_rows(base, [[0]] * 400, "random", seed=6))
    assert a.std().item() == pytest.approx(base.std().item(), rel=0.1)


def test_unknown_method_and_bad_base_id():
    with pytest.raises(ConfigError, match="did you mean 'mean'"):
        init_rows(BASE, [[0]], "meen")
    with pytest.raises(ModelError, match="base id 9"):
        init_rows(BASE, [[9]], "subword_mean")


def _extension(ids, base_vocab=4):
    return {
        "base_vocab_size": base_vocab,
        "vocab_size": max(ids) + 1,
        "added": [{"id": i, "token": f"t{i}", "piece": f"t{i}", "base_ids": [1, 2], "saved": 1} for i in ids],
    }


@pytest.mark.parametrize("ids", [[3], [4, 4], [4, 9]])
def test_check_extension_rejects_ids_outside_the_new_range(ids):
    with pytest.raises(ModelError, match="outside the new range"):
        check_extension(_extension(ids), tokenizer_len=6, where="tok")


def test_check_extension_rejects_missing_fields():
    with pytest.raises(ModelError, match="lacks"):
        check_extension({"added": []}, tokenizer_len=6, where="tok")


def test_extend_model_keeps_padding_rows_and_fills_new_ones():
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    # 8 matrix rows but a 4-id base tokenizer: rows 4..7 are padding; the extension reuses 4, 5 and grows to 10.
    model = BertForMaskedLM(
        BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    )
    before = model.get_input_embeddings().weight.detach().clone()
    ext = _extension([4, 5, 9])
    ids = extend_model(model, ext, tokenizer_len=10, method="subword_mean", seed=0)
    weight = model.get_input_embeddings().weight.detach()
    assert ids == [4, 5, 9] and weight.shape == (10, 8)
    assert torch.equal(weight[:4], before[:4]) and torch.equal(weight[6:8], before[6:8])
    for i in ids:
        assert torch.allclose(weight[i], before[[1, 2]].mean(0))
    assert model.get_output_embeddings().weight.shape[0] == 10  # the tied decoder followed


def test_extend_model_refuses_a_foreign_extension():
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(
        BertConfig(vocab_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)
    )
    with pytest.raises(ModelError, match="another base"):
        extend_model(model, _extension([20], base_vocab=20), tokenizer_len=21, method="mean", seed=0)


def test_embedding_first_trains_the_new_rows_and_nothing_else(tiny_bert, extended_tokenizer, tmp_path):
    """The embedding-first stage trains peft's delta rows only: not the wrapped matrix beside them (`base_layer`,
    whose changes no adapter file keeps) nor a tied MLM head's bias (which peft's wrapper never reads). It once
    selected every name holding "token_adapter" and trained the whole 406 x 32 matrix."""
    from polytune.adapters import methods
    from polytune.adapters.new_rows import init_new_rows, new_rows_only, read_extension, token_indices
    from polytune.config import LanguageAdapterConfig
    from polytune.models import load_mlm, load_tokenizer

    cfg = LanguageAdapterConfig(base=str(tiny_bert), input=tmp_path, lang="nya", tokenizer=str(extended_tokenizer),
                                out=tmp_path / "la")  # fmt: skip
    model = load_mlm(cfg.base)
    new_ids = init_new_rows(model, read_extension(cfg.tokenizer), load_tokenizer(cfg.tokenizer), cfg, [])
    peft_model = methods.wrap_peft(model, methods.peft_config(cfg, trainable_token_indices=token_indices(model,
                                                                                                     new_ids)))
    before = new_rows_only(peft_model)
    trainable = {n: p.numel() for n, p in peft_model.named_parameters() if p.requires_grad}
    assert all(n.endswith("trainable_tokens_delta.default") for n in trainable), trainable
    assert sum(trainable.values()) == len(new_ids) * model.config.hidden_size
    assert sum(before.values()) > len(trainable)  # the LoRA weights were trainable before the stage

"""Model augmentation: back-translation through a tiny T5 and new examples from a tiny GPT-2, both built from
configs with a word-level tokenizer and saved as safetensors (random weights: the text is noise, the plumbing real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polytune.config import AugmentConfig
from polytune.corpus.augment import run_augment
from polytune.errors import ConfigError, ModelError

pytestmark = pytest.mark.slow


def _tokenizer(texts: list[str], specials: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.split()})
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate([*specials, *words])}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token=specials[0],
                                   eos_token=specials[1])  # fmt: skip


def _texts(corpus: Path) -> list[str]:
    return [json.loads(line)["text"] for p in sorted(corpus.glob("*/*.jsonl")) for line in p.read_text().splitlines()]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory, synthetic_corpus) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("t5")
    tok = _tokenizer(_texts(synthetic_corpus), ["<pad>", "</s>", "<unk>"])
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tok), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, synthetic_corpus) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("gpt2")
    tok = _tokenizer(_texts(synthetic_corpus), ["<pad>", "<|endoftext|>", "<unk>"])
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=64,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)  # fmt: skip
    GPT2LMHeadModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(out.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def test_back_translation_round_trip_and_one_way(tmp_path, synthetic_corpus, tiny_t5):
    params = {"model": str(tiny_t5), "back_model": str(tiny_t5), "max_new_tokens": 8}
    ops = [{"name": "back_translation", "ratio": 0.1, "params": params}]
    cfg = AugmentConfig(input=synthetic_corpus, out=tmp_path / "bt", ops=ops, langs=["nya"], batch_size=8)
    counts = run_augment(cfg)
    made = [r for r in _records(tmp_path / "bt") if r.get("augmented_by") == "back_translation"]
    assert len(made) == counts["back_translation"] > 0
    assert all(r["split"] == "train" and r["lang"] == "nya_Latn" and r["text"] for r in made)
    first = (tmp_path / "bt" / "nya_Latn" / "part-00000.jsonl").read_bytes()
    run_augment(cfg)
    assert (tmp_path / "bt" / "nya_Latn" / "part-00000.jsonl").read_bytes() == first  # greedy: deterministic
    one_way = {"model": str(tiny_t5), "output_lang": "eng_Latn", "max_new_tokens": 8}
    run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / "ow", langs=["nya"],
                              ops=[{"name": "back_translation", "ratio": 0.05, "params": one_way}]))  # fmt: skip
    pairs = [r for r in _records(tmp_path / "ow") if r.get("augmented_by")]
    assert pairs and all(r["lang"] == "eng_Latn" and r["source_text"] for r in pairs)  # synthetic parallel pairs


def test_lm_generation(tmp_path, synthetic_corpus, tiny_gpt2):
    params = {"model": str(tiny_gpt2), "prompt": "{prefix}", "prefix_words": 3, "max_new_tokens": 6}
    cfg = AugmentConfig(input=synthetic_corpus, out=tmp_path / "lm", langs=["eng"], seed=3,
                        ops=[{"name": "lm_generate", "ratio": 0.1, "params": params}])  # fmt: skip
    counts = run_augment(cfg)
    rows = _records(tmp_path / "lm")
    made = [r for r in rows if r.get("augmented_by") == "lm_generate"]
    assert len(made) == counts["lm_generate"] > 0
    sources = {(r["lang"], r["id"]): r for r in rows if "augmented_by" not in r}  # ids are parallel across langs
    for record in made:
        source = sources[record["lang"], record["source_id"]]
        assert record["text"].split()[:3] == source["text"].split()[:3]  # prompted with the first words
        assert len(record["text"].split()) > 3 and record["genre"] == source["genre"]
    first = (tmp_path / "lm" / "eng_Latn" / "part-00000.jsonl").read_bytes()
    run_augment(cfg)
    assert (tmp_path / "lm" / "eng_Latn" / "part-00000.jsonl").read_bytes() == first  # seeded sampling


def test_model_errors(tmp_path, synthetic_corpus, tiny_gpt2):
    def run(params, name="back_translation"):
        run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / "x",
                                  ops=[{"name": name, "ratio": 1, "params": params}]))  # fmt: skip

    with pytest.raises(ModelError, match="seq2seq model not found"):
        run({"model": str(tmp_path / "none")})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="cannot load a causal model"):
        run({"model": str(broken)}, "lm_generate")
    with pytest.raises(ConfigError, match="lm_generate prompt '{topic}: ' names a field records lack"):
        run({"model": str(tiny_gpt2), "prompt": "{topic}: "}, "lm_generate")
    assert not (tmp_path / "x").exists()


def _pickled(model: Path, folder: Path) -> Path:
    """A copy of `model` whose only weights are pytorch_model.bin, written with torch.save as older tools did."""
    import shutil

    import torch
    from safetensors.torch import load_file

    shutil.copytree(model, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


@pytest.mark.parametrize(("op", "params"), [("back_translation", {"max_new_tokens": 6}),
                                            ("lm_generate", {"prefix_words": 3, "max_new_tokens": 6})])  # fmt: skip
def test_model_operations_follow_the_weights_policy(tmp_path, synthetic_corpus, tiny_t5, tiny_gpt2, op, params):
    """Pickle-only weights are refused naming --allow-pickle; inside allowing_pickle() they load, and give the
    texts the same weights give as safetensors (so they were read, not freshly initialized)."""
    from polytune.models import allowing_pickle

    model = tiny_t5 if op == "back_translation" else tiny_gpt2
    pickled = _pickled(model, tmp_path / "pickled")

    def augment(folder: Path, out: str) -> list[dict]:
        ops = [{"name": op, "ratio": 0.05, "params": {"model": str(folder), **params}}]
        run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / out, ops=ops, langs=["eng"], seed=3))
        return [r for r in _records(tmp_path / out) if r.get("augmented_by") == op]

    with pytest.raises(ModelError, match="only pickle weights.*--allow-pickle") as refused:
        augment(pickled, "refused")
    assert str(pickled) in str(refused.value) and not (tmp_path / "refused").exists()
    with allowing_pickle():
        made = augment(pickled, "allowed")
    assert made and [r["text"] for r in made] == [r["text"] for r in augment(model, "safetensors")]

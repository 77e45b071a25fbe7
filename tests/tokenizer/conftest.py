"""Tiny tokenizers of the three families, trained here with HF `tokenizers` on the synthetic English shard.

Each mimics a real layout: XLM-R (Unigram + Metaspace), GPT-2/Llama-3 (byte-level BPE), Llama-2 (SentencePiece
BPE: "▁" written by the normalizer, byte fallback, no pre-tokenizer), Gemma 3 (the same BPE, but no "▁" prepended to
the text and a Split pre-tokenizer on the spaces the normalizer already replaced: a text's first word has no marker).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers


def _english(corpus: Path) -> list[str]:
    lines = (corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def unigram_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(texts, trainer)
    return tok


def byte_level_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return tok


def sentencepiece_bpe_tokenizer(texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"]))
    data = json.loads(tok.to_str())
    # Llama-2's layout: the normalizer writes "▁", no pre-tokenizer, byte tokens in the model vocab.
    vocab = data["model"]["vocab"]
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    data["pre_tokenizer"] = None
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    data["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}  # fmt: skip
    return Tokenizer.from_str(json.dumps(data))


def gemma_bpe_tokenizer(texts: list[str]) -> Tokenizer:
    data = json.loads(sentencepiece_bpe_tokenizer(texts).to_str())
    # Gemma 3's tokenizer.json (as transformers' GGUF loader writes it): spaces become "▁", nothing is prepended.
    data["normalizer"] = {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
    data["pre_tokenizer"] = {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                             "invert": False}  # fmt: skip
    data["decoder"]["decoders"] = data["decoder"]["decoders"][:3]  # no Strip: nothing was prepended
    return Tokenizer.from_str(json.dumps(data))


BUILDERS = {"unigram": unigram_tokenizer, "bytelevel": byte_level_tokenizer, "spbpe": sentencepiece_bpe_tokenizer,
            "gemma": gemma_bpe_tokenizer}  # fmt: skip


@pytest.fixture(scope="session")
def tiny_tokenizers(tmp_path_factory, synthetic_corpus) -> dict[str, Path]:
    """name -> a folder holding tokenizer.json: unigram, bytelevel (GPT-2 style), spbpe (Llama-2), gemma (Gemma 3)."""
    texts = _english(synthetic_corpus)
    folders = {}
    for name, build in BUILDERS.items():
        folder = tmp_path_factory.mktemp(name)
        build(texts).save(str(folder / "tokenizer.json"))
        folders[name] = folder
    return folders

"""Fixtures for adapter tests: an extended tokenizer built by hand from the tiny BERT's, per the extension contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# New entries appended to the tiny BERT vocabulary: word-initial pieces and "##" continuations (nya_Latn syllables).
NEW_PIECES = ("ku", "ndi", "##ngu", "##mbe", "chi", "##tha")


def make_extended_tokenizer(base: Path, out: Path, pieces=NEW_PIECES) -> Path:
    """Append `pieces` to the base tokenizer.json vocabulary and write extension.json per the contract."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    base_tok = AutoTokenizer.from_pretrained(base)
    data = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = data["model"]["vocab"]
    base_size = len(vocab)
    added = []
    for token in pieces:
        assert token not in vocab, token  # test setup guard, not user input
        piece = token.removeprefix("##")
        # How the base splits the piece in context: a word start, or a continuation after a word start.
        if token.startswith("##"):
            base_ids = base_tok("a" + piece, add_special_tokens=False)["input_ids"][1:]
        else:
            base_ids = base_tok(piece, add_special_tokens=False)["input_ids"]
        vocab[token] = len(vocab)
        added.append({"id": vocab[token], "token": token, "piece": piece, "base_ids": base_ids, "saved": 1})
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)),
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
    )
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    extension = {
        "base": str(base),
        "base_vocab_size": base_size,
        "family": "wordpiece",
        "vocab_size": len(tok),
        "added": added,
    }
    (out / "extension.json").write_text(json.dumps(extension, indent=2), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def extended_tokenizer(tmp_path_factory, tiny_bert) -> Path:
    """The tiny BERT's tokenizer plus six nya_Latn pieces, with extension.json."""
    return make_extended_tokenizer(tiny_bert, tmp_path_factory.mktemp("ext_tok"))

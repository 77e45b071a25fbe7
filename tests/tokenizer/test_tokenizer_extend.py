"""Vocabulary extension on the tiny English-only BERT with the synthetic nya_Latn/ara_Arab/eng_Latn corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers

from polytune.config import TokenizerExtendConfig
from polytune.errors import ConfigError, InputError, ModelError
from polytune.io import iter_records
from polytune.tokenizer.analyze import fertility_stats
from polytune.tokenizer.extend import extend_tokenizer
from polytune.tokenizer.families.wordpiece import WordPieceFamily

TARGETS = ["nya_Latn", "ara_Arab"]


def _cfg(base, corpus, out, **kw) -> TokenizerExtendConfig:
    kw = {"langs": TARGETS, "add": 300, "vocab_size": 1000, **kw}
    return TokenizerExtendConfig(base=str(base), input=corpus, out=out, **kw)


@pytest.fixture(scope="module")
def extended(tmp_path_factory, tiny_bert, synthetic_corpus):
    out = tmp_path_factory.mktemp("ext") / "tok"
    summary = extend_tokenizer(_cfg(tiny_bert, synthetic_corpus, out))
    return out, summary


@pytest.fixture(scope="module")
def auto(extended):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(extended[0])


def _texts(corpus: Path, lang: str, split: str) -> list[str]:
    return [r["text"] for r in iter_records(corpus / lang) if r["split"] == split]


def test_base_ids_unchanged_and_new_ids_follow(extended, tiny_bert):
    out, summary = extended
    base = json.loads((tiny_bert / "tokenizer.json").read_text())
    new = json.loads((out / "tokenizer.json").read_text())
    for token, i in base["model"]["vocab"].items():
        assert new["model"]["vocab"][token] == i
    new_ids = sorted(set(new["model"]["vocab"].values()) - set(base["model"]["vocab"].values()))
    assert new_ids == list(range(len(base["model"]["vocab"]), len(new["model"]["vocab"])))
    assert summary["added"] == len(new_ids) == 300
    assert summary["vocab_size"] == summary["base_vocab_size"] + 300


def test_new_tokens_are_model_vocab_not_added_tokens(extended, tiny_bert, auto):
    out, _ = extended
    base = json.loads((tiny_bert / "tokenizer.json").read_text())
    new = json.loads((out / "tokenizer.json").read_text())
    assert new["added_tokens"] == base["added_tokens"]  # only the 5 specials, untouched
    assert new["model"]["type"] == "WordPiece"
    assert len(auto) == len(new["model"]["vocab"])
    assert sorted(auto.added_tokens_decoder) == [t["id"] for t in base["added_tokens"]]
    extension = json.loads((out / "extension.json").read_text())
    vocab = auto.get_vocab()
    for entry in extension["added"]:
        assert vocab[entry["token"]] == entry["id"]


def test_new_pieces_are_used_on_target_text(extended, synthetic_corpus, auto):
    out, _ = extended
    extension = json.loads((out / "extension.json").read_text())
    base_size = extension["base_vocab_size"]
    for lang in TARGETS:
        texts = _texts(synthetic_corpus, lang, "test")
        ids = [i for text in texts for i in auto.encode(text, add_special_tokens=False)]
        assert sum(i >= base_size for i in ids) / len(ids) > 0.5, lang
        assert auto.unk_token_id not in ids


def test_fertility_drops_and_unk_disappears_on_held_out_text(extended, tiny_bert, synthetic_corpus):
    out, summary = extended
    base = Tokenizer.from_file(str(tiny_bert / "tokenizer.json"))
    new = Tokenizer.from_file(str(out / "tokenizer.json"))
    nya = _texts(synthetic_corpus, "nya_Latn", "test")
    before, after = fertility_stats(base, nya), fertility_stats(new, nya)
    assert after["fertility"] < 0.8 * before["fertility"]
    assert summary["fertility"]["nya_Latn"]["after"] < summary["fertility"]["nya_Latn"]["before"]
    # The base reads every Arabic word as one [UNK] (fertility exactly 1.0): the gain is text it can now see.
    ara = _texts(synthetic_corpus, "ara_Arab", "test")
    before, after = fertility_stats(base, ara), fertility_stats(new, ara)
    assert (before["fertility"], before["unk_rate"]) == (1.0, 1.0)
    assert after["unk_rate"] == 0.0 and after["fertility"] < 2.5
    assert summary["unk_rate"]["ara_Arab"] == {"before": 1.0, "after": 0.0}


def test_english_is_left_alone(extended):
    _, summary = extended
    assert summary["english_changed"]["records"] > 0
    assert summary["english_changed"]["words_changed"] < 0.05


def test_extension_json_matches_tokenizer_and_base(extended, tiny_bert):
    out, _ = extended
    extension = json.loads((out / "extension.json").read_text())
    base = Tokenizer.from_file(str(tiny_bert / "tokenizer.json"))
    assert extension["family"] == "wordpiece"
    assert extension["base_vocab_size"] == base.get_vocab_size()
    unk = base.token_to_id("[UNK]")
    for entry in extension["added"]:
        piece, token = entry["piece"], entry["token"]
        assert token == (piece if not token.startswith("##") else "##" + piece)
        if token.startswith("##"):  # a continuation: the base tokenized "a" + piece, minus the "a"
            ids = [t.id for t in base.model.tokenize("a" + piece)]
            expected = [unk] if ids == [unk] else ids[1:] if base.id_to_token(ids[0]) == "a" else None
        else:
            expected = [t.id for t in base.model.tokenize(piece)]
        if expected is not None:
            assert entry["base_ids"] == expected, token
        assert entry["saved"] >= 0
    saved = [e["saved"] for e in extension["added"] if e["saved"] > 0]
    assert saved == sorted(saved, reverse=True)  # ranked by tokens saved, after the missing characters


def test_autotokenizer_round_trip_on_a_record(auto, synthetic_corpus):
    text = _texts(synthetic_corpus, "nya_Latn", "test")[0]
    assert auto.decode(auto.encode(text, add_special_tokens=False)) == text


def _alphabet(corpus: Path) -> list[str]:
    chars = {c for lang in ("eng_Latn", *TARGETS) for text in _texts(corpus, lang, "train") for c in text}
    return sorted(chars - {" "})


@pytest.fixture(scope="module")
def round_trip(extended, tiny_bert, synthetic_corpus):
    return (
        Tokenizer.from_file(str(extended[0] / "tokenizer.json")),
        Tokenizer.from_file(str(tiny_bert / "tokenizer.json")),
        _alphabet(synthetic_corpus),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decode_encode_round_trip(round_trip, data):
    new, base, alphabet = round_trip
    words = data.draw(st.lists(st.text(st.sampled_from(alphabet), min_size=1, max_size=12), min_size=1, max_size=8))
    text = data.draw(st.sampled_from([" ", "  ", " \t "])).join(words)
    normalized = " ".join(base.normalizer.normalize_str(text).split())
    assert new.decode(new.encode(text, add_special_tokens=False).ids) == normalized


def test_same_inputs_give_identical_bytes(tmp_path, tiny_bert, synthetic_corpus):
    out = tmp_path / "tok"
    extend_tokenizer(_cfg(tiny_bert, synthetic_corpus, out, add=50, vocab_size=300))
    first = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    extend_tokenizer(_cfg(tiny_bert, synthetic_corpus, out, add=50, vocab_size=300))
    second = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert set(first) >= {"tokenizer.json", "extension.json", "manifest.json", "spm.model", "tokenizer_config.json"}
    assert first == second
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind


@pytest.mark.parametrize(
    ("surface", "initial", "expected"),
    [
        ("kuna", True, ["ku", "##na"]),
        ("kuna", False, ["##ku", "##na"]),
        ("kunax", True, ["[UNK]"]),
        ("mu", True, ["mu"]),
        ("mu", False, ["[UNK]"]),
        ("", True, []),
    ],
)
def test_wordpiece_base_ids_table(surface, initial, expected):
    vocab = {"[UNK]": 0, "ku": 1, "##ku": 2, "##na": 3, "mu": 4, "k": 5, "##u": 6}
    family = WordPieceFamily({"type": "WordPiece", "vocab": vocab, "unk_token": "[UNK]"})
    inverse = {i: t for t, i in vocab.items()}
    assert [inverse[i] for i in family.base_ids(surface, initial)] == expected
    if initial and surface:  # the same as the real WordPiece model on a word start
        real = models.WordPiece(vocab, unk_token="[UNK]")
        assert [t.value for t in real.tokenize(surface)] == expected


def _wordlevel_folder(folder: Path) -> Path:
    tok = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_unsupported_family_is_a_config_error(tmp_path, synthetic_corpus):
    base = _wordlevel_folder(tmp_path / "wl")
    with pytest.raises(ConfigError, match="WordLevel model.*WordPiece, Unigram, BPE"):
        extend_tokenizer(_cfg(base, synthetic_corpus, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_empty_input_is_an_input_error(tmp_path, tiny_bert, synthetic_corpus):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError):
        extend_tokenizer(_cfg(tiny_bert, empty, tmp_path / "out"))
    with pytest.raises(InputError, match="swh_Latn"):  # a language the corpus does not have
        extend_tokenizer(_cfg(tiny_bert, synthetic_corpus, tmp_path / "out", langs=["nya_Latn", "swh_Latn"]))
    with pytest.raises(InputError, match="split dev"):  # no nya_Latn/ara_Arab dev record in the English shard
        extend_tokenizer(_cfg(tiny_bert, synthetic_corpus / "eng_Latn", tmp_path / "out", split="dev"))
    assert not (tmp_path / "out").exists()


def test_missing_or_corrupt_base_is_a_model_error(tmp_path, synthetic_corpus):
    with pytest.raises(ModelError):
        extend_tokenizer(_cfg(tmp_path / "nowhere", synthetic_corpus, tmp_path / "out"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="corrupt"):
        extend_tokenizer(_cfg(tmp_path / "bad", synthetic_corpus, tmp_path / "out"))


def test_guard_keeps_base_words_and_names_without_english_input(tmp_path, tiny_bert):
    # No eng_Latn records: the guard must still keep base words + English endings and proper names intact.
    texts = [f"ndipo Dayson anati kings {w} kingsto daysono" for w in ("mwana", "tsiku", "nyumba", "dziko")] * 40
    corpus = tmp_path / "nya.jsonl"
    corpus.write_text("".join(json.dumps({"lang": "nya_Latn", "text": t}) + "\n" for t in texts))
    out = tmp_path / "tok"
    extend_tokenizer(_cfg(tiny_bert, corpus, out, langs=["nya_Latn"], add=40, vocab_size=120, guard_names=True))
    base, new = (Tokenizer.from_file(str(p / "tokenizer.json")) for p in (tiny_bert, out))
    for word in ("kings", "dayson", "said", "lorded"):
        assert new.encode(word).tokens == base.encode(word).tokens, word
    assert "mwana" in new.get_vocab() or new.encode("mwana").tokens != base.encode("mwana").tokens


def test_guard_words_hold_base_words_with_english_endings(tiny_bert):
    family = WordPieceFamily(json.loads((tiny_bert / "tokenizer.json").read_text()))
    words = family.guard_words()
    assert {"king", "kings", "lorded", "kinging"} <= words
    assert not any(w.startswith("##") for w in words)


def _late_english_name_corpus(path: Path) -> Path:
    # Target text full of "daysono" (a name shared with English text) and English records that mention it only
    # after the first 2,000: a guard that read only a sample of the English would miss it.
    nya = [{"lang": "nya_Latn", "text": f"ndipo daysono anati {w} kwa daysono"} for w in ("mwana", "tsiku")] * 60
    eng = [{"lang": "eng_Latn", "text": "and the king said unto them"}] * 2500 + [
        {"lang": "eng_Latn", "text": "and daysono said unto them"}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in nya + eng))
    return path


@pytest.mark.parametrize("english_records, kept", [(50_000, True), (2000, False)])
def test_guard_reads_all_english_records_of_the_input(tmp_path, tiny_bert, monkeypatch, english_records, kept):
    import polytune.tokenizer.extend as extend_module

    monkeypatch.setattr(extend_module, "MAX_ENGLISH_RECORDS", english_records)
    corpus, out = _late_english_name_corpus(tmp_path / "mix.jsonl"), tmp_path / "tok"
    extend_tokenizer(_cfg(tiny_bert, corpus, out, langs=["nya_Latn"], add=40, vocab_size=120))
    base, new = (Tokenizer.from_file(str(p / "tokenizer.json")) for p in (tiny_bert, out))
    assert "[UNK]" not in base.encode("daysono").tokens
    assert (new.encode("daysono").tokens == base.encode("daysono").tokens) is kept


def test_guard_input_protects_its_words_like_english_records(tmp_path, tiny_bert):
    # The same name, now only in a separate reference file (records without an eng_Latn tag): guarded with it,
    # re-cut without it.
    nya = [{"lang": "nya_Latn", "text": f"ndipo daysono anati {w} kwa daysono"} for w in ("mwana", "tsiku")] * 60
    corpus, reference = tmp_path / "nya.jsonl", tmp_path / "source.txt"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in nya))
    reference.write_text("and daysono said unto them\n")
    base = Tokenizer.from_file(str(tiny_bert / "tokenizer.json"))
    for guard, kept in ((reference, True), (None, False)):
        out = tmp_path / f"tok-{kept}"
        extend_tokenizer(_cfg(tiny_bert, corpus, out, langs=["nya_Latn"], add=40, vocab_size=120, guard_input=guard))
        new = Tokenizer.from_file(str(out / "tokenizer.json"))
        assert (new.encode("daysono").tokens == base.encode("daysono").tokens) is kept

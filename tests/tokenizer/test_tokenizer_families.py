"""Extension of the Unigram, byte-level BPE and SentencePiece-BPE families, with tiny tokenizers trained here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from polytune.config import TokenizerExtendConfig
from polytune.io import iter_records
from polytune.tokenizer import extend_tokenizer, fertility_stats
from polytune.tokenizer.families.bpe import BPEFamily

FAMILY = {"unigram": "unigram", "bytelevel": "bpe", "spbpe": "bpe", "gemma": "bpe"}
TERMS = ["kunamuluzi", "ndimbechizi"]  # nya-like words absent from the corpus


@pytest.fixture(scope="module", params=sorted(FAMILY))
def extended(request, tmp_path_factory, tiny_tokenizers, synthetic_corpus):
    folder = tmp_path_factory.mktemp(f"ext-{request.param}")
    (folder / "jargon.txt").write_text("# terms\n" + "\n".join(TERMS) + "\n", encoding="utf-8")
    cfg = TokenizerExtendConfig(base=str(tiny_tokenizers[request.param]), input=synthetic_corpus, out=folder / "tok",
                                langs=["nya_Latn", "ara_Arab"], add=300, vocab_size=1000, jargon=folder / "jargon.txt")
    summary = extend_tokenizer(cfg)  # fmt: skip
    base = Tokenizer.from_file(str(tiny_tokenizers[request.param] / "tokenizer.json"))
    new = Tokenizer.from_file(str(folder / "tok" / "tokenizer.json"))
    extension = json.loads((folder / "tok" / "extension.json").read_text(encoding="utf-8"))
    return request.param, summary, base, new, extension


def _texts(corpus: Path, lang: str) -> list[str]:
    return [r["text"] for r in iter_records(corpus / lang) if r["split"] == "test"]


def test_base_ids_and_merges_unchanged(extended):
    name, summary, base, new, extension = extended
    assert summary["family"] == extension["family"] == FAMILY[name]
    old_vocab, new_vocab = base.get_vocab(), new.get_vocab()
    assert all(new_vocab[token] == i for token, i in old_vocab.items())
    ids = [entry["id"] for entry in extension["added"]]
    assert ids == list(range(len(old_vocab), len(new_vocab))) and summary["added"] == len(ids) <= 300
    assert {new.id_to_token(e["id"]) for e in extension["added"]} == {e["token"] for e in extension["added"]}
    if name != "unigram":  # base merges keep their order and priority: new ones come after
        old_merges = json.loads(base.to_str())["model"]["merges"]
        assert json.loads(new.to_str())["model"]["merges"][: len(old_merges)] == old_merges


def test_new_entries_are_model_vocab_never_added_tokens(extended):
    _, _, base, new, extension = extended
    assert json.loads(new.to_str())["added_tokens"] == json.loads(base.to_str())["added_tokens"]
    added = {t.content for t in new.get_added_tokens_decoder().values()}
    assert not added & {e["token"] for e in extension["added"]}


def test_new_pieces_used_on_target_text_and_fertility_drops(extended, synthetic_corpus):
    _, _, base, new, extension = extended
    start = extension["base_vocab_size"]
    for lang in ("nya_Latn", "ara_Arab"):
        texts = _texts(synthetic_corpus, lang)
        ids = [i for text in texts for i in new.encode(text, add_special_tokens=False).ids]
        assert sum(i >= start for i in ids) / len(ids) > 0.3, lang
        before, after = fertility_stats(base, texts), fertility_stats(new, texts)
        assert after["unk_rate"] == 0.0, lang
        if before["unk_rate"] > 0.3:  # Unigram reads a new-script word as "▁" + one <unk>: the gain is seeing it
            assert after["fertility"] < 1.0 * before["fertility"], lang
        else:
            assert after["fertility"] < 0.8 * before["fertility"], lang


def test_round_trip_and_english_unchanged(extended, synthetic_corpus):
    _, summary, base, new, _ = extended
    for lang in ("nya_Latn", "ara_Arab", "eng_Latn"):
        for text in _texts(synthetic_corpus, lang)[:20]:
            assert new.decode(new.encode(text, add_special_tokens=False).ids) == text, (lang, text)
    for text in _texts(synthetic_corpus, "eng_Latn"):
        assert new.encode(text).ids == base.encode(text).ids
    assert summary["english_changed"]["words_changed"] == 0.0


def test_jargon_terms_become_one_token_where_they_appear(extended):
    name, _, base, new, extension = extended
    jargon = [e for e in extension["added"] if e.get("jargon")]
    assert [e["jargon"] for e in jargon] == TERMS
    for term, entry in zip(TERMS, jargon, strict=True):
        assert len(base.encode(f"lu {term} ku").ids) > len(new.encode(f"lu {term} ku").ids)
        assert new.encode(f"lu {term} ku").ids.count(entry["id"]) == 1, (name, term)
        # Inside a longer word the term is not cut out (an AddedToken would be).
        assert entry["id"] not in new.encode(f"lu zz{term}zz ku").ids


@pytest.mark.parametrize(
    ("symbols", "merges", "expected"),
    [
        (["a", "b", "c"], {("a", "b"): 0}, ["ab", "c"]),
        (["a", "b", "c"], {("a", "b"): 1, ("b", "c"): 0}, ["a", "bc"]),
        (["a", "b", "c"], {("a", "b"): 0, ("ab", "c"): 1}, ["abc"]),
        (["a"], {}, ["a"]),
    ],
)
def test_bpe_merge_table(symbols, merges, expected):
    assert BPEFamily.merge(symbols, merges) == expected


def test_every_added_piece_is_reachable_and_english_test_records_keep_their_tokens(extended, synthetic_corpus):
    """What the analysis reports (tokenizer/reach.py): no added piece that its own text fails to produce, and the
    held-out English records tokenized as the base tokenizes them."""
    from polytune.tokenizer.reach import retokenized, surface, unreachable

    family, _, base, new, extension = extended
    checked = [e for e in extension["added"] if surface(e) is not None]
    assert len(checked) > 20 and unreachable(extension, new) == [], family
    assert retokenized(base, new, _texts(synthetic_corpus, "eng_Latn")) <= 0.01
    assert retokenized(base, new, _texts(synthetic_corpus, "nya_Latn")) > 0.5  # the extension is used at all
    wrong = {"added": [{**checked[0], "id": checked[1]["id"]}]}
    assert unreachable(wrong, new) == [checked[0]["token"]]  # a piece whose id its text never yields

"""Fertility statistics on hand-checkable samples, and the analyze report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from polytune.config import TokenizerAnalyzeConfig
from polytune.errors import InputError, ModelError
from polytune.tokenizer.analyze import analyze, fertility_stats

VOCAB = {"[UNK]": 0, "ku": 1, "##na": 2, "mu": 3, ",": 4}


def _wordpiece(vocab=VOCAB) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(dict(vocab), unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def _save(tok: Tokenizer, folder: Path) -> Path:
    folder.mkdir(parents=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder


# texts -> (records, words, chars, tokens, unk_tokens, fertility, chars_per_token, continued_word_ratio, unk_rate)
TABLE = [
    # ku ##na | mu | [UNK] | ku: 4 words, 5 tokens, "kuna" is the one continued word, 1 of 5 tokens unknown.
    (["kuna mu", "xy ku"], (2, 4, 12, 5, 1, 1.25, 2.4, 0.25, 0.2)),
    # Words are whitespace words: "ku," is one word split into two tokens (ku ,) by the pre-tokenizer.
    (["ku, mu"], (1, 2, 6, 3, 0, 1.5, 2.0, 0.5, 0.0)),
    # NFC first: "u" + combining acute is one character "ú"; "mú" is not in the vocab: one [UNK].
    (["mu\u0301"], (1, 1, 2, 1, 1, 1.0, 2.0, 0.0, 1.0)),
    (["   "], (1, 0, 3, 0, 0, 0.0, 0.0, 0.0, 0.0)),
    ([], (0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0)),
]
KEYS = ("records", "words", "chars", "tokens", "unk_tokens", "fertility", "chars_per_token",
        "continued_word_ratio", "unk_rate")  # fmt: skip


@pytest.mark.parametrize(("texts", "expected"), TABLE)
def test_fertility_stats_by_hand(texts, expected):
    stats = fertility_stats(_wordpiece(), texts)
    assert tuple(stats[k] for k in KEYS) == pytest.approx(expected)


def test_padding_and_truncation_do_not_count_and_are_left_alone():
    tok = _wordpiece()
    tok.enable_padding(length=16)
    tok.enable_truncation(max_length=2)
    assert fertility_stats(tok, ["kuna mu", "xy ku"])["tokens"] == 5
    assert tok.padding["length"] == 16 and tok.truncation["max_length"] == 2


def test_unigram_tokenizer_counts_words_by_offsets():
    tok = Tokenizer(models.Unigram([("<unk>", 0.0), ("\u2581ku", -1.0), ("na", -1.0), ("\u2581", -2.0)], unk_id=0))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    stats = fertility_stats(tok, ["kuna ku"])  # ▁ku na | ▁ku
    assert (stats["words"], stats["tokens"], stats["continued_word_ratio"], stats["unk_rate"]) == (2, 3, 0.5, 0.0)


def _corpus(root: Path) -> Path:
    rows = [("nya_Latn", "test", "kuna mu"), ("nya_Latn", "test", "xy ku"), ("nya_Latn", "train", "mu mu"),
            ("ara_Arab", "test", "xy")]  # fmt: skip
    (root / "corpus").mkdir(parents=True)
    with open(root / "corpus" / "part.jsonl", "w", encoding="utf-8") as fh:
        for n, (lang, split, text) in enumerate(rows):
            fh.write(json.dumps({"id": f"R.{n}", "lang": lang, "split": split, "text": text}) + "\n")
    return root / "corpus"


def test_analyze_writes_the_table_and_json(tmp_path):
    a = _save(_wordpiece(), tmp_path / "a")
    b = _save(_wordpiece({**VOCAB, "kuna": 5}), tmp_path / "b")
    cfg = TokenizerAnalyzeConfig(tokenizers={"a": str(a), "b": str(b)}, input=_corpus(tmp_path), out=tmp_path / "rep")
    result = analyze(cfg)
    expected_md = (
        "### Tokens per word / UNK rate\n\n| language | a | b |\n| --- | --- | --- |\n"
        "| ara_Arab | 1.00 / 100.0% | 1.00 / 100.0% |\n"
        "| nya_Latn | 1.25 / 20.0% | 1.00 / 25.0% |\n"
    )
    assert result["table"].startswith(expected_md)
    assert "\n### Characters per token\n" in result["table"]
    assert (tmp_path / "rep" / "fertility.md").read_text() == result["table"]
    data = json.loads((tmp_path / "rep" / "fertility.json").read_text())
    assert data["results"]["nya_Latn"]["b"]["tokens"] == 4  # kuna | mu | [UNK] | ku
    assert data["results"]["nya_Latn"]["a"]["records"] == 2  # the train record is not measured
    assert json.loads((tmp_path / "rep" / "manifest.json").read_text())["counts"] == {"ara_Arab": 1, "nya_Latn": 2}


def test_analyze_caps_records_and_selects_languages(tmp_path):
    a = _save(_wordpiece(), tmp_path / "a")
    cfg = TokenizerAnalyzeConfig(
        tokenizers={"a": str(a)}, input=_corpus(tmp_path), out=tmp_path / "rep", langs=["ny"], max_records=1
    )
    results = analyze(cfg)["results"]
    assert list(results) == ["nya_Latn"]
    assert (results["nya_Latn"]["a"]["records"], results["nya_Latn"]["a"]["fertility"]) == (1, 1.5)


def test_analyze_bad_inputs(tmp_path):
    a = _save(_wordpiece(), tmp_path / "a")
    corpus = _corpus(tmp_path)
    with pytest.raises(InputError, match="swh_Latn"):
        analyze(TokenizerAnalyzeConfig(tokenizers={"a": str(a)}, input=corpus, out=tmp_path / "r", langs=["swh"]))
    with pytest.raises(ModelError, match="tokenizer.json"):
        analyze(TokenizerAnalyzeConfig(tokenizers={"a": str(tmp_path)}, input=corpus, out=tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def _bert_normalized(folder: Path) -> Path:
    from tokenizers import normalizers

    tok = _wordpiece({**VOCAB, "tieng": 5, "viet": 6})
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    return _save(tok, folder)


def test_normalization_loss_parity_and_jargon(tmp_path):
    rows = [("eng_Latn", "V.1", "Ku ku"), ("eng_Latn", "V.2", "mu"), ("vie_Latn", "V.1", "Tiếng Việt mu"),
            ("vie_Latn", "V.3", "ku")]  # fmt: skip
    (tmp_path / "c").mkdir()
    lines = [json.dumps({"id": i, "lang": lang, "split": "test", "text": text}) for lang, i, text in rows]
    (tmp_path / "c" / "part.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "terms.txt").write_text("# terms\nkuna\nmu\n", encoding="utf-8")
    bert = _bert_normalized(tmp_path / "bert")
    cfg = TokenizerAnalyzeConfig(tokenizers={"bert": str(bert)}, input=tmp_path / "c", out=tmp_path / "rep",
                                 langs=["vie_Latn"], jargon=tmp_path / "terms.txt")  # fmt: skip
    result = analyze(cfg)
    vie, eng = result["results"]["vie_Latn"]["bert"], result["results"]["eng_Latn"]["bert"]
    # "Tiếng Việt mu" + "ku": T, V lowercased (2 changed); ế, ệ lose their marks (2 lost beyond case); 15 chars.
    assert (vie["normalization_changed"], vie["normalization_loss"]) == pytest.approx((4 / 15, 2 / 15))
    assert eng["normalization_changed"] == pytest.approx(1 / 7) and eng["normalization_loss"] == 0.0
    # Parallel ids: only V.1 is in both; vie "tieng viet mu" = 3 tokens, eng "ku ku" = 2 tokens.
    assert vie["parity"] == pytest.approx(3 / 2) and eng["parity"] == 1.0
    assert result["jargon"]["bert"]["per_term"] == {"kuna": 2, "mu": 1}
    assert result["tokenizers"]["bert"]["normalizer"][:2] == ["lowercases", "strips accents"]
    assert "- bert (WordPiece): lowercases, strips accents" in result["table"]
    assert "13.3% of vie_Latn characters change beyond case" in result["table"]
    assert "### Parity: tokens relative to eng_Latn on parallel records" in result["table"]
    assert "| bert | 2 | 1.50 | 50.0% |" in result["table"]

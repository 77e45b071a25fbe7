"""Tables: scripts, per-language words, quality filters, normalization modes, ensembles, top-k, `lid eval`."""

from __future__ import annotations

import json

import pytest

from polytune.cli.main import main
from polytune.config import LidEvalConfig
from polytune.corpus.langid import combine, get_backend
from polytune.corpus.lid_eval import evaluate_lid, score
from polytune.corpus.quality import MinWordsFilter, NonLetterFilter, RepetitionFilter, ScriptFilter, normalize_text
from polytune.corpus.scripts import dominant_script, split_words
from polytune.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "script"),
    [("Hello world", "Latn"), ("Привет мир", "Cyrl"), ("مرحبا بالعالم", "Arab"), ("नमस्ते दुनिया", "Deva"),
     ("ሰላም ዓለም", "Ethi"), ("你好世界", "Hani"), ("안녕하세요", "Hang"), ("สวัสดีชาวโลก", "Thai"), ("123 !?", None),
     ("Hello Привет мир", "Cyrl")],
)  # fmt: skip
def test_dominant_script_table(text, script):
    assert dominant_script(text) == script


@pytest.mark.parametrize(
    ("text", "lang", "ok"),
    [("Hello world", "eng_Latn", True), ("Привет мир", "eng_Latn", False), ("Привет мир", "rus_Cyrl", True),
     ("東京は日本の首都です", "jpn_Jpan", True), ("서울은 한국의 수도입니다", "kor_Kore", True),
     ("مرحبا بالعالم", "fas_Arab", True), ("Hello world", "amh_Ethi", False), ("12345", "eng_Latn", True),
     ("Hello world", "xxx_Qaaa", True)],
)  # fmt: skip
def test_script_check_table(text, lang, ok):
    verdict = ScriptFilter().filter({"text": text, "lang": lang})
    assert (verdict is True) == ok
    if not ok:
        assert verdict[1] == "script_mismatch" and "dominant script" in verdict[2]


@pytest.mark.parametrize(
    ("text", "lang", "words"),
    [("Hello, world!", "eng_Latn", ["Hello", "world"]), ("m'chipululu pa", "nya_Latn", ["m'chipululu", "pa"]),
     ("你好，世界", "zho_Hans", ["你", "好", "世", "界"]), ("Việt Nam", "vie_Latn", ["Việt", "Nam"]),
     ("สวัสดี", "tha_Thai", list("สวสด")), ("", "eng_Latn", [])],
)  # fmt: skip
def test_split_words_is_per_language(text, lang, words):
    assert split_words(text, lang) == words


def test_quality_filter_verdicts():
    assert NonLetterFilter(0.5).filter({"text": "Hello world"}) is True
    assert NonLetterFilter(0.5).filter({"text": "1234 5678 ab"})[1] == "non_letter"
    assert MinWordsFilter(3).filter({"text": "你好世界", "lang": "zho_Hans"}) is True
    assert MinWordsFilter(3).filter({"text": "hello world", "lang": "eng_Latn"})[:2] == (False, "too_few_words")
    lines = "\n".join(["same line here"] * 4 + ["other"])
    assert RepetitionFilter().filter({"text": lines, "lang": "eng_Latn"})[1] == "repeated_lines"
    spam = " ".join(["buy cheap pills now"] * 20)
    assert RepetitionFilter().filter({"text": spam, "lang": "eng_Latn"})[1] == "repeated_ngrams"
    short = "pa kasupe wa madzi m'chipululu, pa kasupe wa pa njira"  # a sentence: n-gram checks do not apply
    assert RepetitionFilter().filter({"text": short, "lang": "nya_Latn"}) is True


def test_whitespace_modes_keep_or_collapse_lines():
    assert normalize_text(" a  b \n\n c ", "NFC", "lines") == "a b\nc"
    assert normalize_text(" a  b \n\n c ", "NFC", "collapse") == "a b c"


def test_topk_and_ensembles():
    langid = get_backend("langid")
    top = langid.predict_topk(["The Lord is my shepherd; I shall not want."], 3)[0]
    assert top[0][0] == "eng_Latn" and len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    assert "nya_Latn" not in langid.languages and "eng_Latn" in langid.languages
    en, ny = [("eng_Latn", 0.6)], [("nya_Latn", 0.9)]
    assert combine(en, ny, "fallback", langid.knows, ("langid", "ft")) == (ny, "")
    assert combine(en, [("eng_Latn", 0.9)], "fallback", langid.knows, ("langid", "ft")) == (en, "")
    assert combine(en, ny, "agree", langid.knows, ("langid", "ft"))[1] == (
        "langid says eng_Latn (0.600), ft says nya_Latn (0.900)"
    )


def test_lid_scores_per_language():
    report = score(["a", "a", "b", "c"], ["a", "b", "b", None], frozenset({"a", "b"}))
    assert report["per_lang"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "fpr": 0.0, "support": 2,
                                       "known": True}  # fmt: skip
    assert report["per_lang"]["b"]["fpr"] == pytest.approx(1 / 3, abs=1e-4) and not report["per_lang"]["c"]["known"]
    assert report["accuracy"] == 0.5 and report["confused"][0] == {"gold": "a", "predicted": "b", "n": 1}


def test_lid_eval_compares_backends_side_by_side(tmp_path, capsys):
    data = tmp_path / "gold.jsonl"
    rows = [("For God so loved the world, that he gave his only begotten Son.", "en"),
            ("Car Dieu a tant aimé le monde qu'il a donné son Fils unique.", "fr"),
            ("Ndipo Yesu anati kwa iwo, Tsatirani Ine.", "ny")]  # fmt: skip
    data.write_text("".join(json.dumps({"text": t, "lang": g}) + "\n" for t, g in rows), encoding="utf-8")
    cfg = LidEvalConfig(input=data, backends={"langid": "langid", "py3": "py3langid"}, split="all", out=tmp_path / "o")
    report = evaluate_lid(cfg)
    assert report["langs"] == ["eng_Latn", "fra_Latn", "nya_Latn"]
    assert report["backends"]["langid"]["per_lang"]["nya_Latn"]["known"] is False
    assert (tmp_path / "o" / "lid_eval.md").read_text().startswith("| lang | langid P / R / F1 / FPR | py3 P")
    assert main(["lid", "eval", "--input", str(data), "--split", "all", "--backend", "langid"]) == 0
    assert "3 labeled records, 3 languages" in capsys.readouterr().out
    assert main(["lid", "eval", "--input", str(data), "--backend", "nope"]) == 2
    assert "backend nope='nope' is not one of" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least one backend"):
        LidEvalConfig(input=data, backends={})

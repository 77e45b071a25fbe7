"""Text and tagging metrics against their references: the sacrebleu CLI on the same files, seqeval on the same tags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2, IOBES

from polytune.evaluation.imports import score_files
from polytune.evaluation.metrics import get_metric
from polytune.evaluation.metrics.text import tokenizer_for

SACREBLEU = str(Path(sys.executable).parent / "sacrebleu")

# References and two systems' hypotheses in three languages, one CJK.
TEXTS = {
    "eng_Latn": (
        ["The cat sat on the mat.", "It is raining today.", "We will meet at noon.", "Books are on the table.",
         "She reads every evening.", "The train was late again."],
        ["The cat sat on a mat.", "It rains today.", "We meet at noon.", "The books are on the table.",
         "She reads each evening.", "The train was late."],
        ["A cat is on the mat.", "Raining today.", "We will meet at noon.", "Books on table.",
         "She is reading.", "Train late again."],
    ),
    "ara_Arab": (
        ["ذهب الولد إلى المدرسة.", "الجو جميل اليوم.", "أحب قراءة الكتب.", "البيت كبير جدا."],
        ["ذهب الولد الى المدرسة.", "الجو جميل اليوم.", "أحب القراءة.", "البيت كبير."],
        ["الولد في المدرسة.", "الطقس جميل.", "أحب قراءة الكتب.", "بيت كبير جدا."],
    ),
    "zho_Hans": (
        ["我今天去学校。", "天气很好。", "他喜欢读书。", "这本书很有意思。", "我们明天见。"],
        ["我今天去了学校。", "天气很好。", "他爱读书。", "这本书有意思。", "明天见。"],
        ["今天我去学校。", "天气不错。", "他喜欢看书。", "这本书很有意思。", "我们明天见面。"],
    ),
}  # fmt: skip


def _write(folder: Path, lang: str) -> tuple[Path, Path, Path]:
    paths = []
    for name, lines in zip(("ref", "sys-a", "sys-b"), TEXTS[lang], strict=True):
        path = folder / f"{lang}.{name}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return tuple(paths)


def _cli(ref: Path, hyp: Path, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [SACREBLEU, str(ref), "-i", str(hyp), "--format", "json", "-w", "8", *args],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    rows = json.loads(out.stdout)
    return {r["name"]: r["score"] for r in (rows if isinstance(rows, list) else [rows])}


@pytest.mark.parametrize("lang", sorted(TEXTS))
def test_scores_equal_the_sacrebleu_cli(tmp_path, lang):
    ref, hyp_a, hyp_b = _write(tmp_path, lang)
    metrics = ["bleu", "chrf", "chrf_pp", "ter"]
    report = score_files(ref, {"a": hyp_a, "b": hyp_b}, tmp_path / "out", lang, metrics=metrics, n_resamples=50)
    tok = tokenizer_for(lang)
    asian = ["--ter-asian-support"] if tok != "13a" else []
    for system, hyp in (("a", hyp_a), ("b", hyp_b)):
        cli = _cli(ref, hyp, "-m", "bleu", "chrf", "ter", "--tokenize", tok, *asian)
        cli_pp = _cli(ref, hyp, "-m", "chrf", "--chrf-word-order", "2")
        ours = {m: report["results"][lang]["scores"][system][m]["score"] for m in metrics}
        assert ours["bleu"] == pytest.approx(cli["BLEU"], abs=1e-6)
        assert ours["chrf"] == pytest.approx(cli["chrF2"], abs=1e-6)
        assert ours["ter"] == pytest.approx(cli["TER"], abs=1e-6)
        assert ours["chrf_pp"] == pytest.approx(cli_pp["chrF2++"], abs=1e-6)
    if tok != "13a":
        assert f"tok:{tok}" in report["lang_signatures"][lang]["bleu"]


def test_tokenizer_choice():
    assert tokenizer_for("eng_Latn") == "13a"
    assert tokenizer_for("zho_Hans") == tokenizer_for("yue_Hant") == "zh"
    assert tokenizer_for("jpn_Jpan") in {"ja-mecab", "char"}
    assert tokenizer_for("kor_Hang") in {"ko-mecab", "char"}
    assert tokenizer_for("tha_Thai") in {"flores200", "char"}
    assert get_metric("bleu", tokenize="intl").for_language("zho_Hans").signature().count("tok:intl") == 1


TAGS_GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["O", "B-ORG", "I-ORG", "I-ORG", "O"],
    ["B-PER", "O", "B-MISC", "I-MISC"],
    ["O", "O"],
]
TAGS_PRED = [
    ["B-PER", "I-PER", "O", "O"],
    ["O", "B-ORG", "I-ORG", "O", "O"],
    ["I-PER", "O", "B-MISC", "I-MISC"],  # an entity starting with I- is not an entity in strict IOB2
    ["B-LOC", "O"],
]
BIOES_GOLD = [["S-PER", "O", "B-LOC", "E-LOC"], ["B-ORG", "I-ORG", "E-ORG", "O"]]
BIOES_PRED = [["S-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "I-ORG", "E-ORG", "S-PER"]]


@pytest.mark.parametrize(("gold", "pred", "scheme"), [(TAGS_GOLD, TAGS_PRED, IOB2), (BIOES_GOLD, BIOES_PRED, IOBES)])
def test_ner_f1_equals_seqeval(gold, pred, scheme):
    metric = get_metric("ner_f1")
    expected = 100 * f1_score(gold, pred, mode="strict", scheme=scheme)
    assert metric.compute(gold, pred) == pytest.approx(expected, abs=1e-9)
    # The bootstrap statistics give the same corpus score.
    assert metric.scores_from_statistics(metric.statistics(gold, pred).sum(0, keepdims=True))[0] == pytest.approx(
        expected
    )
    assert f"scheme:{'BIOES' if scheme is IOBES else 'IOB2'}" in metric.signature()


def test_exact_match_and_bad_tags():
    em = get_metric("exact_match")
    assert em.compute(["a b", " x", "y"], ["a b ", "x", "z"]) == pytest.approx(200 / 3)
    assert em.compute([["B-PER", "O"]], [["B-PER", "O"]]) == 100.0
    from polytune.errors import ConfigError, InputError

    with pytest.raises(InputError, match="'ner_f1' does not fit class labels"):
        get_metric("ner_f1").compute(["B-PER"], ["B-PER"])
    with pytest.raises(InputError, match="list of tags"):  # a list that holds something other than tag strings
        get_metric("ner_f1").compute([["B-PER"]], [[3]])
    with pytest.raises(InputError, match="2 gold tags but 1 predicted"):
        get_metric("ner_f1").compute([["B-PER", "O"]], [["O"]])
    with pytest.raises(ConfigError, match="scheme 'IOB1'"):
        get_metric("ner_f1", scheme="IOB1")

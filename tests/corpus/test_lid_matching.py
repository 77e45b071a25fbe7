"""Languages compare by the matching rule everywhere: the filter's --langs, declared langs and thresholds,
ensembles, `lid eval`; the heliport backend and the `vote` ensemble."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from polytune.config import FilterConfig, LidEvalConfig
from polytune.corpus.dedup import threshold_for
from polytune.corpus.filters import LanguageFilter
from polytune.corpus.langid import LidBackend, combine, get_backend
from polytune.corpus.lid_eval import align, evaluate_lid
from polytune.corpus.lid_vote import VoteBackend
from polytune.corpus.steps import run_filter
from polytune.errors import ConfigError, DependencyError

DATA = Path(__file__).parent / "data"
SENTENCES = DATA.joinpath("swahili-sentences.txt").read_text(encoding="utf-8").splitlines()
# 40 distinct paragraphs of three sentences: no two share more than one sentence (never near-duplicates).
PARAGRAPHS = [" ".join((SENTENCES[i], SENTENCES[(i + 7) % 40], SENTENCES[(i + 19) % 40])) for i in range(40)]
ENGLISH = ["The children walk to school every morning with their friends from the village.",
           "My mother cooks a delicious evening meal for the whole family.",
           "Heavy rain fell all night and every field was flooded by the morning.",
           "The teacher explained the history of our country in simple words."]  # fmt: skip
CHICHEWA = ["Ana akupita kusukulu m'mawa uliwonse pamodzi ndi anzawo a kumudzi.",
            "Amayi anga akuphika nsima ndi ndiwo za masamba kwa banja lonse.",
            "Mvula yambiri inagwa usiku wonse ndipo minda yonse inadzaza ndi madzi.",
            "Tikupita kumsika kukagula nsomba, chimanga ndi nyemba za mawa."]  # fmt: skip
MAORI = ["Kei te haere ngā tamariki ki te kura i ia ata me ō rātou hoa.",
         "Kei te tunu kai reka taku whaea mō te whānau katoa.",
         "He nui te ua i te pō katoa, ā, kua kī ngā māra i te wai.",
         "Ka haere mātou ki te moana āpōpō ki te hī ika."]  # fmt: skip (langid lacks Maori: it says Latvian)


@pytest.fixture(scope="module")
def swahili(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sw") / "sw.txt"
    path.write_text("\n".join(PARAGRAPHS) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("langs", [["swh"], ["sw"], ["swa_Latn"], []])
def test_py3langid_swahili_is_kept_whichever_code_is_wanted(swahili, tmp_path, langs):
    """The issue's example: py3langid answers `sw` (swa_Latn); --langs swh keeps all 40, named as asked."""
    stats = run_filter(FilterConfig(inputs=[str(swahili)], out=tmp_path / "out", backend="py3langid", langs=langs))
    key = {"swh": "swh_Latn"}.get(langs[0], "swa_Latn") if langs else "swa_Latn"
    assert stats["kept"] == 40 and stats["per_lang"] == {key: 40}
    records = [json.loads(line) for line in (tmp_path / "out" / key / "part-00000.jsonl").open(encoding="utf-8")]
    assert {r["lang"] for r in records} == {key} and {r["lid_label"] for r in records} == {"swa_Latn"}


def test_declared_member_and_wanted_macro_keep_the_declared_key_and_the_answer():
    step = LanguageFilter(get_backend("py3langid"), langs=["swh_Latn"])
    declared = [{"text": PARAGRAPHS[0], "lang": "swh"}, {"text": ENGLISH[0], "lang": "swh"}]
    verdicts = step.filter_batch(declared)
    assert verdicts[0] is True and declared[0]["lang"] == "swh_Latn" and declared[0]["lid_label"] == "swa_Latn"
    assert verdicts[1][1] == "lang_mismatch"
    wanted_macro = LanguageFilter(get_backend("py3langid"), langs=["eng_Latn", "swa_Latn"])
    record = {"text": PARAGRAPHS[1], "lang": "swh_Latn"}
    assert wanted_macro.filter_batch([record]) == [True] and record["lang"] == "swa_Latn"  # member counts for macro


def test_thresholds_and_ensembles_compare_by_the_rule():
    cfg = FilterConfig(inputs=["x"], out=Path("o"), threshold={"swh_Latn": 0.7, "*": 0.4})
    assert threshold_for("swa_Latn", cfg, []) == 0.7 and threshold_for("eng_Latn", cfg, []) == 0.4
    py3 = get_backend("py3langid")
    assert py3.knows("swh_Latn") and py3.knows("arb_Arab") and py3.knows("kor_Hang") and not py3.knows("nya_Latn")
    sw, swh, ko, ko_hang = [("swa_Latn", 0.9)], [("swh_Latn", 0.8)], [("kor_Kore", 0.9)], [("kor_Hang", 0.9)]
    assert combine(sw, swh, "agree", py3.knows, ("a", "b")) == (sw, "")  # GlotLID's swh agrees with py3langid's sw
    assert combine(ko, ko_hang, "agree", py3.knows, ("a", "b")) == (ko, "")
    assert combine(sw, swh, "fallback", py3.knows, ("a", "b")) == (sw, "")  # py3langid knows Swahili: it decides
    assert combine(sw, [("ary_Arab", 0.8)], "agree", py3.knows, ("a", "b"))[1]  # different languages still refuse


class Fixed(LidBackend):
    """A backend with fixed answers (for exact vote arithmetic)."""

    def __init__(self, name: str, labels: list[str], answer: list[tuple[str, float]]) -> None:
        self.name, self._fixed, self._answer = name, labels, answer

    def _predict_topk(self, texts, k):
        return [self._answer[:k] for _ in texts]

    def _labels(self):
        return self._fixed


def test_vote_abstains_on_languages_a_member_cannot_predict():
    a = Fixed("a", ["eng_Latn", "swa_Latn"], [("swa_Latn", 0.6), ("eng_Latn", 0.4)])
    b = Fixed("b", ["eng_Latn", "swh_Latn", "nya_Latn"], [("nya_Latn", 0.7), ("swh_Latn", 0.2), ("eng_Latn", 0.1)])
    top = VoteBackend([("a", a, 1.0), ("b", b, 3.0)]).predict_topk(["x"], 3)[0]
    # nya: only b knows it, a abstains -> 0.7; swa/swh one candidate with a's key: (0.6 + 3 * 0.2) / 4;
    # eng: both know it: (0.4 + 3 * 0.1) / 4
    assert top == [("nya_Latn", pytest.approx(0.7)), ("swa_Latn", pytest.approx(0.3)),
                   ("eng_Latn", pytest.approx(0.175))]  # fmt: skip
    with pytest.raises(ConfigError, match="at least 2"):
        VoteBackend([("a", a, 1.0)])
    with pytest.raises(ConfigError, match="does not vote"):
        FilterConfig(inputs=["x"], out=Path("o"), backend="vote", voters=["langid", "py3langid"],
                     vote_weights={"heliport": 2})  # fmt: skip
    with pytest.raises(ConfigError, match="need backend vote"):
        FilterConfig(inputs=["x"], out=Path("o"), backend="langid", voters=["langid", "py3langid"])


def test_lid_eval_scores_macrolanguage_answers_for_members_and_reports_coverage(tmp_path):
    records = [{"text": t, "lang": "swh", "split": "test"} for t in PARAGRAPHS[:8]]
    records += [{"text": t, "lang": "eng", "split": "test"} for t in ENGLISH]
    records += [{"text": t, "lang": "nya", "split": "test"} for t in CHICHEWA]
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    report = evaluate_lid(LidEvalConfig(input=path, backends={"langid": "langid", "py3langid": "py3langid"}))
    py3 = report["backends"]["py3langid"]
    assert py3["per_lang"]["swh_Latn"]["recall"] == 1.0 and py3["per_lang"]["swh_Latn"]["known"]
    assert py3["coverage"] == {"langs": 2, "of": 3, "covered": ["eng_Latn", "swh_Latn"], "missing": ["nya_Latn"]}
    assert py3["covered"]["accuracy"] == 1.0 and py3["covered"]["macro_accuracy"] == 1.0 and py3["covered"]["n"] == 12
    assert py3["all"]["accuracy"] == round(12 / 16, 4) and py3["all"]["n"] == 16
    assert align(["swh_Latn", "eng_Latn"], ["swa_Latn", "swa_Latn"]) == ["swh_Latn", "swh_Latn"]


@pytest.fixture(scope="module")
def heliport_backend():
    pytest.importorskip("heliport", reason="heliport is not installed (pip install 'polytune[lid-gpl]')")
    return get_backend("heliport")


def test_heliport_backend_normalizes_labels_and_scores(heliport_backend):
    from polytune.corpus.lid_heliport import topk_probabilities, two_way

    assert len(heliport_backend.languages) >= 200 and "swa_Latn" in heliport_backend.languages
    assert [key for key, _ in heliport_backend.predict(PARAGRAPHS[:5] + ENGLISH[:2])] == ["swa_Latn"] * 5 + [
        "eng_Latn"] * 2  # fmt: skip
    ident = heliport_backend._identifier
    for text in PARAGRAPHS[:3] + ENGLISH + ["ok", "bonjour", "Hello there friend"]:  # fast path and top-k agree on p1
        label, gap = ident.identify_with_score(text)
        raw = ident.identify_topk_with_score(text, 3)
        if label != "und":
            assert raw[0][0] == label and two_way(gap) == pytest.approx(topk_probabilities(raw)[0][1], abs=1e-4)
    rows = heliport_backend.predict_topk(["bonjour", PARAGRAPHS[0]], 3, decimals=4)
    assert len(rows[0]) == 3 and 0.5 <= rows[0][0][1] < 0.9  # unsure: runner-ups looked up
    assert len(rows[1]) == 1 and rows[1][0][1] >= 0.9  # confident: best language only
    assert rows[0][0][1] >= rows[0][1][1] >= rows[0][2][1]


def test_heliport_in_the_filter_flags_mixed_texts_exactly(heliport_backend):
    from polytune.corpus.lid_heliport import HeliportBackend, topk_probabilities

    backend = HeliportBackend()
    step = LanguageFilter(backend, topk=3, mixed_margin=0.3)
    assert backend.runner_ups_below == pytest.approx(0.65, abs=1e-3)  # (1 + margin) / 2: all the flag needs
    texts = ENGLISH + PARAGRAPHS[:3] + ["Ik hou van jou", "hola que tal", "bom dia", "dobry den", "obrigado amigo",
                                          "Tere hommikust", "Hello amigo mio", "buenos dias", "the cat"]
    records = [{"text": t} for t in texts]
    step.filter_batch(records)
    for record in records:
        label, _ = backend._identifier.identify_with_score(record["text"])
        if label in ("und", "zxx"):
            continue
        p1, p2 = (p for _, p in topk_probabilities(backend._identifier.identify_topk_with_score(record["text"], 2)))
        assert record.get("lid_mixed", False) == (round(p1, 4) - round(p2, 4) <= 0.3), record["text"]
    assert any(r.get("lid_mixed") for r in records) and not all(r.get("lid_mixed") for r in records)


def test_vote_of_real_backends_covers_what_one_lacks(heliport_backend):
    vote = VoteBackend([("langid", get_backend("langid"), 1.0), ("heliport", heliport_backend, 1.0)])
    assert "mri_Latn" in vote.languages and not get_backend("langid").knows("mri_Latn")
    assert [key for key, _ in get_backend("langid").predict(MAORI)].count("mri_Latn") == 0
    keys = [key for key, _ in vote.predict(MAORI + ENGLISH[:2] + PARAGRAPHS[:2])]
    assert keys == ["mri_Latn"] * 4 + ["eng_Latn"] * 2 + ["swa_Latn"] * 2


def test_heliport_missing_says_how_to_install(monkeypatch):
    from polytune.corpus import lid_heliport

    lid_heliport._identifier.cache_clear()
    monkeypatch.setitem(sys.modules, "heliport", None)  # import fails as if not installed
    with pytest.raises(DependencyError, match=r"polytune\[lid-gpl\]"):
        get_backend("heliport")
    lid_heliport._identifier.cache_clear()


def test_cli_vote_in_filter_and_lid_eval(swahili, tmp_path, capsys):
    from polytune.cli.main import main

    out = tmp_path / "out"
    argv = ["filter", str(swahili), "--out", str(out), "--backend", "vote", "--voters", "langid", "py3langid",
            "--vote-weights", "py3langid=2", "--langs", "swh"]  # fmt: skip
    assert main(argv) == 0 and "swh_Latn\t40 kept" in capsys.readouterr().out
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"text": t, "lang": "swh_Latn"}) + "\n" for t in PARAGRAPHS[:5]))
    argv = ["lid", "eval", "--input", str(gold), "--split", "all", "--backend", "langid", "--backend", "py3langid",
            "--vote", "langid", "py3langid", "--vote-weights", "langid=0.5"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| vote | 1 / 1 | 1.0000 |" in printed and "| py3langid | 1 / 1 |" in printed
    assert main([*argv[:-2], "--vote-weights", "heliport=2"]) == 2  # a weight for a backend that does not vote
    assert "does not vote" in capsys.readouterr().err

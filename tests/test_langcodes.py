"""Language keys and the matching rule: macrolanguages and their members (SIL's table), script aliases, keys kept
as the user wrote them."""

from __future__ import annotations

import pytest

from polytune.langcodes import covers, lookup, macrolanguage, match, members, normalize, same_language

# (ISO 639-1 code a backend such as py3langid answers, its key: the macrolanguage, the member FLORES-200/GlotLID use)
MACRO_PAIRS = [
    ("sw", "swa_Latn", "swh_Latn"), ("ar", "ara_Arab", "arb_Arab"), ("zh", "zho_Hans", "cmn_Hans"),
    ("fa", "fas_Arab", "pes_Arab"), ("ms", "msa_Latn", "zlm_Latn"), ("ms", "msa_Latn", "zsm_Latn"),
    ("et", "est_Latn", "ekk_Latn"), ("lv", "lav_Latn", "lvs_Latn"), ("uz", "uzb_Latn", "uzn_Latn"),
    ("az", "aze_Latn", "azj_Latn"), ("mn", "mon_Cyrl", "khk_Cyrl"), ("ne", "nep_Deva", "npi_Deva"),
    ("om", "orm_Latn", "gaz_Latn"), ("sq", "sqi_Latn", "als_Latn"), ("mg", "mlg_Latn", "plt_Latn"),
    ("no", "nor_Latn", "nob_Latn"), ("no", "nor_Latn", "nno_Latn"), ("qu", "que_Latn", "quy_Latn"),
    ("yi", "yid_Hebr", "ydd_Hebr"), ("ps", "pus_Arab", "pbt_Arab"), ("gn", "grn_Latn", "gug_Latn"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "macro", "member"), MACRO_PAIRS)
def test_a_macrolanguage_answer_counts_for_its_member_and_back(code, macro, member):
    assert normalize(code) == macro  # what the backend's label becomes
    assert normalize(member) == member  # the user's key is kept
    assert macrolanguage(member[:3]) == macro[:3] and member[:3] in members(macro[:3])
    assert same_language(macro, member) and same_language(member, macro)
    assert match(macro, ["eng_Latn", member]) == member  # the macrolanguage answer counts for the wanted member
    assert match(member, [macro]) == macro  # an individual answer counts for its macrolanguage


@pytest.mark.parametrize(
    ("a", "b"),
    [("kor_Kore", "kor_Hang"), ("jpn_Jpan", "jpn_Hira"), ("jpn_Jpan", "jpn_Kana"), ("jpn_Jpan", "jpn_Hani"),
     ("zho_Hans", "zho_Hani"), ("zho_Hant", "zho_Hani"), ("zho_Hans", "cmn_Hani"), ("yue_Hant", "zho_Hani"),
     ("tgl_Latn", "fil_Latn"), ("hbs_Latn", "srp_Latn"), ("hbs_Latn", "hrv_Latn"), ("pbt_Arab", "pus_Arab")],
)  # fmt: skip
def test_script_aliases_and_aliases_match(a, b):
    assert same_language(a, b) and same_language(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [("arb_Arab", "ary_Arab"), ("nob_Latn", "nno_Latn"), ("cmn_Hans", "yue_Hans"), ("zho_Hans", "zho_Hant"),
     ("swh_Latn", "swh_Arab"), ("kor_Hang", "jpn_Jpan"), ("eng_Latn", "swa_Latn"), ("srp_Cyrl", "hrv_Latn")],
)  # fmt: skip
def test_different_languages_stay_different(a, b):
    assert not same_language(a, b) and match(a, [b]) is None


@pytest.mark.parametrize(
    ("code", "key"),
    [("tgl_Latn", "tgl_Latn"), ("hbs_Latn", "hbs_Latn"), ("fil_Latn", "fil_Latn"), ("kor_Hang", "kor_Hang"),
     ("tl", "tgl_Latn"), ("sh", "hbs_Latn"), ("ko", "kor_Kore"), ("pbt", "pbt_Arab"), ("mo", "ron_Latn"),
     ("iw", "heb_Hebr"), ("__label__swh_Latn", "swh_Latn"), ("zh-Hant-TW", "zho_Hant"), ("mol_Latn", "ron_Latn")],
)  # fmt: skip
def test_well_formed_keys_are_kept_as_written(code, key):
    assert normalize(code) == key


def test_lookup_and_covers_use_the_rule():
    assert lookup({"swh_Latn": 0.7, "*": 0.5}, "swa_Latn") == 0.7
    assert lookup({"swh_Latn": 0.7, "*": 0.5}, "eng_Latn") == 0.5
    assert lookup({"swa_Latn": 0.2, "swh_Latn": 0.7}, "swh_Latn") == 0.7  # the exact key first
    assert covers({"swa_Latn", "eng_Latn"}, "swh_Latn") and not covers({"eng_Latn"}, "swh_Latn")
    assert match("swa_Latn", ["swc_Latn", "swh_Latn"]) == "swc_Latn"  # two wanted members: the first one written

"""Write the per-language YAML of polytune's benchmarks (src/polytune/data/benchmarks/<name>/<key>.yaml) from each
dataset's list of configs (run from the repo root after changing a list or a rule below):

    .venv/bin/python tools/benchmark_languages.py            # rewrite every benchmark's language files
    .venv/bin/python tools/benchmark_languages.py --check    # exit 1 when a committed file differs

The lists are the datasets' published configs, read from their own sources (nothing is fetched here):
SIB-200: the language folders of github.com/dadelani/sib-200 data/annotated (the configs of Davlan/sib200);
Belebele: the 122 configs of facebook/belebele (as lm-evaluation-harness' tasks/belebele lists them);
FLORES-200: the code table of github.com/facebookresearch/flores flores200/README.md;
XNLI: the 15 configs of facebook/xnli; WikiANN: the 176 configs of the wikiann loading script of huggingface/datasets
(Rahimi et al.'s languages); Tatoeba: mteb's TatoebaBitextMining task (config <code>-eng, the language tag beside it).

Keys come from polytune.langcodes.normalize; where a Wikipedia code is no ISO 639 code, or names a language
imprecisely (a macrolanguage, the wrong script), WIKI_KEYS says which language the wiki is written in. A config
whose key another config has already (a second wiki in one language) is left out and listed in LEFT_OUT.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from polytune.evaluation.benchmarks.spec import write_language_files
from polytune.langcodes import normalize

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "src" / "polytune" / "data" / "benchmarks"

SIB200 = """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn amh_Ethi
    apc_Arab arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn
    azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab
    bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab
    crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn
    est_Latn eus_Latn ewe_Latn fao_Latn fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn
    gaz_Latn gla_Latn gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva
    hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn
    jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor kaz_Cyrl kbp_Latn
    kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Arab knc_Latn
    kon_Latn kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
    lua_Latn lug_Latn luo_Latn lus_Latn lvs_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Arab
    min_Latn mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn mya_Mymr nld_Latn nno_Latn nob_Latn
    npi_Deva nqo_Nkoo nso_Latn nus_Latn nya_Latn oci_Latn ory_Orya pag_Latn pan_Guru pap_Latn
    pbt_Arab pes_Arab plt_Latn pol_Latn por_Latn prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl
    sag_Latn san_Deva sat_Olck scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn
    snd_Arab som_Latn sot_Latn spa_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn
    szl_Latn tam_Taml taq_Latn taq_Tfng tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi
    tpi_Latn tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl
    umb_Latn urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn
    yue_Hant zho_Hans zho_Hant zsm_Latn zul_Latn
""".split()
BELEBELE = """
    acm_Arab afr_Latn als_Latn amh_Ethi apc_Arab arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab
    asm_Beng azj_Latn bam_Latn ben_Beng ben_Latn bod_Tibt bul_Cyrl cat_Latn ceb_Latn ces_Latn
    ckb_Arab dan_Latn deu_Latn ell_Grek eng_Latn est_Latn eus_Latn fin_Latn fra_Latn fuv_Latn
    gaz_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hin_Latn hrv_Latn hun_Latn
    hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kac_Latn kan_Knda
    kat_Geor kaz_Cyrl kea_Latn khk_Cyrl khm_Khmr kin_Latn kir_Cyrl kor_Hang lao_Laoo lin_Latn
    lit_Latn lug_Latn luo_Latn lvs_Latn mal_Mlym mar_Deva mkd_Cyrl mlt_Latn mri_Latn mya_Mymr
    nld_Latn nob_Latn npi_Deva npi_Latn nso_Latn nya_Latn ory_Orya pan_Guru pbt_Arab pes_Arab
    plt_Latn pol_Latn por_Latn ron_Latn rus_Cyrl shn_Mymr sin_Latn sin_Sinh slk_Latn slv_Latn
    sna_Latn snd_Arab som_Latn sot_Latn spa_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn
    tam_Taml tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tsn_Latn tso_Latn tur_Latn ukr_Cyrl
    urd_Arab urd_Latn uzn_Latn vie_Latn war_Latn wol_Latn xho_Latn yor_Latn zho_Hans zho_Hant
    zsm_Latn zul_Latn
""".split()
FLORES200 = """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn amh_Ethi
    apc_Arab arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn
    azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva bjn_Arab
    bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn cjk_Latn ckb_Arab
    crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn
    est_Latn eus_Latn ewe_Latn fao_Latn fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn
    gaz_Latn gla_Latn gle_Latn glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva
    hne_Deva hrv_Latn hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn
    jpn_Jpan kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor kaz_Cyrl kbp_Latn
    kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Arab knc_Latn
    kon_Latn kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
    lua_Latn lug_Latn luo_Latn lus_Latn lvs_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Arab
    min_Latn mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn mya_Mymr nld_Latn nno_Latn nob_Latn
    npi_Deva nso_Latn nus_Latn nya_Latn oci_Latn ory_Orya pag_Latn pan_Guru pap_Latn pbt_Arab
    pes_Arab plt_Latn pol_Latn por_Latn prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn
    san_Deva sat_Beng scn_Latn shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab
    som_Latn sot_Latn spa_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn
    tam_Taml taq_Latn taq_Tfng tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tpi_Latn
    tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn
    urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn yue_Hant
    zho_Hans zho_Hant zsm_Latn zul_Latn
""".split()
XNLI = {"ar": "arb_Arab", "bg": "bul_Cyrl", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn",
        "fr": "fra_Latn", "hi": "hin_Deva", "ru": "rus_Cyrl", "sw": "swh_Latn", "th": "tha_Thai", "tr": "tur_Latn",
        "ur": "urd_Arab", "vi": "vie_Latn", "zh": "zho_Hans"}  # MSA, Swahili (swh), Simplified Chinese
WIKIANN = """
    ace af als am an ang ar arc arz as ast ay az ba bar bat-smg
    be be-x-old bg bh bn bo br bs ca cbk-zam cdo ce ceb ckb co crh
    cs csb cv cy da de diq dv el eml en eo es et eu ext
    fa fi fiu-vro fo fr frr fur fy ga gan gd gl gn gu hak he
    hi hr hsb hu hy ia id ig ilo io is it ja jbo jv ka
    kk km kn ko ksh ku ky la lb li lij lmo ln lt lv map-bms
    mg mhr mi min mk ml mn mr ms mt mwl my mzn nap nds ne
    nl nn no nov oc or os pa pdc pl pms pnb ps pt qu rm
    ro ru rw sa sah scn sco sd sh si simple sk sl so sq sr
    su sv sw szl ta te tg th tk tl tr tt ug uk ur uz
    vec vep vi vls vo wa war wuu xmf yi yo zea zh zh-classical zh-min-nan zh-yue
""".split()
# Wikipedia codes whose wiki is written in a language or script the code does not normalize to.
WIKI_KEYS = {
    "arc": "arc_Syrc",  # Aramaic Wikipedia: Syriac script
    "bat-smg": "sgs_Latn",  # Samogitian
    "bh": "bho_Deva",  # the Bihari Wikipedia is written in Bhojpuri
    "cdo": "cdo_Latn",  # Min Dong Wikipedia: Foochow Romanized
    "crh": "crh_Latn",  # Crimean Tatar Wikipedia: Latin script
    "fiu-vro": "vro_Latn",  # Võro
    "hak": "hak_Latn",  # Hakka Wikipedia: Pha̍k-fa-sṳ
    "ko": "kor_Hang",  # as FLORES-200 and Belebele key Korean
    "zh-classical": "lzh_Hant",  # Literary Chinese
    "zh-min-nan": "nan_Latn",  # Min Nan Wikipedia: Pe̍h-ōe-jī
    "zh-yue": "yue_Hant",  # Cantonese
}
# Wikis without a key of their own: a second wiki in one language, or a code no ISO 639 language matches.
LEFT_OUT = {
    "be-x-old": "Belarusian (Taraškievica orthography): a second bel_Cyrl",
    "eml": "Emilian-Romagnol: a retired ISO 639 code, split into egl and rgn",
    "map-bms": "Banyumasan: a dialect of Javanese, a second jav_Latn",
    "simple": "Simple English: a second eng_Latn",
}
# FLORES-style configs that are no key of their own.
FLORES_LEFT_OUT = {
    "ajp_Arab": "South Levantine Arabic: ISO 639-3 merged ajp into apc (2023), so it would be a second apc_Arab",
}
TATOEBA = """
    sqi-Latn fry-Latn kur-Latn tur-Latn deu-Latn nld-Latn ron-Latn ang-Latn ido-Latn jav-Latn isl-Latn slv-Latn
    cym-Latn kaz-Cyrl est-Latn heb-Hebr gla-Latn mar-Deva lat-Latn bel-Cyrl pms-Latn gle-Latn pes-Arab nob-Latn
    bul-Cyrl cbk-Latn hun-Latn uig-Arab rus-Cyrl spa-Latn hye-Armn tel-Telu afr-Latn mon-Cyrl arz-Arab hrv-Latn
    nov-Latn gsw-Latn nds-Latn ukr-Cyrl uzb-Latn lit-Latn ina-Latn lfn-Latn zsm-Latn ita-Latn cmn-Hans lvs-Latn
    glg-Latn ceb-Latn bre-Latn ben-Beng swg-Latn arq-Arab kab-Latn fra-Latn por-Latn tat-Cyrl oci-Latn pol-Latn
    war-Latn aze-Latn vie-Latn nno-Latn cha-Latn mhr-Cyrl dan-Latn ell-Grek amh-Ethi pam-Latn hsb-Latn srp-Cyrl
    epo-Latn kzj-Latn awa-Deva fao-Latn mal-Mlym ile-Latn bos-Latn cor-Latn cat-Latn eus-Latn yue-Hant swe-Latn
    dtp-Latn kat-Geor jpn-Jpan csb-Latn xho-Latn orv-Cyrl ind-Latn tuk-Latn max-Deva swh-Latn hin-Deva dsb-Latn
    ber-Tfng tam-Taml slk-Latn tgl-Latn ast-Latn mkd-Cyrl khm-Khmr ces-Latn tzl-Latn urd-Arab ara-Arab kor-Hang
    yid-Hebr fin-Latn tha-Thai wuu-Hans
""".split()
# Tatoeba codes no current ISO 639-3 language has a key of its own for.
TATOEBA_LEFT_OUT = {
    "ber": "Berber: a language family (ISO 639-5), not a language",
    "kzj": "Coastal Kadazan: retired into dtp, which Tatoeba has already",
    "tzl": "Talossan: a constructed language without an ISO 639-3 code",
}


# Tatoeba tags that name the wrong script.
TATOEBA_KEYS = {"max": "max_Latn"}  # North Moluccan Malay is written in Latin script (mteb tags it Deva)


def configs() -> dict[str, dict[str, str]]:
    """benchmark -> {dataset config: polytune key}."""
    tatoeba = {}
    for tag in TATOEBA:
        code, script = tag.split("-")
        if code not in TATOEBA_LEFT_OUT:
            tatoeba[f"{code}-eng"] = TATOEBA_KEYS.get(code) or normalize(f"{code}_{script}")
    wikiann = {code: WIKI_KEYS.get(code) or normalize(code) for code in WIKIANN if code not in LEFT_OUT}
    return {
        "sib200": {c: c for c in SIB200 if c not in FLORES_LEFT_OUT},
        "belebele": {c: c for c in BELEBELE if c not in FLORES_LEFT_OUT},
        "flores200": {c: c for c in FLORES200 if c not in FLORES_LEFT_OUT},
        "xnli": dict(XNLI),
        "wikiann": wikiann,
        "tatoeba": tatoeba,
    }


def write(folder: Path) -> dict[str, list[Path]]:
    """Write every benchmark's language files under `folder`/<name> (old language files removed first)."""
    written = {}
    for name, table in configs().items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.yaml"):
            if not old.name.startswith("_"):
                old.unlink()
        written[name] = write_language_files(name, table, target)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    args = parser.parse_args()
    if not args.check:
        for name, files in write(FOLDER).items():
            print(f"{name}: {len(files)} languages")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = write(Path(tmp))
        stale = []
        for name, files in fresh.items():
            committed = {p.name for p in (FOLDER / name).glob("*.yaml") if not p.name.startswith("_")}
            stale += sorted(committed ^ {p.name for p in files})
            stale += [p.name for p in files if (FOLDER / name / p.name).is_file()
                      and (FOLDER / name / p.name).read_text(encoding="utf-8") != p.read_text(encoding="utf-8")]
    for name in stale:
        print(f"stale: {name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

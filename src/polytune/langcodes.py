"""Language keys: every language becomes `xxx_Scrp` (ISO 639-3 + ISO 15924), validated and path-safe; and the one
rule every stage uses to decide whether two keys name the same language.

Accepted spellings: ISO 639-1 (`sw`), ISO 639-3 (`swh`), BCP-47 (`zh-Hant-TW`, `pt_BR`), fastText labels
(`__label__en`), GlotLID/NLLB labels (`__label__swh_Latn`, `swh_Latn`). A well-formed key is kept as written
(`tgl_Latn` stays Tagalog, `hbs_Latn` stays Serbo-Croatian); other spellings map through ISO 639 itself
(`tl` -> `tgl`, `sh` -> `hbs`), not through CLDR's aliases.

Matching (`same_language`, `match`, `covers`): two keys name the same language when their scripts match (equal, or
one an ISO 15924 alias of the other: Kore ~ Hang, Jpan ~ Hira/Kana/Hrkt/Hani, Hans/Hant ~ Hani) and their
languages match: equal, a macrolanguage and one of its members (SIL's ISO 639-3 macrolanguage table, shipped by
python-iso639: `swa` ~ `swh`, `ara` ~ `arb`, `zho` ~ `cmn`), or one CLDR alias (`tgl` ~ `fil`). Two members of one
macrolanguage (`arb`, `ary`) stay different languages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import langcodes as _lc

from polytune.errors import ConfigError, LanguageCodeError

KEY_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_RAW_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_LABEL_PREFIX = "__label__"
_NOT_LANGUAGES = frozenset({"und", "zxx", "mis", "mul"})
# ISO 15924 defines these codes as aliases of script unions ("Jpan: alias for Han + Hiragana + Katakana", "Kore:
# alias for Hangul + Han", "Hrkt: alias for Hiragana + Katakana") or variants (Hans, Hant of Hani). No package
# ships the relation; it is part of the standard's code list itself.
_SCRIPT_ALIASES = frozenset(
    frozenset(pair)
    for pair in [("Jpan", "Hani"), ("Jpan", "Hira"), ("Jpan", "Kana"), ("Jpan", "Hrkt"), ("Hrkt", "Hira"),
                 ("Hrkt", "Kana"), ("Kore", "Hang"), ("Kore", "Hani"), ("Hans", "Hani"), ("Hant", "Hani")]
)  # fmt: skip


def _bad(code: str, why: str = "is not a language code") -> LanguageCodeError:
    return LanguageCodeError(f"{code!r} {why}: use ISO 639 like 'nya' or 'nya_Latn'")


@functools.lru_cache(maxsize=1)
def _iso639() -> dict[str, Any]:
    """SIL's ISO 639-3 tables (python-iso639): codes, 639-1 -> 639-3, macrolanguage of each member, retirements."""
    import iso639

    part3, part1, macro, retired = set(), {}, {}, {}
    for lang in iso639.ALL_LANGUAGES:
        if lang.status == "R":
            if lang.retire_change_to:
                retired[lang.part3] = lang.retire_change_to
            continue
        part3.add(lang.part3)
        if lang.part1:
            part1[lang.part1] = lang.part3
        if lang.macrolanguage:
            macro[lang.part3] = lang.macrolanguage
    members: dict[str, set[str]] = {}
    for member, parent in macro.items():
        members.setdefault(parent, set()).add(member)
    return {"part3": frozenset(part3), "part1": part1, "macro": macro, "retired": retired,
            "members": {k: frozenset(v) for k, v in members.items()}}  # fmt: skip


def iso639_3(subtag: str) -> str | None:
    """The current ISO 639-3 code of a language subtag, or None. Example: iso639_3("tl") -> "tgl"; ("mol") -> "ron"."""
    tables, subtag = _iso639(), subtag.lower()
    if len(subtag) == 2:
        return tables["part1"].get(subtag)
    if subtag in tables["part3"]:
        return subtag
    return tables["retired"].get(subtag)


def macrolanguage(code: str) -> str | None:
    """The ISO 639-3 macrolanguage of an individual language. Example: macrolanguage("swh") -> "swa"."""
    return _iso639()["macro"].get(code)


def members(code: str) -> frozenset[str]:
    """The individual languages of a macrolanguage. Example: "nob" in members("nor") -> True."""
    return _iso639()["members"].get(code, frozenset())


def _script(lang: Any, alpha3: str) -> str | None:
    """The explicit script, else the likely one; a language CLDR has no likely script for takes its macrolanguage's
    (langcodes falls back to `und`'s en-Latn-US: `pbt` would become Latin, its macrolanguage `pus` is Arabic)."""
    if lang.script:
        return lang.script
    likely, fallback = lang.maximize(), _lc.Language.get("und").maximize()
    fell_back = (likely.script, likely.territory) == (fallback.script, fallback.territory)
    if fell_back and lang.language != fallback.language:
        parent = macrolanguage(alpha3)
        if parent:
            return _lc.Language.get(parent).maximize().script or likely.script
    return likely.script


@functools.lru_cache(maxsize=4096)
def normalize(code: str) -> str:
    """Return the `xxx_Scrp` key of a language code; a well-formed key of a known language is kept as written.

    Example: normalize("__label__ny") -> "nya_Latn"; normalize("ar") -> "ara_Arab"; normalize("tgl_Latn") -> "tgl_Latn"

    Args:
        code: any accepted spelling of a language.

    Returns:
        The key, e.g. "swh_Latn".

    Raises:
        LanguageCodeError: the code is not a language, or has no known script.
    """
    if not isinstance(code, str):
        raise LanguageCodeError(f"language code must be a string, got {code!r}")
    raw = code.strip()
    if raw.startswith(_LABEL_PREFIX):
        raw = raw[len(_LABEL_PREFIX) :]
    if not _RAW_RE.match(raw):
        raise _bad(code)
    try:
        lang = _lc.Language.get(raw.replace("_", "-"))
    except (ValueError, LookupError) as exc:
        raise _bad(code) from exc
    if not lang.language or not lang.is_valid() or lang.language in _NOT_LANGUAGES:
        raise _bad(code, "is not a known language")
    subtag = re.split(r"[-_]", raw, maxsplit=1)[0].lower()
    alpha3 = iso639_3(subtag) or (lang.language if len(lang.language) == 3 else lang.to_alpha3())
    if KEY_RE.match(raw) and alpha3 == subtag:
        return raw  # what the user wrote, when it is already a key of a current ISO 639-3 code
    script = _script(lang, alpha3)
    if not script:
        raise LanguageCodeError(f"{code!r} has no known script: give it, e.g. '{alpha3}_Latn'")
    key = f"{alpha3}_{script}"
    if not KEY_RE.match(key):
        raise LanguageCodeError(f"{code!r} normalizes to {key!r}, which is not an xxx_Scrp key")
    return key


def is_key(value: str) -> bool:
    """True when `value` is already a well-formed `xxx_Scrp` key (no path characters possible)."""
    return isinstance(value, str) and bool(KEY_RE.match(value))


def script_of(key: str) -> str:
    """The ISO 15924 script of a key. Example: script_of("amh_Ethi") -> "Ethi"."""
    return normalize(key).split("_", 1)[1]


def display_name(key: str) -> str:
    """English name of a key's language (CLDR's). Example: display_name("nya_Latn") -> "Nyanja"."""
    return _lc.Language.get(normalize(key).split("_", 1)[0]).display_name()


NAMES_FILE = "data/translation.yaml"  # inside the polytune package: the prompt template and the `names:` table


def read_names_file(path: str | Path | None = None) -> dict[str, Any]:
    """A names file as a mapping, its `names:` keys normalized (default: polytune's data/translation.yaml); a file
    that is not a mapping reads as one without names.

    Example: read_names_file()["names"]["nya_Latn"] -> "Chichewa"

    Raises:
        ConfigError: `names:` is not a mapping of language keys to names (other fields are the caller's to check).
    """
    import yaml

    where = str(path) if path is not None else f"polytune/{NAMES_FILE}"
    source = Path(path) if path is not None else resources.files("polytune").joinpath(NAMES_FILE)
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):  # not a names file at all: no names (a caller needing more fields says so)
        return {"names": {}}
    names = data.get("names") or {}
    if not isinstance(names, dict):
        raise ConfigError(f"{where}: `names` must map language keys to names, e.g. nya_Latn: Chichewa")
    return {**data, "names": {normalize(k): str(v) for k, v in names.items()}}


@functools.lru_cache(maxsize=1)
def preferred_names() -> dict[str, str]:
    """The names polytune's data file gives where speakers' usage differs from CLDR's (nya_Latn: Chichewa)."""
    return dict(read_names_file()["names"])


def language_name(key: str, names: Mapping[str, str] | None = None) -> str:
    """What polytune calls a language: `names`' entry (default: polytune's data file), else CLDR's English name.

    Example: language_name("nya_Latn") -> "Chichewa"; language_name("nya_Latn", {}) -> "Nyanja";
    language_name("vie_Latn") -> "Vietnamese"
    """
    table = preferred_names() if names is None else names
    return table.get(key) or display_name(key)


def _cldr(code: str) -> str:
    try:
        return _lc.Language.get(code).language or code
    except (ValueError, LookupError):
        return code


@functools.lru_cache(maxsize=65536)
def same_language(a: str, b: str) -> bool:
    """True when keys `a` and `b` name the same language under the matching rule (see the module docstring).

    Example: same_language("swa_Latn", "swh_Latn") -> True; same_language("arb_Arab", "ary_Arab") -> False
    """
    if a == b:
        return True
    (la, sa), (lb, sb) = a.split("_", 1), b.split("_", 1)
    if sa != sb and frozenset((sa, sb)) not in _SCRIPT_ALIASES:
        return False
    return la == lb or macrolanguage(la) == lb or macrolanguage(lb) == la or _cldr(la) == _cldr(lb)


def match(key: str | None, wanted: Sequence[str]) -> str | None:
    """The wanted key that `key` counts for: itself when wanted, else the first matching one in order, else None.

    Example: match("swa_Latn", ["eng_Latn", "swh_Latn"]) -> "swh_Latn"
    """
    if key is None:
        return None
    if key in wanted:
        return key
    return next((w for w in wanted if same_language(key, w)), None)


def covers(languages: Iterable[str], key: str) -> bool:
    """True when any of `languages` (e.g. what a backend can predict) matches `key`.

    Example: covers({"swa_Latn", "eng_Latn"}, "swh_Latn") -> True
    """
    return key in languages or any(same_language(key, lang) for lang in languages)


def lookup(mapping: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A per-language value of `mapping` for `key` (exact key first, then a matching one, then '*', then default).

    Example: lookup({"swh_Latn": 0.7, "*": 0.5}, "swa_Latn") -> 0.7
    """
    if key in mapping:
        return mapping[key]
    found = match(key, [k for k in mapping if k != "*"])
    if found is not None:
        return mapping[found]
    return mapping.get("*", default)

"""Unicode scripts: which script a text is mostly written in, and whether that fits its language key.

A language key `xxx_Scrp` names its script (ISO 15924). Some script codes stand for several Unicode scripts
(`Jpan` = Han + Hiragana + Katakana, `Kore` = Hangul + Han); `EXPECTED` spells those out.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import regex

# ISO 15924 code -> Unicode script name (the `\p{Script=...}` value); letters of other scripts count as "other".
SCRIPTS: dict[str, str] = {
    "Latn": "Latin", "Cyrl": "Cyrillic", "Grek": "Greek", "Arab": "Arabic", "Hebr": "Hebrew", "Armn": "Armenian",
    "Geor": "Georgian", "Ethi": "Ethiopic", "Deva": "Devanagari", "Beng": "Bengali", "Guru": "Gurmukhi",
    "Gujr": "Gujarati", "Orya": "Oriya", "Taml": "Tamil", "Telu": "Telugu", "Knda": "Kannada", "Mlym": "Malayalam",
    "Sinh": "Sinhala", "Thai": "Thai", "Laoo": "Lao", "Tibt": "Tibetan", "Mymr": "Myanmar", "Khmr": "Khmer",
    "Hang": "Hangul", "Hira": "Hiragana", "Kana": "Katakana", "Hani": "Han", "Mong": "Mongolian", "Thaa": "Thaana",
    "Syrc": "Syriac", "Tfng": "Tifinagh", "Cher": "Cherokee", "Cans": "Canadian_Aboriginal", "Nkoo": "Nko",
    "Vaii": "Vai", "Adlm": "Adlam", "Olck": "Ol_Chiki",
}  # fmt: skip
# Script codes of language keys that mean more than one Unicode script.
EXPECTED: dict[str, tuple[str, ...]] = {
    "Jpan": ("Hani", "Hira", "Kana"), "Kore": ("Hang", "Hani"), "Hans": ("Hani",), "Hant": ("Hani",),
}  # fmt: skip
# Scripts written without spaces between words: words are split into characters there.
UNSPACED = frozenset({"Hani", "Hira", "Kana", "Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Jpan", "Hans", "Hant"})

_LETTER_RE = regex.compile(r"\p{L}")
_LETTER_RUN_RE = regex.compile(r"\p{L}+")
_CHAR_RE = regex.compile(r"[\p{L}\p{N}]")
_WORD_RE = regex.compile(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*")
_CHAR_PATTERNS = [(code, regex.compile(rf"\p{{Script={name}}}")) for code, name in SCRIPTS.items()]
# The same two patterns for ASCII texts, in the stdlib `re` (about twice as fast as `regex`'s property classes): among
# ASCII characters \p{L} is [A-Za-z], \p{N} is [0-9], \p{M} is empty, and ’ is not one of them.
_ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*")
_ASCII_CHAR_RE = re.compile(r"[A-Za-z0-9]")


@functools.lru_cache(maxsize=65536)
def char_script(char: str) -> str:
    """ISO 15924 code of a letter's script, "Zyyy" (common) for anything else. Example: char_script("ж") -> "Cyrl"."""
    for code, pattern in _CHAR_PATTERNS:
        if pattern.match(char):
            return code
    return "Zyyy"


def script_counts(text: str) -> Counter[str]:
    """Letters per script. Example: script_counts("Ab ж1") -> Counter({"Latn": 2, "Cyrl": 1})."""
    return Counter(char_script(ch) for ch in _LETTER_RE.findall(text))


def dominant_script(text: str) -> str | None:
    """The script most letters of `text` are written in (ties: alphabetical), None without letters."""
    counts = script_counts(text)
    if not counts:
        return None
    return min(counts, key=lambda code: (-counts[code], code))


def expected_scripts(lang: str) -> tuple[str, ...]:
    """Unicode scripts a language key allows. Example: expected_scripts("jpn_Jpan") -> ("Hani", "Hira", "Kana")."""
    code = lang.rpartition("_")[2]
    return EXPECTED.get(code, (code,))


@functools.lru_cache(maxsize=256)
def _script_patterns(lang: str) -> tuple[regex.Pattern, regex.Pattern] | None:
    """(a letter outside the expected scripts, a run of characters of them) for `lang`; None: script unknown."""
    names = "".join(rf"\p{{Script={SCRIPTS[c]}}}" for c in expected_scripts(lang) if c in SCRIPTS)
    if not names:
        return None
    return regex.compile(rf"(?V1)[\p{{L}}--[{names}]]"), regex.compile(rf"[{names}]+")


def script_matches(text: str, lang: str) -> tuple[bool, str]:
    """Whether the dominant script of `text` is one `lang` allows, and a detail line for a mismatch.

    Texts without letters and languages whose script polytune does not know pass (nothing to judge on).

    Example: script_matches("Привет", "eng_Latn") -> (False, "dominant script Cyrl, eng_Latn expects Latn")
    """
    patterns = _script_patterns(lang)
    if patterns is None:
        return True, ""
    foreign_letter, expected_run = patterns
    # Almost every text has no letter outside its expected scripts: searching for one (instead of listing every
    # letter, one string each) is the fast path, and without one every letter there is fits.
    if not foreign_letter.search(text):
        return True, ""
    letters = sum(map(len, _LETTER_RUN_RE.findall(text)))
    expected = sum(map(len, expected_run.findall(text)))  # characters of those scripts, letters or not
    if 2 * expected > letters:  # most letters are in an expected script
        return True, ""
    found = dominant_script(text)
    if found in expected_scripts(lang):
        return True, ""
    return False, f"dominant script {found}, {lang} expects {'/'.join(expected_scripts(lang))}"


def unspaced(lang: str | None) -> bool:
    """Whether the language's script is written without spaces (every character counts as a word).

    Example: unspaced("zho_Hans") -> True, unspaced("eng_Latn") -> False
    """
    return bool(lang) and lang.rpartition("_")[2] in UNSPACED


def split_words(text: str, lang: str | None) -> list[str]:
    """Words for quality filters, per language: characters in unspaced scripts, else runs of letters/digits.

    Example: split_words("Hello, world!", "eng_Latn") -> ["Hello", "world"]
    and split_words("你好", "zho_Hans") -> ["你", "好"]
    """
    plain = text.isascii()  # O(1): CPython strings know it
    if unspaced(lang):
        return (_ASCII_CHAR_RE if plain else _CHAR_RE).findall(text)
    return (_ASCII_WORD_RE if plain else _WORD_RE).findall(text)

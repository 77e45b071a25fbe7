"""Language keys: every language becomes `xxx_Scrp` (ISO 639-3 + ISO 15924), validated and path-safe.

Accepted spellings: ISO 639-1 (`sw`), ISO 639-3 (`swh`), BCP-47 (`zh-Hant-TW`, `pt_BR`), fastText labels
(`__label__en`), GlotLID/NLLB labels (`__label__swh_Latn`, `swh_Latn`).
"""

from __future__ import annotations

import functools
import re

import langcodes as _lc

from polytune.errors import LanguageCodeError

KEY_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_RAW_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_LABEL_PREFIX = "__label__"


@functools.lru_cache(maxsize=4096)
def normalize(code: str) -> str:
    """Return the `xxx_Scrp` key of a language code.

    Example: normalize("__label__ny") -> "nya_Latn"; normalize("ar") -> "ara_Arab"

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
        raise LanguageCodeError(f"{code!r} is not a language code: use ISO 639 like 'nya' or 'nya_Latn'")
    try:
        lang = _lc.Language.get(raw.replace("_", "-"))
    except (ValueError, LookupError) as exc:
        raise LanguageCodeError(f"{code!r} is not a language code: use ISO 639 like 'nya' or 'nya_Latn'") from exc
    if not lang.language or not lang.is_valid() or lang.language in {"und", "zxx", "mis", "mul"}:
        raise LanguageCodeError(f"{code!r} is not a known language: use ISO 639 like 'nya' or 'nya_Latn'")
    script = lang.script or lang.maximize().script
    if not script:
        raise LanguageCodeError(f"{code!r} has no known script: give it, e.g. '{lang.language}_Latn'")
    alpha3 = lang.language if len(lang.language) == 3 else _lc.Language.get(lang.language).to_alpha3()
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
    """English name of a key's language. Example: display_name("nya_Latn") -> "Nyanja"."""
    return _lc.Language.get(normalize(key).split("_", 1)[0]).display_name()

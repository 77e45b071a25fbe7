"""What the report says about each language beside its scores: script name, resource tier, seen in pretraining.

Tiers are the classes 0 (left behind) .. 5 (winners) of Joshi et al. (2020), "The State and Fate of Linguistic
Diversity and Inclusion in the NLP World" (ACL), transcribed by hand for a few dozen well-known languages only; a
language not listed shows "—". Whether a base model saw a language in pretraining depends on the model, so polytune
does not guess it: pass `lang_info` ({"nya_Latn": {"tier": 1, "seen": false}}) to fill or override both.

Example: describe("nya_Latn", {})["script"] -> "Latin"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polytune.errors import InputError
from polytune.langcodes import script_of

SCRIPTS = {
    "Latn": "Latin", "Arab": "Arabic", "Cyrl": "Cyrillic", "Grek": "Greek", "Hebr": "Hebrew", "Deva": "Devanagari",
    "Beng": "Bengali", "Taml": "Tamil", "Telu": "Telugu", "Knda": "Kannada", "Mlym": "Malayalam", "Gujr": "Gujarati",
    "Guru": "Gurmukhi", "Orya": "Odia", "Sinh": "Sinhala", "Thai": "Thai", "Laoo": "Lao", "Khmr": "Khmer",
    "Mymr": "Myanmar", "Tibt": "Tibetan", "Ethi": "Ethiopic", "Geor": "Georgian", "Armn": "Armenian",
    "Hans": "Han (Simplified)", "Hant": "Han (Traditional)", "Jpan": "Japanese", "Kore": "Korean", "Hang": "Hangul",
    "Tfng": "Tifinagh", "Cans": "Canadian Syllabics", "Thaa": "Thaana", "Syrc": "Syriac", "Mong": "Mongolian",
}  # fmt: skip

# Joshi et al. (2020) classes, by ISO 639-3 code (see the module docstring; a partial, hand-made transcription).
JOSHI_CLASS = {
    **dict.fromkeys(["eng", "spa", "fra", "deu", "jpn", "zho", "cmn", "arb", "ara"], 5),
    **dict.fromkeys(["rus", "vie", "kor", "ita", "por", "tur", "pol", "nld", "fin", "swe", "hin", "fas", "pes",
                     "ces", "hun", "cat"], 4),
    **dict.fromkeys(["ind", "ukr", "heb", "ben", "tha", "ron", "ell", "zsm", "msa", "urd", "afr", "slk", "slv",
                     "lit", "lav", "est", "bul", "tgl"], 3),
    **dict.fromkeys(["swh", "swa", "zul", "amh", "yor", "gle", "mlt", "mar"], 2),
}  # fmt: skip

TIER_SOURCE = "Joshi et al. (2020) class, partial hand transcription; override with lang_info"


def load_lang_info(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Read a user's {lang: {"tier": int, "seen": bool}} JSON file ({} when path is None).

    Raises:
        InputError: the file is missing or not such a JSON object.
    """
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"lang_info {path}: cannot read a JSON object ({exc}); fix the file") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError(f'lang_info {path}: expected {{lang: {{"tier": 2, "seen": true}}}}; fix the file')
    return data


def describe(lang: str, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """{"script", "tier", "seen"} of a language key; tier and seen are None when unknown."""
    script = script_of(lang)
    info = {"script": SCRIPTS.get(script, script), "tier": JOSHI_CLASS.get(lang.split("_")[0]), "seen": None}
    info.update({k: v for k, v in overrides.get(lang, {}).items() if k in ("tier", "seen")})
    return info

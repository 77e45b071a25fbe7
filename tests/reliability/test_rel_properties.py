"""Property tests (hypothesis): language-code normalization is idempotent and can never produce a path."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.errors import LanguageCodeError
from polytune.langcodes import KEY_RE, is_key, normalize

KNOWN = ["en", "ny", "nya", "ar", "sw", "swh", "pt-BR", "zh-Hant-TW", "pt_BR", "__label__en", "__label__swh_Latn",
         "nya_Latn", "srp_Cyrl", "amh", "vi", "ja", "ko", "th", "ru", "hi"]
PATHY = st.sampled_from(["/", "\\", "..", ".", "\x00", "~", ":", " "])
# Codes as users and models write them, damaged at random: letters, digits, separators, path characters.
CODES = st.one_of(
    st.sampled_from(KNOWN),
    st.text(alphabet=string.ascii_letters + string.digits + "-_./\\:~ \x00", max_size=20),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(KNOWN), PATHY, st.sampled_from(KNOWN + ["x", ""])),
    st.text(max_size=12),
)


def _try(code: str) -> str | None:
    try:
        return normalize(code)
    except LanguageCodeError:  # the only error a bad code may raise
        return None


@settings(max_examples=400, deadline=None)
@given(CODES)
def test_normalize_is_idempotent_and_never_yields_a_path(code):
    key = _try(code)
    if key is None:
        return
    assert KEY_RE.match(key) and is_key(key)
    assert not any(c in key for c in "/\\.:~ \x00")
    assert normalize(key) == key  # idempotent: a key normalizes to itself


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KNOWN), PATHY, st.text(alphabet=string.ascii_letters + "./", min_size=1, max_size=6))
def test_codes_carrying_path_characters_are_refused(code, sep, tail):
    assert _try(code + sep + tail) is None or sep in "-_"  # any "/", "\\", "..", ":" ... is refused


def test_known_spellings_agree():
    assert {normalize(c) for c in ("ny", "nya", "__label__ny", "nya_Latn", "NY")} == {"nya_Latn"}
    assert normalize("pt-BR") == normalize("pt_BR") == "por_Latn"

"""The filter's fast paths decide exactly as the plain formulas they replaced (issue 15's throughput work).

Each reference below is the one-string-per-character formula the filter used before: the non-letter fraction,
the script check's majority rule, the repetition filter's n-gram gate and the MinHash word hashes.
"""

from __future__ import annotations

import regex
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.corpus.dedup import MinHasher
from polytune.corpus.quality import NGRAM_MIN_WORDS, NonLetterFilter, RepetitionFilter
from polytune.corpus.scripts import dominant_script, expected_scripts, script_matches, split_words

# Letters of several scripts, marks, digits, punctuation and several kinds of space: the mixtures the fast paths
# must not misjudge.
ALPHABET = "abcxyzéñ ́ ̈жиب ت ً中文あア한ê 0123456789.,;!?-'’ \n\t\u00a0\u2003"
texts = st.text(alphabet=ALPHABET, max_size=80)
LANGS = ["eng_Latn", "rus_Cyrl", "arb_Arab", "jpn_Jpan", "kor_Kore", "zho_Hans", "vie_Latn", "xxx_Qaaa"]


def reference_non_letter(text: str, limit: float) -> bool:
    visible = len(text) - len(regex.findall(r"\s", text))
    if visible == 0:
        return True
    return 1 - len(regex.findall(r"[\p{L}\p{M}]", text)) / visible <= limit


def reference_script(text: str, lang: str) -> bool:
    from polytune.corpus.scripts import SCRIPTS

    names = [SCRIPTS[c] for c in expected_scripts(lang) if c in SCRIPTS]
    if not names:
        return True
    letters = len(regex.findall(r"\p{L}", text))
    if letters == 0:
        return True
    expected = len(regex.findall("[" + "".join(rf"\p{{Script={n}}}" for n in names) + "]", text))
    return 2 * expected > letters or dominant_script(text) in expected_scripts(lang)


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from([0.0, 0.2, 0.5, 0.8]))
def test_non_letter_fraction_matches_the_per_character_count(text, limit):
    assert (NonLetterFilter(limit).filter({"text": text}) is True) == reference_non_letter(text, limit)


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(LANGS))
def test_script_check_matches_the_majority_rule(text, lang):
    assert script_matches(text, lang)[0] == reference_script(text, lang)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "ab", "a-b", "x.y", "中", "中文"]), min_size=20, max_size=60),
       st.sampled_from(["", " "]), st.sampled_from(LANGS))  # fmt: skip
def test_repetition_length_gate_never_skips_a_long_enough_text(words, sep, lang):
    # The gate returns before splitting texts shorter than NGRAM_MIN_WORDS characters: such a text never holds
    # NGRAM_MIN_WORDS words (not even in a script split into characters), so the n-gram checks could not apply.
    text = sep.join(words)
    if len(split_words(text, lang)) >= NGRAM_MIN_WORDS:
        assert len(text) >= NGRAM_MIN_WORDS
    unspaced_spam = "买便宜的药" * 20  # 100 characters, 100 words in Chinese: long enough to be judged
    assert RepetitionFilter().filter({"text": unspaced_spam, "lang": "zho_Hans"})[1] == "repeated_ngrams"


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_cached_word_hashes_equal_direct_hashes(batch):
    hasher = MinHasher("eng_Latn", 8, 13)
    for text in batch + batch:  # the second pass reads the cache
        words = split_words(text.casefold(), "eng_Latn") or [text]
        assert hasher._word_hashes(text) == [xxhash.xxh64_intdigest(w.encode("utf-8", "surrogatepass")) for w in words]

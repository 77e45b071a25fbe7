"""The filter's fast paths decide exactly as the plain formulas they replaced (issue 15's throughput work).

Each reference below is the one-string-per-character formula the filter used before: the non-letter fraction,
the script check's majority rule, the repetition filter's n-gram checks (every text split and casefolded) and the
MinHash word hashes.
"""

from __future__ import annotations

import numpy as np
import regex
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from polytune.corpus.dedup import PRIME, MinHasher, _mod_prime
from polytune.corpus.quality import (
    DUP_NGRAM_CHAR_FRACTION,
    NGRAM_MIN_WORDS,
    TOP_NGRAM_CHAR_FRACTION,
    NonLetterFilter,
    RepetitionFilter,
    _chars_for_ngram_checks,
    _dup_ngram_fraction,
    _top_ngram_fraction,
    casefold_words,
)
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


def reference_repetition(text: str, lang: str) -> bool:
    """The n-gram half of the repetition filter as it was: split every text, casefold every word, then check."""
    words = [w.casefold() for w in split_words(text, lang)]
    if len(words) < NGRAM_MIN_WORDS:
        return True
    total = sum(len(w) for w in words)
    return all(_top_ngram_fraction(words, n, total) <= limit for n, limit in TOP_NGRAM_CHAR_FRACTION.items()) and all(
        _dup_ngram_fraction(words, n, total) <= limit for n, limit in DUP_NGRAM_CHAR_FRACTION.items())


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab1中 .'’é\u0301", max_size=200), st.sampled_from(LANGS))
def test_the_length_gate_never_skips_a_text_with_enough_words(text, lang):
    # The repetition filter skips texts shorter than the fewest characters NGRAM_MIN_WORDS words can take; the same
    # bound for any word count: one character a word unspaced, else 2n - 1 (words meet after `l'a` without a gap).
    n = len(split_words(text, lang))
    per_word = _chars_for_ngram_checks(lang) / NGRAM_MIN_WORDS
    assert len(text) >= (n if per_word == 1 else 2 * n - 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", "ab", "a-b", "x.y", "中", "中文", "Buy", "buy", "now", "l'a", "1"]),
                min_size=10,
                max_size=120), st.sampled_from(["", " "]), st.sampled_from(LANGS))  # fmt: skip
def test_repetition_verdict_matches_splitting_and_casefolding_every_text(words, sep, lang):
    # Single lines (the repeated-line half is unchanged); repetitive vocabularies, so both verdicts occur; "" as the
    # separator makes unspaced runs whose length gate must not skip a text of NGRAM_MIN_WORDS characters.
    text = sep.join(words)
    assert (RepetitionFilter().filter({"text": text, "lang": lang}) is True) == reference_repetition(text, lang)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), max_size=6),
                max_size=8))
def test_casefolding_the_joined_words_equals_casefolding_each(words):
    assert casefold_words(words) == [w.casefold() for w in words]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "cc", "d"]), max_size=60), st.integers(2, 9))
def test_no_repeated_n_gram_means_no_repeated_longer_one(words, n):
    # The lemma behind the repetition filter's early exit: a fraction of 0 at n stays 0 at every larger n.
    total = sum(map(len, words))
    for fraction in (_top_ngram_fraction, _dup_ngram_fraction):
        if fraction(words, n, total) == 0:
            assert all(fraction(words, m, total) == 0 for m in range(n + 1, 12))


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_cached_word_hashes_equal_direct_hashes(batch):
    hasher = MinHasher("eng_Latn", 8, 13)
    for text in batch + batch:  # the second pass reads the cache
        words = split_words(text.casefold(), "eng_Latn") or [text]
        assert hasher._word_hashes(text) == [xxhash.xxh64_intdigest(w.encode("utf-8", "surrogatepass")) for w in words]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50))
def test_the_division_free_modulo_equals_the_modulo(values):
    edges = [0, 1, PRIME - 1, PRIME, PRIME + 1, 2 * PRIME, 2**64 - 1]
    array = np.array(values + edges, dtype=np.uint64)
    assert _mod_prime(array.copy()).tolist() == [v % PRIME for v in values + edges]


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_ascii_split_and_word_bound_agree_with_the_unicode_regex(text):
    """The ASCII fast paths (stdlib re for the word split; the repetition filter's character-count bound) agree with
    the Unicode patterns they stand in for, on any ASCII text."""
    from polytune.corpus.quality import _surely_fewer_words

    reference = regex.findall(r"[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*", text)
    assert split_words(text, "eng_Latn") == reference
    assert split_words(text, "zho_Hans") == regex.findall(r"[\p{L}\p{N}]", text)
    if _surely_fewer_words(text, "eng_Latn"):
        assert len(reference) < NGRAM_MIN_WORDS

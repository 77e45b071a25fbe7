"""The augmentation operations: one dataclass each, a row of the registry's `augment_ops` table.

An operation's fields are its parameters (`params:` of an augment op in the config, checked by
`config.from_dict`: an unknown key is an error with "did you mean"); `build()` loads its lexicon or model and
returns `apply(records, rngs, seed)`, one new text (or None) per record. A new operation is a dataclass here (or in
its own module) plus one registry row. The model operations generate through `polytune.models.generation` (the path
prediction uses; models load under the weights policy, so `--allow-pickle` reaches them) and import torch lazily.
"""

from __future__ import annotations

import random
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polytune.corpus.lexicon import load_lexicon
from polytune.errors import ConfigError, InputError
from polytune.prompts import prompt_fields, render_prompt

_SENTENCE_END = re.compile(r"(?<=[.!?;።।؟。])\s+")
_WORD = re.compile(r"\w+")

Apply = Callable[[list[dict[str, Any]], list[random.Random], int], list[str | None]]


def shuffle_sentences(text: str, rng: random.Random) -> str | None:
    """The sentences of `text` in another order; None for a single sentence.

    Example: shuffle_sentences("A b. C d! E f?", Random(0)) -> "C d! E f? A b."
    """
    sentences = _SENTENCE_END.split(text.strip())
    if len(sentences) < 2:
        return None
    order = list(range(len(sentences)))
    rng.shuffle(order)
    if order == sorted(order):
        order = order[1:] + order[:1]  # a rotation always differs
    return " ".join(sentences[i] for i in order)


def swap_words(text: str, rng: random.Random, prob: float = 0.1) -> str | None:
    """Swap neighbouring words with probability `prob` each (at least one swap); None when nothing can change.

    Example: swap_words("a b c d", Random(1), 0.5) -> "b a c d"
    """
    words = text.split()
    if len(words) < 2:
        return None
    i, swapped = 0, False
    while i < len(words) - 1:
        if rng.random() < prob:
            words[i], words[i + 1] = words[i + 1], words[i]
            swapped, i = True, i + 2
        else:
            i += 1
    if not swapped:
        j = rng.randrange(len(words) - 1)
        words[j], words[j + 1] = words[j + 1], words[j]
    new = " ".join(words)
    return new if new != " ".join(text.split()) else None


def _match_case(word: str, new: str) -> str:
    if word.isupper() and len(word) > 1:
        return new.upper()
    return new[:1].upper() + new[1:] if word[:1].isupper() else new


def replace_words(text: str, table: dict[str, list[str]], rng: random.Random, prob: float = 0.2) -> str | None:
    """Replace words found in `table` (lowercase keys) with probability `prob` each, at least one; None if none is.

    Punctuation and spacing are kept; the replacement takes the case of the word it replaces.
    Example: replace_words("The big dog.", {"big": ["large"]}, Random(0)) -> "The large dog."
    """
    spans = [m for m in _WORD.finditer(text) if m.group().lower() in table]
    if not spans:
        return None
    chosen = [m for m in spans if rng.random() < prob] or [rng.choice(spans)]
    parts, last = [], 0
    for m in chosen:
        parts += [text[last:m.start()], _match_case(m.group(), rng.choice(table[m.group().lower()]))]
        last = m.end()
    return "".join([*parts, text[last:]])


@dataclass
class AugmentOperation(ABC):
    """Base of the operations: the dataclass fields are the parameters; a subclass fills `build`."""

    def __post_init__(self) -> None:
        prob = getattr(self, "prob", None)
        if prob is not None and not (isinstance(prob, (int, float)) and not isinstance(prob, bool) and 0 < prob <= 1):
            raise ConfigError(f"{self.name} prob must be in (0, 1], got {prob!r}")

    @property
    def name(self) -> str:
        """The operation's registry name (its class name in snake case)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()

    @abstractmethod
    def build(self) -> Apply:
        """Load what the operation needs and return its `apply(records, rngs, seed)`."""


def _per_text(one: Callable[[str, random.Random], str | None]) -> Apply:
    return lambda records, rngs, _seed: [one(r["text"], g) for r, g in zip(records, rngs, strict=True)]


@dataclass
class SentenceShuffle(AugmentOperation):
    """Sentences of a document in another order."""

    def build(self) -> Apply:
        return _per_text(shuffle_sentences)


@dataclass
class WordSwap(AugmentOperation):
    """Word-order noise: neighbouring words swapped with probability `prob`."""

    prob: float = 0.1

    def build(self) -> Apply:
        return _per_text(lambda text, rng: swap_words(text, rng, self.prob))


@dataclass
class Synonyms(AugmentOperation):
    """Words replaced by a synonym from a lexicon (TSV or TEI) with probability `prob`."""

    lexicon: str
    prob: float = 0.2

    def build(self) -> Apply:
        table = load_lexicon(self.lexicon)
        return _per_text(lambda text, rng: replace_words(text, table, rng, self.prob))


@dataclass
class CodeSwitch(AugmentOperation):
    """Words replaced by their translation from a bilingual dictionary (TSV or FreeDict TEI)."""

    dictionary: str
    prob: float = 0.2

    def build(self) -> Apply:
        table = load_lexicon(self.dictionary)
        return _per_text(lambda text, rng: replace_words(text, table, rng, self.prob))


@dataclass
class BackTranslation(AugmentOperation):
    """Through a seq2seq model folder (and back through `back_model`, for a paraphrase)."""

    model: str
    back_model: str | None = None
    prefix: str = ""
    back_prefix: str = ""
    num_beams: int = 1
    max_new_tokens: int = 64
    output_lang: str | None = None

    def build(self) -> Apply:
        from polytune.models.generation import Seq2SeqGenerator  # torch loads only when this operation is used

        options = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams}
        forward = Seq2SeqGenerator(self.model, prefix=self.prefix, **options)
        back = Seq2SeqGenerator(self.back_model, prefix=self.back_prefix, **options) if self.back_model else None

        def apply(records: list[dict[str, Any]], _rngs: list[random.Random], seed: int) -> list[str | None]:
            out = forward([r["text"] for r in records], seed)
            return back(out, seed) if back is not None else out

        return apply


@dataclass
class LmGenerate(AugmentOperation):
    """A continuation of the record's first `prefix_words` words by a causal LM folder."""

    model: str
    prompt: str = "{prefix}"
    prefix_words: int = 4
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_p: float = 0.95

    def build(self) -> Apply:
        from polytune.models.generation import CausalGenerator

        prompt_fields(self.prompt)  # a template over record fields (as task prompts): checked before the model loads
        lm = CausalGenerator(self.model, max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                             top_p=self.top_p)  # fmt: skip
        template, words = self.prompt, self.prefix_words

        def apply(records: list[dict[str, Any]], _rngs: list[random.Random], seed: int) -> list[str | None]:
            prefixes = [" ".join(r["text"].split()[:words]) for r in records]
            try:
                prompts = [render_prompt(template, {**r, "prefix": x})
                           for r, x in zip(records, prefixes, strict=True)]  # fmt: skip
            except InputError as exc:
                raise ConfigError(f"lm_generate prompt {template!r} names a field records lack: {exc}") from exc
            keep = "{prefix}" in template  # the new text starts with the source's words it was prompted with
            return [(f"{x} {c}" if keep else c) if c else None
                    for x, c in zip(prefixes, lm(prompts, seed), strict=True)]  # fmt: skip

        return apply

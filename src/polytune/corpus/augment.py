"""Augmentation: new train records from old ones, by named operations, each with a ratio; never from dev/test.

    sentence_shuffle   sentences of a document in another order
    word_swap          word-order noise: neighbouring words swapped with probability `prob`
    synonyms           words replaced by a synonym from a lexicon (TSV or TEI) with probability `prob`
    code_switch        words replaced by their translation from a bilingual dictionary (TSV or FreeDict TEI)
    back_translation   through a seq2seq model folder (and back through `back_model`, for a paraphrase)
    lm_generate        a continuation of the record's first words by a causal LM folder

Only records with `split: train` (and no `augmented_by`) are sources. An augmented record copies its source
(so it keeps the split and the labels), replaces `text`, and adds `augmented_by` (the operation) and `source_id`,
so evaluation and dedup can tell it apart. Each train record yields floor(ratio) new records per operation, plus
one more with probability frac(ratio), decided by a generator seeded by (seed, operation, language, id): the
choice does not depend on file order or batch size. The two model operations generate through
`polytune.models.generation` (the path prediction uses; models load under the weights policy, so
`--allow-pickle` reaches them) and import torch lazily; the text operations never load it.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune.config import AugmentConfig, AugmentOp
from polytune.corpus.lexicon import load_lexicon
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.io import atomic_path, iter_records, manifest, record_files, write_json
from polytune.prompts import prompt_fields, render_prompt

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?;።।؟。])\s+")
_WORD = re.compile(r"\w+")

# Parameters of each operation with their defaults; REQUIRED marks those without one.
REQUIRED = object()
PARAMS: dict[str, dict[str, Any]] = {
    "sentence_shuffle": {},
    "word_swap": {"prob": 0.1},
    "synonyms": {"lexicon": REQUIRED, "prob": 0.2},
    "code_switch": {"dictionary": REQUIRED, "prob": 0.2},
    "back_translation": {"model": REQUIRED, "back_model": None, "prefix": "", "back_prefix": "", "num_beams": 1,
                         "max_new_tokens": 64, "output_lang": None},  # fmt: skip
    "lm_generate": {"model": REQUIRED, "prompt": "{prefix}", "prefix_words": 4, "max_new_tokens": 48,
                    "temperature": 1.0, "top_p": 0.95},  # fmt: skip
}


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


Apply = Callable[[list[dict[str, Any]], list[random.Random], int], list[str | None]]


@dataclass
class Operation:
    """A configured operation: `apply(records, rngs, seed)` gives one new text (or None) per record."""

    name: str
    ratio: float
    params: dict[str, Any]
    apply: Apply


def _params(op: AugmentOp) -> dict[str, Any]:
    known = PARAMS[op.name]
    for key in op.params:
        if key not in known:
            raise ConfigError(f"{op.name}: unknown parameter {key!r}{did_you_mean(str(key), known)}")
    params = {**known, **op.params}
    missing = [k for k, v in params.items() if v is REQUIRED]
    if missing:
        raise ConfigError(f"{op.name} needs {', '.join(missing)} (e.g. params: {{{missing[0]}: PATH}})")
    if "prob" in params and not (isinstance(params["prob"], (int, float)) and 0 < params["prob"] <= 1):
        raise ConfigError(f"{op.name} prob must be in (0, 1], got {params['prob']!r}")
    return params


def _text_op(name: str, params: dict[str, Any]) -> Apply:
    one: Callable[[str, random.Random], str | None]
    if name == "sentence_shuffle":
        one = shuffle_sentences
    elif name == "word_swap":
        one = lambda text, rng: swap_words(text, rng, params["prob"])  # noqa: E731
    else:
        table = load_lexicon(params["lexicon"] if name == "synonyms" else params["dictionary"])
        one = lambda text, rng: replace_words(text, table, rng, params["prob"])  # noqa: E731
    return lambda records, rngs, _seed: [one(r["text"], g) for r, g in zip(records, rngs, strict=True)]


def _back_translation(p: dict[str, Any]) -> Apply:
    from polytune.models.generation import Seq2SeqGenerator  # torch loads only when this operation is used

    options = {"max_new_tokens": p["max_new_tokens"], "num_beams": p["num_beams"]}
    forward = Seq2SeqGenerator(p["model"], prefix=p["prefix"], **options)
    back = Seq2SeqGenerator(p["back_model"], prefix=p["back_prefix"], **options) if p["back_model"] else None

    def apply(records: list[dict[str, Any]], _rngs: list[random.Random], seed: int) -> list[str | None]:
        out = forward([r["text"] for r in records], seed)
        return back(out, seed) if back is not None else out

    return apply


def _lm_generate(p: dict[str, Any]) -> Apply:
    from polytune.models.generation import CausalGenerator

    prompt_fields(p["prompt"])  # a template over record fields, as task prompts are: checked before the model loads
    lm = CausalGenerator(p["model"], max_new_tokens=p["max_new_tokens"], temperature=p["temperature"],
                         top_p=p["top_p"])  # fmt: skip

    def apply(records: list[dict[str, Any]], _rngs: list[random.Random], seed: int) -> list[str | None]:
        prefixes = [" ".join(r["text"].split()[: p["prefix_words"]]) for r in records]
        try:
            prompts = [render_prompt(p["prompt"], {**r, "prefix": x})
                       for r, x in zip(records, prefixes, strict=True)]  # fmt: skip
        except InputError as exc:
            raise ConfigError(f"lm_generate prompt {p['prompt']!r} names a field records lack: {exc}") from exc
        keep = "{prefix}" in p["prompt"]  # the new text starts with the source's words it was prompted with
        return [(f"{x} {c}" if keep else c) if c else None for x, c in zip(prefixes, lm(prompts, seed), strict=True)]

    return apply


def build_operations(cfg: AugmentConfig) -> list[Operation]:
    """Check every operation's parameters and load its lexicon or model."""
    ops = []
    for op in cfg.ops:
        params = _params(op)
        if op.name == "back_translation":
            apply = _back_translation(params)
        elif op.name == "lm_generate":
            apply = _lm_generate(params)
        else:
            apply = _text_op(op.name, params)
        ops.append(Operation(op.name, op.ratio, params, apply))
    return ops


def _copies(op: Operation, rng: random.Random) -> int:
    whole = math.floor(op.ratio)
    return whole + (rng.random() < op.ratio - whole)


def _augment_batch(batch: list[dict[str, Any]], ops: list[Operation], cfg: AugmentConfig, counts: Counter):
    """Yield the new records made from the eligible records of `batch`, operation by operation."""
    for op in ops:
        picks, rngs = [], []
        for record in batch:
            rng = random.Random(f"{cfg.seed}:{op.name}:{record.get('lang')}:{record['id']}")
            for k in range(_copies(op, rng)):
                picks.append((record, k))
                rngs.append(rng)
        if not picks:
            continue
        seed = random.Random(f"{cfg.seed}:{op.name}:{picks[0][0]['id']}").randrange(2**31)
        for (record, k), text in zip(picks, op.apply([r for r, _ in picks], rngs, seed), strict=True):
            if not text or text == record["text"]:
                counts[f"{op.name}.skipped"] += 1
                continue
            new = {**record, "id": f"{record['id']}#{op.name}.{k}", "text": text, "augmented_by": op.name,
                   "source_id": record["id"]}  # fmt: skip
            if op.name == "back_translation" and op.params["output_lang"]:
                new.update(lang=op.params["output_lang"], source_text=record["text"])
            counts[op.name] += 1
            yield new


def _eligible(record: dict[str, Any], cfg: AugmentConfig) -> bool:
    lang_ok = not cfg.langs or record.get("lang") in cfg.langs
    return record.get("split") == "train" and "augmented_by" not in record and lang_ok


def _augment_file(file: Path, target: Path, ops: list[Operation], cfg: AugmentConfig, counts: Counter) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:

        def flush(batch: list[dict[str, Any]]) -> None:
            for new in _augment_batch(batch, ops, cfg, counts):
                handle.write(json.dumps(new, ensure_ascii=False, sort_keys=True) + "\n")

        batch: list[dict[str, Any]] = []
        for record in iter_records(file):
            counts["records"] += 1
            handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            if _eligible(record, cfg):
                counts["sources"] += 1
                batch.append(record)
            if len(batch) == cfg.batch_size:
                flush(batch)
                batch = []
        flush(batch)


def run_augment(cfg: AugmentConfig) -> dict[str, Any]:
    """Copy every record of `cfg.input` to `cfg.out` (same layout, as .jsonl) and add the augmented ones.

    Returns:
        Counts: records read, train sources, records made per operation and `<op>.skipped` (nothing to change,
        e.g. a single sentence to shuffle, or no lexicon word).

    Raises:
        InputError: the input has no record, or no train record to augment.
        ConfigError: an operation's parameter is unknown, missing or invalid.
        ModelError: a model operation's folder is missing or cannot load.
    """
    files = record_files(cfg.input)
    ops = build_operations(cfg)
    counts: Counter = Counter()
    root = cfg.input if cfg.input.is_dir() else cfg.input.parent
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        for file in files:
            relative = file.relative_to(root)
            name = relative.name.removesuffix(".gz").rsplit(".", 1)[0] + ".jsonl"
            _augment_file(file, tmp / relative.parent / name, ops, cfg, counts)
        if not counts["sources"]:
            raise InputError(f"no train records to augment under {cfg.input}: records need split 'train'"
                             + (f" and lang in {cfg.langs}" if cfg.langs else ""))  # fmt: skip
        lexicons = [op.params.get("lexicon") or op.params.get("dictionary") for op in ops]
        info = {"ops": [{"name": op.name, "ratio": op.ratio, "params": op.params} for op in ops]}
        write_json(tmp / "manifest.json", manifest("augment", cfg, [cfg.input, *filter(None, lexicons)],
                                                   dict(sorted(counts.items())), **info))  # fmt: skip
    return dict(sorted(counts.items()))

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
choice does not depend on file order or batch size. The two model operations (augment_ops.py) generate through
`polytune.models.generation` and import torch lazily; the text operations never load it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.config import AugmentConfig, AugmentOp, from_dict, is_required
from polytune.corpus.augment_ops import (  # noqa: F401  (the text operations, re-exported)
    Apply,
    AugmentOperation,
    replace_words,
    shuffle_sentences,
    swap_words,
)
from polytune.errors import ConfigError, InputError
from polytune.io import atomic_path, iter_records, manifest, record_files, write_json

log = logging.getLogger(__name__)


@dataclass
class Operation:
    """A configured operation: `apply(records, rngs, seed)` gives one new text (or None) per record."""

    name: str
    ratio: float
    params: dict[str, Any]
    apply: Apply


def operation(op: AugmentOp) -> AugmentOperation:
    """The registered operation of `op.name` with `op.params` (its parameters, checked as dataclass fields).

    Raises:
        ConfigError: a required parameter is missing, or one is unknown (with "did you mean") or invalid.
    """
    cls = registry.load("augment_ops", op.name)
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in op.params and is_required(f)]
    if missing:
        raise ConfigError(f"{op.name} needs {', '.join(missing)} (e.g. params: {{{missing[0]}: PATH}})")
    return from_dict(cls, op.params, op.name, noun="parameter")


def build_operations(cfg: AugmentConfig) -> list[Operation]:
    """Check every operation's parameters and load its lexicon or model."""
    ops = []
    for op in cfg.ops:
        configured = operation(op)
        ops.append(Operation(op.name, op.ratio, dataclasses.asdict(configured), configured.build()))
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

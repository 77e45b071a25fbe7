"""Predictions of the task types beyond classification: tags per word (token classification) and generated text
(seq2seq and causal-LM prompted generation, through `models.generation`, the one generation path), batched, on
the model's device.

The inputs are built like training builds them (`polytune.prompts`), from the fields the task adapter's manifest
records. Like `predict.py`, this module imports torch; the rest of `evaluation/` stays free of it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from polytune.errors import InputError
from polytune.models.generation import generate_causal, generate_seq2seq
from polytune.prompts import render_prompt, template_for

log = logging.getLogger(__name__)


def _words(record: dict[str, Any], field: str) -> list[str]:
    words = record[field].split() if isinstance(record[field], str) else record[field]
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise InputError(f"record {record.get('id')}: {field!r} must be a text or a list of words, got {words!r:.60}")
    return words


@torch.no_grad()
def tag_words(model: Any, tokenizer: Any, words: list[list[str]], labels: list[str], batch_size: int,
              max_length: int) -> list[list[str]]:  # fmt: skip
    """One tag per word: the tag predicted at the word's first subword.

    A word without a subword position (cut off by max_length, or one the tokenizer drops) is tagged "O" when "O"
    is a label (else the first label), so every prediction lines up with its words.
    """
    device = next(model.parameters()).device
    fallback = "O" if "O" in labels else labels[0]
    out, missing = [], 0
    for i in range(0, len(words), batch_size):
        chunk = words[i : i + batch_size]
        enc = tokenizer(chunk, is_split_into_words=True, truncation=True, max_length=max_length, padding=True,
                        return_tensors="pt")  # fmt: skip
        best = model(**{k: v.to(device) for k, v in enc.items()}).logits.argmax(-1).tolist()
        for row, sentence in enumerate(chunk):
            tags, seen = [fallback] * len(sentence), set()
            for position, word in enumerate(enc.word_ids(row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    tags[word] = labels[best[row][position]]
            missing += len(sentence) - len(seen)
            out.append(tags)
    if missing:
        log.warning("%d words had no subword within max_length=%d: tagged %r", missing, max_length, fallback)
    return out


def predict_records(model: Any, tokenizer: Any, labels: list[str] | None, meta: dict[str, Any],
                    records: list[dict[str, Any]], cfg: Any) -> list[Any]:  # fmt: skip
    """Predictions of a token-classification or generation task adapter for `records`: tag lists or texts.

    Args:
        model: the composed model (`models.load_task_model`).
        tokenizer: its tokenizer.
        labels: tag names by id (token classification), else None.
        meta: the task adapter's manifest (task, text_field, prompt).
        records: eval records.
        cfg: the EvalConfig (batch_size, max_length, generation settings).
    """
    task = meta["task"]
    if task == "token_classification":
        words = [_words(r, meta.get("text_field", "text")) for r in records]
        return tag_words(model, tokenizer, words, labels or [], cfg.batch_size, cfg.max_length)
    template = template_for(task, meta.get("text_field", "text"), meta.get("prompt"))
    prompts = [render_prompt(template, r) for r in records]
    if task == "seq2seq":
        return generate_seq2seq(model, tokenizer, prompts, cfg)
    return generate_causal(model, tokenizer, prompts, cfg)

"""Predictions of the task types beyond classification: tags per word (token classification) and generated text
(seq2seq and causal-LM prompted generation), batched, on the model's device.

The inputs are built like training builds them (`polytune.prompts`), from the fields the task adapter's manifest
records. Like `predict.py`, this module imports torch; the rest of `evaluation/` stays free of it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from polytune.errors import InputError
from polytune.prompts import decoder_special_ids, keep_end, pad_id, prompt_ids, render_prompt, template_for

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


def generation_options(cfg: Any, pad: int | None, eos: int | None) -> dict[str, Any]:
    """`generate()` keyword arguments from an EvalConfig: greedy (num_beams 1) or beam search, deterministic."""
    options = {"do_sample": False, "num_beams": cfg.num_beams, "max_new_tokens": cfg.max_new_tokens}
    if cfg.num_beams > 1:
        options["length_penalty"] = cfg.length_penalty
    if cfg.no_repeat_ngram_size:
        options["no_repeat_ngram_size"] = cfg.no_repeat_ngram_size
    if pad is not None:
        options["pad_token_id"] = pad
    if eos is not None:
        options["eos_token_id"] = eos
    return options


def _by_length(items: list[list[int]], batch_size: int) -> list[list[int]]:
    """Batches of indices, longest first: rows of similar length pad little."""
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def generate_seq2seq(model: Any, tokenizer: Any, sources: list[str], cfg: Any) -> list[str]:
    """Hypotheses of an encoder-decoder for `sources` (cfg: batch_size, max_length and the generation settings)."""
    device = next(model.parameters()).device
    ids = tokenizer(sources, truncation=True, max_length=cfg.max_length)["input_ids"]
    pad = pad_id(tokenizer, model.config)
    options = generation_options(cfg, pad, None)
    out: list[str] = [""] * len(sources)
    for batch in _by_length(ids, cfg.batch_size):
        width = max(len(ids[i]) for i in batch)
        input_ids = torch.tensor([ids[i] + [pad] * (width - len(ids[i])) for i in batch], device=device)
        mask = torch.tensor([[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in batch], device=device)
        generated = model.generate(input_ids=input_ids, attention_mask=mask, **options)
        for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
            out[i] = text.strip()
    return out


@torch.no_grad()
def generate_causal(model: Any, tokenizer: Any, prompts: list[str], cfg: Any) -> list[str]:
    """Answers of a decoder to rendered `prompts`: left-padded batches, the continuation after the prompt only."""
    device = next(model.parameters()).device
    bos, eos, pad = decoder_special_ids(tokenizer, model.config)
    # The prompt keeps its end (which leads into the answer) when it is too long, as in training.
    ids = [keep_end(prompt_ids(tokenizer, p, bos), cfg.max_length, bos) for p in prompts]
    options = generation_options(cfg, pad, eos)
    out: list[str] = [""] * len(prompts)
    for batch in _by_length(ids, cfg.batch_size):
        width = max(len(ids[i]) for i in batch)
        # Left padding: every row's prompt ends at the last column, where generation continues.
        input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in batch], device=device)
        mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in batch], device=device)
        generated = model.generate(input_ids=input_ids, attention_mask=mask, **options)[:, width:]
        for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
            out[i] = text.strip()
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

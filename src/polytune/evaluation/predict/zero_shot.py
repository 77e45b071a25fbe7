"""A decoder base answering a benchmark by itself (no task adapter): each system is the base, or the base with its
language adapter merged (`lm.load_lm`), reading the benchmark's prompt (`_benchmark.yaml`, or the language file's
own) rendered over each record.

- log-likelihood choice (classification, multiple choice): the label whose continuation (`choices`) has the highest
  summed log-probability after the prompt, or per UTF-8 byte (`normalize: bytes`) when continuations differ in
  length; the continuation is tokenized on its own (it starts with its space), as lm-evaluation-harness scores it.
- prompted generation (translation): greedy decoding through `models.generation`, the first line kept.

Like the rest of `evaluation/predict/`, this imports torch. Example: predict_zero_shot(cfg, info, None, records,
"nya_Latn") -> ["2", "4", ...]
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from polytune.errors import ConfigError
from polytune.evaluation.benchmarks.spec import load_benchmark, resolve_languages
from polytune.evaluation.predict.lm import _batches, _pad, load_lm, start_id
from polytune.models.generation import generate_causal
from polytune.prompts import decoder_special_ids, keep_end, prompt_ids, render_prompt

log = logging.getLogger(__name__)

ZERO_SHOT = ("loglik_choice", "prompted_generation")  # task-input names predict() dispatches here
LOGITS_BUDGET = 2**28  # logits one forward pass may hold (rows x positions x vocabulary): 1 GiB in float32
_LOADED: dict[tuple[str, str | None], Any] = {}  # the last model loaded: one base serves every language


def zero_shot_inputs(benchmark: str) -> dict[str, Any]:
    """What predict() reads about a benchmark answered by the base: task, text field, label field, prompt."""
    from polytune import registry

    spec = load_benchmark(benchmark)
    task = registry.load("benchmark_tasks", spec.task)
    label = task().label_field(spec)
    return {"task": task.zero_shot, "text_field": "text", "label_field": label, "prompt": spec.prompt}


def _model(base: str, lang_adapter: Path | None) -> tuple[Any, Any]:
    key = (base, None if lang_adapter is None else str(lang_adapter))
    if key not in _LOADED:
        _LOADED.clear()
        model, tokenizer, objective = load_lm(base, lang_adapter)
        if objective != "clm":
            raise ConfigError(f"{base} is a {objective} model: only a decoder answers a benchmark without a task "
                              "adapter; give task_adapter")  # fmt: skip
        _LOADED[key] = (model, tokenizer)
    return _LOADED[key]


@torch.no_grad()
def continuation_logprobs(model: Any, tokenizer: Any, pairs: list[tuple[str, str]], batch_size: int,
                          max_length: int) -> list[float]:  # fmt: skip
    """Summed log-probability of each continuation given its context: log p(continuation | context).

    The context starts with the tokenizer's bos (when it has one) and keeps its end when context + continuation pass
    `max_length` tokens; an empty context is the start token alone. Rows of similar length are batched, right-padded.

    Example: continuation_logprobs(model, tok, [("The capital of France is", " Paris")], 8, 64) -> [-3.2]
    """
    device = next(model.parameters()).device
    bos, _, pad = decoder_special_ids(tokenizer, model.config)
    rows = []
    for context, continuation in pairs:
        ids = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        ctx = keep_end(prompt_ids(tokenizer, context, bos), max(1, max_length - len(ids)), bos)
        rows.append((ctx or [start_id(tokenizer)], list(ids)))
    out = [0.0] * len(rows)
    lengths, vocab = [len(c) + len(x) for c, x in rows], len(tokenizer)
    for batch in _batches(lengths, batch_size):
        fit = max(1, LOGITS_BUDGET // (max(lengths[i] for i in batch) * vocab))  # long passages: fewer rows a pass
        for chunk in (batch[k : k + fit] for k in range(0, len(batch), fit)):
            _score(model, rows, chunk, pad, device, out)
    return out


def _score(model: Any, rows: list[tuple[list[int], list[int]]], batch: list[int], pad: int, device: Any,
           out: list[float]) -> None:  # fmt: skip
    """out[i] = log p(continuation | context) for the rows of one batch (right-padded: padding follows the text)."""
    input_ids, mask = _pad([rows[i][0] + rows[i][1] for i in batch], pad, device)
    logits = model(input_ids=input_ids, attention_mask=mask).logits
    for row, i in enumerate(batch):
        start, target = len(rows[i][0]), rows[i][1]
        scores = logits[row, start - 1 : start - 1 + len(target)].float().log_softmax(-1)
        out[i] = float(scores.gather(-1, torch.tensor(target, device=device)[:, None]).sum())


def choose(model: Any, tokenizer: Any, records: list[dict[str, Any]], prompt: str, choices: dict[str, str],
           normalize: str, cfg: Any) -> list[str]:  # fmt: skip
    """The label of each record whose continuation scores highest after its rendered prompt (ties: the first)."""
    labels = list(choices)
    contexts = [render_prompt(prompt, r) for r in records]
    pairs = [(context, choices[label]) for context in contexts for label in labels]
    scores = continuation_logprobs(model, tokenizer, pairs, cfg.batch_size, cfg.max_length)
    if normalize == "bytes":
        scores = [s / max(1, len(c.encode("utf-8"))) for s, (_, c) in zip(scores, pairs, strict=True)]
    k = len(labels)
    return [labels[max(range(k), key=lambda j, i=i: scores[i * k + j])] for i in range(len(records))]


def predict_zero_shot(cfg: Any, info: dict[str, Any], lang_adapter: Path | None, records: list[dict[str, Any]],
                      lang: str) -> list[str]:  # fmt: skip
    """Predictions of the base (with `lang_adapter` merged) for one language's benchmark records.

    Raises:
        ConfigError: the base is no decoder.
        ModelError: the base or the adapter cannot be loaded.
        InputError: a record lacks a field the prompt reads.
    """
    spec = load_benchmark(cfg.benchmark)
    entry = resolve_languages(spec, [lang])[lang]
    prompt = entry.prompt or spec.prompt
    model, tokenizer = _model(cfg.base, lang_adapter)
    if info["task"] == "loglik_choice":
        return choose(model, tokenizer, records, prompt, entry.choices or spec.choices, spec.normalize, cfg)
    texts = generate_causal(model, tokenizer, [render_prompt(prompt, r) for r in records], cfg)
    return [text.strip().split("\n", 1)[0].strip() for text in texts]

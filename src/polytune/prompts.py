"""Inputs of generation tasks, shared by training (`adapters/`) and prediction (`evaluation/predict/`) so that
both build exactly the same token ids for a record: prompt templates and the special ids a decoder needs.

No torch here: these helpers work on strings, records and tokenizers.
"""

from __future__ import annotations

import string
from typing import Any

from polytune.errors import ConfigError, InputError, ModelError


def prompt_fields(template: str) -> list[str]:
    """The record fields a prompt template reads. Example: prompt_fields("{text}\\nAnswer:") -> ["text"].

    Raises:
        ConfigError: the template does not parse, has a positional or formatted placeholder, or none at all.
    """
    if not isinstance(template, str):
        raise ConfigError(f"prompt must be a text template such as '{{text}}\\nAnswer:', got {template!r}")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"prompt {template!r} is not a template: {exc}; write {{{{ and }}}} for braces") from exc
    fields = [name for _, name, _, _ in parsed if name is not None]
    bad = [name for _, name, spec, conv in parsed if name is not None and (not name.isidentifier() or spec or conv)]
    if bad or not fields:
        raise ConfigError(f"prompt {template!r} needs {{field}} placeholders naming record fields, e.g. '{{text}}'")
    return fields


def template_for(task: str, text_field: str, prompt: str | None) -> str:
    """The prompt template a task uses: `prompt`, else the text field alone (seq2seq) or on its own line (causal).

    Example: template_for("causal_lm", "text", None) -> "{text}\\n"
    """
    if prompt is not None:
        return prompt
    return f"{{{text_field}}}\n" if task == "causal_lm" else f"{{{text_field}}}"


def render_prompt(template: str, record: dict[str, Any]) -> str:
    """The template filled from the record's fields. Example: render_prompt("Q: {text}", {"text": "hi"}) -> "Q: hi".

    Raises:
        InputError: the record lacks a field the template names.
    """
    missing = [name for name in prompt_fields(template) if name not in record]
    if missing:
        raise InputError(
            f"record {record.get('id')} has no {missing[0]!r} field, which the prompt {template!r} reads; "
            "fix the prompt or the records"
        )
    return template.format_map({name: str(record[name]) for name in prompt_fields(template)})


def decoder_special_ids(tokenizer: Any, config: Any) -> tuple[int | None, int, int]:
    """(bos, eos, pad) ids for prompted training and generation with a decoder-only model.

    bos is None when the tokenizer has none (GPT-2's is its eos: it is used); eos comes from the tokenizer, else
    the model config; pad falls back to eos (padded positions are masked, their id never matters).

    Raises:
        ModelError: neither the tokenizer nor the config names an end-of-sequence token.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        eos = getattr(config, "eos_token_id", None)
        eos = eos[0] if isinstance(eos, list) and eos else eos
    if eos is None:
        raise ModelError(
            f"{getattr(config, 'model_type', 'the base')} has no end-of-sequence token in its tokenizer or config; "
            "set eos_token in the tokenizer so generation knows where an answer ends"
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return tokenizer.bos_token_id, int(eos), int(pad)


def prompt_ids(tokenizer: Any, text: str, bos: int | None) -> list[int]:
    """Token ids of a rendered prompt: bos (when the model has one) + the text without other special tokens."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ([bos] if bos is not None else []) + list(ids)


def keep_end(ids: list[int], keep: int, bos: int | None) -> list[int]:
    """The last `keep` ids of a prompt (its end leads into the answer), a leading bos kept in front: decoders such
    as Llama expect it at position 0. Example: keep_end([1, 5, 6, 7], 3, bos=1) -> [1, 6, 7]"""
    if len(ids) <= keep:
        return ids
    head = ids[:1] if bos is not None and ids[:1] == [bos] else []
    return head + ids[len(ids) - (keep - len(head)) :]


def pad_id(tokenizer: Any, config: Any) -> int:
    """The padding id of an encoder-decoder: the tokenizer's, else the model config's, else 0 (padding is masked
    out of attention and loss, so any id serves)."""
    for pad in (tokenizer.pad_token_id, getattr(config, "pad_token_id", None)):
        if pad is not None:
            return int(pad)
    return 0

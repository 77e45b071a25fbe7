"""Generation task adapters: LoRA on the base's own LM head, no new head.

- seq2seq (T5, Marian, BART, ...): the rendered prompt (by default the text field) is the encoder input, the
  label field the target; labels are the target ids, padded with -100.
- causal_lm (GPT-2, Llama, ...): bos + prompt + target + eos in one sequence; the loss covers the target and eos
  only (prompt labels -100), so the adapter learns to answer, not to reproduce prompts.

The prompt template is recorded in the manifest; prediction renders records through the same `polytune.prompts`
helpers, so training and inference see identical ids.
"""

from __future__ import annotations

import logging

from polytune.adapters import methods
from polytune.adapters.data import causal_dataset, pad_collator, seq2seq_dataset
from polytune.adapters.losses import TokenCrossEntropy
from polytune.adapters.methods import wrap_peft
from polytune.adapters.tasks.base import TaskRun, dev_loss, model_and_tokenizer
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError
from polytune.models import load_task_base
from polytune.prompts import decoder_special_ids, pad_id, prompt_ids, render_prompt, template_for

log = logging.getLogger(__name__)


def _targets(records: list[dict], field: str) -> list[str]:
    """The target texts; an empty or non-string target is an InputError naming the record."""
    bad = next((r for r in records if not isinstance(r[field], str) or not r[field].strip()), None)
    if bad is not None:
        raise InputError(
            f"record {bad.get('id')}: target {field!r} is {bad[field]!r:.60}; generation needs a non-empty text "
            "(set label_field to the target text field)"
        )
    return [r[field] for r in records]


def _with_dev_loss(run: TaskRun, batch_size: int, plain: TokenCrossEntropy) -> TaskRun:
    run.dev_before = lambda: {"dev_loss_before": dev_loss(run, batch_size, plain)}
    run.dev_metrics = lambda: {"dev_loss_after": dev_loss(run, batch_size, plain)}
    run.dev_score = ("dev_loss", lambda: dev_loss(run, batch_size, plain), False)
    return run


def seq2seq_run(cfg: TaskAdapterConfig, train: list[dict], dev: list[dict]) -> TaskRun:
    """LoRA (peft SEQ_2_SEQ_LM) on an encoder-decoder: prompt -> target.

    Raises:
        InputError: a record lacks a prompt field or has an empty target.
        ModelError: the base is not an encoder-decoder.
    """
    model, tokenizer = model_and_tokenizer(cfg, load_task_base(cfg.base, "seq2seq"))
    peft_model = wrap_peft(model, methods.peft_config(cfg, task_type="SEQ_2_SEQ_LM"))
    template = template_for(cfg.task, cfg.text_field, cfg.prompt)
    data = {
        name: seq2seq_dataset(
            tokenizer,
            [render_prompt(template, r) for r in records],
            _targets(records, cfg.label_field),
            cfg.max_length,
        )
        for name, records in (("train", train), ("dev", dev))
    }
    loss = TokenCrossEntropy(label_smoothing=cfg.label_smoothing, feed_labels=True)
    collator = pad_collator(pad_id(tokenizer, model.config))
    run = TaskRun(peft_model, tokenizer, data["train"], data["dev"], collator, loss)
    return _with_dev_loss(run, cfg.batch_size, TokenCrossEntropy(feed_labels=True))


def causal_lm_run(cfg: TaskAdapterConfig, train: list[dict], dev: list[dict]) -> TaskRun:
    """LoRA (peft CAUSAL_LM) on a decoder: bos + prompt + target + eos, loss on target + eos only.

    Raises:
        InputError: a record lacks a prompt field or has an empty target.
        ModelError: the base is not decoder-only, or has no end-of-sequence token.
    """
    model, tokenizer = model_and_tokenizer(cfg, load_task_base(cfg.base, "causal_lm"))
    bos, eos, pad = decoder_special_ids(tokenizer, model.config)
    peft_model = wrap_peft(model, methods.peft_config(cfg, task_type="CAUSAL_LM"))
    template = template_for(cfg.task, cfg.text_field, cfg.prompt)
    data = {
        name: causal_dataset(
            tokenizer,
            [prompt_ids(tokenizer, render_prompt(template, r), bos) for r in records],
            _targets(records, cfg.label_field),
            eos,
            cfg.max_length,
            bos,
        )
        for name, records in (("train", train), ("dev", dev))
    }
    loss = TokenCrossEntropy(label_smoothing=cfg.label_smoothing, shift=True)
    run = TaskRun(peft_model, tokenizer, data["train"], data["dev"], pad_collator(pad), loss)
    run.meta = {"special_ids": {"bos": bos, "eos": eos, "pad": pad}}
    return _with_dev_loss(run, cfg.batch_size, TokenCrossEntropy(shift=True))

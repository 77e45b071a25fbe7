"""Task adapters trained on the source language, optionally on top of its language adapter (MAD-X stacking:
train with the source LA frozen, swap in a target LA at inference).

One entry point for every task type: the type's run builder (a registry row: classification.py,
token_classification.py, generation.py, regression.py beside this module) makes a `TaskRun`; training, early
stopping, saving and the manifest are shared here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.adapters import lineage, methods, tracking
from polytune.adapters.data import load_split
from polytune.adapters.early_stop import early_stopping
from polytune.adapters.loop import fit
from polytune.adapters.saving import process_state, save_adapter
from polytune.adapters.tasks.base import TaskRun
from polytune.config import TaskAdapterConfig
from polytune.errors import ConfigError
from polytune.io import manifest
from polytune.logs import SUMMARY
from polytune.models import (
    config_hash,
    tokenizer_hash,
)
from polytune.prompts import template_for

log = logging.getLogger(__name__)


def _parent(cfg: TaskAdapterConfig, train: list[dict]) -> dict[str, Any] | None:
    """The --from parent's manifest, checked (kind, base, task type), after refusing leaked test records."""
    if not cfg.from_adapter:
        return None
    if cfg.task != "sequence_classification":
        raise ConfigError(f"--from continues sequence_classification task adapters, not {cfg.task}")
    parent = lineage.read_parent(cfg.from_adapter, "task", cfg.base)
    lineage.check_leak(parent, cfg.from_adapter, train)
    return parent


def train_task_adapter(cfg: TaskAdapterConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a task adapter of cfg.task on the train split of cfg.lang and measure it on the dev split.

    sequence_classification and token_classification train LoRA + a head over the labels (saved in labels.json);
    seq2seq and causal_lm train LoRA on the base's own LM head. The manifest records the task type and the record
    fields, so `polytune eval` runs the adapter without repeating them. With eval_every, the dev metric of the task
    (accuracy, entity F1, dev loss) is measured every N steps, training stops after `patience` measurements without
    improvement, and the best step's weights are the ones saved (history and best step in the manifest).

    Args:
        cfg: the task adapter config.
        callbacks: more training callbacks (`loop.fit`), run after early stopping, which logs its measurement
            under the dev metric's name (e.g. a tuning trial's pruner reads it).

    Returns:
        Summary: out, task, steps, loss_first, loss_last, train_records, the dev metrics of the task
        (dev_accuracy; dev_f1, dev_tag_accuracy; dev_loss_before/after), for labeled tasks labels and, with
        eval_every, best_step (the step whose weights were kept; the dev metrics are measured on them).

    Raises:
        InputError: no training records, records without the fields, fewer than two labels, malformed tags.
        ModelError: missing/corrupt base, or a base without the model class the task needs.
    """
    from transformers import set_seed

    methods.check_options(cfg)  # before anything loads
    tracking.tracker_names(cfg.report_to)
    set_seed(cfg.seed)
    fields = {"label_field": cfg.label_field, "text_field": cfg.text_field}
    limit = cfg.max_train_records
    if cfg.task in ("seq2seq", "causal_lm"):  # the prompt template names the input fields instead
        fields["text_field"] = None
        if limit is None:  # no label set to cover: read what the steps can see, spread over the split
            limit = cfg.max_steps * cfg.batch_size * cfg.gradient_accumulation_steps * process_state().num_processes
    train = load_split(cfg.input, cfg.lang, "train", limit, **fields)
    dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records, **fields)
    parent = _parent(cfg, train)
    run = registry.load("task_types", cfg.task)(cfg, train, dev)  # a task type's run builder
    before = run.dev_before() if run.dev_before is not None else {}
    stopper = _stopper(cfg, run)
    losses = fit(run.model, run.train_data, run.collator, cfg, loss=run.loss,
                 callbacks=([stopper] if stopper else []) + list(callbacks or []))
    stopping = _restore_best(stopper, len(losses))
    after = run.dev_metrics() if run.dev_metrics is not None else {}
    log.info("task adapter (%s): dev %s", cfg.task, ", ".join(f"{k} {v:.4f}" for k, v in {**before, **after}.items()),
             extra=SUMMARY)  # fmt: skip

    summary = {
        "out": str(cfg.out),
        "task": cfg.task,
        "steps": len(losses),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        **before,
        **after,
        **run.info,
        "train_records": len(train),
        **({"best_step": stopping["best_step"]} if stopping else {}),
    }
    meta = manifest(
        "adapt.task",
        cfg,
        inputs=[Path(cfg.input) / cfg.lang],
        counts={"train_records": len(train), "dev_records": len(dev), **_label_count(run)},
        adapter="task",
        **methods.manifest_fields(methods.method_of_parent(cfg, parent)),
        task=cfg.task,
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(run.tokenizer),
        lang=cfg.lang,
        steps=len(losses),
        text_field=cfg.text_field,
        label_field=cfg.label_field,
        **_generation_fields(cfg),
        lang_adapter=None if cfg.lang_adapter is None else str(cfg.lang_adapter),
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses},
        early_stopping=stopping,
        test_records=lineage.test_records(cfg.input, cfg.lang),
        **({"lineage": lineage.lineage(parent, cfg.from_adapter, cfg, train, cfg.input)} if parent else {}),
        **before,
        **after,
        **run.meta,
    )
    save_adapter(cfg.out, run.model, None, run.files, meta)
    log.info("saved task adapter to %s", cfg.out, extra=SUMMARY)
    return summary


def _stopper(cfg: TaskAdapterConfig, run: TaskRun) -> Any:
    """The early-stopping callback on the task's dev metric (keeping the best weights), or None without eval_every."""
    if not cfg.eval_every or run.dev_score is None:
        return None
    name, measure, higher = run.dev_score
    return early_stopping(run.model, measure, cfg.eval_every, cfg.patience, name, higher, keep_best=True)


def _restore_best(stopper: Any, steps: int) -> dict[str, Any] | None:
    """Put the best measured weights back (the saved adapter is the best step's); the manifest's record of it."""
    if stopper is None:
        return None
    stopper.restore_best()
    return {**stopper.summary(), "steps": steps}


def _label_count(run: TaskRun) -> dict[str, int]:
    return {"labels": len(run.info["labels"])} if "labels" in run.info else {}


def _generation_fields(cfg: TaskAdapterConfig) -> dict[str, Any]:
    """Manifest fields that prediction needs to build the same inputs: the prompt template, the tag scheme."""
    if cfg.task == "token_classification":
        return {"tag_scheme": cfg.tag_scheme}
    if cfg.task in ("seq2seq", "causal_lm"):
        return {"prompt": template_for(cfg.task, cfg.text_field, cfg.prompt)}
    return {}

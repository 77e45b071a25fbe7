"""Task adapters trained on the source language, optionally on top of its language adapter (MAD-X stacking:
train with the source LA frozen, swap in a target LA at inference).

One entry point for every task type: each type builds a `TaskRun` (peft model, data, collator, loss, dev
metrics); sequence classification lives here, token classification in `token_tasks.py`, seq2seq and causal-LM
generation in `generation.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from polytune import registry
from polytune.adapters import lineage
from polytune.adapters.data import classification_dataset, load_split
from polytune.adapters.early_stop import early_stopping
from polytune.adapters.trainer import device_of, fit, lora_config, save_adapter, wrap_peft
from polytune.config import TaskAdapterConfig
from polytune.errors import ConfigError, InputError
from polytune.io import manifest, read_json
from polytune.models import (
    config_hash,
    load_sequence_classifier,
    load_tokenizer,
    merge_language_adapter,
    tokenizer_hash,
)
from polytune.prompts import template_for

log = logging.getLogger(__name__)


@torch.no_grad()
def _accuracy(model: Any, dataset: Any, collator: Any, batch_size: int) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(dataset), batch_size):
        batch = collator(list(dataset.select(range(i, min(i + batch_size, len(dataset))))))
        batch = {k: v.to(device_of(model)) for k, v in batch.items()}
        correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
    model.train()
    return correct / len(dataset)


def read_class_weights(path: str | Path, label_field: str, labels: list[str]) -> list[float]:
    """Per-label loss weights, in `labels` order, from a class_weights.json (or its folder) of the balance stage.

    The file is {"label_field", "method", "weights": {label: w}, "counts"}; a label it does not list weighs 1.

    Raises:
        InputError: unreadable file, another label field, or a weight that is not a positive number.
    """
    path = Path(path) / "class_weights.json" if Path(path).is_dir() else Path(path)
    data = read_json(path, "class_weights.json")
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        raise InputError(f"{path} has no 'weights' object {{label: weight}}; rebuild it with the balance stage")
    if data.get("label_field") not in (None, label_field):
        raise InputError(
            f"{path} weighs {data.get('label_field')!r} labels, but the task trains on {label_field!r}; "
            "use the class_weights.json of this label field"
        )
    weights = data["weights"]
    bad = [k for k, w in weights.items() if not isinstance(w, (int, float)) or isinstance(w, bool) or w <= 0]
    if bad:
        raise InputError(f"{path}: weight of {bad[0]!r} is {weights[bad[0]]!r}; weights must be positive numbers")
    unknown = sorted(set(weights) - set(labels))
    if unknown:
        log.warning("%s weighs labels absent from the train split: %s", path, unknown[:5])
    return [float(weights.get(label, 1.0)) for label in labels]


def weighted_loss(weights: list[float] | None, label_smoothing: float, shift: bool = False, feed_labels: bool = False):
    """A `loss(model, inputs)` for `fit`: cross-entropy with class weights and label smoothing over labels != -100.

    Args:
        weights: a loss weight per label id, or None.
        label_smoothing: cross-entropy label smoothing.
        shift: causal LMs predict position t+1 at t: logits and labels are shifted against each other.
        feed_labels: pass labels to the model (encoder-decoders build their decoder inputs from them).
    """

    def loss(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = inputs["labels"]
        logits = model(**(inputs if feed_labels else {k: v for k, v in inputs.items() if k != "labels"})).logits
        if shift:
            logits, labels = logits[:, :-1], labels[:, 1:]
        weight = None if weights is None else torch.tensor(weights, device=logits.device)
        return torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), weight=weight,
            label_smoothing=label_smoothing, ignore_index=-100,
        )  # fmt: skip

    return loss


@torch.no_grad()
def dev_loss(run: TaskRun, batch_size: int, shift: bool = False) -> float:
    """Mean cross-entropy per labeled token (labels != -100) of the run's model over its dev set."""
    model = run.model
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(run.dev_data), batch_size):
        batch = run.collator(list(run.dev_data.select(range(i, min(i + batch_size, len(run.dev_data))))))
        batch = {k: v.to(device_of(model)) for k, v in batch.items()}
        labels = batch["labels"]
        logits = model(**(batch if run.feed_labels else {k: v for k, v in batch.items() if k != "labels"})).logits
        if shift:
            logits, labels = logits[:, :-1], labels[:, 1:]
        flat = logits.float().reshape(-1, logits.shape[-1])
        total += float(torch.nn.functional.cross_entropy(flat, labels.reshape(-1), reduction="sum"))
        count += int((labels != -100).sum())
    model.train()
    return total / count if count else float("nan")


@dataclass
class TaskRun:
    """What one task type prepares for training: the peft model, its data and how to measure it on dev."""

    model: Any
    tokenizer: Any
    train_data: Any
    dev_data: Any
    collator: Any
    loss: Any = None
    dev_metrics: Callable[[], dict[str, float]] | None = None  # after training
    dev_before: Callable[[], dict[str, float]] | None = None  # before training (the untrained start)
    feed_labels: bool = False
    # (name, measure, higher_is_better): the dev metric early stopping watches (eval_every).
    dev_score: tuple[str, Callable[[], float], bool] | None = None
    files: dict[str, Any] = field(default_factory=dict)  # extra JSON files of the adapter folder
    info: dict[str, Any] = field(default_factory=dict)  # summary and manifest additions
    meta: dict[str, Any] = field(default_factory=dict)  # manifest-only additions


def model_and_tokenizer(cfg: TaskAdapterConfig, model: Any) -> tuple[Any, Any]:
    """The model with the source language adapter merged (MAD-X) when cfg has one, and the tokenizer to use."""
    if cfg.lang_adapter is not None:
        # MAD-X: the source LA is merged (so frozen) under the task LoRA; inference swaps in a target LA.
        return merge_language_adapter(model, cfg.base, cfg.lang_adapter)
    return model, load_tokenizer(cfg.base)


def sequence_classification_run(cfg: TaskAdapterConfig, train: list[dict], dev: list[dict]) -> TaskRun:
    from transformers import DataCollatorWithPadding

    labels = sorted({str(r[cfg.label_field]) for r in train})
    if len(labels) < 2:
        raise InputError(f"{cfg.label_field!r} has a single value {labels} in the train split; a task needs two")
    model, tokenizer = model_and_tokenizer(cfg, load_sequence_classifier(cfg.base, labels))
    # task_type SEQ_CLS makes peft train and save the classifier as modules_to_save; BERT-style models also feed
    # it through a pooler, which belongs to the head (left frozen, a random or NSP-trained pooler starves it).
    pooler = ["pooler"] if getattr(getattr(model, model.base_model_prefix, None), "pooler", None) is not None else None
    if cfg.from_adapter:  # --from: the parent's LoRA, classifier and pooler, over the same labels
        _same_labels(cfg.from_adapter, labels)
        peft_model = lineage.load_parent(model, cfg.from_adapter)
    else:
        peft_model = wrap_peft(model, lora_config(cfg, task_type="SEQ_CLS", modules_to_save=pooler))
    collator = DataCollatorWithPadding(tokenizer)
    texts = {"train": train, "dev": dev}
    data = {k: classification_dataset(tokenizer, v, cfg.label_field, labels, cfg.max_length, cfg.text_field)
            for k, v in texts.items()}  # fmt: skip
    weights = read_class_weights(cfg.class_weights, cfg.label_field, labels) if cfg.class_weights else None
    loss = weighted_loss(weights, cfg.label_smoothing) if weights is not None or cfg.label_smoothing else None
    run = TaskRun(peft_model, tokenizer, data["train"], data["dev"], collator, loss)
    run.dev_metrics = lambda: {"dev_accuracy": _accuracy(peft_model, run.dev_data, collator, cfg.batch_size)}
    run.dev_score = ("dev_accuracy", lambda: _accuracy(peft_model, run.dev_data, collator, cfg.batch_size), True)
    run.files = {"labels.json": labels}
    run.info = {"labels": labels}
    run.meta = {"class_weights": None if weights is None else dict(zip(labels, weights, strict=True))}
    return run


def _same_labels(parent: str, labels: list[str]) -> None:
    """A continued classifier keeps its label ids: the new train split must have the parent's labels."""
    path = Path(parent) / "labels.json"
    theirs = read_json(path, "labels.json") if path.is_file() else None
    if theirs != labels:
        raise InputError(f"the new train split has labels {labels}, the parent {parent} {theirs}; --from needs the "
                         "same labels")


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

    set_seed(cfg.seed)
    fields = {"label_field": cfg.label_field, "text_field": cfg.text_field}
    if cfg.task in ("seq2seq", "causal_lm"):  # the prompt template names the input fields instead
        fields["text_field"] = None
    train = load_split(cfg.input, cfg.lang, "train", cfg.max_train_records, **fields)
    dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records, **fields)
    parent = _parent(cfg, train)
    run = registry.load("task_types", cfg.task)(cfg, train, dev)  # a task type's run builder
    before = run.dev_before() if run.dev_before is not None else {}
    stopper = _stopper(cfg, run)
    losses = fit(run.model, run.train_data, run.collator, cfg, loss=run.loss,
                 callbacks=([stopper] if stopper else []) + list(callbacks or []))
    stopping = _restore_best(stopper, len(losses))
    after = run.dev_metrics() if run.dev_metrics is not None else {}
    log.info("task adapter (%s): dev %s", cfg.task, ", ".join(f"{k} {v:.4f}" for k, v in {**before, **after}.items()))

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
    log.info("saved task adapter to %s", cfg.out)
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

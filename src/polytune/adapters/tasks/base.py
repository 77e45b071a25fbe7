"""What every task type builds on: `TaskRun` (what one type hands the shared training step: peft model, data,
collator, loss, dev metrics), the class-weighted / label-smoothed loss, the dev loss, and the base model with the
source language adapter merged in (MAD-X stacking).

Example: run = TaskRun(peft_model, tokenizer, train_data, dev_data, collator, weighted_loss(None, 0.1))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.trainer import device_of
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError
from polytune.io import read_json
from polytune.models import (
    load_tokenizer,
    merge_language_adapter,
)

log = logging.getLogger(__name__)


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

"""What every task type builds on: `TaskRun` (what one type hands the shared training step: peft model, data,
collator, loss, dev metrics), class weights, the dev loss, and the base model with the source language adapter
merged in (MAD-X stacking).

Example: run = TaskRun(peft_model, tokenizer, train_data, dev_data, collator, TokenCrossEntropy(None, 0.1))
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytune.adapters.losses import Loss, mean_loss
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


def dev_loss(run: TaskRun, batch_size: int, loss: Loss) -> float:
    """Mean `loss` per unit (labeled token or example) of the run's model over its dev set. Give the plain loss
    (no class weights, no label smoothing) so that dev losses compare across settings."""
    batches = [run.collator(list(run.dev_data.select(range(i, min(i + batch_size, len(run.dev_data))))))
               for i in range(0, len(run.dev_data), batch_size)]  # fmt: skip
    return mean_loss(loss, run.model, batches)


@dataclass
class TaskRun:
    """What one task type prepares for training: the peft model, its data and how to measure it on dev."""

    model: Any
    tokenizer: Any
    train_data: Any
    dev_data: Any
    collator: Any
    loss: Loss
    dev_metrics: Callable[[], dict[str, float]] | None = None  # after training
    dev_before: Callable[[], dict[str, float]] | None = None  # before training (the untrained start)
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

"""Task adapters: LoRA + a classification head trained on the source language, optionally on top of its
language adapter (MAD-X stacking: train with the source LA frozen, swap in a target LA at inference).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.data import classification_dataset, load_split
from polytune.adapters.trainer import device_of, fit, lora_config, save_adapter, wrap_peft
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError
from polytune.io import manifest, read_json
from polytune.models import (
    config_hash,
    load_sequence_classifier,
    load_tokenizer,
    merge_language_adapter,
    tokenizer_hash,
)

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


def weighted_loss(weights: list[float] | None, label_smoothing: float):
    """A `loss(model, inputs)` for `fit`: cross-entropy with class weights and label smoothing."""

    def loss(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(**{k: v for k, v in inputs.items() if k != "labels"}).logits
        weight = None if weights is None else torch.tensor(weights, device=logits.device)
        return torch.nn.functional.cross_entropy(
            logits.float(), inputs["labels"], weight=weight, label_smoothing=label_smoothing
        )

    return loss


def train_task_adapter(cfg: TaskAdapterConfig) -> dict[str, Any]:
    """Train a task adapter (LoRA + classifier head) on the train split of cfg.lang; report dev accuracy.

    Args:
        cfg: the task adapter config.

    Returns:
        Summary: out, steps, loss_first, loss_last, dev_accuracy, labels, train_records.

    Raises:
        InputError: no training records, records without the label field, or fewer than two labels.
        ModelError: missing/corrupt base.
    """
    from transformers import DataCollatorWithPadding, set_seed

    set_seed(cfg.seed)
    train = load_split(cfg.input, cfg.lang, "train", cfg.max_train_records, label_field=cfg.label_field)
    dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records, label_field=cfg.label_field)
    labels = sorted({str(r[cfg.label_field]) for r in train})
    if len(labels) < 2:
        raise InputError(f"{cfg.label_field!r} has a single value {labels} in the train split; a task needs two")
    model = load_sequence_classifier(cfg.base, labels)
    if cfg.lang_adapter is not None:
        # MAD-X: the source LA is merged (so frozen) under the task LoRA; inference swaps in a target LA.
        model, tokenizer = merge_language_adapter(model, cfg.base, cfg.lang_adapter)
    else:
        tokenizer = load_tokenizer(cfg.base)
    # task_type SEQ_CLS makes peft train and save the classifier as modules_to_save; BERT-style models also feed
    # it through a pooler, which belongs to the head (left frozen, a random or NSP-trained pooler starves it).
    pooler = ["pooler"] if getattr(getattr(model, model.base_model_prefix, None), "pooler", None) is not None else None
    peft_model = wrap_peft(model, lora_config(cfg, task_type="SEQ_CLS", modules_to_save=pooler))
    collator = DataCollatorWithPadding(tokenizer)
    dev_data = classification_dataset(tokenizer, dev, cfg.label_field, labels, cfg.max_length)
    weights = read_class_weights(cfg.class_weights, cfg.label_field, labels) if cfg.class_weights else None
    loss = weighted_loss(weights, cfg.label_smoothing) if weights is not None or cfg.label_smoothing else None
    train_data = classification_dataset(tokenizer, train, cfg.label_field, labels, cfg.max_length)
    losses = fit(peft_model, train_data, collator, cfg, loss=loss)
    accuracy = _accuracy(peft_model, dev_data, collator, cfg.batch_size)
    log.info("task adapter: dev accuracy %.3f over %d labels", accuracy, len(labels))

    summary = {
        "out": str(cfg.out),
        "steps": len(losses),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "dev_accuracy": accuracy,
        "labels": labels,
        "train_records": len(train),
    }
    meta = manifest(
        "adapt.task",
        cfg,
        inputs=[Path(cfg.input) / cfg.lang],
        counts={"train_records": len(train), "dev_records": len(dev), "labels": len(labels)},
        adapter="task",
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(tokenizer),
        lang=cfg.lang,
        steps=len(losses),
        label_field=cfg.label_field,
        lang_adapter=None if cfg.lang_adapter is None else str(cfg.lang_adapter),
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses},
        dev_accuracy=accuracy,
        class_weights=None if weights is None else dict(zip(labels, weights, strict=True)),
    )
    save_adapter(cfg.out, peft_model, None, {"labels.json": labels}, meta)
    log.info("saved task adapter to %s", cfg.out)
    return summary

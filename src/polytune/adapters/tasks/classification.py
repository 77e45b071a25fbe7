"""The sequence classification task type: LoRA (or another method) + a classifier head; dev accuracy.

Example: run = sequence_classification_run(cfg, train_records, dev_records)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from polytune.adapters import lineage, methods
from polytune.adapters.data import classification_dataset
from polytune.adapters.losses import TokenCrossEntropy
from polytune.adapters.methods import wrap_peft
from polytune.adapters.tasks.base import TaskRun, model_and_tokenizer, read_class_weights
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError
from polytune.io import read_json
from polytune.models import load_sequence_classifier
from polytune.models.devices import device_of


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


def _same_labels(parent: str, labels: list[str]) -> None:
    """A continued classifier keeps its label ids: the new train split must have the parent's labels."""
    path = Path(parent) / "labels.json"
    theirs = read_json(path, "labels.json") if path.is_file() else None
    if theirs != labels:
        raise InputError(f"the new train split has labels {labels}, the parent {parent} {theirs}; --from needs the "
                         "same labels")


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
        peft_model = wrap_peft(model, methods.peft_config(cfg, model, task_type="SEQ_CLS", modules_to_save=pooler))
    collator = DataCollatorWithPadding(tokenizer)
    texts = {"train": train, "dev": dev}
    data = {k: classification_dataset(tokenizer, v, cfg.label_field, labels, cfg.max_length, cfg.text_field)
            for k, v in texts.items()}  # fmt: skip
    weights = read_class_weights(cfg.class_weights, cfg.label_field, labels) if cfg.class_weights else None
    loss = TokenCrossEntropy(weights, cfg.label_smoothing)
    run = TaskRun(peft_model, tokenizer, data["train"], data["dev"], collator, loss)
    run.dev_metrics = lambda: {"dev_accuracy": _accuracy(peft_model, run.dev_data, collator, cfg.batch_size)}
    run.dev_score = ("dev_accuracy", lambda: _accuracy(peft_model, run.dev_data, collator, cfg.batch_size), True)
    run.files = {"labels.json": labels}
    run.info = {"labels": labels}
    run.meta = {"class_weights": None if weights is None else dict(zip(labels, weights, strict=True))}
    return run

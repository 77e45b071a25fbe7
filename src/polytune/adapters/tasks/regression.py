"""Regression task adapters (a float label per record, e.g. a rating or a similarity score): LoRA + a
sequence-classification head with one output (problem_type "regression"), trained with the mean squared error.

labels.json holds one name, the label field, so the head has one output and loads like a classifier's.

Example: float_label({"id": "a", "score": "3.5"}, "score") -> 3.5
"""

from __future__ import annotations

import math
from typing import Any

import torch

from polytune.adapters import methods
from polytune.adapters.data import tokenize
from polytune.adapters.losses import SquaredError
from polytune.adapters.methods import wrap_peft
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError
from polytune.models import load_sequence_classifier
from polytune.models.devices import device_of


def float_label(record: dict[str, Any], field: str) -> float:
    """A record's label as a finite float (a number or a numeric string; not a bool).

    Raises:
        InputError: naming the record, the field and the value.
    """
    value = record[field]
    try:
        if isinstance(value, bool) or isinstance(value, list | dict):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(
            f"record {record.get('id')}: {field!r} is {value!r:.40}, not a number; a regression task needs a float "
            "label (or use task sequence_classification)"
        )
    return number


def regression_dataset(tokenizer: Any, records: list[dict[str, Any]], cfg: TaskAdapterConfig) -> Any:
    """A `datasets.Dataset` of input_ids and float labels."""
    from datasets import Dataset

    labels = [float_label(r, cfg.label_field) for r in records]
    ids = tokenize(tokenizer, [str(r[cfg.text_field]) for r in records], cfg.max_length)
    return Dataset.from_dict({"input_ids": ids, "labels": labels})


@torch.no_grad()
def predict_floats(model: Any, dataset: Any, collator: Any, batch_size: int) -> list[float]:
    """The head's output for every row of `dataset`, in order."""
    model.eval()
    out: list[float] = []
    for i in range(0, len(dataset), batch_size):
        batch = collator(list(dataset.select(range(i, min(i + batch_size, len(dataset))))))
        batch = {k: v.to(device_of(model)) for k, v in batch.items() if k != "labels"}
        out += model(**batch).logits.float().squeeze(-1).tolist()
    model.train()
    return out


def dev_errors(model: Any, dataset: Any, collator: Any, batch_size: int) -> dict[str, float]:
    """dev_rmse and dev_pearson (NaN when either side is constant) of the model on the dev set."""
    import numpy as np

    preds, gold = np.array(predict_floats(model, dataset, collator, batch_size)), np.array(dataset["labels"])
    rmse = float(np.sqrt(np.mean((preds - gold) ** 2)))
    constant = preds.std() == 0 or gold.std() == 0
    return {"dev_rmse": rmse, "dev_pearson": math.nan if constant else float(np.corrcoef(preds, gold)[0, 1])}


def regression_run(cfg: TaskAdapterConfig, train: list[dict], dev: list[dict]) -> Any:
    """The TaskRun of a regression task adapter (see `tasks.train_task_adapter`)."""
    from transformers import DataCollatorWithPadding

    from polytune.adapters.tasks import TaskRun, model_and_tokenizer

    for record in train + dev:  # every label checked before the model loads
        float_label(record, cfg.label_field)
    head = load_sequence_classifier(cfg.base, [cfg.label_field])
    head.config.problem_type = "regression"
    model, tokenizer = model_and_tokenizer(cfg, head)
    pooler = ["pooler"] if getattr(getattr(model, model.base_model_prefix, None), "pooler", None) is not None else None
    peft_model = wrap_peft(model, methods.peft_config(cfg, model, task_type="SEQ_CLS", modules_to_save=pooler))
    collator = DataCollatorWithPadding(tokenizer)
    run = TaskRun(peft_model, tokenizer, regression_dataset(tokenizer, train, cfg),
                  regression_dataset(tokenizer, dev, cfg), collator, SquaredError())  # fmt: skip
    run.dev_metrics = lambda: dev_errors(peft_model, run.dev_data, collator, cfg.batch_size)
    run.dev_before = lambda: {f"{k}_before": v for k, v in run.dev_metrics().items()}
    run.dev_score = ("dev_rmse", lambda: run.dev_metrics()["dev_rmse"], False)
    run.files = {"labels.json": [cfg.label_field]}
    run.meta = {"problem_type": "regression"}
    return run

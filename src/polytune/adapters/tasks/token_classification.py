"""Token classification task adapters (NER and other tagging): LoRA + a token-classification head.

Records carry words and one tag per word (IOB2 or BIOES). Subword labels follow the first-subword rule: the
first subword of a word carries its tag, the others and the special tokens -100 (`data.align_labels`), so a
prediction reads one tag per word off the first subwords.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from polytune.adapters import methods
from polytune.adapters.data import pad_collator, token_classification_dataset, words_and_tags
from polytune.adapters.losses import TokenCrossEntropy
from polytune.adapters.methods import wrap_peft
from polytune.adapters.tasks.base import TaskRun, dev_loss, model_and_tokenizer, read_class_weights
from polytune.config import TaskAdapterConfig
from polytune.errors import InputError, ModelError
from polytune.models import load_task_base
from polytune.models.devices import device_of

log = logging.getLogger(__name__)


@torch.no_grad()
def _tag_scores(run: TaskRun, labels: list[str], scheme: str, batch_size: int) -> dict[str, float]:
    """Dev entity F1 (seqeval strict, in the adapter's scheme) and tag accuracy over first subwords.

    Words cut off by max_length have no label position and are left out of both.
    """
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2, IOBES

    model = run.model
    model.eval()
    gold, pred = [], []
    for i in range(0, len(run.dev_data), batch_size):
        batch = run.collator(list(run.dev_data.select(range(i, min(i + batch_size, len(run.dev_data))))))
        batch = {k: v.to(device_of(model)) for k, v in batch.items()}
        best = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.argmax(-1)
        for row_labels, row_best in zip(batch["labels"].tolist(), best.tolist(), strict=True):
            kept = [(g, p) for g, p in zip(row_labels, row_best, strict=True) if g != -100]
            gold.append([labels[g] for g, _ in kept])
            pred.append([labels[p] for _, p in kept])
    model.train()
    tags = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred, strict=True) for a, b in zip(g, p, strict=True))
    f1 = f1_score(gold, pred, mode="strict", scheme=IOB2 if scheme == "IOB2" else IOBES, zero_division=0)
    return {"dev_f1": float(f1), "dev_tag_accuracy": right / tags if tags else float("nan")}


def tag_set(records: list[dict[str, Any]], cfg: TaskAdapterConfig) -> list[str]:
    """Sorted tag names of the training records (checked against the scheme), "O" first.

    Raises:
        InputError: see `data.words_and_tags`; fewer than two distinct tags.
    """
    tags = {t for r in records for t in words_and_tags(r, cfg.text_field, cfg.label_field, cfg.tag_scheme)[1]}
    if len(tags) < 2:
        raise InputError(f"{cfg.label_field!r} holds a single tag {sorted(tags)} in the train split; tag entities")
    return sorted(tags, key=lambda t: (t != "O", t))


def token_classification_run(cfg: TaskAdapterConfig, train: list[dict], dev: list[dict]) -> TaskRun:
    """LoRA + token-classification head (peft TOKEN_CLS saves the head) over the tags of the train split.

    Raises:
        InputError: malformed tagging records, a dev tag absent from the train split.
        ModelError: a base without a token-classification class or without a fast tokenizer.
    """
    labels = tag_set(train, cfg)
    model, tokenizer = model_and_tokenizer(cfg, load_task_base(cfg.base, "token_classification", labels))
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"token_classification needs a fast tokenizer (word_ids); {cfg.base} has a slow one")
    peft_model = wrap_peft(model, methods.peft_config(cfg, task_type="TOKEN_CLS"))
    fields = (cfg.text_field, cfg.label_field)
    data = {k: token_classification_dataset(tokenizer, v, fields, labels, cfg.tag_scheme, cfg.max_length)
            for k, v in (("train", train), ("dev", dev))}  # fmt: skip
    weights = read_class_weights(cfg.class_weights, cfg.label_field, labels) if cfg.class_weights else None
    loss = TokenCrossEntropy(weights, cfg.label_smoothing)
    run = TaskRun(peft_model, tokenizer, data["train"], data["dev"], pad_collator(tokenizer.pad_token_id or 0), loss)
    plain = TokenCrossEntropy()
    run.dev_before = lambda: {"dev_loss_before": dev_loss(run, cfg.batch_size, plain)}
    run.dev_metrics = lambda: {"dev_loss_after": dev_loss(run, cfg.batch_size, plain),
                               **_tag_scores(run, labels, cfg.tag_scheme, cfg.batch_size)}  # fmt: skip
    run.dev_score = ("dev_f1", lambda: _tag_scores(run, labels, cfg.tag_scheme, cfg.batch_size)["dev_f1"], True)
    run.files = {"labels.json": labels}
    run.info = {"labels": labels}
    run.meta = {"class_weights": None if weights is None else dict(zip(labels, weights, strict=True))}
    log.info("token classification: %d tags, %d train records", len(labels), len(train))
    return run

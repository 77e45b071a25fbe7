"""Train language adapters (LoRA + new embedding rows, masked LM) and task adapters (LoRA + classifier head).

This is the MAD-X recipe on transformers Trainer + peft: the base stays frozen, a language adapter learns one
language by MLM, a task adapter learns the task on the source language; `models.load_classifier` stacks them.
Deterministic on CPU for a given seed; on a GPU when present (bf16 where supported).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.data import classification_dataset, load_split, mlm_dataset
from polytune.adapters.embeddings import extend_model
from polytune.config import AdapterTrainingConfig, LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import InputError, ModelError
from polytune.io import atomic_path, manifest, read_json, write_json
from polytune.models import config_hash, load_mlm, load_sequence_classifier, load_tokenizer, tokenizer_hash

log = logging.getLogger(__name__)


def _training_args(cfg: AdapterTrainingConfig, output_dir: str):
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=output_dir,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        label_names=["labels"],
        disable_tqdm=os.environ.get("TQDM_DISABLE") == "1",
    )


def masked_lm_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Masked-LM loss computed on the masked positions only (same value as the model's own loss).

    A full MLM forward projects every position onto the whole vocabulary; with 15% masking that is ~85% wasted
    work, and on MiniLM the vocabulary projection costs as much as the encoder. BERT-family heads (`cls`) take
    the fast path; other models fall back to their own forward.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(inner, "cls", None)
    if head is None:
        return model(**batch).loss
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    hidden = getattr(inner, inner.base_model_prefix)(**inputs).last_hidden_state
    masked = labels != -100
    logits = head(hidden[masked])
    return torch.nn.functional.cross_entropy(logits.float(), labels[masked])


def _fit(model: Any, dataset: Any, collator: Any, cfg: AdapterTrainingConfig, mlm: bool = False) -> list[float]:
    """Run Trainer for cfg.max_steps; return the training loss of every step."""
    from transformers import PrinterCallback, ProgressCallback, Trainer

    class _MaskedOnlyTrainer(Trainer):
        """Trainer whose MLM loss skips the vocabulary projection of unmasked positions."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            return masked_lm_loss(model, inputs)

    class _QuietProgress(ProgressCallback):
        """A progress bar without a printed dict per logged step (we log every step to keep every loss)."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            return None

    with tempfile.TemporaryDirectory(prefix="polytune-trainer-") as scratch:
        trainer = (_MaskedOnlyTrainer if mlm else Trainer)(
            model=model, args=_training_args(cfg, scratch), train_dataset=dataset, data_collator=collator
        )
        trainer.remove_callback(PrinterCallback)
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(_QuietProgress)
        trainer.train()
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    log.info("trained %d steps: loss %.4f -> %.4f", trainer.state.global_step, losses[0], losses[-1])
    return losses


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _mlm_loss(model: Any, batches: list[dict[str, torch.Tensor]]) -> float:
    """Mean masked-LM loss per masked token over fixed, pre-masked batches."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        batch = {k: v.to(_device(model)) for k, v in batch.items()}
        n = int((batch["labels"] != -100).sum())
        if n:
            total += float(masked_lm_loss(model, batch)) * n
            count += n
    model.train()
    return total / count if count else float("nan")


def _unfreeze_mlm_head(model: Any) -> int:
    """Make the MLM head (outside the backbone) trainable, except weights tied to the input embeddings.

    The head is needed to learn at all (MiniLM ships none), but it is not saved with the adapter.
    """
    inner = model.get_base_model()
    prefix = inner.base_model_prefix + "."
    backbone = {p.data_ptr() for name, p in inner.named_parameters() if name.startswith(prefix)}
    count = 0
    for name, param in inner.named_parameters():
        if name.startswith(prefix) or "lora_" in name or "token_adapter" in name or param.data_ptr() in backbone:
            continue
        param.requires_grad_(True)
        count += param.numel()
    return count


def _read_extension(tokenizer_dir: str | None) -> dict[str, Any] | None:
    if tokenizer_dir is None:
        return None
    path = Path(tokenizer_dir) / "extension.json"
    if not path.is_file():
        raise ModelError(f"{tokenizer_dir} has no extension.json: give a folder made by `polytune tokenizer extend`")
    try:
        return read_json(path, "extension.json")
    except InputError as exc:
        raise ModelError(str(exc)) from exc


def _lora(cfg: AdapterTrainingConfig, **kwargs: Any):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        **kwargs,
    )


def _peft(model: Any, lora: Any) -> Any:
    from peft import get_peft_model

    try:
        return get_peft_model(model, lora)
    except ValueError as exc:  # e.g. target_modules that the base does not have
        raise ModelError(f"cannot apply LoRA to this base: {exc}; check target_modules") from exc


def _save(out: Path, peft_model: Any, tokenizer: Any, extra: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the adapter folder atomically: peft adapter (no full embedding matrix), extra JSON files, manifest."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        peft_model.save_pretrained(str(tmp), save_embedding_layers=False, safe_serialization=True)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        for name, data in extra.items():
            if isinstance(data, Path):
                shutil.copyfile(data, tmp / name)
            else:
                write_json(tmp / name, data)
        write_json(tmp / "manifest.json", meta)


def train_language_adapter(cfg: LanguageAdapterConfig) -> dict[str, Any]:
    """Train a language adapter by MLM on the train split of cfg.lang; save it with its tokenizer.

    Args:
        cfg: the language adapter config.

    Returns:
        Summary: out, steps, loss_first, loss_last, dev_loss_before, dev_loss_after, new_tokens, train_records.

    Raises:
        InputError: no training records for the language.
        ModelError: missing/corrupt base or tokenizer, or an extension made for another base.
    """
    from transformers import DataCollatorForLanguageModeling, set_seed

    set_seed(cfg.seed)
    train = load_split(cfg.input, cfg.lang, "train", cfg.max_train_records)
    dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records)
    tokenizer = load_tokenizer(cfg.tokenizer or cfg.base)
    extension = _read_extension(cfg.tokenizer)
    model = load_mlm(cfg.base)  # after set_seed: a freshly initialized head is the same every run
    new_ids = extend_model(model, extension, len(tokenizer), cfg.init, cfg.seed) if extension else []
    peft_model = _peft(model, _lora(cfg, trainable_token_indices=new_ids or None))
    head = _unfreeze_mlm_head(peft_model)
    log.info(
        "language adapter %s: %d train records, %d new tokens, MLM head %d params",
        cfg.lang,
        len(train),
        len(new_ids),
        head,
    )

    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability, seed=cfg.seed)
    dev_data = mlm_dataset(tokenizer, dev, cfg.max_length)
    # Mask the dev set once, so the loss before and after training is measured on the same masked tokens.
    dev_batches = [
        collator(list(dev_data.select(range(i, min(i + cfg.batch_size, len(dev_data))))))
        for i in range(0, len(dev_data), cfg.batch_size)
    ]
    dev_before = _mlm_loss(peft_model, dev_batches)
    train_collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mlm_probability, seed=cfg.seed)
    losses = _fit(peft_model, mlm_dataset(tokenizer, train, cfg.max_length), train_collator, cfg, mlm=True)
    dev_after = _mlm_loss(peft_model, dev_batches)

    summary = {
        "out": str(cfg.out),
        "steps": len(losses),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "dev_loss_before": dev_before,
        "dev_loss_after": dev_after,
        "new_tokens": len(new_ids),
        "train_records": len(train),
    }
    meta = manifest(
        "adapt.language",
        cfg,
        inputs=[Path(cfg.input) / cfg.lang],
        counts={"train_records": len(train), "dev_records": len(dev), "new_tokens": len(new_ids)},
        adapter="language",
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(tokenizer),
        lang=cfg.lang,
        steps=len(losses),
        init=cfg.init,
        losses={
            "train_first": losses[0],
            "train_last": losses[-1],
            "train": losses,
            "dev_mlm_before": dev_before,
            "dev_mlm_after": dev_after,
        },
    )
    extra = {"extension.json": Path(cfg.tokenizer) / "extension.json"} if extension else {}
    _save(cfg.out, peft_model, tokenizer, extra, meta)
    log.info("saved language adapter to %s", cfg.out)
    return summary


@torch.no_grad()
def _accuracy(model: Any, dataset: Any, collator: Any, batch_size: int) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(dataset), batch_size):
        batch = collator(list(dataset.select(range(i, min(i + batch_size, len(dataset))))))
        batch = {k: v.to(_device(model)) for k, v in batch.items()}
        correct += int((model(**batch).logits.argmax(-1) == batch["labels"]).sum())
    model.train()
    return correct / len(dataset)


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
    tokenizer = load_tokenizer(cfg.base)
    model = load_sequence_classifier(cfg.base, labels)
    # task_type SEQ_CLS makes peft train and save the classifier as modules_to_save; BERT-style models also feed
    # it through a pooler, which belongs to the head (left frozen, a random or NSP-trained pooler starves it).
    pooler = ["pooler"] if getattr(getattr(model, model.base_model_prefix, None), "pooler", None) is not None else None
    peft_model = _peft(model, _lora(cfg, task_type="SEQ_CLS", modules_to_save=pooler))
    collator = DataCollatorWithPadding(tokenizer)
    dev_data = classification_dataset(tokenizer, dev, cfg.label_field, labels, cfg.max_length)
    losses = _fit(
        peft_model, classification_dataset(tokenizer, train, cfg.label_field, labels, cfg.max_length), collator, cfg
    )
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
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses},
        dev_accuracy=accuracy,
    )
    _save(cfg.out, peft_model, None, {"labels.json": labels}, meta)
    log.info("saved task adapter to %s", cfg.out)
    return summary

"""Language adapters: LoRA + trainable new embedding rows, trained by masked LM on one language (MAD-X).

The base stays frozen. A base without an MLM head (e.g. MiniLM) gets one initialized by `models.load_mlm` so
the loss is meaningful from the first step; the head trains along but is not saved with the adapter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.data import load_split, mlm_dataset
from polytune.adapters.embeddings import extend_model
from polytune.adapters.trainer import device_of, fit, lora_config, masked_lm_loss, save_adapter, wrap_peft
from polytune.config import LanguageAdapterConfig
from polytune.errors import InputError, ModelError
from polytune.io import manifest, read_json
from polytune.models import config_hash, load_mlm, load_tokenizer, tokenizer_hash

log = logging.getLogger(__name__)


@torch.no_grad()
def _mlm_loss(model: Any, batches: list[dict[str, torch.Tensor]]) -> float:
    """Mean masked-LM loss per masked token over fixed, pre-masked batches."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device_of(model)) for k, v in batch.items()}
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
    peft_model = wrap_peft(model, lora_config(cfg, trainable_token_indices=new_ids or None))
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
    losses = fit(peft_model, mlm_dataset(tokenizer, train, cfg.max_length), train_collator, cfg, loss=masked_lm_loss)
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
    save_adapter(cfg.out, peft_model, tokenizer, extra, meta)
    log.info("saved language adapter to %s", cfg.out)
    return summary

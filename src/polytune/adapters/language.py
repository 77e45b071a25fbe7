"""Language adapters: a peft adapter (LoRA by default; `methods.py`) + trainable new embedding rows, trained on
one language's text (MAD-X): masked LM for encoders, causal LM for decoders, denoising (span corruption,
`denoise.py`) for encoder-decoders.

The base stays frozen. A base without an MLM head (e.g. MiniLM) gets one initialized by `models.load_mlm` so
the loss is meaningful from the first step; the head trains along and is saved beside the adapter
(`mlm_head.safetensors`) only so that `--from` can continue the same loss; inference never loads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from polytune import registry
from polytune.adapters import lineage, methods
from polytune.adapters.data import denoise_dataset, load_split, mlm_dataset
from polytune.adapters.denoise import DenoiseCollator
from polytune.adapters.early_stop import early_stopping
from polytune.adapters.new_rows import init_new_rows, read_extension, token_indices, unfreeze_mlm_head
from polytune.adapters.trainer import (
    device_of,
    fit,
    lm_collator,
    masked_lm_loss,
    wrap_peft,
)
from polytune.config import LanguageAdapterConfig
from polytune.errors import ConfigError, ModelError
from polytune.io import manifest
from polytune.models import (
    config_hash,
    lm_objective,
    load_tokenizer,
    tokenizer_hash,
)

log = logging.getLogger(__name__)


@torch.no_grad()
def _lm_loss(model: Any, batches: list[dict[str, torch.Tensor]]) -> float:
    """Mean LM loss per predicted token (masked, next-token, or reconstructed) over fixed batches."""
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


def _warm_up_head(model: Any, tokenizer: Any, train: list, cfg: LanguageAdapterConfig) -> None:
    """Fit the MLM head alone (base frozen, no backward through it) for cfg.head_warmup_steps.

    A base shipped without an MLM head (MiniLM) starts near log(vocab) whatever the head's init; without this,
    most of an adapter's early loss drop is the head learning to read the base, not the adapter learning.
    """
    from dataclasses import replace

    for param in model.parameters():
        param.requires_grad_(False)
    count = unfreeze_mlm_head(model)
    collator = lm_collator(tokenizer, True, cfg.mlm_probability, cfg.seed + 1)
    warm_cfg = replace(cfg, max_steps=cfg.head_warmup_steps, gradient_checkpointing=False, save_every=0)
    losses = fit(model, mlm_dataset(tokenizer, train, cfg.max_length), collator, warm_cfg, loss=masked_lm_loss)
    log.info("MLM head warm-up: %d params, %d steps, loss %.3f -> %.3f", count, len(losses), losses[0], losses[-1])
    for param in model.parameters():
        param.requires_grad_(False)


def _prepare(cfg: LanguageAdapterConfig, train: list) -> tuple[Any, Any, list[int], str]:
    """Tokenizer, peft model (new rows trainable) and the objective, for cfg."""
    objective = lm_objective(cfg.base) if cfg.objective == "auto" else cfg.objective
    parent = cfg.from_adapter  # --from: the parent's tokenizer, rows, head and LoRA weights
    tokenizer = load_tokenizer(parent or cfg.tokenizer or cfg.base)
    if tokenizer.pad_token is None:  # decoders (GPT-2, Llama) ship none; batches need one
        tokenizer.pad_token = tokenizer.eos_token
    extension = read_extension(lineage.extension_source(cfg))
    model = registry.load("objectives", objective)(cfg.base)  # the loader of the model the objective trains
    new_ids = init_new_rows(model, extension, tokenizer, cfg, train) if extension else []
    warm = objective == "mlm" and cfg.head_warmup_steps > 0
    if warm:
        _warm_up_head(model, tokenizer, train, cfg)
    if parent:
        warm = objective == "mlm" and lineage.restore_head(model, parent)  # a kept head stays as the parent had it
        peft_model = lineage.load_parent(model, parent)
    else:
        peft_model = wrap_peft(model, methods.peft_config(cfg, trainable_token_indices=token_indices(model, new_ids)))
    # A warmed-up head stays frozen: the adapter has to move the representations to it, not the reverse.
    head = unfreeze_mlm_head(peft_model) if objective == "mlm" and not warm else 0
    log.info("language adapter %s (%s): %d train records, %d new tokens, MLM head %d params",
             cfg.lang, objective, len(train), len(new_ids), head)
    return tokenizer, peft_model, new_ids, objective


def _eos_pad(tokenizer: Any, model: Any) -> tuple[int, int]:
    """End-of-sequence and padding ids of an encoder-decoder (the tokenizer's, else the model config's).

    Raises:
        ModelError: neither names an end-of-sequence token.
    """
    config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else config.eos_token_id
    if eos is None:
        raise ModelError("the tokenizer and the model config name no end-of-sequence token; denoising needs one")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.pad_token_id
    return int(eos), int(pad if pad is not None else 0)


def _mixed_weights(cfg: LanguageAdapterConfig) -> dict[str, float] | None:
    """Objective weights for the aligned/mixed trainer (`align.py`), or None for the single-objective one here.

    An embedding-first stage (embedding_steps) on an MLM base runs there too, as objectives {mlm: 1}.

    Raises:
        ConfigError: embedding_steps with a causal-LM or denoising objective.
    """
    if cfg.objectives is not None:
        return cfg.objectives
    if cfg.objective == "align":
        return {"align": 1.0}
    if cfg.embedding_steps and cfg.tokenizer is not None:
        objective = lm_objective(cfg.base) if cfg.objective == "auto" else cfg.objective
        if objective != "mlm":
            raise ConfigError(f"embedding_steps works with the mlm and align objectives (encoders), not {objective}; "
                              "set embedding_steps to 0")
        return {"mlm": 1.0}
    return None


def train_language_adapter(cfg: LanguageAdapterConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a language adapter on the train split of cfg.lang (MLM for encoders, CLM for decoders, denoising for
    encoder-decoders), or on translation pairs (objective align, mixed objectives: `align.py`); save it.

    Args:
        cfg: the language adapter config.
        callbacks: more training callbacks (`loop.fit`), run after early stopping (which logs `dev_loss`).

    Returns:
        Summary: out, steps, loss_first, loss_last, dev_loss_before, dev_loss_after, new_tokens, train_records,
        objective.

    Raises:
        InputError: no training records for the language.
        ModelError: missing/corrupt base or tokenizer, or an extension made for another base.
    """
    from transformers import set_seed

    methods.check_options(cfg, new_rows=lineage.extension_source(cfg) is not None)  # before anything loads
    weights = _mixed_weights(cfg)
    if weights is not None:
        from polytune.adapters.align import train_aligned_adapter

        return train_aligned_adapter(cfg, weights, callbacks)
    set_seed(cfg.seed)  # before loading: a freshly initialized head is the same every run
    train = load_split(cfg.input, cfg.lang, "train", cfg.max_train_records)
    dev = load_split(cfg.input, cfg.lang, "dev", cfg.max_eval_records)
    parent = None
    if cfg.from_adapter:  # refuse a leak before anything loads
        lineage.check_options(cfg)
        parent = lineage.read_parent(cfg.from_adapter, "language", cfg.base)
        lineage.check_leak(parent, cfg.from_adapter, train)
    tokenizer, peft_model, new_ids, objective = _prepare(cfg, train)

    def collator():
        if objective == "denoise":
            eos, pad = _eos_pad(tokenizer, peft_model)
            return DenoiseCollator(tokenizer, cfg.mlm_probability, cfg.mean_span_length, cfg.seed, eos, pad)
        return lm_collator(tokenizer, objective == "mlm", cfg.mlm_probability, cfg.seed)

    dataset = denoise_dataset if objective == "denoise" else mlm_dataset
    dev_data, masker = dataset(tokenizer, dev, cfg.max_length), collator()
    # Mask the dev set once, so the loss before and after training is measured on the same masked tokens.
    dev_batches = [masker(list(dev_data.select(range(i, min(i + cfg.batch_size, len(dev_data))))))
                   for i in range(0, len(dev_data), cfg.batch_size)]  # fmt: skip
    dev_before = _lm_loss(peft_model, dev_batches)
    every = cfg.eval_every
    stopper = [early_stopping(peft_model, lambda: _lm_loss(peft_model, dev_batches), every, cfg.patience,
                              "dev_loss")] if every else []  # fmt: skip
    losses = fit(peft_model, dataset(tokenizer, train, cfg.max_length), collator(), cfg, loss=masked_lm_loss,
                 callbacks=stopper + list(callbacks or []))  # fmt: skip
    dev_after = _lm_loss(peft_model, dev_batches)
    history = stopper[0].history if stopper else []
    summary = {"out": str(cfg.out), "steps": len(losses), "loss_first": losses[0], "loss_last": losses[-1],
               "dev_loss_before": dev_before, "dev_loss_after": dev_after, "new_tokens": len(new_ids),
               "train_records": len(train), "objective": objective}  # fmt: skip
    meta = manifest(
        "adapt.language",
        cfg,
        inputs=[Path(cfg.input) / cfg.lang],
        counts={"train_records": len(train), "dev_records": len(dev), "new_tokens": len(new_ids)},
        adapter="language",
        **methods.manifest_fields(methods.method_of_parent(cfg, parent)),
        objective=objective,
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(tokenizer),
        lang=cfg.lang,
        steps=len(losses),
        init=cfg.init,
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses, "dev_mlm_before": dev_before,
                "dev_mlm_after": dev_after, "dev_history": history},
        test_records=lineage.test_records(cfg.input, cfg.lang),
        **({"lineage": lineage.lineage(parent, cfg.from_adapter, cfg, train, cfg.input)}
           if parent else {}),
    )
    lineage.save_continuable(cfg, peft_model, tokenizer, meta, with_head=objective == "mlm")
    log.info("saved language adapter to %s", cfg.out)
    return summary

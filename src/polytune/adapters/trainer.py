"""Shared training machinery for adapters: TrainingArguments, Trainer runs, LoRA wrapping, atomic adapter folders.

Precision, gradient accumulation and gradient checkpointing come from AdapterTrainingConfig; on CPU training is
fp32. Training checkpoints (`save_every`) go to a hidden work folder beside the output, in safetensors + JSON
(checkpoints.py), and a rerun resumes from the last complete one. Under `accelerate launch` (DDP) Trainer shards
batches over processes; only the main process writes the adapter folder.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.checkpoints import resume_point, work_dir
from polytune.config import AdapterTrainingConfig
from polytune.errors import ModelError
from polytune.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)


def _precision(cfg: AdapterTrainingConfig) -> dict[str, bool]:
    """bf16/fp16 flags for TrainingArguments: 'auto' = bf16 on a GPU that supports it, else fp32."""
    cuda = torch.cuda.is_available()
    wanted = getattr(cfg, "precision", "auto")
    if wanted == "auto":
        return {"bf16": cuda and torch.cuda.is_bf16_supported(), "fp16": False}
    if wanted in ("bf16", "fp16") and not cuda:
        log.warning("precision %s needs a GPU; training in fp32 on CPU", wanted)
        return {"bf16": False, "fp16": False}
    return {"bf16": wanted == "bf16", "fp16": wanted == "fp16"}


def training_args(cfg: AdapterTrainingConfig, output_dir: str, save_every: int = 0, **extra: Any):
    """TrainingArguments for cfg: linear decay, a loss logged every step, seeded; checkpoints every `save_every`
    steps into output_dir (0: none)."""
    from transformers import TrainingArguments

    if getattr(cfg, "gradient_checkpointing", False):
        # Recompute activations in the backward pass: less memory for long sequences, ~30% more compute.
        extra = {"activation_checkpointing": True, **extra}
    if save_every:
        # Older checkpoints are dropped by checkpoints.mark_complete, only once a newer one is whole.
        extra = {"save_strategy": "steps", "save_steps": save_every, "save_total_limit": None, **extra}
    return TrainingArguments(
        output_dir=output_dir,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=getattr(cfg, "gradient_accumulation_steps", 1),
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        logging_steps=1,
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
        remove_unused_columns=False,
        label_names=["labels"],
        disable_tqdm=os.environ.get("TQDM_DISABLE") == "1",
        ddp_find_unused_parameters=False,
        **_precision(cfg),
        **{"save_strategy": "no", **extra},
    )


def masked_lm_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Masked-LM loss computed on the masked positions only (same value as the model's own loss).

    A full MLM forward projects every position onto the whole vocabulary; with 15% masking that is ~85% wasted
    work, and on MiniLM the vocabulary projection costs as much as the encoder. BERT-family heads (`cls`) take
    the fast path; other models fall back to their own forward.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(inner, "module", inner)  # DDP wrapper
    head = getattr(inner, "cls", None)
    if head is None:
        return model(**batch).loss
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    hidden = getattr(inner, inner.base_model_prefix)(**inputs).last_hidden_state
    masked = labels != -100
    logits = head(hidden[masked])
    return torch.nn.functional.cross_entropy(logits.float(), labels[masked])


def lm_collator(tokenizer: Any, mlm: bool, mlm_probability: float, seed: int):
    """DataCollatorForLanguageModeling with its own seeded generator in any process.

    transformers refuses a seeded collator outside the main process unless inside a DataLoader worker, which
    breaks training from a process pool (executors, benchmarks); batches are collated in the training process
    here (dataloader_num_workers=0), so one generator per collator is right.
    """
    from transformers import DataCollatorForLanguageModeling

    class _Seeded(DataCollatorForLanguageModeling):
        # Set by `fit` while training: batches leave the DataLoader unmasked and `mask` draws their masks in the
        # training step, so the generator moves once per trained batch whatever the loader has prefetched. A
        # checkpoint's generator state then matches its step (exact resumption); the masks are the same either way.
        deferred = False

        @property
        def defers(self) -> bool:
            """Masks can be drawn in the training step (`mask`): MLM only; causal batches are not randomized."""
            return bool(self.mlm)

        def create_rng(self):
            self.generator = self.get_generator(self.seed)

        def torch_call(self, examples):
            batch = super().torch_call(examples)
            if self.deferred:
                batch.pop("labels", None)
            return batch

        def torch_mask_tokens(self, inputs, special_tokens_mask=None, offset_mapping=None):
            if self.deferred:
                return inputs, None
            return super().torch_mask_tokens(inputs, special_tokens_mask, offset_mapping)

        def mask(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            """Mask a deferred batch (on CPU, where the generator lives); labels are -100 off the masked tokens."""
            if self.generator is None:
                self.create_rng()
            device = batch["input_ids"].device
            ids, labels = super().torch_mask_tokens(batch["input_ids"].cpu())
            return {**batch, "input_ids": ids.to(device), "labels": labels.to(device)}

    return _Seeded(tokenizer, mlm=mlm, mlm_probability=mlm_probability, seed=seed)


class _Quiet:
    """Build a ProgressCallback subclass lazily (transformers is imported only when training)."""

    @staticmethod
    def progress():
        from transformers import ProgressCallback

        class _QuietProgress(ProgressCallback):
            """A progress bar without a printed dict per logged step (we log every step to keep every loss)."""

            def on_log(self, args, state, control, logs=None, **kwargs):
                return None

        return _QuietProgress


def save_every(cfg: AdapterTrainingConfig) -> int:
    """Steps between checkpoints: cfg.save_every, or by default every 10% of the run (at most 200 steps apart;
    none for runs under 50 steps, which restart faster than they save). Example: 1000 steps -> 100."""
    every = getattr(cfg, "save_every", 0)
    if every is None:
        every = 0 if cfg.max_steps < 50 else min(200, math.ceil(cfg.max_steps / 10))
    return every


def _trainer_class(loss: Any, collator: Any):
    from transformers import Trainer

    from polytune.adapters.checkpoints import CheckpointHooks

    class _Trainer(CheckpointHooks, Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if getattr(collator, "deferred", False):
                inputs = collator.mask(inputs)
            if loss is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return loss(model, inputs)

    return _Trainer


def fit(
    model: Any,
    dataset: Any,
    collator: Any,
    cfg: AdapterTrainingConfig,
    loss: Any = None,
    callbacks: list[Any] | None = None,
) -> list[float]:
    """Run Trainer for cfg.max_steps (or until a callback stops it); return the training loss of every step.

    With checkpoints on (see `save_every`) and cfg.out set, checkpoints go to the hidden work folder beside cfg.out
    (`checkpoints.work_dir`), and a rerun of the same run resumes from the last complete one: same weights,
    optimizer, schedule, RNG and data order as an uninterrupted run. `save_adapter` removes the folder.

    Args:
        model: the peft model to train.
        dataset: a `datasets.Dataset`.
        collator: batches examples.
        cfg: training settings.
        loss: optional `loss(model, inputs) -> tensor` replacing the model's own loss.
        callbacks: extra TrainerCallbacks (e.g. early stopping on held-out loss).

    Returns:
        The training loss of every step (those before a resumed checkpoint included).

    Raises:
        ConfigError: the work folder holds checkpoints of a run with another config or other data.
    """
    from transformers import PrinterCallback, ProgressCallback

    every = save_every(cfg) if getattr(cfg, "out", None) else 0
    work = work_dir(cfg.out) if every else None
    with tempfile.TemporaryDirectory(prefix="polytune-trainer-") as scratch:
        trainer = _trainer_class(loss, collator)(
            model=model,
            args=training_args(cfg, str(work or scratch), every),
            train_dataset=dataset,
            data_collator=collator,
            callbacks=callbacks,
        )
        # Our losses (masked_lm_loss, weighted_loss, the classification heads' own) are per-batch means that ignore
        # num_items_in_batch. Left True (any forward with **kwargs), Trainer multiplies the loss by the number of
        # DDP processes and skips the division by gradient accumulation steps: loss and gradients x2 at 2 ranks.
        trainer.model_accepts_loss_kwargs = False
        trainer.remove_callback(PrinterCallback)
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(_Quiet.progress())
        stateless = [type(c).__name__ for c in callbacks or [] if not hasattr(c, "load_checkpoint")]
        resume = resume_point(trainer, cfg, dataset, work, stateless) if work else None
        defer = bool(getattr(collator, "defers", False))
        if defer:
            collator.deferred = True
        try:
            trainer.train(resume_from_checkpoint=resume)
        finally:
            if defer:
                collator.deferred = False
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    log.info("trained %d steps: loss %.4f -> %.4f", trainer.state.global_step, losses[0], losses[-1])
    return losses


def device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def lora_config(cfg: AdapterTrainingConfig, **kwargs: Any):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        **kwargs,
    )


def wrap_peft(model: Any, lora: Any) -> Any:
    """get_peft_model with a ModelError for LoRA settings the base cannot take."""
    from peft import get_peft_model

    try:
        return get_peft_model(model, lora)
    except ValueError as exc:  # e.g. target_modules that the base does not have
        raise ModelError(f"cannot apply LoRA to this base: {exc}; check target_modules") from exc


def is_main_process() -> bool:
    """False on DDP ranks other than 0 (they train but must not write the same folder)."""
    return int(os.environ.get("RANK", "0")) == 0


def _sort_target_modules(config_path: Path) -> None:
    """peft stores target_modules as a set, so its saved order follows the process's hash seed; sort it so the
    same training gives the same bytes in every process."""
    config = read_json(config_path, "adapter_config.json")
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        write_json(config_path, config)


def save_adapter(out: Path, peft_model: Any, tokenizer: Any, extra: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the adapter folder atomically: peft adapter (no full embedding matrix), extra JSON files, manifest."""
    if not is_main_process():
        return
    with atomic_path(out) as tmp:
        tmp.mkdir()
        peft_model.save_pretrained(str(tmp), save_embedding_layers=False, safe_serialization=True)
        _sort_target_modules(tmp / "adapter_config.json")
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        for name, data in extra.items():
            if isinstance(data, Path):
                shutil.copyfile(data, tmp / name)
            else:
                write_json(tmp / name, data)
        write_json(tmp / "manifest.json", meta)
    shutil.rmtree(work_dir(out), ignore_errors=True)  # the checkpoints are spent once the adapter is saved

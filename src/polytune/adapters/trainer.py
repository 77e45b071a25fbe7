"""Shared training machinery for adapters: TrainingArguments, Trainer runs, LoRA wrapping, atomic adapter folders.

Precision, gradient accumulation and checkpointing come from AdapterTrainingConfig; on CPU training is fp32.
Under `accelerate launch` (DDP) Trainer shards batches over processes; only the main process writes the folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

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


def training_args(cfg: AdapterTrainingConfig, output_dir: str, **extra: Any):
    """TrainingArguments for cfg: linear decay, a loss logged every step, no checkpoints, seeded."""
    from transformers import TrainingArguments

    if getattr(cfg, "gradient_checkpointing", False):
        # Recompute activations in the backward pass: less memory for long sequences, ~30% more compute.
        extra = {"activation_checkpointing": True, **extra}
    return TrainingArguments(
        output_dir=output_dir,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=getattr(cfg, "gradient_accumulation_steps", 1),
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="no",
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
        **extra,
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
        def create_rng(self):
            self.generator = self.get_generator(self.seed)

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


def fit(
    model: Any,
    dataset: Any,
    collator: Any,
    cfg: AdapterTrainingConfig,
    loss: Any = None,
    callbacks: list[Any] | None = None,
) -> list[float]:
    """Run Trainer for cfg.max_steps (or until a callback stops it); return the training loss of every step.

    Args:
        model: the peft model to train.
        dataset: a `datasets.Dataset`.
        collator: batches examples.
        cfg: training settings.
        loss: optional `loss(model, inputs) -> tensor` replacing the model's own loss.
        callbacks: extra TrainerCallbacks (e.g. early stopping on held-out loss).
    """
    from transformers import PrinterCallback, ProgressCallback, Trainer

    class _Trainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if loss is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return loss(model, inputs)

    with tempfile.TemporaryDirectory(prefix="polytune-trainer-") as scratch:
        trainer = _Trainer(
            model=model,
            args=training_args(cfg, scratch),
            train_dataset=dataset,
            data_collator=collator,
            callbacks=callbacks,
        )
        trainer.remove_callback(PrinterCallback)
        if trainer.pop_callback(ProgressCallback) is not None:
            trainer.add_callback(_Quiet.progress())
        trainer.train()
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

"""Shared training machinery for adapters: losses, LM batches, peft wrapping, atomic adapter folders.

The training loop itself is `loop.fit` (re-exported here). Precision, gradient accumulation and gradient
checkpointing come from AdapterTrainingConfig; on CPU training is fp32. Training checkpoints (`save_every`) go to a
hidden work folder beside the output, in safetensors + JSON (checkpoints.py), and a rerun resumes from the last
complete one. Under `accelerate launch` (DDP) the loop shards batches over processes; only the main process
writes the adapter folder.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from polytune.adapters.checkpoints import save_every, work_dir
from polytune.adapters.loop import fit
from polytune.adapters.masking import LMCollator
from polytune.errors import ModelError
from polytune.io import atomic_path, read_json, write_json

__all__ = ["device_of", "fit", "is_main_process", "lm_collator", "masked_lm_loss", "save_adapter",
           "save_every", "wrap_peft"]

log = logging.getLogger(__name__)


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


def lm_collator(tokenizer: Any, mlm: bool, mlm_probability: float, seed: int) -> LMCollator:
    """Batches for language-model training: masked (BERT recipe, seeded) for MLM, next-token labels otherwise."""
    return LMCollator(tokenizer, mlm=mlm, mlm_probability=mlm_probability, seed=seed)


def device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def wrap_peft(model: Any, config: Any) -> Any:
    """get_peft_model with a ModelError for adapter settings the base cannot take (config: `methods.peft_config`)."""
    from peft import get_peft_model

    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # e.g. target_modules that the base does not have
        kind = config.peft_type.value
        raise ModelError(f"cannot apply the {kind} adapter to this base: {exc}; check target_modules") from exc


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

"""Training checkpoints without pickle: trainable weights, optimizer, scheduler and RNG in safetensors + JSON.

Trainer's own checkpoints store optimizer, scheduler and RNG states with `torch.save` and read them back with
`torch.load`; polytune loads no pickle at all, so `fit` keeps Trainer's resume logic (step count, epoch, skipped
batches, log history in trainer_state.json) and swaps its save/load hooks for the functions here.

A run's checkpoints live in a hidden work folder beside its output (`.<out>.ckpt/`, never read as data) with
`run.json` holding the run's hash; a checkpoint counts only once its `complete.json` is written, last.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from polytune.adapters.early_stop import trainable_state
from polytune.errors import ConfigError, ModelError
from polytune.io import read_json, write_json

log = logging.getLogger(__name__)

PREFIX = "checkpoint-"
COMPLETE = "complete.json"
# Keys that do not change what a run computes: a rerun may change them and still resume.
_UNHASHED = {"save_every"}


def work_dir(out: str | Path) -> Path:
    """The hidden checkpoint folder of an output folder. Example: work_dir("a/nya") -> a/.nya.ckpt"""
    out = Path(out)
    return out.parent / f".{out.name}.ckpt"


def run_hash(cfg: Any, dataset: Any, model: Any, world_size: int) -> str:
    """sha256 of what decides a run's steps: the config, the training examples, the trainable tensors' names and
    shapes, and the number of processes (they shard the batches)."""
    config = asdict(cfg) if is_dataclass(cfg) else dict(vars(cfg))
    digest = hashlib.sha256(json.dumps({k: v for k, v in config.items() if k not in _UNHASHED}, sort_keys=True,
                                       default=str).encode())  # fmt: skip
    digest.update(_dataset_digest(dataset).encode())
    digest.update(json.dumps(sorted((n, list(p.shape)) for n, p in _trainable(model).items())).encode())
    digest.update(str(world_size).encode())
    return digest.hexdigest()


def _dataset_digest(dataset: Any) -> str:
    """sha256 of a `datasets.Dataset`'s Arrow buffers (zero-copy; the same examples give the same digest)."""
    digest = hashlib.sha256(json.dumps(list(dataset.column_names)).encode())
    for column in dataset.data.table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return digest.hexdigest()


def open_run(work: Path, digest: str, write: bool) -> Path | None:
    """Check the work folder belongs to this run (or start it); return its last complete checkpoint, if any.

    Args:
        work: the run's work folder.
        digest: `run_hash` of this run.
        write: create the folder and its run.json (the main process only).

    Returns:
        The newest checkpoint folder holding complete.json, or None to start from step 0.

    Raises:
        ConfigError: the folder holds checkpoints of a run with another config or other data.
    """
    marker = work / "run.json"
    if marker.is_file():
        made = read_json(marker, "checkpoint run.json").get("hash")
        if made != digest:
            raise ConfigError(
                f"checkpoints in {work} were made with another config or other data (run {str(made)[:12]}, this "
                f"run {digest[:12]}): rerun with the config that made them, or delete {work} to start over"
            )
    elif write:
        work.mkdir(parents=True, exist_ok=True)
        write_json(marker, {"hash": digest})
    done = [p for p in work.glob(f"{PREFIX}*") if (p / COMPLETE).is_file() and p.name[len(PREFIX) :].isdigit()]
    return max(done, key=lambda p: int(p.name[len(PREFIX) :]), default=None)


def resume_point(trainer: Any, cfg: Any, dataset: Any, work: Path, stateless: list[str]) -> str | None:
    """The checkpoint `trainer` resumes from (None: step 0), once checked to be this very run's.

    Args:
        trainer: the Trainer about to train (its model, args and collator).
        cfg: the run's AdapterTrainingConfig.
        dataset: the training examples.
        work: the run's work folder (`work_dir`).
        stateless: names of the caller's callbacks that checkpoints do not carry (no `save_checkpoint`/
            `load_checkpoint`, which early stopping has); they restart at the resume point.

    Returns:
        The checkpoint folder, as Trainer's `resume_from_checkpoint` takes it.

    Raises:
        ConfigError: the folder holds checkpoints of a run with another config or other data.
    """
    digest = run_hash(cfg, dataset, trainer.model, trainer.args.world_size)
    last = open_run(work, digest, write=trainer.args.should_save)
    if last is None:
        return None
    step = int(last.name[len(PREFIX) :])
    log.warning("resuming from checkpoint %s: step %d of %d (delete %s to start over)", last, step, cfg.max_steps,
                work)  # fmt: skip
    if stateless:
        log.warning("callbacks without checkpoint state restart at step %d: %s", step, ", ".join(stateless))
    load_collator_rng(last, trainer.args.process_index, trainer.data_collator)
    for callback in trainer.callback_handler.callbacks:
        if hasattr(callback, "load_checkpoint"):
            callback.load_checkpoint(last)
    return str(last)


def mark_complete(folder: Path, step: int) -> None:
    """Write complete.json (atomically, last) and drop older checkpoints: a kill at any moment leaves one whole."""
    write_json(folder / COMPLETE, {"step": step})
    for old in folder.parent.glob(f"{PREFIX}*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)


def _trainable(model: Any) -> dict[str, torch.Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def save_trainable(model: Any, folder: str | Path) -> None:
    """Every trainable tensor (LoRA, new embedding rows, an MLM head being fitted) to trainable.safetensors."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    save_file(trainable_state(model), str(Path(folder) / "trainable.safetensors"))


def load_trainable(model: Any, folder: str | Path) -> None:
    """Copy trainable.safetensors back into the model's trainable tensors.

    Raises:
        ModelError: the checkpoint's tensors are not the model's trainable tensors.
    """
    saved = load_file(str(Path(folder) / "trainable.safetensors"))
    params = _trainable(model)
    if set(saved) != set(params) or any(saved[n].shape != p.shape for n, p in params.items()):
        raise ModelError(f"checkpoint {folder} does not match the model being trained; delete {Path(folder).parent}")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(saved[name].to(param.device))


def save_optimizer(optimizer: Any, scheduler: Any, folder: str | Path) -> None:
    """Optimizer state tensors to optimizer.safetensors; its scalars, param groups and the scheduler to JSON."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}/{key}"] = value
    save_file(tensors, str(Path(folder) / "optimizer.safetensors"))
    write_json(Path(folder) / "optimizer.json", {"scalars": scalars, "param_groups": state["param_groups"],
                                                 "scheduler": scheduler.state_dict()})  # fmt: skip


def load_optimizer(optimizer: Any, scheduler: Any, folder: str | Path) -> None:
    """Restore what `save_optimizer` wrote (tuples such as Adam's betas come back as tuples)."""
    meta = read_json(Path(folder) / "optimizer.json", "checkpoint optimizer.json")
    state: dict[int, dict[str, Any]] = {}
    entries = {**load_file(str(Path(folder) / "optimizer.safetensors")), **meta["scalars"]}
    for name, value in entries.items():
        index, key = name.split("/", 1)
        state.setdefault(int(index), {})[key] = value
    groups = meta["param_groups"]
    for group, current in zip(groups, optimizer.state_dict()["param_groups"], strict=False):
        for key, value in current.items():
            if isinstance(value, tuple) and isinstance(group.get(key), list):
                group[key] = tuple(group[key])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    scheduler.load_state_dict(meta["scheduler"])


def save_rng(folder: str | Path, process: int, collator: Any) -> None:
    """This process's RNG states (python, numpy, torch CPU and GPU, the collator's masking generator)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    generator = getattr(collator, "generator", None)
    if isinstance(generator, torch.Generator):
        tensors["collator"] = generator.get_state()
    save_file(tensors, str(Path(folder) / f"rng-{process}.safetensors"))
    write_json(Path(folder) / f"rng-{process}.json", {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
    })  # fmt: skip


def load_rng(folder: str | Path, process: int) -> None:
    """Restore the global RNG states `save_rng` wrote for this process (the collator's: `load_collator_rng`)."""
    meta = read_json(Path(folder) / f"rng-{process}.json", "checkpoint RNG state")
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    tensors = load_file(str(Path(folder) / f"rng-{process}.safetensors"))
    torch.random.set_rng_state(tensors["cpu"])
    if torch.cuda.is_available() and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"])


def load_collator_rng(folder: str | Path, process: int, collator: Any) -> None:
    """Restore the collator's masking generator before training resumes (masking happens in the training step)."""
    generator = getattr(collator, "generator", None)
    tensors = load_file(str(Path(folder) / f"rng-{process}.safetensors"))
    if "collator" in tensors:
        if generator is None:
            collator.create_rng()
            generator = collator.generator
        generator.set_state(tensors["collator"])


def save_scaler(scaler: Any, folder: str | Path) -> None:
    """fp16 gradient scaler state (numbers only) to scaler.json."""
    if scaler is not None:
        write_json(Path(folder) / "scaler.json", scaler.state_dict())


def load_scaler(scaler: Any, folder: str | Path) -> None:
    if scaler is not None and (Path(folder) / "scaler.json").is_file():
        scaler.load_state_dict(read_json(Path(folder) / "scaler.json", "checkpoint scaler.json"))


class CheckpointHooks:
    """Mixin for a transformers Trainer: its checkpoint save/load hooks, in safetensors + JSON.

    Trainer decides when to save and how to resume (step, epoch, batches to skip, trainer_state.json); these
    hooks only change the file formats. Every rank writes its own RNG file; the rest is written by rank 0, and a
    checkpoint is marked complete once all ranks are past their writes.
    """

    def _save(self, output_dir=None, state_dict=None):
        if self.args.should_save:
            save_trainable(self.model, output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        load_trainable(self.model, resume_from_checkpoint)

    def _save_optimizer_and_scheduler(self, output_dir):
        if self.args.should_save:
            save_optimizer(self.optimizer, self.lr_scheduler, output_dir)

    def _load_optimizer_and_scheduler(self, checkpoint):
        if checkpoint is not None:
            load_optimizer(self.optimizer, self.lr_scheduler, checkpoint)

    def _save_scaler(self, output_dir):
        if self.args.should_save:
            save_scaler(getattr(self.accelerator, "scaler", None), output_dir)

    def _load_scaler(self, checkpoint):
        if checkpoint is not None:
            load_scaler(getattr(self.accelerator, "scaler", None), checkpoint)

    def _save_rng_state(self, output_dir):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        save_rng(output_dir, self.args.process_index, self.data_collator)

    def _load_rng_state(self, checkpoint):
        if checkpoint is not None:
            load_rng(checkpoint, self.args.process_index)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:  # callback state (early stopping's history and best weights) rides along
            folder = Path(self.args.output_dir) / f"{PREFIX}{self.state.global_step}"
            for callback in self.callback_handler.callbacks:
                if hasattr(callback, "save_checkpoint"):
                    callback.save_checkpoint(folder)
        self.accelerator.wait_for_everyone()  # every rank's RNG file is on disk before the checkpoint counts
        if self.args.should_save:
            step = self.state.global_step
            mark_complete(Path(self.args.output_dir) / f"{PREFIX}{step}", step)

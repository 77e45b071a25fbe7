"""Training checkpoints without pickle: trainable weights, optimizer, scheduler and RNG in safetensors + JSON.

Trainer's own checkpoints store optimizer, scheduler and RNG states with `torch.save` and read them back with
`torch.load`; polytune loads no pickle at all. `loop.fit` calls `save` every `save_every` steps and `resume`
before it starts; the step, the data position and every loss so far are in `state.json`.

A run's checkpoints live in a hidden work folder beside its output (`.<out>.ckpt/`, never read as data) with
`run.json` holding the run's hash; a checkpoint counts only once its `complete.json` is written, last.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
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
STATE = "state.json"
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


def save_rng(folder: str | Path, process: int) -> None:
    """This process's RNG states (python, numpy, torch CPU and GPU); collators seed per example, not here."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    save_file(tensors, str(Path(folder) / f"rng-{process}.safetensors"))
    write_json(Path(folder) / f"rng-{process}.json", {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
    })  # fmt: skip


def load_rng(folder: str | Path, process: int) -> None:
    """Restore the global RNG states `save_rng` wrote for this process."""
    meta = read_json(Path(folder) / f"rng-{process}.json", "checkpoint RNG state")
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    tensors = load_file(str(Path(folder) / f"rng-{process}.safetensors"))
    torch.random.set_rng_state(tensors["cpu"])
    if torch.cuda.is_available() and "cuda" in tensors:
        torch.cuda.set_rng_state(tensors["cuda"])


def save_scaler(scaler: Any, folder: str | Path) -> None:
    """fp16 gradient scaler state (numbers only) to scaler.json."""
    if scaler is not None:
        write_json(Path(folder) / "scaler.json", scaler.state_dict())


def load_scaler(scaler: Any, folder: str | Path) -> None:
    if scaler is not None and (Path(folder) / "scaler.json").is_file():
        scaler.load_state_dict(read_json(Path(folder) / "scaler.json", "checkpoint scaler.json"))


def save_every(cfg: Any) -> int:
    """Steps between checkpoints: cfg.save_every, or by default every 10% of the run (at most 200 steps apart;
    none for runs under 50 steps, which restart faster than they save). Example: 1000 steps -> 100."""
    every = getattr(cfg, "save_every", 0)
    if every is None:
        every = 0 if cfg.max_steps < 50 else min(200, math.ceil(cfg.max_steps / 10))
    return every


def save(run: Any, work: Path) -> None:
    """Write checkpoint `run.step` into `work`: rank 0 the weights, optimizer, schedule, scaler, callbacks' state and
    losses; every rank its RNG states; then, once every rank is done, complete.json (the checkpoint counts)."""
    folder = work / f"{PREFIX}{run.step}"
    folder.mkdir(parents=True, exist_ok=True)
    main = run.accelerator.is_main_process
    if main:
        save_trainable(run.unwrapped, folder)
        save_optimizer(run.optimizer, run.scheduler, folder)
        save_scaler(run.scaler, folder)
        for callback in run.callbacks:
            if hasattr(callback, "save_checkpoint"):
                callback.save_checkpoint(folder)
        write_json(folder / STATE, {"step": run.step, "losses": run.losses})
    save_rng(folder, run.accelerator.process_index)
    run.accelerator.wait_for_everyone()  # every rank's RNG file is on disk before the checkpoint counts
    if main:
        mark_complete(folder, run.step)


def resume(run: Any, work: Path) -> None:
    """Restore `run` from the last complete checkpoint in `work`, once checked to be this very run's (or start it).

    Raises:
        ConfigError: the folder holds checkpoints of a run with another config or other data.
    """
    digest = run_hash(run.cfg, run.dataset, run.unwrapped, run.world)
    last = open_run(work, digest, write=run.accelerator.is_main_process)
    run.accelerator.wait_for_everyone()
    if last is None:
        return
    state = read_json(last / STATE, "checkpoint state.json")
    log.warning("resuming from checkpoint %s: step %d of %d (delete %s to start over)", last, state["step"],
                run.cfg.max_steps, work)  # fmt: skip
    stateless = [type(c).__name__ for c in run.callbacks if not hasattr(c, "load_checkpoint")]
    if stateless:
        log.warning("callbacks without checkpoint state restart at step %d: %s", state["step"], ", ".join(stateless))
    load_trainable(run.unwrapped, last)
    load_optimizer(run.optimizer, run.scheduler, last)
    load_scaler(run.scaler, last)
    load_rng(last, run.accelerator.process_index)
    for callback in run.callbacks:
        if hasattr(callback, "load_checkpoint"):
            callback.load_checkpoint(last)
    run.step, run.losses = int(state["step"]), [float(x) for x in state["losses"]]

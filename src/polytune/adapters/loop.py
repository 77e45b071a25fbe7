"""The training loop of every adapter: AdamW, linear decay, gradient accumulation, clipping, DDP through accelerate.

polytune owns this loop instead of subclassing transformers' Trainer: exact resumption, checkpoints without pickle
and losses that are per-batch means all needed Trainer's private hooks, which change between releases. What the
loop does, in order, per optimizer step: `accumulation` micro-batches of `batch_size` examples per process are
collated in this process (so a collator's generator moves once per trained batch), forwarded, and back-propagated
at 1/accumulation scale; DDP averages the gradients over processes; the gradient norm is clipped to 1.0; AdamW
steps; the learning rate decays linearly to 0 at `max_steps`.

Data order: one seeded permutation of the training examples per epoch, read as one continuous stream; step s of
a run with P processes consumes examples [s·A·P·B, (s+1)·A·P·B) of it, process p taking its own slice of every
micro-batch. A resumed run therefore continues with exactly the examples an uninterrupted run would see.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from polytune.adapters import checkpoints
from polytune.config import AdapterTrainingConfig

log = logging.getLogger(__name__)

MAX_GRAD_NORM = 1.0


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def precision(cfg: AdapterTrainingConfig) -> str:
    """'bf16', 'fp16' or 'no': 'auto' = bf16 on a GPU that supports it, else fp32; no half precision on CPU."""
    cuda = torch.cuda.is_available()
    wanted = getattr(cfg, "precision", "auto")
    if wanted == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    if wanted in ("bf16", "fp16") and not cuda:
        log.warning("precision %s needs a GPU; training in fp32 on CPU", wanted)
        return "no"
    return wanted if wanted in ("bf16", "fp16") else "no"


def example_stream(size: int, seed: int, start: int) -> Iterator[int]:
    """Indices of the training examples from stream position `start` on: epoch e is randperm(size) seeded seed+e.

    Example: example_stream(3, 0, 0) yields a permutation of 0..2, then another, and so on.
    """
    epoch, offset = divmod(start, size)
    while True:
        order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        yield from order[offset:]
        epoch, offset = epoch + 1, 0


def _rows(dataset: Any, indices: list[int]) -> list[dict[str, Any]]:
    columns = dataset[indices]
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _linear_decay(max_steps: int):
    return lambda step: max(0.0, (max_steps - step) / max_steps)


class Run:
    """The state of one training run: model, optimizer, schedule, data position, losses."""

    def __init__(self, model: Any, dataset: Any, collator: Any, cfg: AdapterTrainingConfig, callbacks: list[Any]):
        from accelerate import Accelerator

        self.cfg, self.dataset, self.collator, self.callbacks = cfg, dataset, collator, callbacks
        self.accumulation = max(1, int(getattr(cfg, "gradient_accumulation_steps", 1)))
        self.precision = precision(cfg)
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available())
        if getattr(cfg, "gradient_checkpointing", False):
            # Recompute activations in the backward pass: less memory for long sequences, ~30% more compute.
            inner = model.get_base_model() if hasattr(model, "get_base_model") else model
            inner.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.model = self.accelerator.prepare(model)  # DDP-wrapped under `accelerate launch`, else as it is
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.learning_rate, weight_decay=0.0)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _linear_decay(cfg.max_steps))
        use_scaler = self.precision == "fp16"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.step, self.losses = 0, []

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def unwrapped(self) -> Any:
        return self.accelerator.unwrap_model(self.model)

    def global_batch(self) -> int:
        return self.cfg.batch_size * self.world * self.accumulation

    def micro_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """This process's micro-batches from the current step on (see the module docstring)."""
        size, rank = self.cfg.batch_size, self.accelerator.process_index
        stream = example_stream(len(self.dataset), self.cfg.seed, self.step * self.global_batch())
        while True:
            block = [next(stream) for _ in range(size * self.world)]
            examples = _rows(self.dataset, block[rank * size : (rank + 1) * size])
            yield {k: v.to(self.accelerator.device) for k, v in self.collator(examples).items()}

    def autocast(self):
        if self.precision == "no":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.accelerator.device.type, dtype=dtype)

    def train_step(self, batches: Iterator[dict[str, torch.Tensor]], loss_fn: Any) -> dict[str, float]:
        """One optimizer step; returns its logs: the loss (mean over micro-batches and processes), grad norm, lr."""
        total = 0.0
        for micro in range(self.accumulation):
            batch = next(batches)
            last = micro == self.accumulation - 1
            sync = contextlib.nullcontext() if last else self.accelerator.no_sync(self.model)
            with sync:
                with self.autocast():
                    loss = loss_fn(self.model, batch) if loss_fn else self.model(**batch).loss
                scaled = loss.float() / self.accumulation
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            total += float(loss.detach())
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, MAX_GRAD_NORM)
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        lr = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        mean = torch.tensor(total / self.accumulation, device=self.accelerator.device)
        return {"loss": float(self.accelerator.reduce(mean, "mean")), "grad_norm": float(norm), "learning_rate": lr}


def _progress(total: int, start: int, main: bool):
    from tqdm.auto import tqdm

    disable = not main or os.environ.get("TQDM_DISABLE") == "1"
    return tqdm(total=total, initial=start, desc="training", unit="step", disable=disable, leave=False)


def fit(
    model: Any,
    dataset: Any,
    collator: Any,
    cfg: AdapterTrainingConfig,
    loss: Any = None,
    callbacks: list[Any] | None = None,
) -> list[float]:
    """Train for cfg.max_steps (or until a callback stops it); return the training loss of every step.

    With checkpoints on (`save_every`) and cfg.out set, checkpoints go to the hidden work folder beside cfg.out
    (`checkpoints.work_dir`), and a rerun of the same run resumes from the last complete one: same weights,
    optimizer, schedule, RNG and data order as an uninterrupted run. `save_adapter` removes the folder.

    Args:
        model: the peft model to train (its parameters with requires_grad are trained).
        dataset: a `datasets.Dataset` of tokenized examples.
        collator: turns a list of examples into a batch of tensors.
        cfg: training settings.
        loss: optional `loss(model, batch) -> tensor` replacing the model's own loss.
        callbacks: objects with `on_step(step, logs) -> bool` (True stops training) and optionally
            `save_checkpoint(folder)` / `load_checkpoint(folder)` (e.g. early stopping).

    Returns:
        The training loss of every step (those before a resumed checkpoint included).

    Raises:
        ConfigError: the work folder holds checkpoints of a run with another config or other data.
    """
    callbacks = list(callbacks or [])
    seed_everything(cfg.seed)
    run = Run(model, dataset, collator, cfg, callbacks)
    every = checkpoints.save_every(cfg) if getattr(cfg, "out", None) else 0
    work = checkpoints.work_dir(cfg.out) if every else None
    if work is not None:
        checkpoints.resume(run, work)
    log.info("training %d steps, global batch %d (%d per process x %d processes x %d accumulated)", cfg.max_steps,
             run.global_batch(), cfg.batch_size, run.world, run.accumulation)  # fmt: skip
    run.model.train()
    batches = run.micro_batches()
    with _progress(cfg.max_steps, run.step, run.accelerator.is_main_process) as bar:
        while run.step < cfg.max_steps:
            logs = run.train_step(batches, loss)
            run.step += 1
            run.losses.append(logs["loss"])
            bar.update(1)
            stop = any([bool(c.on_step(run.step, logs)) for c in callbacks])
            run.model.train()  # a callback that measured on dev data may have left eval mode on
            if work is not None and run.step % every == 0 and run.step < cfg.max_steps and not stop:
                checkpoints.save(run, work)
            if stop:
                break
    log.info("trained %d steps: loss %.4f -> %.4f", run.step, run.losses[0], run.losses[-1])
    return run.losses

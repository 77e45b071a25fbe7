"""The training loop of every adapter, on accelerate: AdamW, linear decay, gradient accumulation, clipping, DDP.

polytune owns this loop instead of subclassing transformers' Trainer: exact resumption, checkpoints without pickle
and losses normalized over the whole step all needed Trainer's private hooks, which change between releases. The
rest is accelerate's public API: `prepare` (DDP under `accelerate launch`), `autocast`, `backward` (fp16 loss
scaling), `no_sync`, `clip_grad_norm_` (unscales first), `reduce`, `is_main_process` and the trackers.

Per optimizer step: `accumulation` micro-batches of `batch_size` examples per process are collated in this
process; their loss units (`losses.Loss.units`) are summed over every micro-batch and process; each micro-batch is
forwarded through the prepared `ObjectiveModule` and back-propagated as its share of the step's loss (its sum over
the global count); DDP averages the gradients over processes; the gradient norm is clipped to 1.0; AdamW steps;
the learning rate decays linearly to 0 at `max_steps`. So N processes, or N accumulated micro-batches, train as
one batch of the global size does (tests/adapters/test_ddp.py checks both ranks and a 1-process run agree).

Data order: one seeded permutation of the training examples per epoch, read as one continuous stream; step s of
a run with P processes consumes examples [s·A·P·B, (s+1)·A·P·B) of it, process p taking its own slice of every
micro-batch. A collator that draws random numbers (masking, span corruption) seeds them by each example's stream
position, so masks do not depend on how a step is split either, and a resumed run continues with exactly the
examples and masks an uninterrupted run would see.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from polytune.adapters import checkpoints, tracking
from polytune.adapters.losses import Loss, ObjectiveModule
from polytune.config import AdapterTrainingConfig
from polytune.errors import ConfigError
from polytune.logs import SUMMARY

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


def _tokens(batch: dict[str, torch.Tensor]) -> int:
    """Tokens a batch feeds the model (its attention mask, else its ids)."""
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else int(batch["input_ids"].numel())


def _accelerator(cfg: AdapterTrainingConfig, mixed: str, trackers: list[str]) -> Any:
    from accelerate import Accelerator

    project = str(tracking.tracking_dir(cfg)) if trackers else None
    try:
        return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed, log_with=trackers or None,
                           project_dir=project)  # fmt: skip
    except ValueError as exc:  # accelerate's state holds one precision per process
        raise ConfigError(f"precision {cfg.precision!r} differs from an earlier training in this process ({exc}); "
                          "give every training step of one run the same precision") from exc


class Run:
    """The state of one training run: model, optimizer, schedule, data position, losses, trackers."""

    def __init__(self, model: Any, dataset: Any, collator: Any, cfg: AdapterTrainingConfig, loss: Loss,
                 callbacks: list[Any], phase: str | None = None) -> None:  # fmt: skip
        self.cfg, self.dataset, self.collator, self.callbacks, self.loss = cfg, dataset, collator, callbacks, loss
        self.accumulation = max(1, int(getattr(cfg, "gradient_accumulation_steps", 1)))
        self.precision = precision(cfg)
        trackers = tracking.tracker_names(getattr(cfg, "report_to", None))
        self.accelerator = _accelerator(cfg, self.precision, trackers)
        if getattr(cfg, "gradient_checkpointing", False):
            # Recompute activations in the backward pass: less memory for long sequences, ~30% more compute.
            inner = model.get_base_model() if hasattr(model, "get_base_model") else model
            inner.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(self.params, lr=cfg.learning_rate, weight_decay=0.0)
        # The module accelerate wraps (DDP under `accelerate launch`) computes the loss: see losses.py.
        self.module, self.optimizer = self.accelerator.prepare(ObjectiveModule(model, loss), optimizer)
        # Not prepared: accelerate's scheduler wrapper steps once per process, the schedule here once per step.
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _linear_decay(cfg.max_steps))
        self.step, self.losses = 0, []
        if trackers:
            self.accelerator.init_trackers(tracking.run_name(cfg, phase), config=tracking.hyperparameters(cfg))

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def unwrapped(self) -> Any:
        """The peft model being trained (under the objective module and any DDP wrapper)."""
        return self.model

    @property
    def scaler(self) -> Any:
        """accelerate's fp16 gradient scaler (None unless fp16)."""
        return self.accelerator.scaler

    def global_batch(self) -> int:
        return self.cfg.batch_size * self.world * self.accumulation

    def micro_batches(self) -> Iterator[dict[str, torch.Tensor]]:
        """This process's micro-batches from the current step on (see the module docstring)."""
        size, rank = self.cfg.batch_size, self.accelerator.process_index
        start = self.step * self.global_batch()
        stream = example_stream(len(self.dataset), self.cfg.seed, start)
        seeded = getattr(self.collator, "seeded_per_example", False)
        while True:
            block = [next(stream) for _ in range(size * self.world)]
            examples = _rows(self.dataset, block[rank * size : (rank + 1) * size])
            if seeded:  # the stream position seeds the example's random draws
                for offset, example in enumerate(examples):
                    example["position"] = start + rank * size + offset
            start += size * self.world
            yield self.collator(examples)

    def _totals(self, batches: list[dict[str, torch.Tensor]]) -> tuple[dict[str, float], int]:
        """The step's loss units per term and its tokens, summed over micro-batches and processes."""
        terms = list(self.loss.weights)
        local = torch.zeros(len(terms) + 1, dtype=torch.float64, device=self.accelerator.device)
        for batch in batches:
            units = self.loss.units(batch)
            local[:-1] += torch.tensor([units[t] for t in terms], dtype=torch.float64, device=local.device)
            local[-1] += _tokens(batch)
        total = self.accelerator.reduce(local, "sum") if self.world > 1 else local
        return dict(zip(terms, total[:-1].tolist(), strict=True)), int(total[-1])

    def train_step(self, batches: Iterator[dict[str, torch.Tensor]]) -> dict[str, float]:
        """One optimizer step; returns its logs: loss (of the global batch), grad norm, lr, tokens per second."""
        started = time.perf_counter()
        device = self.accelerator.device
        micro = [{k: v.to(device) for k, v in next(batches).items()} for _ in range(self.accumulation)]
        totals, tokens = self._totals(micro)
        share = torch.zeros((), device=device)
        for index, batch in enumerate(micro):
            last = index == len(micro) - 1
            with contextlib.nullcontext() if last else self.accelerator.no_sync(self.module):
                with self.accelerator.autocast():
                    loss = self.module(batch, totals, self.world > 1)
                # DDP averages gradients over processes; each process's share of the sum is scaled back up.
                self.accelerator.backward(loss.float() * self.world)
            share += loss.detach().float()
        norm = self.accelerator.clip_grad_norm_(self.params, MAX_GRAD_NORM)
        self.optimizer.step()
        lr = self.scheduler.get_last_lr()[0]
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        total = self.accelerator.reduce(share, "sum") if self.world > 1 else share
        seconds = time.perf_counter() - started
        return {"loss": float(total), "grad_norm": float(norm), "learning_rate": lr,
                "tokens_per_second": tokens / seconds if seconds > 0 else 0.0}  # fmt: skip

    def log(self, logs: dict[str, float]) -> None:
        """Send the step's numbers to the trackers (main process; nothing without report_to)."""
        if self.accelerator.trackers:
            self.accelerator.log({k: float(v) for k, v in logs.items()}, step=self.step)

    def finish(self) -> None:
        """Close the trackers (their files complete); the process group stays for the next `fit`."""
        for tracker in self.accelerator.trackers:
            tracker.finish()


def _progress(total: int, start: int, main: bool):
    from tqdm.auto import tqdm

    disable = not main or os.environ.get("TQDM_DISABLE") == "1"
    return tqdm(total=total, initial=start, desc="training", unit="step", disable=disable, leave=False)


def fit(
    model: Any,
    dataset: Any,
    collator: Any,
    cfg: AdapterTrainingConfig,
    loss: Loss,
    callbacks: list[Any] | None = None,
    phase: str | None = None,
) -> list[float]:
    """Train for cfg.max_steps (or until a callback stops it); return the training loss of every step.

    With checkpoints on (`save_every`) and cfg.out set, checkpoints go to the hidden work folder beside cfg.out
    (`checkpoints.work_dir`), and a rerun of the same run resumes from the last complete one: same weights,
    optimizer, schedule, RNG and data order as an uninterrupted run. `save_adapter` removes the folder.

    Args:
        model: the peft model to train (its parameters with requires_grad are trained).
        dataset: a `datasets.Dataset` of tokenized examples.
        collator: turns a list of examples into a batch of tensors (`seeded_per_example`: examples carry their
            stream `position`).
        cfg: training settings.
        loss: the `losses.Loss` to minimize.
        callbacks: objects with `on_step(step, logs) -> bool` (True stops training) and optionally
            `on_train_begin(model)` (called with the peft model before the first step), `save_checkpoint(folder)`
            / `load_checkpoint(folder)` (e.g. early stopping).
        phase: a short stage before the main training (its tracker run's suffix, e.g. "embedding-first").

    Returns:
        The training loss of every step (those before a resumed checkpoint included).

    Raises:
        ConfigError: the work folder holds checkpoints of a run with another config or other data.
    """
    callbacks = list(callbacks or [])
    seed_everything(cfg.seed)
    run = Run(model, dataset, collator, cfg, loss, callbacks, phase)
    every = checkpoints.save_every(cfg) if getattr(cfg, "out", None) and phase is None else 0
    work = checkpoints.work_dir(cfg.out) if every else None
    if work is not None:
        checkpoints.resume(run, work)
    log.info("training %d steps, global batch %d (%d per process x %d processes x %d accumulated)", cfg.max_steps,
             run.global_batch(), cfg.batch_size, run.world, run.accumulation)  # fmt: skip
    for callback in callbacks:
        if hasattr(callback, "on_train_begin"):
            callback.on_train_begin(run.model)
    run.module.train()
    batches = run.micro_batches()
    try:
        with _progress(cfg.max_steps, run.step, run.accelerator.is_main_process) as bar:
            while run.step < cfg.max_steps:
                logs = run.train_step(batches)
                run.step += 1
                run.losses.append(logs["loss"])
                bar.update(1)
                stop = any([bool(c.on_step(run.step, logs)) for c in callbacks])
                run.module.train()  # a callback that measured on dev data may have left eval mode on
                run.log({**logs, **({"early_stop": 1.0} if stop else {})})
                if work is not None and run.step % every == 0 and run.step < cfg.max_steps and not stop:
                    checkpoints.save(run, work)
                if stop:
                    break
    finally:
        run.finish()
    log.info("trained %d steps: loss %.4f -> %.4f", run.step, run.losses[0], run.losses[-1], extra=SUMMARY)
    return run.losses

"""Early stopping on a dev measure: measured every N steps, stop after `patience` measurements without improvement,
optionally keep the best weights, and carry all of it through training checkpoints (exact resumption).

The callback's state (the dev history, the best measurement and, when kept, the best trainable tensors) is written
into each checkpoint folder by `checkpoints.save` and read back by `checkpoints.resume`, so a resumed run
measures, stops and restores exactly as an uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from polytune.io import read_json, write_json

log = logging.getLogger(__name__)

STATE_JSON = "early_stopping.json"
BEST_WEIGHTS = "early_stopping_best.safetensors"


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """A CPU copy of every trainable tensor (LoRA, heads saved with the adapter, trainable token rows)."""
    return {n: p.detach().cpu().clone().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def improved(value: float, best: float, higher_is_better: bool) -> bool:
    """Strictly better (a tie keeps the earlier, shorter-trained best). Example: improved(0.5, 0.5, True) -> False."""
    return value > best if higher_is_better else value < best


def early_stopping(
    model: Any,
    measure: Callable[[], float],
    every: int,
    patience: int,
    metric: str,
    higher_is_better: bool = False,
    keep_best: bool = False,
):
    """A training callback (`loop.fit`) that measures `measure()` every `every` steps and stops after `patience`
    measurements without improvement.

    Args:
        model: the model being trained (its trainable tensors are what `keep_best` keeps).
        measure: the dev measure of the model as it is now (deterministic: no RNG draws).
        every: steps between measurements.
        patience: measurements without improvement before stopping.
        metric: the measure's name, for logs and the manifest.
        higher_is_better: accuracy/F1 (True) or a loss (False).
        keep_best: copy the trainable tensors at each new best, so `restore_best` can put them back.

    Returns:
        The callback; after training `history`, `best_step`, `restore_best()` and `summary()` describe the run.
    """
    class _EarlyStopping:
        def __init__(self) -> None:
            self.history: list[list[float]] = []  # [step, value] per measurement
            self.best_index: int | None = None
            self.best_weights: dict[str, torch.Tensor] | None = None

        @property
        def best_step(self) -> int | None:
            return None if self.best_index is None else int(self.history[self.best_index][0])

        def on_step(self, step: int, logs: dict[str, float]) -> bool:
            """Measure at every `every`-th step; True (stop) after `patience` measurements without improvement."""
            if step % every:
                return False
            value = float(measure())
            logs[metric] = value  # callbacks after this one (e.g. a tuning trial's pruner) read the measurement
            self.history.append([step, value])
            if self.best_index is None or improved(value, self.history[self.best_index][1], higher_is_better):
                self.best_index = len(self.history) - 1
                if keep_best:
                    self.best_weights = trainable_state(model)
            if len(self.history) - 1 - self.best_index >= patience:
                log.info("early stop at step %d: %s has not improved since step %d (%.4f)", step, metric,
                         self.best_step, self.history[self.best_index][1])  # fmt: skip
                return True
            return False

        def restore_best(self) -> int | None:
            """Copy the best step's trainable tensors back into the model; return that step (None: nothing kept)."""
            if self.best_weights is None:
                return None
            with torch.no_grad():
                for name, param in model.named_parameters():
                    if name in self.best_weights:
                        param.copy_(self.best_weights[name].to(param.device, param.dtype))
            log.info("restored the weights of step %d (%s %.4f)", self.best_step, metric, self.summary()["best"])
            return self.best_step

        def summary(self) -> dict[str, Any]:
            best = None if self.best_index is None else self.history[self.best_index][1]
            return {"metric": metric, "higher_is_better": higher_is_better, "every": every, "patience": patience,
                    "history": self.history, "best_step": self.best_step, "best": best}  # fmt: skip

        def save_checkpoint(self, folder: str | Path) -> None:
            """Write the state into a checkpoint folder (before it is marked complete)."""
            write_json(Path(folder) / STATE_JSON, {"history": self.history, "best_index": self.best_index})
            if self.best_weights is not None:
                save_file(self.best_weights, str(Path(folder) / BEST_WEIGHTS))

        def load_checkpoint(self, folder: str | Path) -> None:
            """Read back what `save_checkpoint` wrote; a checkpoint without it (made before) leaves a fresh state."""
            path = Path(folder) / STATE_JSON
            if not path.is_file():
                log.warning("checkpoint %s has no early-stopping state: the dev history restarts here", folder)
                return
            saved = read_json(path, "checkpoint early_stopping.json")
            self.history, self.best_index = [list(x) for x in saved["history"]], saved["best_index"]
            best = Path(folder) / BEST_WEIGHTS
            self.best_weights = load_file(str(best)) if best.is_file() else None

    return _EarlyStopping()

"""Training curves in the user's tracker, through accelerate's trackers (`report_to`: tensorboard, wandb, mlflow,
trackio; none by default).

Each `loop.fit` call is one tracker run named after its output folder (`nya_Latn`, `task`), with a suffix for a
short stage before the main one (`nya_Latn-embedding-first`). Per step it logs the loss, learning rate, gradient
norm and tokens per second; the dev metric of early stopping when it is measured; `early_stop` (1) at the step
training stops on it. Local trackers (tensorboard) write under `tracking_dir` (default: `tracking/` beside the
output folder); open them with `tensorboard --logdir <that folder>`.

Example: trackers = tracker_names("tensorboard") -> ["tensorboard"]
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from polytune.errors import ConfigError, require_module

# report_to name -> the module accelerate's tracker imports (checked before training, with the pip command).
TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow", "trackio": "trackio"}
EXTRAS = {"tensorboard": "track"}


def tracker_names(report_to: str | list[str] | None) -> list[str]:
    """The trackers a `report_to` value names ("none" or empty: none); each checked to be known and installed.

    Raises:
        ConfigError: an unknown tracker name.
        DependencyError: its package is not installed (the message says what to pip install).
    """
    if report_to is None:
        return []
    names = [n.strip() for n in (report_to.split(",") if isinstance(report_to, str) else report_to) if n.strip()]
    names = [n for n in names if n != "none"]
    for name in names:
        if name not in TRACKERS:
            raise ConfigError(f"unknown report_to {name!r}; available: none, {', '.join(TRACKERS)}")
        require_module(TRACKERS[name], extra=EXTRAS.get(name))
    return names


def tracking_dir(cfg: Any) -> Path:
    """Where local trackers write: cfg.tracking_dir, else `tracking/` beside the output folder."""
    if getattr(cfg, "tracking_dir", None) is not None:
        return Path(cfg.tracking_dir)
    return Path(cfg.out).parent / "tracking"


def run_name(cfg: Any, phase: str | None) -> str:
    """The tracker run of one `fit` call. Example: out runs/a/nya_Latn, phase embedding-first ->
    nya_Latn-embedding-first."""
    name = Path(getattr(cfg, "out", None) or "run").name
    return f"{name}-{phase}" if phase else name


def hyperparameters(cfg: Any) -> dict[str, Any]:
    """The config as the flat str/int/float/bool values every tracker takes (lists and paths as text)."""
    raw = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(vars(cfg))
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = json.dumps(value, default=str)
    return out

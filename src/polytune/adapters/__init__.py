"""Adapters stage: language adapters (`language.py`, objectives in `objectives/`) and task adapters (`tasks/`), on
peft, trained by one loop (`loop.py`) with losses computed inside the module accelerate prepares (`losses.py`).

The two entry points below are what the CLI, `polytune run` and scripts call. They resolve a `zoo:`/`pkg:` base to
its folder first (`polytune.resources`), so a config names a zoo model without building it, and the adapter's
manifest records the folder it was trained on. They import the training stack only when called, so
`import polytune.adapters.embeddings` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["train_language_adapter", "train_task_adapter"]


def train_language_adapter(cfg: Any, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a language adapter (see `adapters.language.train_language_adapter`) on cfg's base, resolved."""
    from polytune.adapters import language
    from polytune.resources import resolved

    return language.train_language_adapter(resolved(cfg), callbacks)


def train_task_adapter(cfg: Any, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a task adapter (see `adapters.tasks.train_task_adapter`) on cfg's base, resolved."""
    from polytune.adapters import tasks
    from polytune.resources import resolved

    return tasks.train_task_adapter(resolved(cfg), callbacks)

"""Adapter training entry points: what the CLI, `polytune run` and scripts call (`polytune.adapters.train:...`).

The code lives in `language.py` (language adapters), `tasks/` (task adapters) and `trainer.py` (shared). These
entry points resolve a `zoo:`/`pkg:` base to its folder first (`polytune.resources`), so a config names a zoo
model without building it, and the adapter's manifest records the folder it was trained on.
"""

from __future__ import annotations

from typing import Any

from polytune.adapters import language, tasks
from polytune.adapters.trainer import masked_lm_loss
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.resources import resolved

__all__ = ["masked_lm_loss", "train_language_adapter", "train_task_adapter"]


def train_language_adapter(cfg: LanguageAdapterConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a language adapter (see `adapters.language.train_language_adapter`) on cfg's base, resolved."""
    return language.train_language_adapter(resolved(cfg), callbacks)


def train_task_adapter(cfg: TaskAdapterConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a task adapter (see `adapters.tasks.train_task_adapter`) on cfg's base, resolved."""
    return tasks.train_task_adapter(resolved(cfg), callbacks)

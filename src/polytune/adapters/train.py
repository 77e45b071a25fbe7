"""Adapter training entry points (kept for `polytune.adapters.train:...` references in pipelines and scripts).

The code lives in `language.py` (language adapters), `tasks.py` (task adapters) and `trainer.py` (shared).
"""

from __future__ import annotations

from polytune.adapters.language import train_language_adapter
from polytune.adapters.tasks import train_task_adapter
from polytune.adapters.trainer import masked_lm_loss

__all__ = ["masked_lm_loss", "train_language_adapter", "train_task_adapter"]

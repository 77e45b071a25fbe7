"""Adapters stage: language adapters (MLM + new embedding rows) and task adapters (classifier), on peft LoRA.

Names are imported lazily so `import polytune.adapters.embeddings` does not load the training stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["train_language_adapter", "train_task_adapter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from polytune.adapters import train

        return getattr(train, name)
    raise AttributeError(f"module 'polytune.adapters' has no attribute {name!r}")

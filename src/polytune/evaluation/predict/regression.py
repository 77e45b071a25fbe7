"""Predictions of a regression task adapter: the single head output per record, as a float.

Example: gold_float({"id": "a", "score": 2}, "score") -> 2.0
"""

from __future__ import annotations

import math
from typing import Any

import torch

from polytune.errors import InputError


def gold_float(record: dict[str, Any], field: str) -> float:
    """A record's reference value as a finite float.

    Raises:
        InputError: the value is not a number (nor a numeric string), or is a bool, NaN or infinite.
    """
    value = record[field]
    try:
        number = math.nan if isinstance(value, bool | list | dict) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InputError(f"record {record.get('id')}: {field!r} is {value!r:.40}, not a number; a regression task "
                         "adapter is scored on float labels")  # fmt: skip
    return number


@torch.no_grad()
def regress(model: Any, tokenizer: Any, texts: list[str], batch_size: int, max_length: int) -> list[float]:
    """The model's single output for each text, batch by batch, without gradients."""
    device = next(model.parameters()).device
    out: list[float] = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        out.extend(float(x) for x in model(**batch).logits.float().squeeze(-1).tolist())
    return out

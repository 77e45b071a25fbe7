"""The devices torch sees, for `polytune doctor` (torch is imported only when asked), and where a model sits."""

from __future__ import annotations

from typing import Any


def devices() -> dict[str, Any]:
    """CUDA/MPS availability and device names (for `polytune doctor`)."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"cuda": cuda, "cuda_version": torch.version.cuda, "cuda_devices": names, "mps": mps}


def device_of(model: Any) -> Any:
    """The device of a model's first parameter (where its inputs must go)."""
    return next(model.parameters()).device

"""The weights policy: how every model of polytune is read from disk (safetensors only, no remote code).

`load_pretrained` is the one door through which bases, tokenizers and generation models come in: pickle weights
(.bin/.pt) are refused unless inside `allowing_pickle()` (`polytune --allow-pickle`), and then only through torch's
weights_only loader; any loading failure becomes a ModelError naming the path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle  # only for its UnpicklingError: nothing here unpickles
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polytune.errors import ModelError, short_reason

log = logging.getLogger(__name__)


def _where(name: str) -> str:
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise ModelError(f"{name} is a file, not a model folder: give the folder holding config.json")
    return name


def load_errors() -> tuple[type[BaseException], ...]:
    """What a corrupt or missing model raises; safetensors' own error is not an OSError/ValueError."""
    from safetensors import SafetensorError

    return (OSError, ValueError, KeyError, RuntimeError, SafetensorError)


# Pickle weight files transformers can load; polytune refuses them outside `allowing_pickle()`.
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_ALLOW_PICKLE = "POLYTUNE_ALLOW_PICKLE"


@contextlib.contextmanager
def allowing_pickle(allowed: bool = True) -> Iterator[None]:
    """Inside the block, models may load pickle weights (.bin/.pt) through torch's weights_only loader
    (`polytune --allow-pickle`); the previous policy comes back after it.

    Kept in the environment (POLYTUNE_ALLOW_PICKLE=1) so processes started meanwhile inherit the choice.
    """
    before = os.environ.get(_ALLOW_PICKLE)
    if allowed:
        os.environ[_ALLOW_PICKLE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_ALLOW_PICKLE, None)
        else:
            os.environ[_ALLOW_PICKLE] = before


def pickle_allowed() -> bool:
    return os.environ.get(_ALLOW_PICKLE) == "1"


def _pickle_weights(name: str) -> list[Path]:
    """The pickle weight files of a local model folder that has no safetensors weights ([] otherwise)."""
    folder = Path(name)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES and p.is_file())


def _weights_policy(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Apply the safetensors-only rule to a weights load: refuse a pickle-only folder unless allowed; when allowed,
    let transformers fall back to pickle weights, loaded with weights_only=True (tensors only, no code)."""
    if not kwargs.get("use_safetensors"):
        return kwargs
    pickled = _pickle_weights(name)
    if not pickle_allowed():
        if pickled:
            raise ModelError(
                f"{name} has only pickle weights ({pickled[0].name}), and polytune loads safetensors only: convert "
                "them to safetensors, or pass --allow-pickle (allow_pickle: true in a run config) to load them with "
                "torch's weights_only loader"
            )
        return kwargs
    if pickled:
        log.warning("loading pickle weights %s (--allow-pickle; torch weights_only loader)", pickled[0])
    return {**kwargs, "use_safetensors": None, "weights_only": True}


def load_pretrained(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """Call `loader.from_pretrained(name)`, turning every loading failure into a ModelError naming `name`.

    Weights load from safetensors only, unless inside `allowing_pickle()` (see `_weights_policy`).
    """
    _where(name)
    kwargs = _weights_policy(name, kwargs)
    try:
        return loader.from_pretrained(name, **kwargs)
    except pickle.UnpicklingError as exc:  # torch's weights_only loader met objects or code, not just tensors
        raise ModelError(
            f"cannot load {what} from {name}: its pickle weights hold objects other than tensors (possibly code), "
            "which polytune never loads, even with --allow-pickle; get safetensors weights"
        ) from exc
    except load_errors() as exc:
        missing = not Path(name).exists()
        hint = "not a folder here nor a cached hub model; check the path" if missing else "rebuild or re-download it"
        reason = f"{type(exc).__name__}: {short_reason(exc)}"
        raise ModelError(f"cannot load {what} from {name}: {hint} ({reason})") from exc

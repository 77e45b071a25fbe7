"""Typed errors. Each one is a ValueError, so library users can catch either; the CLI maps them to exit code 2.

A message repeats the user's value and says the fix, on one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PolytuneError(ValueError):
    """Base of every error polytune raises for bad input, config or models."""


class ConfigError(PolytuneError):
    """A config value or key is invalid."""


class InputError(PolytuneError):
    """An input file or corpus is missing, unreadable, empty or malformed."""


class LanguageCodeError(PolytuneError):
    """A language code is not a language, or is not safe to use as a path."""


class ModelError(PolytuneError):
    """A model, tokenizer, adapter or pack is missing, corrupt, unsafe or made for another base."""


class TaskError(PolytuneError):
    """A task of a corpus pipeline did not finish; its log says why, and a rerun runs only the unfinished tasks."""


class DependencyError(PolytuneError):
    """An optional dependency is not installed."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Suffix for an error about an unknown name.

    Example: did_you_mean("tempreature", ["temperature", "seed"]) -> " (did you mean 'temperature'?)"
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(value, choices, n=1)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (available: {', '.join(choices)})" if choices else ""


def require_module(module: str, pip_name: str | None = None, extra: str | None = None):
    """Import an optional dependency, or raise DependencyError with the pip command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = f"pip install 'polytune[{extra}]'" if extra else f"pip install {pip_name or module}"
        raise DependencyError(f"{module} is not installed: {hint}") from exc


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """A library's error message for one line: its first line, cut at a word boundary with "..." when long.

    Example: short_reason(ValueError("Couldn't instantiate the backend tokenizer from one of: \\n(1) a ...")) ->
    "Couldn't instantiate the backend tokenizer from one of:"
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut} ..."


def languages_present(found: Iterable[str]) -> str:
    """Suffix for an error about a language a folder lacks: the languages it has (a near-miss key is no help).

    Example: languages_present(["fra_Latn", "eng_Latn"]) -> " (languages present: eng_Latn, fra_Latn)"
    """
    found = sorted(found)
    return f" (languages present: {', '.join(found)})" if found else " (no language folder there)"

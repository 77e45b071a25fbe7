"""What every stage config shares: field help (the CLI and the generated reference read it), the checks of
values, the one parser of mappings (`from_dict`) and the YAML reader."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from polytune import registry
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.langcodes import normalize

SPLITS = ("train", "dev", "test")
VOTE = "vote"  # the ensemble of `voters`, usable where a backend is named
TAG_SCHEMES = ("IOB2", "BIOES")


def _help(text: str, registry: str | None = None, **kwargs: Any) -> Any:
    """A field with its help text (CLI, docs reference) and, for a name out of a registry table, that table's kind."""
    return field(metadata={"help": text, **({"registry": registry} if registry else {})}, **kwargs)


def _langs(values: Any, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [normalize(v) for v in (values or [])]


def _positive(value: Any, name: str, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ConfigError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {value!r}")


def _fraction(value: Any, name: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ConfigError(f"{name} must be between 0 and 1, got {value!r}")


def _registered(value: Any, name: str, kind: str, *extra: str) -> None:
    """`value` names a row of the registry's `kind` table (or one of `extra`): what config accepts is the table."""
    _choice(value, name, (*extra, *registry.names(kind)))


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) and len(choices) > 1 else ""
        hint = hint if "did you mean" in hint else ""
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}{hint}")


BENCHMARKS = "data/benchmarks"  # inside the polytune package: one folder of YAML per standard benchmark


def benchmark_names() -> tuple[str, ...]:
    """The standard benchmarks polytune ships definitions of (evaluation/benchmarks: folders of YAML).

    Example: "sib200" in benchmark_names() -> True
    """
    from importlib import resources

    folder = resources.files("polytune").joinpath(BENCHMARKS)
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))))


def _paths(value: Any, name: str) -> list[str]:
    """One path or a list of paths as a list of strings. Example: _paths("data/e.jsonl", "x") -> ["data/e.jsonl"]."""
    if isinstance(value, (str, Path)):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, (str, Path)) and str(p) for p in value):
        raise ConfigError(f"{name} must be a path or a list of paths, got {value!r}")
    return [str(p) for p in value]


def from_dict(cls: type, data: dict[str, Any] | None, section: str, noun: str = "key") -> Any:
    """Build a dataclass from a mapping; an unknown key is a one-line ConfigError with "did you mean".

    The one parser of every checked mapping: config sections, eval suites, augment op parameters, tune blocks.

    Example: from_dict(AugmentOp, {"nmae": "word_swap"}, "augment op") -> ConfigError "augment op: unknown key
    'nmae' (did you mean 'name'?)"

    Args:
        cls: the dataclass; its fields are the keys allowed.
        data: the mapping (None: empty).
        section: what the message names first, e.g. "filter" or a file path.
        noun: what the message calls a key, e.g. "parameter".
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{section}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in names:
            raise ConfigError(f"{section}: unknown {noun} {key!r}{did_you_mean(str(key), names)}")
    # A list field given one string (`metrics: accuracy`) is a list of one, never the string's letters.
    lists = {f.name for f in dataclasses.fields(cls) if f.type == "list[str]"}
    data = {k: [v] if k in lists and isinstance(v, str) else v for k, v in data.items()}
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data and is_required(f)]
        raise ConfigError(f"{section}: missing {', '.join(missing) or 'a required key'}") from exc


def is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise InputError / ConfigError naming the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"config not found: {path}") from exc
    except IsADirectoryError as exc:
        raise InputError(f"config {path} is a folder, not a YAML file; give the config file, e.g. "
                         "`polytune run examples/demo.yaml`") from exc  # fmt: skip
    except UnicodeDecodeError as exc:
        raise InputError(f"config is not valid UTF-8: {path}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"bad YAML in {path}{where}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping of sections at the top level")
    return data

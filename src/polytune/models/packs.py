"""Reading and verifying language packs: a language adapter as a self-checking folder (see `adapters/packs.py`,
which writes them).

A pack's `manifest.json` is the adapter's manifest plus a `pack` entry with the sha256 of every other file and
the base's name, revision and config hash. `models.merge_language_adapter` verifies a pack before loading it, so
a corrupt file or a pack for another base is refused with both hashes named.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.io import read_json
from polytune.models.loading import config_hash

PACK_FORMAT = "polytune-pack/1"
UNHASHED = {"manifest.json", "README.md"}  # the manifest cannot hash itself; a README may be edited freely


def sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_language_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a language adapter folder (a pack or not).

    Raises:
        ModelError: not an adapter folder, a corrupt manifest, or an adapter of another kind.
    """
    if not (folder / "adapter_config.json").is_file() or not (folder / "manifest.json").is_file():
        raise ModelError(f"{folder} is not a language adapter folder: train one with `polytune adapt language`")
    try:
        meta = read_json(folder / "manifest.json", "adapter manifest")
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    if meta.get("adapter") != "language":
        raise ModelError(f"{folder} is a {meta.get('adapter')!r} adapter; only language adapters are packed")
    return meta


def verify_pack(folder: str | Path, base: str | None = None) -> dict[str, Any]:
    """Check a pack: every listed file present with its sha256, no unlisted file, and (given `base`) the base.

    Args:
        folder: the pack folder.
        base: a base model folder to check the pack against (config hash), or None to check the files only.

    Returns:
        Summary: folder, lang, files, base, base_config_hash, base_ok (None when no base was given).

    Raises:
        ModelError: not a pack, a file missing, changed or unlisted, or the pack was made for another base.
    """
    folder = Path(folder)
    meta = read_language_manifest(folder)
    pack = meta.get("pack")
    if not isinstance(pack, dict) or pack.get("format") != PACK_FORMAT:
        raise ModelError(f"{folder} is an adapter but not a pack (no {PACK_FORMAT} entry): run `polytune pack build`")
    listed = pack.get("files", {})
    present = {f.name for f in folder.iterdir() if f.is_file() and f.name not in UNHASHED}
    for name in sorted(set(listed) | present):
        if name not in present:
            raise ModelError(f"pack {folder}: {name} is missing; re-copy the pack")
        if name not in listed:
            raise ModelError(f"pack {folder}: {name} is not part of the pack; remove it or rebuild the pack")
        if sha256(folder / name) != listed[name]:
            raise ModelError(f"pack {folder}: {name} does not match its sha256 {listed[name][:12]}; re-copy the pack")
    base_ok = None
    if base is not None:
        actual = config_hash(base)
        if actual != pack.get("base_config_hash"):
            raise ModelError(
                f"pack {folder} was made for base {pack.get('base')!r} (config hash {pack.get('base_config_hash')}), "
                f"not for {base} (config hash {actual}); load it on its own base"
            )
        base_ok = True
    return {"folder": str(folder), "lang": meta.get("lang"), "files": len(listed), "base": pack.get("base"),
            "base_config_hash": pack.get("base_config_hash"), "base_ok": base_ok, "lineage": chain_status(meta)}


def chain_status(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's lineage chain (parent first), each ancestor with `status`: its weights on disk match its
    recorded hash (`verified`), differ (`changed`), or are not there (`not on disk`: the hash stands alone)."""
    chain = [dict(entry) for entry in (meta.get("lineage") or {}).get("chain", [])]
    for entry in chain:
        weights = Path(str(entry.get("folder"))) / "adapter_model.safetensors"
        entry["status"] = ("not on disk" if not weights.is_file() else
                           "verified" if sha256(weights) == entry.get("hash") else "changed since")  # fmt: skip
    return chain


def is_pack(folder: str | Path) -> bool:
    """True when the folder's manifest has a pack entry (cheap; no hashing)."""
    path = Path(folder) / "manifest.json"
    try:
        return path.is_file() and isinstance(read_json(path, "manifest").get("pack"), dict)
    except ValueError:
        return False

"""Language packs: a language adapter as a self-checking folder that can be shipped and loaded on its base.

A pack holds the adapter (LoRA + trained new rows, safetensors), its tokenizer, the new rows on their own
(`new_rows.safetensors`: ids and trained values, for tools that do not use peft), `extension.json` when the
vocabulary was extended, and `manifest.json`: the adapter's manifest plus a `pack` entry with the sha256 of every
other file and the base's name, revision and config hash. `models.merge_language_adapter` verifies a pack
before loading it, so a corrupt file or a pack for another base is refused with both hashes named.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.io import atomic_path, read_json, write_json

log = logging.getLogger(__name__)

PACK_FORMAT = "polytune-pack/1"
_SKIP = {"manifest.json", "README.md"}  # the manifest cannot hash itself; a README may be edited freely


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def base_revision(base: str) -> str | None:
    """The hub revision of a base in a HF cache (`.../snapshots/<commit>/`), else its config's `_commit_hash`."""
    path = Path(base)
    if path.parent.name == "snapshots":
        return path.name
    config = path / "config.json"
    if config.is_file():
        return read_json(config, "config.json").get("_commit_hash")
    return None


def _new_rows(adapter: Path, extension: dict[str, Any] | None, out: Path) -> int:
    """Write new_rows.safetensors ({"ids", "rows"}) from the adapter's trainable-token values; return the count."""
    import torch
    from safetensors.torch import load_file, save_file

    if not extension:
        return 0
    tensors = load_file(adapter / "adapter_model.safetensors")
    deltas = [v for k, v in sorted(tensors.items()) if k.endswith("trainable_tokens_delta")]
    ids = [int(a["id"]) for a in extension["added"]]
    if not deltas or deltas[0].shape[0] != len(ids):
        raise ModelError(f"{adapter}: extension.json lists {len(ids)} new tokens but the adapter has no matching rows")
    # peft stores the full values of the trainable rows (not a difference), so they are the rows to load.
    save_file({"ids": torch.tensor(ids, dtype=torch.int64), "rows": deltas[0].contiguous()}, str(out))
    return len(ids)


def build_pack(adapter: str | Path, out: str | Path) -> dict[str, Any]:
    """Package a trained language adapter folder as a verified pack.

    Args:
        adapter: a folder written by `polytune adapt language`.
        out: the pack folder to write (replaced atomically).

    Returns:
        Summary: out, lang, files, new_rows, bytes, base, base_config_hash.

    Raises:
        ModelError: the folder is not a language adapter, or its rows do not match its extension.json.
    """
    adapter, out = Path(adapter), Path(out)
    meta = _adapter_manifest(adapter)
    ext_path = adapter / "extension.json"
    extension = read_json(ext_path, "extension.json") if ext_path.is_file() else None
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for file in sorted(adapter.iterdir()):
            if file.is_file() and file.name != "manifest.json":
                shutil.copyfile(file, tmp / file.name)
        rows = _new_rows(adapter, extension, tmp / "new_rows.safetensors")
        files = {f.name: sha256(f) for f in sorted(tmp.iterdir()) if f.name not in _SKIP}
        pack = {
            "format": PACK_FORMAT,
            "files": files,
            "new_rows": rows,
            "base": meta.get("base"),
            "base_revision": base_revision(str(meta.get("base"))),
            "base_config_hash": meta.get("base_config_hash"),
        }
        write_json(tmp / "manifest.json", {**meta, "pack": pack})
    size = sum((out / name).stat().st_size for name in files)
    log.info("packed %s (%s) into %s: %d files, %d bytes", adapter, meta.get("lang"), out, len(files), size)
    return {"out": str(out), "lang": meta.get("lang"), "files": len(files), "new_rows": rows, "bytes": size,
            "base": meta.get("base"), "base_config_hash": meta.get("base_config_hash")}


def _adapter_manifest(folder: Path) -> dict[str, Any]:
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
    meta = _adapter_manifest(folder)
    pack = meta.get("pack")
    if not isinstance(pack, dict) or pack.get("format") != PACK_FORMAT:
        raise ModelError(f"{folder} is an adapter but not a pack (no {PACK_FORMAT} entry): run `polytune pack build`")
    listed = pack.get("files", {})
    present = {f.name for f in folder.iterdir() if f.is_file() and f.name not in _SKIP}
    for name in sorted(set(listed) | present):
        if name not in present:
            raise ModelError(f"pack {folder}: {name} is missing; re-copy the pack")
        if name not in listed:
            raise ModelError(f"pack {folder}: {name} is not part of the pack; remove it or rebuild the pack")
        if sha256(folder / name) != listed[name]:
            raise ModelError(f"pack {folder}: {name} does not match its sha256 {listed[name][:12]}; re-copy the pack")
    base_ok = None
    if base is not None:
        from polytune.models import config_hash

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

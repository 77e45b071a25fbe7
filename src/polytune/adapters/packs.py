"""Language packs: a language adapter as a self-checking folder that can be shipped and loaded on its base.

A pack holds the adapter (LoRA + trained new rows, safetensors), its tokenizer, the new rows on their own
(`new_rows.safetensors`: ids and trained values, for tools that do not use peft), `extension.json` when the
vocabulary was extended, and `manifest.json`: the adapter's manifest plus a `pack` entry with the sha256 of every
other file and the base's name, revision and config hash. This module writes packs; reading and verifying them
(`verify_pack`, `is_pack`, `chain_status`, re-exported here) live in `models/packs.py`, since composition verifies
a pack before loading it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.io import atomic_path, read_json, write_json
from polytune.models.packs import PACK_FORMAT, UNHASHED, read_language_manifest, sha256
from polytune.models.packs import chain_status as chain_status  # reading and verifying packs live in models/
from polytune.models.packs import is_pack as is_pack
from polytune.models.packs import verify_pack as verify_pack

log = logging.getLogger(__name__)


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
    meta = read_language_manifest(adapter)
    ext_path = adapter / "extension.json"
    extension = read_json(ext_path, "extension.json") if ext_path.is_file() else None
    with atomic_path(out) as tmp:
        tmp.mkdir()
        for file in sorted(adapter.iterdir()):
            if file.is_file() and file.name != "manifest.json":
                shutil.copyfile(file, tmp / file.name)
        rows = _new_rows(adapter, extension, tmp / "new_rows.safetensors")
        files = {f.name: sha256(f) for f in sorted(tmp.iterdir()) if f.name not in UNHASHED}
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

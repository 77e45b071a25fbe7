"""Re-fine-tuning with lineage (`--from`): continue an adapter or pack, and record where the new one came from.

A child adapter starts from its parent's LoRA weights, trained new rows and head (peft's public
`PeftModel.from_pretrained(..., is_trainable=True)`; a language adapter's MLM head from `mlm_head.safetensors`),
with the parent's tokenizer. Its manifest's `lineage` names the parent by the sha256 of its weights, the data
added, what changed in the config, and the parent's own chain, so `polytune pack verify` can print the chain
without the ancestors on disk.

Every adapter manifest records a fingerprint of its own language's test split (`test_records`: record ids and
hashes of the normalized texts). A child whose training data repeats one of the parent's test records is refused:
the record would leak into the next evaluation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from polytune.adapters.methods import adapter_parameter
from polytune.errors import ConfigError, InputError, ModelError
from polytune.io import iter_records, read_json

log = logging.getLogger(__name__)

WEIGHTS = "adapter_model.safetensors"
HEAD = "mlm_head.safetensors"
_UNCOMPARED = {"out", "from_adapter"}  # config keys that always differ between a parent and its child


def text_hash(text: str) -> str:
    """16 hex digits of sha256 over NFC, case-folded, whitespace-collapsed text. Example: text_hash("A  b") ==
    text_hash("a b")."""
    norm = " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def fingerprint(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sorted record ids and text hashes of records (what a leak check compares)."""
    ids = sorted({str(r["id"]) for r in records if r.get("id") is not None})
    texts = sorted({text_hash(r.get("text", "")) for r in records})
    return {"records": len(records), "ids": ids, "text_hashes": texts}


def test_records(corpus: str | Path, lang: str) -> dict[str, Any] | None:
    """The fingerprint of `lang`'s test split in a corpus folder; None when it has none."""
    folder = Path(corpus) / lang
    if not folder.is_dir():
        return None
    records = [r for r in iter_records(folder) if r.get("split") == "test"]
    return fingerprint(records) if records else None


def weights_hash(folder: str | Path) -> str:
    """The sha256 of an adapter's weights file: the same for an adapter and the pack built from it."""
    from polytune.models.packs import sha256

    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise ModelError(f"{folder} has no {WEIGHTS}: give an adapter folder or a pack to --from")
    return sha256(path)


def read_parent(folder: str | Path, kind: str, base: str) -> dict[str, Any]:
    """The parent's manifest, checked: an adapter (or verified pack) of `kind` made on `base`.

    Raises:
        ModelError: not an adapter of that kind, a pack that fails verification, or another base.
    """
    from polytune.models import config_hash
    from polytune.models.packs import is_pack, verify_pack

    folder = Path(folder)
    path = folder / "manifest.json"
    if not (folder / "adapter_config.json").is_file() or not path.is_file():
        raise ModelError(f"--from {folder} is not an adapter folder or pack (no adapter_config.json/manifest.json)")
    meta = read_json(path, "parent manifest")
    if meta.get("adapter") != kind:
        raise ModelError(f"--from {folder} is a {meta.get('adapter')!r} adapter; continue a {kind} adapter here")
    if is_pack(folder):
        verify_pack(folder, base)
    if meta.get("base_config_hash") not in (None, config_hash(base)):
        raise ModelError(f"--from {folder} was trained on base {meta.get('base')!r}, not {base}; use its base")
    return meta


def check_leak(parent: dict[str, Any], folder: str | Path, train: list[dict[str, Any]]) -> None:
    """Refuse training records that repeat a test record of the parent (same id or same normalized text).

    Raises:
        InputError: one line with how many records repeat and the first one.
    """
    test = parent.get("test_records") or {}
    ids, texts = set(test.get("ids", [])), set(test.get("text_hashes", []))
    leaked = [r for r in train if str(r.get("id")) in ids or text_hash(r.get("text", "")) in texts]
    if leaked:
        first = leaked[0]
        raise InputError(
            f"{len(leaked)} of {len(train)} new training records repeat test records of the parent {folder} "
            f"(first: {first.get('id')!r}); they would leak into its evaluation: remove them from the train split"
        )
    if not test:
        log.warning("parent %s records no test split; new data could not be checked for leaks", folder)


def lineage(parent: dict[str, Any], folder: str | Path, cfg: Any, train: list[dict[str, Any]],
            corpus: str | Path) -> dict[str, Any]:  # fmt: skip
    """The manifest's `lineage`: parent (hash, folder, lang, steps), data added, config changes, chain."""
    config = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    old = parent.get("config") or {}
    changed = {k: [old.get(k), v] for k, v in sorted(config.items()) if k not in _UNCOMPARED and old.get(k) != v}
    ids = "\n".join(sorted(f"{r.get('id')}\t{text_hash(r.get('text', ''))}" for r in train))
    entry = {"hash": weights_hash(folder), "folder": str(folder), "lang": parent.get("lang"),
             "steps": parent.get("steps")}  # fmt: skip
    chain = [entry, *((parent.get("lineage") or {}).get("chain") or [])]
    return {"parent": entry, "chain": chain, "changed": changed,
            "data_added": {"input": str(corpus), "train_records": len(train),
                           "train_hash": hashlib.sha256(ids.encode("utf-8")).hexdigest()}}  # fmt: skip


def load_parent(model: Any, folder: str | Path) -> Any:
    """The parent's adapter on `model`, trainable (LoRA, new rows, saved heads), through peft's public API."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(folder), is_trainable=True)


def head_state(model: Any) -> dict[str, Any]:
    """The MLM head's tensors (outside the backbone; weights tied to the embeddings left out), CPU copies."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    prefix = inner.base_model_prefix + "."
    backbone = {p.data_ptr() for name, p in inner.named_parameters() if name.startswith(prefix)}
    return {n: p.detach().cpu().clone().contiguous() for n, p in inner.named_parameters()
            if not n.startswith(prefix) and not adapter_parameter(n) and p.data_ptr() not in backbone}  # fmt: skip


def restore_head(model: Any, folder: str | Path) -> bool:
    """Load the parent's MLM head into `model` (before peft wraps it); False when the parent saved none."""
    import torch
    from safetensors.torch import load_file

    path = Path(folder) / HEAD
    if not path.is_file():
        log.warning("parent %s has no %s: the MLM head starts fresh", folder, HEAD)
        return False
    saved, params = load_file(str(path)), dict(model.named_parameters())
    missing = sorted(set(saved) - set(params))
    if missing:
        raise ModelError(f"{path}: head tensor {missing[0]!r} is not in the base; continue on the parent's base")
    with torch.no_grad():
        for name, value in saved.items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))
    return True


def extension_source(cfg: Any) -> str | None:
    """The folder whose extension.json a language adapter uses: --tokenizer, or a --from parent that has one."""
    if cfg.from_adapter:
        return cfg.from_adapter if (Path(cfg.from_adapter) / "extension.json").is_file() else None
    return cfg.tokenizer


def save_continuable(cfg: Any, peft_model: Any, tokenizer: Any, meta: dict[str, Any], with_head: bool) -> None:
    """Save a language adapter with what a later --from needs beside its weights: its tokenizer's extension.json
    and, when it trained an MLM loss (`with_head`), its MLM head (what makes a continued MLM loss continue)."""
    from safetensors.torch import save_file

    from polytune.adapters.saving import save_adapter

    source = extension_source(cfg)
    extra = {"extension.json": Path(source) / "extension.json"} if source else {}
    with tempfile.TemporaryDirectory() as tmp:
        if with_head:
            save_file(head_state(peft_model), str(Path(tmp) / HEAD))
            extra[HEAD] = Path(tmp) / HEAD
        save_adapter(cfg.out, peft_model, tokenizer, extra, meta)


def check_options(cfg: Any) -> None:
    """Options that contradict --from: a tokenizer (the parent's is used) or a head warm-up (its head is kept)."""
    if getattr(cfg, "tokenizer", None):
        raise ConfigError("--from continues with the parent's tokenizer; leave out --tokenizer")
    if getattr(cfg, "head_warmup_steps", 0):
        raise ConfigError("--from keeps the parent's MLM head; leave out --head-warmup-steps")

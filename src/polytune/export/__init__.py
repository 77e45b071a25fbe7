"""Export for serving: base + optional language adapter + optional task adapter merged into one plain model.

`export_model` composes through `polytune.models.load_causal_lm` (peft's `PeftModel.from_pretrained` +
`merge_and_unload`, the language adapter's new rows and extended tokenizer included) and writes a folder that
`AutoModelForCausalLM.from_pretrained(folder)` loads with transformers alone: config.json, generation_config.json,
model.safetensors (float32), the (extended) tokenizer, and a manifest.json naming the base and the adapters by the
sha256 of their weights. With `gguf` it also writes `gguf/model-<type>.gguf` (llama architecture only, see
`export.gguf_llama`): a folder of its own, since transformers reading a GGUF from a folder that also holds
tokenizer files drops the GGUF's chat template. The folder is written atomically: on any error nothing is left.

    gguf_llama.py   the GGUF writer for llama-architecture decoders (gguf's GGUFWriter)

Example: export_model("zoo:smollm2-135m", "serve/nya", lang_adapter="runs/la/nya_Latn", gguf="f16")
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.io import atomic_path, file_hash, manifest, read_json, write_json

log = logging.getLogger(__name__)

STAGE = "export"
WEIGHTS = "adapter_model.safetensors"


def _check_out(out: Path) -> None:
    """Refuse an --out that is a file, or a non-empty folder that is not an earlier export."""
    if out.exists() and not out.is_dir():
        raise ModelError(f"--out {out} is a file; give a folder for the exported model")
    if out.is_dir() and any(out.iterdir()):
        try:
            ours = read_json(out / "manifest.json", "export manifest").get("stage") == STAGE
        except (ValueError, AttributeError):  # no manifest, or not ours
            ours = False
        if not ours:
            raise ModelError(f"{out} exists and is not a polytune export; choose an empty or new --out folder")


def _check_base(base: str, gguf: str | None, tokenizer_from: str) -> None:
    """A decoder base (and, for --gguf, one the GGUF writer supports), checked from configs before any weights."""
    from polytune.models import lm_objective, load_config, load_tokenizer

    config = load_config(base)
    if lm_objective(base) != "clm":
        raise ModelError(f"polytune export writes decoder (causal-LM) models; {base} is a {config.model_type} "
                         "model without a decoder-only LM head: pick a decoder base (GPT-2, Llama, SmolLM2, Gemma)")
    if gguf is not None:
        from polytune.export.gguf_llama import TYPES, check_llama

        if gguf not in TYPES:
            raise ModelError(f"GGUF type {gguf!r} is not one of {', '.join(TYPES)}")
        check_llama(config, load_tokenizer(tokenizer_from))


def _adapter_id(folder: str | Path | None) -> dict[str, str] | None:
    if folder is None:
        return None
    weights = Path(folder) / WEIGHTS
    return {"path": str(folder), "weights_sha256": file_hash(weights) if weights.is_file() else None}


def export_model(base: str, out: str | Path, lang_adapter: str | Path | None = None,
                 task_adapter: str | Path | None = None, gguf: str | None = None) -> dict[str, Any]:
    """Write base + adapters, merged, as a plain transformers folder (and optionally a GGUF file) into `out`.

    Args:
        base: decoder base folder, hub id or `zoo:NAME` / `pkg:...` spec.
        out: the folder to write (replaced atomically; an existing folder must be an earlier export).
        lang_adapter: language adapter folder (its tokenizer and new rows come along), or None.
        task_adapter: causal_lm task adapter folder, or None.
        gguf: "f16" or "f32" to also write `gguf/model-<type>.gguf` (llama architecture), or None.

    Returns:
        The manifest's summary: {"out", "parameters", "vocab_size", "new_tokens", "gguf": its path in `out`, or None}.

    Raises:
        ModelError: a non-decoder base, an adapter missing, corrupt or made for another base, an unsupported model
            for --gguf, or an --out that is not an earlier export.
    """
    from polytune.models import load_causal_lm, load_config
    from polytune.resources import resolve_resource

    out = Path(out)
    _check_out(out)
    for what, folder in (("language adapter", lang_adapter), ("task adapter", task_adapter)):
        if folder is not None and not Path(folder).is_dir():
            raise ModelError(f"{what} folder not found: {folder}; give the folder `polytune adapt` wrote")
    base = str(resolve_resource(base))
    _check_base(base, gguf, str(lang_adapter) if lang_adapter else base)
    model, tokenizer = load_causal_lm(base, lang_adapter, task_adapter)
    base_rows = load_config(base).vocab_size
    summary = {"parameters": int(model.num_parameters()), "vocab_size": int(model.config.vocab_size),
               "new_tokens": max(0, int(model.config.vocab_size) - int(base_rows)), "gguf": None}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        model.save_pretrained(str(tmp), safe_serialization=True, max_shard_size="20GB")
        tokenizer.save_pretrained(str(tmp))
        extra = {}
        if gguf is not None:
            from polytune.export.gguf_llama import write_gguf

            summary["gguf"] = f"gguf/model-{gguf}.gguf"
            (tmp / "gguf").mkdir()
            extra["gguf"] = write_gguf(model, tokenizer, tmp / summary["gguf"], gguf, name=Path(base).name)
        record = manifest(STAGE, {"base": base, "lang_adapter": lang_adapter, "task_adapter": task_adapter,
                                  "gguf": gguf}, counts=summary, base=base, lang_adapter=_adapter_id(lang_adapter),
                          task_adapter=_adapter_id(task_adapter), **extra)
        write_json(tmp / "manifest.json", record)
    log.info("exported %s%s to %s", base, " + adapters" if lang_adapter or task_adapter else "", out)
    return {"out": str(out), **summary}

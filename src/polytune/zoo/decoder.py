"""Decoder bases shipped as GGUF files, dequantized once into a plain transformers folder (float32 safetensors).

transformers' GGUF loader reads the file: `AutoModelForCausalLM.from_pretrained(folder, gguf_file=name,
quantization_config=GgufConfig(dequantize=True))` unpacks every quantized block into float32 at load time (its
documented option; without it transformers keeps a GGUF quantizer on the model and `save_pretrained` refuses it).
The tensors then go into a model built from the same config with no quantization state at all (`from_config` +
`load_state_dict(strict=True)`), so nothing of the GGUF path stays attached; `save_pretrained` writes that one.
The tokenizer comes out of the same file (`AutoTokenizer.from_pretrained(folder, gguf_file=name)`), with the chat
template stored in its metadata when there is one.

Example: dequantize(Path(pkg), "SmolLM2-135M-Instruct.Q4_1.gguf", out) -> {"format": {...}, "counts": {...}}
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from polytune.errors import ModelError, require_module

log = logging.getLogger(__name__)

# GGUF metadata keys worth keeping in a manifest (provenance), when the file has them.
METADATA_KEYS = ("general.architecture", "general.name", "general.organization", "general.license",
                 "general.size_label", "general.quantization_version")


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """A GGUF file's provenance keys (`METADATA_KEYS`), tensor types and whether it holds a chat template.

    Example: gguf_metadata(p)["tensor_types"] -> {"F32": 61, "Q4_1": 210, "Q8_0": 1}

    Raises:
        DependencyError: the gguf package is missing.
        ModelError: the file is not a readable GGUF.
    """
    gguf = require_module("gguf", pip_name="gguf")
    try:
        reader = gguf.GGUFReader(str(path))
        fields = {key: reader.fields[key].contents() for key in METADATA_KEYS if key in reader.fields}
        types = Counter(tensor.tensor_type.name for tensor in reader.tensors)
        template = "tokenizer.chat_template" in reader.fields
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise ModelError(f"{path} is not a readable GGUF file ({exc}); reinstall its package") from exc
    return {**fields, "tensor_types": dict(sorted(types.items())), "chat_template_in_metadata": template}


def _load(folder: Path, name: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    require_module("gguf", pip_name="gguf")  # transformers' GGUF reader needs it; say so in one line
    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name, dtype=torch.float32,
                                                      quantization_config=GgufConfig(dequantize=True))
        tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot read {folder / name} with transformers' GGUF loader ({str(exc)[:160]}); "
                         "reinstall its package") from exc
    return loaded, tokenizer


def plain_copy(loaded: Any) -> Any:
    """A model built from `loaded`'s config without quantization state, holding `loaded`'s (float32) tensors.

    Raises:
        ModelError: a tensor is still packed (its shape differs from the plain model's).
    """
    import torch
    from transformers import AutoModelForCausalLM

    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    plain_config = type(loaded.config).from_dict(config)
    model = AutoModelForCausalLM.from_config(plain_config, dtype=torch.float32)
    try:
        model.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ModelError(f"GGUF weights did not unpack into plain tensors ({str(exc)[:160]})") from exc
    model.generation_config = loaded.generation_config
    return model.eval()


def dequantize(folder: Path, name: str, out: Path) -> dict[str, Any]:
    """Write `folder/name` (a GGUF file) into `out` as a float32 transformers folder with its tokenizer.

    `out` gets config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json and
    chat_template.jinja when the GGUF metadata holds a chat template.

    Returns:
        {"format": what the file held, "counts": parameters, tensors, vocab_size, tokenizer_pieces}.

    Raises:
        DependencyError: gguf (or accelerate, which transformers needs for GGUF) is missing.
        ModelError: the file is unreadable or does not unpack into a plain model.
    """
    require_module("accelerate", pip_name="accelerate")
    meta = gguf_metadata(folder / name)
    loaded, tokenizer = _load(folder, name)
    model = plain_copy(loaded)
    del loaded
    tokenizer.model_max_length = model.config.max_position_embeddings
    out.mkdir(parents=True)
    model.save_pretrained(str(out), safe_serialization=True, max_shard_size="20GB")  # one model.safetensors
    tokenizer.save_pretrained(str(out))
    state = model.state_dict()
    log.info("%s: %d tensors dequantized to float32 into %s", name, len(state), out)
    return {
        "format": {"gguf": meta, "weights": "GGUF blocks dequantized to float32 by transformers' GGUF loader "
                   "(GgufConfig(dequantize=True)); lossy only as the quantization itself was"},
        "counts": {"parameters": int(model.num_parameters()), "tensors": len(state),
                   "vocab_size": int(model.config.vocab_size), "tokenizer_pieces": len(tokenizer)},
    }

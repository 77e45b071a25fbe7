"""Loading bases, tokenizers and adapters, and composing them for prediction (MAD-X on peft).

Shared by `adapters/` (training) and `evaluation/predict.py` (inference). Weights load from safetensors only and
never run remote code. A missing or corrupt model, tokenizer or adapter is a ModelError naming the path.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.io import read_json

log = logging.getLogger(__name__)

# Config keys that differ between heads or transformers versions of one and the same base.
_VOLATILE_CONFIG_KEYS = {
    "_name_or_path",
    "architectures",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "id2label",
    "label2id",
    "num_labels",
    "problem_type",
    "_attn_implementation_autoset",
    "output_attentions",
    "output_hidden_states",
}


def _where(name: str) -> str:
    path = Path(name)
    if path.exists() and not path.is_dir():
        raise ModelError(f"{name} is a file, not a model folder: give the folder holding config.json")
    return name


def _load_errors() -> tuple[type[BaseException], ...]:
    """What a corrupt or missing model raises; safetensors' own error is not an OSError/ValueError."""
    from safetensors import SafetensorError

    return (OSError, ValueError, KeyError, RuntimeError, SafetensorError)


def _load(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """Call `loader.from_pretrained(name)`, turning every loading failure into a ModelError naming `name`."""
    _where(name)
    try:
        return loader.from_pretrained(name, **kwargs)
    except _load_errors() as exc:
        missing = not Path(name).exists()
        hint = "not a folder here nor a cached hub model; check the path" if missing else "rebuild or re-download it"
        raise ModelError(f"cannot load {what} from {name}: {hint} ({type(exc).__name__}: {str(exc)[:160]})") from exc


def config_hash(base: str) -> str:
    """sha256 of a base model's config, ignoring keys that vary with the head or the transformers version.

    Adapters record it, so one trained on another base is refused at load time.

    Raises:
        ModelError: the base has no readable config.
    """
    from transformers import AutoConfig

    config = _load(AutoConfig, str(base), "model config").to_dict()
    kept = {k: v for k, v in config.items() if k not in _VOLATILE_CONFIG_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def tokenizer_hash(tokenizer: Any) -> str:
    """sha256 of a tokenizer's serialized vocabulary and pipeline (tokenizer.json content)."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    text = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load_tokenizer(name: str) -> Any:
    """AutoTokenizer from a model or tokenizer folder (or hub id).

    Raises:
        ModelError: missing or corrupt tokenizer.
    """
    from transformers import AutoTokenizer

    return _load(AutoTokenizer, str(name), "tokenizer", trust_remote_code=False)


def load_mlm(base: str) -> Any:
    """The base with a masked-LM head; a missing head (e.g. MiniLM) is freshly initialized and logged.

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForMaskedLM

    model, info = _load(
        AutoModelForMaskedLM,
        str(base),
        "masked-LM model",
        use_safetensors=True,
        trust_remote_code=False,
        output_loading_info=True,
    )
    missing = {k for k in info.get("missing_keys", []) if not k.startswith(model.base_model_prefix + ".")}
    if missing:
        init_missing_head(model, missing)
        log.info("%s has no MLM head: initialized %d head tensors (%s, ...)", base, len(missing), sorted(missing)[0])
    return model


def lm_objective(base: str) -> str:
    """"mlm" for encoders with a masked-LM class (BERT, XLM-R, ...), "clm" for decoders (GPT-2, Llama, ...).

    Raises:
        ModelError: the base has no readable config, or neither kind of LM head exists for it.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = _load(AutoConfig, str(base), "model config").model_type
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "clm"
    raise ModelError(f"{base} ({model_type}) has neither a masked-LM nor a causal-LM head; use an encoder or decoder")


def load_clm(base: str) -> Any:
    """The base with its causal-LM head (decoders: GPT-2, Llama, ...).

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForCausalLM

    return _load(AutoModelForCausalLM, str(base), "causal-LM model", use_safetensors=True, trust_remote_code=False)


def init_missing_head(model: Any, missing: set[str]) -> None:
    """Initialize head tensors absent from the checkpoint so the head starts as "read out the embeddings".

    Square projections become the identity, LayerNorms their default, biases zero; the decoder stays tied to the
    input embeddings. A random transform would make early MLM gradients mostly fit the head, not the adapter
    (MiniLM ships no MLM head, and its dev loss then starts near log(vocab)).
    """
    import torch

    with torch.no_grad():
        for name, module in model.named_modules():
            prefix = f"{name}." if name else ""
            if f"{prefix}weight" not in missing:
                continue
            if isinstance(module, torch.nn.LayerNorm):
                module.reset_parameters()
            elif isinstance(module, torch.nn.Linear) and module.weight.shape[0] == module.weight.shape[1]:
                torch.nn.init.eye_(module.weight)
        for name, param in model.named_parameters():
            if name in missing and name.endswith("bias") and "LayerNorm" not in name:
                param.zero_()


def load_sequence_classifier(base: str, labels: list[str]) -> Any:
    """The base with a fresh sequence-classification head over `labels`.

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForSequenceClassification

    return _load(
        AutoModelForSequenceClassification,
        str(base),
        "classification model",
        use_safetensors=True,
        trust_remote_code=False,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )


def read_adapter_manifest(folder: str | Path, base: str, kind: str) -> dict[str, Any]:
    """An adapter folder's manifest, checked to be of `kind` and made for `base` (same config hash).

    Raises:
        ModelError: the folder or its manifest is missing or corrupt, or it was made for another base.
    """
    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise ModelError(f"no adapter in {folder}: train one with `polytune adapt {kind}` (adapter_config.json)")
    try:
        manifest = read_json(folder / "manifest.json", f"{kind} adapter manifest")
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    if manifest.get("adapter") != kind:
        raise ModelError(f"{folder} is a {manifest.get('adapter')!r} adapter, not a {kind} adapter")
    expected = config_hash(base)
    if manifest.get("base_config_hash") != expected:
        raise ModelError(
            f"{kind} adapter {folder} was made for base {manifest.get('base')!r} "
            f"(config {str(manifest.get('base_config_hash'))[:12]}), not for {base} (config {expected[:12]}); "
            "train it on this base"
        )
    return manifest


def _apply_adapter(model: Any, folder: Path, merge: bool) -> Any:
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except _load_errors() as exc:
        raise ModelError(f"adapter {folder} is corrupt or incompatible: {str(exc)[:160]}; retrain it") from exc
    return model.merge_and_unload() if merge else model


def merge_language_adapter(model: Any, base: str, folder: str | Path) -> tuple[Any, Any]:
    """Resize `model` to the language adapter's tokenizer and merge the adapter (LoRA + new rows) into it.

    Returns:
        (model, tokenizer): the merged plain model and the adapter's tokenizer.

    Raises:
        ModelError: missing or corrupt adapter, or one made for another base.
    """
    from polytune.adapters.embeddings import resize_embeddings
    from polytune.adapters.packs import is_pack, verify_pack

    folder = Path(folder)
    if is_pack(folder):
        verify_pack(folder, base)  # checksums first: a corrupt pack must not get as far as loading
    read_adapter_manifest(folder, base, "language")
    tokenizer = load_tokenizer(str(folder))
    resize_embeddings(model, len(tokenizer))
    return _apply_adapter(model, folder, merge=True), tokenizer


def load_classifier(base: str, task_adapter: str | Path, lang_adapter: str | Path | None = None):
    """Compose base + optional language adapter + task adapter for inference (MAD-X, merged, eval mode).

    The language adapter brings its tokenizer: the base is resized to it, the adapter's LoRA and its trained new
    embedding rows are merged in, then the task adapter (LoRA + classifier head) goes on top.

    Args:
        base: base model folder (or hub id).
        task_adapter: task adapter folder (adapter + labels.json + manifest.json).
        lang_adapter: language adapter folder, or None for the base's own tokenizer and weights.

    Returns:
        (model, tokenizer, labels): a torch model in eval mode, its tokenizer and the label names by id.

    Raises:
        ModelError: a folder is missing or corrupt, or an adapter was made for another base.
    """
    task_adapter = Path(task_adapter)
    read_adapter_manifest(task_adapter, base, "task")
    labels = read_labels(task_adapter)
    model = load_sequence_classifier(base, labels)
    if lang_adapter is not None:
        model, tokenizer = merge_language_adapter(model, base, lang_adapter)
    else:
        tokenizer = load_tokenizer(base)
    model = _apply_adapter(model, task_adapter, merge=True)
    model.eval()
    return model, tokenizer, labels


def read_labels(folder: str | Path) -> list[str]:
    """labels.json of a task adapter: a list of label names, index = id.

    Raises:
        ModelError: missing or not a list of strings.
    """
    path = Path(folder) / "labels.json"
    try:
        labels = read_json(path, "labels.json")
    except ValueError as exc:
        raise ModelError(f"{exc}; retrain the task adapter") from exc
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ModelError(f"{path} must be a non-empty list of label names; retrain the task adapter")
    return labels

"""Loading bases, tokenizers and adapters, and composing them for prediction (MAD-X on peft).

Shared by `adapters/` (training) and `evaluation/predict/` (inference). Weights load from safetensors only and
never run remote code. A missing or corrupt model, tokenizer or adapter is a ModelError naming the path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle  # only for its UnpicklingError: nothing here unpickles
from collections.abc import Iterator
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


# Pickle weight files transformers can load; polytune refuses them outside `allowing_pickle()`.
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
_ALLOW_PICKLE = "POLYTUNE_ALLOW_PICKLE"


@contextlib.contextmanager
def allowing_pickle(allowed: bool = True) -> Iterator[None]:
    """Inside the block, models may load pickle weights (.bin/.pt) through torch's weights_only loader
    (`polytune --allow-pickle`); the previous policy comes back after it.

    Kept in the environment (POLYTUNE_ALLOW_PICKLE=1) so processes started meanwhile inherit the choice.
    """
    before = os.environ.get(_ALLOW_PICKLE)
    if allowed:
        os.environ[_ALLOW_PICKLE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_ALLOW_PICKLE, None)
        else:
            os.environ[_ALLOW_PICKLE] = before


def pickle_allowed() -> bool:
    return os.environ.get(_ALLOW_PICKLE) == "1"


def _pickle_weights(name: str) -> list[Path]:
    """The pickle weight files of a local model folder that has no safetensors weights ([] otherwise)."""
    folder = Path(name)
    if not folder.is_dir() or any(folder.glob("*.safetensors")):
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES and p.is_file())


def _weights_policy(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Apply the safetensors-only rule to a weights load: refuse a pickle-only folder unless allowed; when allowed,
    let transformers fall back to pickle weights, loaded with weights_only=True (tensors only, no code)."""
    if not kwargs.get("use_safetensors"):
        return kwargs
    pickled = _pickle_weights(name)
    if not pickle_allowed():
        if pickled:
            raise ModelError(
                f"{name} has only pickle weights ({pickled[0].name}), and polytune loads safetensors only: convert "
                "them to safetensors, or pass --allow-pickle (allow_pickle: true in a run config) to load them with "
                "torch's weights_only loader"
            )
        return kwargs
    if pickled:
        log.warning("loading pickle weights %s (--allow-pickle; torch weights_only loader)", pickled[0])
    return {**kwargs, "use_safetensors": None, "weights_only": True}


def _load(loader: Any, name: str, what: str, **kwargs: Any) -> Any:
    """Call `loader.from_pretrained(name)`, turning every loading failure into a ModelError naming `name`.

    Weights load from safetensors only, unless inside `allowing_pickle()` (see `_weights_policy`).
    """
    _where(name)
    kwargs = _weights_policy(name, kwargs)
    try:
        return loader.from_pretrained(name, **kwargs)
    except pickle.UnpicklingError as exc:  # torch's weights_only loader met objects or code, not just tensors
        raise ModelError(
            f"cannot load {what} from {name}: its pickle weights hold objects other than tensors (possibly code), "
            "which polytune never loads, even with --allow-pickle; get safetensors weights"
        ) from exc
    except _load_errors() as exc:
        missing = not Path(name).exists()
        hint = "not a folder here nor a cached hub model; check the path" if missing else "rebuild or re-download it"
        raise ModelError(f"cannot load {what} from {name}: {hint} ({type(exc).__name__}: {str(exc)[:160]})") from exc


def load_config(base: str) -> Any:
    """The base model's transformers config (no weights are read).

    Raises:
        ModelError: the base has no readable config.
    """
    from transformers import AutoConfig

    return _load(AutoConfig, str(base), "model config")


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
    backend = getattr(tokenizer, "backend_tokenizer", None)  # fast tokenizers; slow ones hash their vocabulary
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
    """"denoise" for encoder-decoders (T5, Marian, BART, ...), "mlm" for encoders with a masked-LM class (BERT,
    XLM-R, ...), "clm" for decoders (GPT-2, Llama, ...).

    Raises:
        ModelError: the base has no readable config, or no kind of LM head exists for it.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    model_type = _load(AutoConfig, str(base), "model config").model_type
    # Encoder-decoders first: BART also registers a masked-LM class, but its decoder is the point of the base.
    if model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
        return "denoise"
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "mlm"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "clm"
    raise ModelError(f"{base} ({model_type}) has no masked-LM, causal-LM or seq2seq head; use another base")


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


def _load_with_labels(loader: Any, base: str, what: str, labels: list[str]) -> Any:
    """`base` through an Auto*Classification `loader`, with a fresh head over `labels` (names kept in the config)."""
    return _load(
        loader,
        str(base),
        what,
        use_safetensors=True,
        trust_remote_code=False,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )


def load_sequence_classifier(base: str, labels: list[str]) -> Any:
    """The base with a fresh sequence-classification head over `labels`.

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForSequenceClassification

    return _load_with_labels(AutoModelForSequenceClassification, base, "classification model", labels)


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


# How an adapter composes at inference: its manifest's `compose`, written from its method's row
# (adapters/methods.py); peft's adapter_config.json says which method to load. Adapters from before methods merge.
COMPOSE_MODES = ("merge", "stacked")


def compose_mode(folder: str | Path) -> str:
    """"merge" (folded into the weights) or "stacked" (kept as a peft layer), from the adapter's manifest.

    Raises:
        ModelError: a manifest naming another mode.
    """
    path = Path(folder) / "manifest.json"
    mode = read_json(path, "adapter manifest").get("compose", "merge") if path.is_file() else "merge"
    if mode not in COMPOSE_MODES:
        raise ModelError(f"adapter {folder} composes {mode!r} (manifest compose); polytune composes "
                         f"{' or '.join(COMPOSE_MODES)}: retrain it")
    return mode


def _apply_adapter(model: Any, folder: Path, merge: bool) -> Any:
    """The adapter in `folder` on `model` (any peft method), merged into the weights when `merge` and its manifest
    composes by merging, else kept as a peft layer."""
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except _load_errors() as exc:
        raise ModelError(f"adapter {folder} is corrupt or incompatible: {str(exc)[:160]}; retrain it") from exc
    return model.merge_and_unload() if merge and compose_mode(folder) == "merge" else model


def merge_language_adapter(model: Any, base: str, folder: str | Path) -> tuple[Any, Any]:
    """Resize `model` to the language adapter's tokenizer and merge the adapter (any method + new rows) into it.

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
    if compose_mode(folder) != "merge":  # a task adapter goes onto plain weights
        raise ModelError(f"language adapter {folder} composes stacked, and a task adapter needs it merged: retrain it "
                         "with a method that merges")
    tokenizer = load_tokenizer(str(folder))
    resize_embeddings(model, len(tokenizer))
    return _apply_adapter(model, folder, merge=True), tokenizer


def require_classifier(base: str, task_adapter: str | Path) -> None:
    """Check that `task_adapter` is a sequence classifier made for `base`.

    Raises:
        ModelError: another task type, or an adapter missing, corrupt or made for another base.
    """
    task = read_adapter_manifest(task_adapter, base, "task").get("task", "sequence_classification")
    if task != "sequence_classification":
        raise ModelError(f"{task_adapter} is a {task} task adapter, not a classifier; load it with load_task_model")


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
    require_classifier(base, task_adapter)
    model, tokenizer, labels, _ = load_task_model(base, task_adapter, lang_adapter)
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


# Task types whose adapter carries a head over labels.json (the others generate text with the base's LM head).
LABELED_TASKS = ("sequence_classification", "token_classification", "regression")


def check_task_architecture(base: str, task: str) -> str:
    """The base's model_type, checked to have the model class `task` needs.

    Raises:
        ModelError: e.g. seq2seq on an encoder-only base, causal_lm on an encoder-decoder.
    """
    from transformers import AutoConfig
    from transformers.models.auto import modeling_auto as auto

    model_type = _load(AutoConfig, str(base), "model config").model_type
    seq2seq = model_type in auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
    # BERT-likes also register a causal-LM class (BertLMHeadModel), and BART a decoder-only one: neither is a
    # decoder-only base that prompted generation expects.
    decoder = model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not seq2seq and (
        model_type not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )
    needs = {
        "seq2seq": (seq2seq, "an encoder-decoder base (T5, mT5, Marian, BART, NLLB)", "use task causal_lm"),
        "causal_lm": (decoder, "a decoder-only base (GPT-2, Llama, Qwen, ...)", "use task seq2seq"),
        "token_classification": (
            model_type in auto.MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES,
            "a base with a token-classification class (BERT, XLM-R, ...)",
            "pick another base",
        ),
    }
    if task in needs and not needs[task][0]:
        kind = "encoder-decoder" if seq2seq else "decoder" if decoder else "encoder"
        raise ModelError(
            f"task {task} needs {needs[task][1]}; {base} is a {model_type} ({kind}) model: {needs[task][2]} "
            "for it, or another base"
        )
    return model_type


def load_token_classifier(base: str, labels: list[str]) -> Any:
    """The base with a fresh token-classification head over `labels` (tags).

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForTokenClassification

    return _load_with_labels(AutoModelForTokenClassification, base, "token-classification model", labels)


def load_seq2seq(base: str) -> Any:
    """The base with its sequence-to-sequence LM head (encoder-decoders: T5, Marian, BART, ...).

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForSeq2SeqLM

    return _load(AutoModelForSeq2SeqLM, str(base), "seq2seq model", use_safetensors=True, trust_remote_code=False)


def load_task_base(base: str, task: str, labels: list[str] | None = None) -> Any:
    """The base with the model class of `task`: a fresh head over `labels` for the labeled tasks, else its LM head.

    Raises:
        ModelError: missing or corrupt model, or one without the class the task needs.
    """
    check_task_architecture(base, task)
    loaders = {
        "sequence_classification": lambda: load_sequence_classifier(base, labels or []),
        "regression": lambda: load_sequence_classifier(base, labels or []),  # one output: labels.json names one
        "token_classification": lambda: load_token_classifier(base, labels or []),
        "seq2seq": lambda: load_seq2seq(base),
        "causal_lm": lambda: load_clm(base),
    }
    return loaders[task]()


def load_task_model(base: str, task_adapter: str | Path, lang_adapter: str | Path | None = None):
    """Compose base + optional language adapter + task adapter of any task type for inference (merged, eval mode).

    The task type and the record fields come from the task adapter's manifest; see `load_classifier` for the
    language adapter (its tokenizer, new rows and LoRA are merged first).

    Args:
        base: base model folder (or hub id).
        task_adapter: task adapter folder.
        lang_adapter: language adapter folder, or None.

    Returns:
        (model, tokenizer, labels, manifest): labels is None for generation tasks; manifest["task"] is set.

    Raises:
        ModelError: a folder is missing or corrupt, or an adapter was made for another base.
    """
    task_adapter = Path(task_adapter)
    meta = read_adapter_manifest(task_adapter, base, "task")
    meta["task"] = meta.get("task", "sequence_classification")  # adapters from before task types
    labels = read_labels(task_adapter) if meta["task"] in LABELED_TASKS else None
    model = load_task_base(base, meta["task"], labels)
    if lang_adapter is not None:
        model, tokenizer = merge_language_adapter(model, base, lang_adapter)
    else:
        tokenizer = load_tokenizer(base)
    model = _apply_adapter(model, task_adapter, merge=True)
    model.eval()
    return model, tokenizer, labels, meta


def devices() -> dict[str, Any]:
    """CUDA/MPS availability and device names (for `polytune doctor`)."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"cuda": cuda, "cuda_version": torch.version.cuda, "cuda_devices": names, "mps": mps}

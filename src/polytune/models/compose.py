"""Composing a base with adapters for inference (MAD-X on peft): adapter manifests, language adapters merged with
their tokenizer and new rows, task adapters of every task type on top.

A missing or corrupt adapter, or one made for another base, is a ModelError naming the folder. Packs are verified
(`models.packs`) before they load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polytune.errors import ModelError, short_reason
from polytune.io import read_json
from polytune.models.loading import config_hash, load_task_base, load_tokenizer
from polytune.models.packs import is_pack, verify_pack
from polytune.models.weights import load_errors


def resize_embeddings(model: Any, vocab_len: int) -> int:
    """Grow the input (and tied output) embeddings to hold `vocab_len` ids; never shrink.

    A base whose matrix already has padding rows beyond its tokenizer keeps them.

    Returns:
        The number of rows after resizing.
    """
    rows = model.get_input_embeddings().weight.shape[0]
    if vocab_len > rows:
        # mean_resizing would sample from a covariance we overwrite anyway: skip it.
        model.resize_token_embeddings(vocab_len, mean_resizing=False)
        rows = vocab_len
    return rows


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


def apply_adapter(model: Any, folder: Path, merge: bool) -> Any:
    """`model` with the peft adapter in `folder` on top (any peft method, not trainable); merged into a plain model
    when `merge` and its manifest composes by merging, else kept as a peft layer.

    Raises:
        ModelError: the adapter is corrupt or does not fit the model.
    """
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(model, str(folder), is_trainable=False)
    except load_errors() as exc:
        raise ModelError(f"adapter {folder} is corrupt or incompatible: {short_reason(exc)}; retrain it") from exc
    return model.merge_and_unload() if merge and compose_mode(folder) == "merge" else model


def merge_language_adapter(model: Any, base: str, folder: str | Path) -> tuple[Any, Any]:
    """Resize `model` to the language adapter's tokenizer and merge the adapter (any method + new rows) into it.

    Returns:
        (model, tokenizer): the merged plain model and the adapter's tokenizer.

    Raises:
        ModelError: missing or corrupt adapter, or one made for another base.
    """
    folder = Path(folder)
    if is_pack(folder):
        verify_pack(folder, base)  # checksums first: a corrupt pack must not get as far as loading
    read_adapter_manifest(folder, base, "language")
    if compose_mode(folder) != "merge":  # a task adapter goes onto plain weights
        raise ModelError(f"language adapter {folder} composes stacked, and a task adapter needs it merged: retrain it "
                         "with a method that merges")
    tokenizer = load_tokenizer(str(folder))
    resize_embeddings(model, len(tokenizer))
    return apply_adapter(model, folder, merge=True), tokenizer


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
    model = apply_adapter(model, task_adapter, merge=True)
    model.eval()
    return model, tokenizer, labels, meta



def load_causal_lm(base: str, lang_adapter: str | Path | None = None, task_adapter: str | Path | None = None):
    """Compose a decoder base + optional language adapter + optional causal_lm task adapter into one plain
    transformers model (every adapter merged, eval mode): what `polytune export` writes.

    Without a task adapter the base loads with its causal-LM head; the language adapter brings its tokenizer
    and new rows as in `load_task_model`. The base's chat template carries over to a tokenizer that lost it.

    Returns:
        (model, tokenizer): a plain transformers causal-LM (no peft layer left) and its tokenizer.

    Raises:
        ModelError: a non-decoder base, a task adapter of another task type or one that composes stacked, or an
            adapter missing, corrupt or made for another base.
    """
    from polytune.models.loading import check_task_architecture, load_clm

    check_task_architecture(base, "causal_lm")
    if task_adapter is not None:
        task = read_adapter_manifest(task_adapter, base, "task").get("task", "sequence_classification")
        if task != "causal_lm":
            raise ModelError(f"{task_adapter} is a {task} task adapter; a decoder exports with a causal_lm task "
                             "adapter or none")
        if compose_mode(task_adapter) != "merge":
            raise ModelError(f"task adapter {task_adapter} composes stacked (a peft layer); a plain model needs "
                             "adapters that merge: retrain it with a method that merges")
        model, tokenizer, _, _ = load_task_model(base, task_adapter, lang_adapter)
    else:
        model = load_clm(base)
        model, tokenizer = merge_language_adapter(model, base, lang_adapter) if lang_adapter else (
            model, load_tokenizer(base))
    if lang_adapter is not None and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = getattr(load_tokenizer(base), "chat_template", None)
    return model.eval(), tokenizer

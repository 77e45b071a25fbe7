"""Ensembles of language adapters for transfer without a target adapter: the adapters of related languages,
their LoRA deltas summed with weights (peft `add_weighted_adapter`, exact) under one task adapter.

`evaluation/predict` also offers the other ensemble, the weighted mean of each system's class probabilities.
"""

from __future__ import annotations

from pathlib import Path

from polytune.errors import ModelError
from polytune.models.compose import apply_adapter, read_adapter_manifest, read_labels, require_classifier
from polytune.models.loading import load_sequence_classifier, load_tokenizer


def check_ensemble(base: str, folders: list[Path], weights: list[float] | None) -> list[float]:
    """Weights normalized to sum 1 (uniform by default); every adapter on `base`, one shared tokenizer.

    Raises:
        ModelError: no adapter, a weight count or value that does not fit, adapters with different tokenizers.
    """
    if not folders:
        raise ModelError("an ensemble needs at least one language adapter; give the related languages' adapters")
    weights = [1.0] * len(folders) if weights is None else [float(w) for w in weights]
    if len(weights) != len(folders) or any(w <= 0 for w in weights):
        raise ModelError(f"ensemble weights {weights} must be {len(folders)} positive numbers, one per adapter")
    hashes = {str(f): read_adapter_manifest(f, base, "language").get("tokenizer_hash") for f in folders}
    if len(set(hashes.values())) > 1:
        raise ModelError(
            f"ensemble adapters use different tokenizers ({', '.join(hashes)}); ensemble adapters of one vocabulary"
        )
    return [w / sum(weights) for w in weights]


def ensemble_sum(base: str, folders: list[Path]) -> str:
    """The peft combination type that sums these adapters exactly: their manifests' `ensemble_sum` (from their
    method's row; adapters from before methods are LoRA: "cat").

    Raises:
        ModelError: a method without an exact sum, or adapters of different methods.
    """
    metas = {f: read_adapter_manifest(f, base, "language") for f in folders}
    sums = {f: m.get("ensemble_sum", "cat") for f, m in metas.items()}
    for folder, combination in sums.items():
        if combination is None:
            raise ModelError(f"{folder} is a {metas[folder].get('method')} adapter, whose deltas do not sum into a "
                             "merged ensemble; use mode 'average'")
    methods = sorted({str(m.get("method", "lora")) for m in metas.values()})
    if len(methods) > 1 or len(set(sums.values())) > 1:
        raise ModelError(f"a merged ensemble sums adapters of one method, these are {', '.join(methods)}; use mode "
                         "'average'")
    return next(iter(sums.values()))


def load_merged_ensemble(base: str, task_adapter: str | Path, lang_adapters: list[Path], weights=None):
    """base + the weighted sum of several language adapters' deltas (LoRA: peft `cat`, exact) + task adapter.

    Transfer without a target adapter: adapters of related languages stand in for it. Adapters that add
    vocabulary are refused (their new rows do not sum meaningfully).

    Returns:
        (model, tokenizer, labels) as `models.load_classifier`.

    Raises:
        ModelError: see `check_ensemble` and `ensemble_sum`; an adapter adding new tokens.
    """
    from peft import PeftModel

    require_classifier(base, task_adapter)
    folders = [Path(f) for f in lang_adapters]
    weights = check_ensemble(base, folders, weights)
    if any((f / "extension.json").is_file() for f in folders):
        raise ModelError("a merged ensemble needs adapters on the base vocabulary; use mode 'average' for extended")
    combination = ensemble_sum(base, folders)
    labels = read_labels(task_adapter)
    model = PeftModel.from_pretrained(load_sequence_classifier(base, labels), str(folders[0]), adapter_name="a0")
    for i, folder in enumerate(folders[1:], start=1):
        model.load_adapter(str(folder), adapter_name=f"a{i}")
    names = [f"a{i}" for i in range(len(folders))]
    model.add_weighted_adapter(names, weights, "ensemble", combination_type=combination)
    model.set_adapter("ensemble")
    model = apply_adapter(model.merge_and_unload(), Path(task_adapter), merge=True)
    model.eval()
    return model, load_tokenizer(str(folders[0])), labels

"""Adapter methods as a table: one row per peft method (LoRA, DoRA, IA3, LoHa).

A row says how to build the method's peft config from an AdapterTrainingConfig (which of polytune's options it
takes), how peft names its trainable parameters, and how it composes at inference. A new method is one row here
and a row in the registry's adapter_methods table (config checks names against it).

Composition code (`polytune.models`) never imports this module: the adapter's manifest carries the row's
composition facts as plain data (`manifest_fields`), and peft's own adapter_config.json says which peft method to
load. Measured on a tiny BERT (tests/adapters/test_methods.py): all four rows merge into the weights with the
logits unchanged to ~1e-8, so every row composes by "merge".

New embedding rows (an extended tokenizer) train through LoRA's `trainable_token_indices`. IA3Config and
LoHaConfig have no such option, and peft refuses both ways around it (a TrainableTokens adapter beside an IA3 one:
"Cannot combine adapters with different peft types"; PeftMixedModel does not take TRAINABLE_TOKENS), so those
methods refuse an extended vocabulary instead of training the whole embedding matrix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polytune.config import AdapterTrainingConfig
from polytune.errors import ConfigError, ModelError

__all__ = ["METHODS", "Method", "adapter_parameter", "get", "manifest_fields", "method_of_parent", "peft_config"]

# polytune's options that not every method has, with what they mean to the methods that do.
_OPTIONAL = ("lora_r", "lora_alpha", "lora_dropout", "layers_to_transform")
# Parameter names peft gives trainable new embedding rows (trainable_token_indices) and saved whole modules.
ROWS = "token_adapter"


@dataclass(frozen=True)
class Method:
    """One adapter method.

    Attributes:
        name: the `method` config value.
        peft_type: peft's name for it (adapter_config.json `peft_type`).
        prefix: the marker in the names of the method's own parameters (peft's tuner `prefix`).
        options: which of `_OPTIONAL` the method takes; setting another one is an error.
        new_rows: whether new embedding rows can train with it (peft trainable_token_indices).
        compose: "merge" (folded into the weights at inference) or "stacked" (kept as a peft layer).
        ensemble_sum: peft `add_weighted_adapter` combination type that sums adapters of this method exactly
            (merged ensembles), or None when there is none.
        build: peft config from (cfg, keyword arguments: task_type, modules_to_save, trainable_token_indices).
        why_not: for each option it lacks, the reason (one phrase, for the error).
        save_leaves: save a module without a weight of its own (BERT's pooler) as its weighted submodules: peft's
            IA3 and LoHa merge_and_unload fail on such a module in modules_to_save (measured, peft 0.21).
    """

    name: str
    peft_type: str
    prefix: str
    options: tuple[str, ...]
    new_rows: bool
    compose: str
    ensemble_sum: str | None
    build: Callable[[AdapterTrainingConfig, dict[str, Any]], Any]
    why_not: str = ""
    save_leaves: bool = False


def _lora(cfg: AdapterTrainingConfig, kwargs: dict[str, Any], dora: bool = False) -> Any:
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=kwargs.pop("target_modules"), layers_to_transform=cfg.layers_to_transform,
                      use_dora=dora, **kwargs)  # fmt: skip


def _ia3(cfg: AdapterTrainingConfig, kwargs: dict[str, Any]) -> Any:
    from peft import IA3Config

    # No feedforward modules: every target's output is scaled (IA3 on keys/values; add ffn targets to widen it).
    return IA3Config(target_modules=kwargs.pop("target_modules"), feedforward_modules=[], **kwargs)


def _loha(cfg: AdapterTrainingConfig, kwargs: dict[str, Any]) -> Any:
    from peft import LoHaConfig

    return LoHaConfig(r=cfg.lora_r, alpha=cfg.lora_alpha, target_modules=kwargs.pop("target_modules"),
                      layers_to_transform=cfg.layers_to_transform, **kwargs)  # fmt: skip


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("lora", "LORA", "lora_", _OPTIONAL, True, "merge", "cat", _lora),
        # DoRA rescales each weight column by a learned magnitude: a sum of DoRA adapters is not one.
        Method("dora", "LORA", "lora_", _OPTIONAL, True, "merge", None, lambda c, k: _lora(c, k, dora=True)),
        Method("ia3", "IA3", "ia3_", (), False, "merge", None, _ia3,
               why_not="IA3 learns one scaling vector per wrapped module, in every layer", save_leaves=True),
        Method("loha", "LOHA", "hada_", ("lora_r", "lora_alpha", "layers_to_transform"), False, "merge", None,
               _loha, why_not="LoHaConfig has rank and module dropout, not dropout on the input", save_leaves=True),
    )
}


# The rows by name, as the registry's adapter_methods table points at them.
LORA, DORA, IA3, LOHA = (METHODS[name] for name in ("lora", "dora", "ia3", "loha"))


def get(name: str) -> Method:
    """The row of `name` (validated by the config already; a ConfigError for anything else)."""
    if name not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


def _defaults() -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(AdapterTrainingConfig)}
    return {n: fields[n].default for n in _OPTIONAL}


def check_options(cfg: AdapterTrainingConfig, new_rows: bool = False) -> Method:
    """The row of cfg.method, after refusing options it lacks that cfg sets away from their defaults.

    Raises:
        ConfigError: one line naming the option, the method and the methods that take it.
    """
    method = get(cfg.method)
    for name, default in _defaults().items():
        if name not in method.options and getattr(cfg, name) != default:
            takers = ", ".join(m.name for m in METHODS.values() if name in m.options)
            raise ConfigError(f"method {method.name} has no {name} ({method.why_not}); leave {name} at its default "
                              f"or use method {takers}")
    if new_rows and not method.new_rows:
        takers = ", ".join(m.name for m in METHODS.values() if m.new_rows)
        raise ConfigError(f"method {method.name} cannot train new embedding rows (peft has no trainable tokens for "
                          f"it); use method {takers} with an extended tokenizer, or the base's tokenizer")
    return method


def peft_config(cfg: AdapterTrainingConfig, model: Any = None, **kwargs: Any) -> Any:
    """The peft config of cfg.method from cfg (rank, alpha, dropout, target modules, layers where the method takes
    them). kwargs go to peft: task_type, modules_to_save, trainable_token_indices (new rows; None: none).

    Args:
        cfg: the adapter training config.
        model: the model the config is for; needed to name saved modules for a `save_leaves` method.
        **kwargs: peft config arguments.

    Raises:
        ConfigError: an option the method lacks, or new rows with a method that cannot train them.
    """
    method = check_options(cfg, new_rows=kwargs.get("trainable_token_indices") is not None)
    if method.save_leaves and kwargs.get("modules_to_save") and model is not None:
        kwargs["modules_to_save"] = _weighted_leaves(model, kwargs["modules_to_save"])
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k == "task_type"}
    return method.build(cfg, {**kwargs, "target_modules": target_modules(cfg, model)})


def target_modules(cfg: AdapterTrainingConfig, model: Any = None) -> list[str]:
    """cfg.target_modules, or by default the attention query and value projections of the base's architecture
    (peft's own table of them, the modules LoRA's authors adapted).

    Raises:
        ModelError: no default is known for the architecture; the message says to set target_modules.
    """
    if cfg.target_modules is not None:
        return list(cfg.target_modules)
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    from polytune.models import load_config

    config = model.config if model is not None else load_config(str(getattr(cfg, "base", "")))
    kinds = [config.model_type, getattr(getattr(config, "text_config", None), "model_type", None)]
    found = next((DEFAULTS[k] for k in kinds if k in DEFAULTS), None)
    if found is None:
        raise ModelError(f"no default target_modules for a {config.model_type} base; set target_modules to the "
                         "names of its attention projections (e.g. --target-modules q_proj v_proj)")
    return list(found)


def _weighted_leaves(model: Any, names: list[str]) -> list[str]:
    """Each module name, or for a module without a weight of its own its children that have one.

    Example: _weighted_leaves(bert_classifier, ["pooler"]) -> ["pooler.dense"] (the tanh has no parameters).
    """
    modules = dict(model.named_modules())
    leaves = []
    for name in names:
        found = next((m for full, m in modules.items() if full == name or full.endswith("." + name)), None)
        if found is None or hasattr(found, "weight"):
            leaves.append(name)
        else:
            leaves.extend(f"{name}.{child}" for child, sub in found.named_children() if hasattr(sub, "weight"))
    return leaves


def adapter_parameter(name: str) -> bool:
    """Whether a parameter name belongs to an adapter of any method (its weights or trainable new rows), as opposed
    to the base or a head."""
    return ROWS in name or any(m.prefix in name for m in METHODS.values())


def manifest_fields(name: str) -> dict[str, Any]:
    """What composition needs to know of a method, as plain data for the adapter's manifest.

    Example: manifest_fields("ia3") -> {"method": "ia3", "compose": "merge", "ensemble_sum": None}
    """
    method = get(name)
    return {"method": method.name, "compose": method.compose, "ensemble_sum": method.ensemble_sum}


def method_of_parent(cfg: AdapterTrainingConfig, parent: dict[str, Any] | None) -> str:
    """The method an adapter is trained with: cfg.method, or with --from the parent's (its weights decide).

    Raises:
        ConfigError: cfg names another method than the parent's, away from the default.
    """
    if parent is None:
        return cfg.method
    theirs = parent.get("method", "lora")  # adapters from before methods are LoRA
    default = next(f.default for f in dataclasses.fields(AdapterTrainingConfig) if f.name == "method")
    if cfg.method not in (theirs, default):
        raise ConfigError(f"--from continues the parent's {theirs} adapter; leave out method {cfg.method}")
    return theirs


def wrap_peft(model: Any, config: Any) -> Any:
    """get_peft_model with a ModelError for adapter settings the base cannot take (config: `peft_config`)."""
    from peft import get_peft_model

    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # e.g. target_modules that the base does not have
        kind = config.peft_type.value
        raise ModelError(f"cannot apply the {kind} adapter to this base: {exc}; check target_modules") from exc

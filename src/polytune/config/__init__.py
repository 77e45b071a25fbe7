"""One dataclass per stage, validated in `__post_init__`; one YAML file for `polytune run`.

A module per stage (corpus, balance, tokenizer, adapters, evaluation) and the shared parts (base); this package
re-exports them, so `from polytune.config import FilterConfig` works wherever a config is needed. Path fields that
`polytune run` derives from `workdir` (inputs, outputs) may be left out of a YAML section; see `pipeline.py`. Every
field carries `metadata={"help": ...}`: the CLI's flags and the generated reference (docs/reference/,
tools/config_reference.py) read it. Every config is keyword-only; a field without a default is required.
"""

from polytune.config.adapters import (
    ADAPTER_METHODS,
    MIXABLE_OBJECTIVES,
    TRACKERS,
    AdapterTrainingConfig,
    LanguageAdapterConfig,
    TaskAdapterConfig,
    objective_weights,
)
from polytune.config.balance import AugmentConfig, AugmentOp, BalanceConfig, ClassWeightsConfig
from polytune.config.base import (
    BENCHMARKS,
    SPLITS,
    TAG_SCHEMES,
    VOTE,
    _choice,
    _help,
    benchmark_names,
    from_dict,
    is_required,
    load_yaml,
)
from polytune.config.corpus import (
    DIRECTIONS,
    FilterConfig,
    LidEvalConfig,
    LidTrainConfig,
    PairsConfig,
    SourcesConfig,
)
from polytune.config.evaluation import EvalConfig, ExplainConfig, SystemConfig
from polytune.config.tokenizer import TokenizerAnalyzeConfig, TokenizerExtendConfig, TokenizerJargonConfig

__all__ = [
    "ADAPTER_METHODS",
    "BENCHMARKS",
    "DIRECTIONS",
    "MIXABLE_OBJECTIVES",
    "SPLITS",
    "TAG_SCHEMES",
    "TRACKERS",
    "VOTE",
    "AdapterTrainingConfig",
    "AugmentConfig",
    "AugmentOp",
    "BalanceConfig",
    "ClassWeightsConfig",
    "EvalConfig",
    "ExplainConfig",
    "FilterConfig",
    "LanguageAdapterConfig",
    "LidEvalConfig",
    "LidTrainConfig",
    "PairsConfig",
    "SourcesConfig",
    "SystemConfig",
    "TaskAdapterConfig",
    "TokenizerAnalyzeConfig",
    "TokenizerExtendConfig",
    "TokenizerJargonConfig",
    "_choice",
    "_help",
    "benchmark_names",
    "from_dict",
    "is_required",
    "load_yaml",
    "objective_weights",
]

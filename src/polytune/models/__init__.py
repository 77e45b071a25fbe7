"""Models: loading bases and tokenizers under the weights policy, composing them with adapters, packs and
ensembles for inference, and the one generation path. Shared by `adapters/` (training), `evaluation/predict/`
(inference) and `corpus/augment.py` (generation); imports no stage.

    weights.py      the weights policy (safetensors only; pickle only inside `allowing_pickle()`)
    loading.py      configs and their hashes, tokenizers, LM heads, classifier heads, the class a task needs
    compose.py      adapter manifests, language and task adapters merged for inference
    packs.py        reading and verifying language packs (writing them is `adapters/packs.py`)
    ensembles.py    several language adapters merged under one task adapter
    generation.py   seq2seq hypotheses and decoder continuations, for prediction and augmentation
    devices.py      the devices torch sees

torch, transformers and peft are imported inside the functions, so importing this package loads none of them.
"""

from __future__ import annotations

from polytune.models.compose import (
    COMPOSE_MODES,
    LABELED_TASKS,
    apply_adapter,
    compose_mode,
    load_causal_lm,
    load_classifier,
    load_task_model,
    merge_language_adapter,
    read_adapter_manifest,
    read_labels,
    require_classifier,
    resize_embeddings,
)
from polytune.models.devices import devices
from polytune.models.ensembles import check_ensemble, ensemble_sum, load_merged_ensemble
from polytune.models.generation import CausalGenerator, Seq2SeqGenerator, generate_causal, generate_seq2seq
from polytune.models.loading import (
    check_task_architecture,
    config_hash,
    init_missing_head,
    lm_objective,
    load_clm,
    load_config,
    load_mlm,
    load_seq2seq,
    load_sequence_classifier,
    load_task_base,
    load_token_classifier,
    load_tokenizer,
    tokenizer_hash,
)
from polytune.models.packs import is_pack, verify_pack
from polytune.models.weights import allowing_pickle, load_pretrained, pickle_allowed

__all__ = [
    "COMPOSE_MODES",
    "LABELED_TASKS",
    "CausalGenerator",
    "Seq2SeqGenerator",
    "allowing_pickle",
    "apply_adapter",
    "check_ensemble",
    "check_task_architecture",
    "compose_mode",
    "config_hash",
    "devices",
    "ensemble_sum",
    "generate_causal",
    "generate_seq2seq",
    "init_missing_head",
    "is_pack",
    "lm_objective",
    "load_causal_lm",
    "load_classifier",
    "load_clm",
    "load_config",
    "load_merged_ensemble",
    "load_mlm",
    "load_pretrained",
    "load_seq2seq",
    "load_sequence_classifier",
    "load_task_base",
    "load_task_model",
    "load_token_classifier",
    "load_tokenizer",
    "merge_language_adapter",
    "pickle_allowed",
    "read_adapter_manifest",
    "read_labels",
    "require_classifier",
    "resize_embeddings",
    "tokenizer_hash",
    "verify_pack",
]

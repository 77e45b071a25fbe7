"""Loading bases and tokenizers: configs and their hashes, LM heads, classifier heads, the model class of a task.

Shared by `adapters/` (training) and `evaluation/predict/` (inference); every load goes through the weights policy
(`models.weights`). A missing or corrupt model or tokenizer is a ModelError naming the path.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.models.weights import load_pretrained

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


def load_config(base: str) -> Any:
    """The base model's transformers config (no weights are read).

    Raises:
        ModelError: the base has no readable config.
    """
    from transformers import AutoConfig

    return load_pretrained(AutoConfig, str(base), "model config")


def config_hash(base: str) -> str:
    """sha256 of a base model's config, ignoring keys that vary with the head or the transformers version.

    Adapters record it, so one trained on another base is refused at load time.

    Raises:
        ModelError: the base has no readable config.
    """
    from transformers import AutoConfig

    config = load_pretrained(AutoConfig, str(base), "model config").to_dict()
    kept = {k: v for k, v in config.items() if k not in _VOLATILE_CONFIG_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def tokenizer_hash(tokenizer: Any) -> str:
    """sha256 of a tokenizer's serialized vocabulary and pipeline (tokenizer.json content)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)  # fast tokenizers; slow ones hash their vocabulary
    text = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# A folder holding none of these has no tokenizer that AutoTokenizer could load.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")


def load_tokenizer(name: str) -> Any:
    """AutoTokenizer from a model or tokenizer folder (or hub id).

    Raises:
        ModelError: missing or corrupt tokenizer.
    """
    from transformers import AutoTokenizer

    folder = Path(name)
    if folder.is_dir() and not any((folder / file).is_file() for file in TOKENIZER_FILES):
        raise ModelError(
            f"no tokenizer in {name}: the folder holds none of {', '.join(TOKENIZER_FILES)}; give a model folder, "
            "or one `polytune tokenizer extend` wrote"
        )
    return load_pretrained(AutoTokenizer, str(name), "tokenizer", trust_remote_code=False)


def load_mlm(base: str) -> Any:
    """The base with a masked-LM head; a missing head (e.g. MiniLM) is freshly initialized and logged.

    Raises:
        ModelError: missing or corrupt model.
    """
    from transformers import AutoModelForMaskedLM

    model, info = load_pretrained(
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

    model_type = load_pretrained(AutoConfig, str(base), "model config").model_type
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

    return load_pretrained(
        AutoModelForCausalLM, str(base), "causal-LM model", use_safetensors=True, trust_remote_code=False
    )


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
    return load_pretrained(
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



def check_task_architecture(base: str, task: str) -> str:
    """The base's model_type, checked to have the model class `task` needs.

    Raises:
        ModelError: e.g. seq2seq on an encoder-only base, causal_lm on an encoder-decoder.
    """
    from transformers import AutoConfig
    from transformers.models.auto import modeling_auto as auto

    model_type = load_pretrained(AutoConfig, str(base), "model config").model_type
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

    return load_pretrained(
        AutoModelForSeq2SeqLM, str(base), "seq2seq model", use_safetensors=True, trust_remote_code=False
    )


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


"""A merged llama-architecture decoder as one GGUF file, written with the `gguf` package's GGUFWriter.

Supported: model_type "llama" (SmolLM2, Llama 2/3 without rope scaling, TinyLlama, the tests' tiny llama) with
silu MLPs, no attention/MLP biases and default rope, and a byte-level BPE tokenizer (GPT-2 / SmolLM2 style:
vocabulary, merges and special tokens; `tokenizer.ggml.model` "gpt2", pre-tokenizer "gpt-2"). Anything else is
refused in one line before a byte is written. Tensors are named and laid out as llama.cpp's convert_hf_to_gguf.py
does: q and k rows permuted into llama.cpp's rotary order (transformers' GGUF loader undoes it), 1-D tensors
(norms) in F32, the matrices in F16 or F32.

Example: check_llama(config, tokenizer); write_gguf(model, tokenizer, Path("out/model-f16.gguf"), "f16")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from polytune.errors import ModelError, require_module

ARCHITECTURES = ("llama",)
TYPES = ("f16", "f32")
# transformers state-dict names -> GGUF names (per layer: model.layers.{i}.<key> -> blk.{i}.<value>).
_GLOBAL = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
           "lm_head.weight": "output.weight"}
_LAYER = {
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def _tokenizer_json(tokenizer: Any) -> dict[str, Any]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return json.loads(backend.to_str()) if backend is not None else {}


def check_llama(config: Any, tokenizer: Any) -> None:
    """Refuse what the GGUF writer cannot express, before anything is loaded or written.

    Raises:
        ModelError: another architecture, a llama with rope scaling, biases or another activation, or a tokenizer
            that is not byte-level BPE.
    """
    kind = getattr(config, "model_type", None)
    if kind not in ARCHITECTURES:
        raise ModelError(f"--gguf writes {'/'.join(ARCHITECTURES)}-architecture decoders (SmolLM2, Llama, TinyLlama); "
                         f"this base is {kind!r}: export without --gguf")
    rope = getattr(config, "rope_parameters", None) or {}
    odd = {"attention_bias": getattr(config, "attention_bias", False), "mlp_bias": getattr(config, "mlp_bias", False),
           "hidden_act": config.hidden_act != "silu", "rope_type": rope.get("rope_type", "default") != "default"}
    if any(odd.values()):
        raise ModelError(f"--gguf supports plain llama decoders; this one has {[k for k, v in odd.items() if v]} "
                         "(rope scaling, biases or another activation): export without --gguf")
    data = _tokenizer_json(tokenizer)
    pre = data.get("pre_tokenizer") or {}
    byte_level = (data.get("model", {}).get("type") == "BPE" and pre.get("type") == "ByteLevel"
                  and not pre.get("add_prefix_space") and pre.get("use_regex", True) and not data.get("normalizer"))
    if not byte_level:
        raise ModelError("--gguf writes byte-level BPE tokenizers (GPT-2 / SmolLM2 style); this tokenizer is "
                         f"{data.get('model', {}).get('type', 'not a fast tokenizer')} with pre-tokenizer "
                         f"{pre.get('type')}: export without --gguf")


def permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """Rows of a q or k projection in llama.cpp's rotary order (convert_hf_to_gguf.py's `permute`).

    Example: for one head of 4 rows [r0, r1, r2, r3] -> [r0, r2, r1, r3].
    """
    return weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(
        weights.shape)


def vocabulary(tokenizer: Any, rows: int) -> tuple[list[str], list[int], list[str]]:
    """(tokens by id, their GGUF token types, merges) for `rows` ids; ids the tokenizer lacks become [PAD{i}]."""
    import gguf

    data = _tokenizer_json(tokenizer)
    tokens: dict[int, tuple[str, int]] = {i: (t, gguf.TokenType.NORMAL) for t, i in data["model"]["vocab"].items()}
    for added in data.get("added_tokens", []):
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        tokens[added["id"]] = (added["content"], kind)
    if max(tokens) >= rows:
        raise ModelError(f"the tokenizer has id {max(tokens)}, the model only {rows} embedding rows: re-export with "
                         "the language adapter that made this tokenizer")
    filled = [tokens.get(i, (f"[PAD{i}]", gguf.TokenType.UNUSED)) for i in range(rows)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"].get("merges", [])]
    return [t for t, _ in filled], [int(k) for _, k in filled], merges


def _tensors(model: Any, dtype: str) -> list[tuple[str, np.ndarray]]:
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    out = []
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue  # tied: GGUF has no output.weight, readers tie it to token_embd
        array = tensor.detach().to("cpu").float().numpy()
        parts = name.split(".")
        if name in _GLOBAL:
            target = _GLOBAL[name]
        elif name.startswith("model.layers.") and ".".join(parts[3:]) in _LAYER:
            target = f"blk.{parts[2]}.{_LAYER['.'.join(parts[3:])]}"
        else:
            raise ModelError(f"tensor {name} has no place in a llama GGUF: export without --gguf")
        if target.endswith("attn_q.weight"):
            array = permute(array, heads)
        elif target.endswith("attn_k.weight"):
            array = permute(array, kv_heads)
        out.append((target, array if array.ndim == 1 or dtype == "f32" else array.astype(np.float16)))
    return out


def write_gguf(model: Any, tokenizer: Any, path: Path, dtype: str = "f16", name: str = "polytune export") -> dict:
    """Write `model` (a merged LlamaForCausalLM) and its byte-level BPE tokenizer to `path` as GGUF.

    Returns:
        {"architecture", "type", "tensors", "vocab_size"} for the export's manifest.

    Raises:
        DependencyError: the gguf package is missing.
        ModelError: the model or tokenizer is not supported (see `check_llama`).
    """
    gguf = require_module("gguf", pip_name="gguf")
    if dtype not in TYPES:
        raise ModelError(f"GGUF type {dtype!r} is not one of {', '.join(TYPES)}")
    config = model.config
    check_llama(config, tokenizer)
    rows = model.get_input_embeddings().weight.shape[0]
    tokens, types, merges = vocabulary(tokenizer, rows)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
    for add, value in ((writer.add_vocab_size, rows), (writer.add_context_length, config.max_position_embeddings),
                       (writer.add_embedding_length, config.hidden_size),
                       (writer.add_block_count, config.num_hidden_layers),
                       (writer.add_feed_forward_length, config.intermediate_size),
                       (writer.add_head_count, config.num_attention_heads),
                       (writer.add_head_count_kv, config.num_key_value_heads),
                       (writer.add_rope_dimension_count, head_dim), (writer.add_key_length, head_dim),
                       (writer.add_value_length, head_dim)):
        add(int(value))
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    _write_tokenizer(writer, tokenizer, tokens, types, merges)
    tensors = _tensors(model, dtype)
    for target, array in tensors:
        writer.add_tensor(target, np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"architecture": "llama", "type": dtype.upper(), "tensors": len(tensors), "vocab_size": rows}


def _write_tokenizer(writer: Any, tokenizer: Any, tokens: list[str], types: list[int], merges: list[str]) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for add, value in ((writer.add_bos_token_id, tokenizer.bos_token_id), (writer.add_eos_token_id,
                       tokenizer.eos_token_id), (writer.add_unk_token_id, tokenizer.unk_token_id),
                       (writer.add_pad_token_id, tokenizer.pad_token_id)):
        if value is not None:
            add(int(value))
    probe = tokenizer("a")["input_ids"]
    writer.add_add_bos_token(tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id])
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)

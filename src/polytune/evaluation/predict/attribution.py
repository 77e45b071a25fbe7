"""Why a classifier decided: Integrated Gradients on the word-embedding layer (Captum), summed per word, and
attention maps (one layer and head, their head mean, or rollout across layers).

Words are the whitespace-separated words of the text; a piece belongs to the word holding its first non-space
character (a piece of spaces only, such as a lone "▁" or "Ġ", to the word after it), so the same alignment works
for WordPiece, SentencePiece Unigram (XLM-R, e5) and byte-level BPE, read from the fast tokenizer's offsets.

Example: word_pieces("kunandi the", [(0, 0), (0, 3), (3, 7), (8, 11), (0, 0)], [1, 0, 0, 0, 1])
    -> [("kunandi", [1, 2]), ("the", [3])]
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import torch

from polytune.errors import ConfigError, InputError


def _captum() -> Any:
    try:
        from captum.attr import LayerIntegratedGradients
    except ImportError as exc:
        raise ConfigError("explanations need Captum: pip install 'polytune[explain]'") from exc
    return LayerIntegratedGradients


def word_pieces(text: str, offsets: list[tuple[int, int]], special: list[int]) -> list[tuple[str, list[int]]]:
    """The whitespace words of `text`, each with the positions of its pieces (special tokens left out).

    A word cut off by truncation has no pieces and is left out too.
    """
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    starts = [w[0] for w in words]
    positions: list[list[int]] = [[] for _ in words]
    for pos, ((start, end), is_special) in enumerate(zip(offsets, special, strict=True)):
        if is_special or not words:
            continue
        char = next((i for i in range(start, end) if not text[i].isspace()), end)
        w = max(0, bisect.bisect_right(starts, char) - 1)
        if char >= words[w][1] and w + 1 < len(words):  # in the gap after word w: the piece leads the next word
            w += 1
        positions[w].append(pos)
    return [(w[2], p) for w, p in zip(words, positions, strict=True) if p]


def baseline_ids(input_ids: torch.Tensor, special: torch.Tensor, fill: int) -> torch.Tensor:
    """The IG baseline: every piece replaced by `fill` (pad or mask id), special tokens ([CLS], [SEP]) kept."""
    return torch.where(special.bool(), input_ids, torch.full_like(input_ids, fill))


def integrated_gradients(model: Any, enc: dict[str, torch.Tensor], baseline: torch.Tensor, target: torch.Tensor,
                         n_steps: int, internal_batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Attributions per piece (summed over the embedding dimension) to the logit of `target`, and Captum's
    convergence delta per record (sum of attributions minus the logit difference from the baseline).

    Args:
        model: a sequence classifier in eval mode.
        enc: input_ids, attention_mask (and token_type_ids) of a batch, on the model's device.
        baseline: baseline input ids, same shape as enc["input_ids"].
        target: the class index per record whose logit is explained.
        n_steps: integration steps (Gauss-Legendre).
        internal_batch_size: rows per forward pass inside Captum.

    Returns:
        (attributions (B, L), delta (B,)).
    """
    extra = {k: v for k, v in enc.items() if k != "input_ids"}
    names = sorted(extra)

    def forward(input_ids: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
        return model(input_ids=input_ids, **dict(zip(names, tensors, strict=True))).logits

    lig = _captum()(forward, model.get_input_embeddings())
    attributions, delta = lig.attribute(
        enc["input_ids"], baselines=baseline, target=target, additional_forward_args=tuple(extra[k] for k in names),
        n_steps=n_steps, internal_batch_size=internal_batch_size, return_convergence_delta=True,
    )  # fmt: skip
    return attributions.sum(-1).detach(), delta.detach()


@torch.no_grad()
def attention_map(model: Any, enc: dict[str, torch.Tensor], layer: int | None, head: int | None,
                  rollout: bool) -> torch.Tensor:  # fmt: skip
    """Attention of one record (batch of 1, no padding), shape (L, L): rows attend over columns.

    Args:
        model: a sequence classifier whose forward returns attentions (eager attention).
        enc: the record's encoding.
        layer: layer index (None: the last); ignored by rollout.
        head: head index (None: the mean over heads); ignored by rollout.
        rollout: attention rollout (Abnar & Zuidema 2020): per layer the head mean plus the identity for the
            residual path, rows renormalized, multiplied from the first layer to the last.

    Raises:
        InputError: layer or head out of range.
    """
    attentions = model(**enc, output_attentions=True).attentions
    if not attentions or attentions[0] is None:
        raise InputError("the model returned no attention weights; it needs eager attention")
    n_layers, n_heads = len(attentions), attentions[0].shape[1]
    if rollout:
        return rollout_maps([a[0].float() for a in attentions])
    layer = n_layers - 1 if layer is None else layer
    if not 0 <= layer < n_layers:
        raise InputError(f"layer {layer} is out of range: the model has layers 0..{n_layers - 1}")
    if head is not None and not 0 <= head < n_heads:
        raise InputError(f"head {head} is out of range: the model has heads 0..{n_heads - 1}")
    maps = attentions[layer][0].float()
    return maps.mean(0) if head is None else maps[head]


def rollout_maps(layers: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout of per-layer maps (heads, L, L); every row of the result sums to 1."""
    size, device = layers[0].shape[-1], layers[0].device
    result = torch.eye(size, device=device)
    for maps in layers:
        step = maps.mean(0) + torch.eye(size, device=device)
        step = step / step.sum(-1, keepdim=True)
        result = step @ result
    return result


def check_attention_range(model: Any, layer: int | None, head: int | None) -> None:
    """Raise InputError before any work when `layer` or `head` is outside the model's config."""
    config = model.config
    n_layers, n_heads = getattr(config, "num_hidden_layers", None), getattr(config, "num_attention_heads", None)
    if layer is not None and n_layers is not None and not 0 <= layer < n_layers:
        raise InputError(f"--layer {layer} is out of range: the model has layers 0..{n_layers - 1}")
    if head is not None and n_heads is not None and not 0 <= head < n_heads:
        raise InputError(f"--head {head} is out of range: the model has heads 0..{n_heads - 1}")

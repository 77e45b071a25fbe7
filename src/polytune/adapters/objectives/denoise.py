"""Denoising objective for language adapters on encoder-decoders (T5, mT5, Marian, BART, NLLB).

Spans of a text are corrupted in the encoder input and the decoder reconstructs them. Noise positions follow T5's
`random_spans_noise_mask`: `noise_density` of the tokens (the config's mlm_probability) in spans of mean length
`mean_span_length`, a text alternating kept and noise spans, starting with kept tokens. What the model sees depends
on the tokenizer at hand:

- **sentinel** (T5 family, `<extra_id_N>` in the vocabulary): each noise span becomes one sentinel in the input;
  the target is the sentinels each followed by the span it hides, then eos (T5's span corruption).
- **mask** (BART family, a mask token): each noise span becomes one mask token; the target is the whole original
  text + eos (BART's text infilling).
- **delete** (Marian and others with neither): noise spans are dropped from the input; the target is the whole
  original text + eos (BART's token deletion, applied to spans). Nothing is added to the vocabulary.

Each text's corruption draws from `example_generator(seed, position)`, so it does not depend on the batch the text
lands in (processes, accumulation) and a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch

from polytune.adapters.data import denoise_dataset
from polytune.adapters.losses import TokenCrossEntropy
from polytune.adapters.objectives.base import Objective, example_generator
from polytune.errors import ModelError
from polytune.models import load_seq2seq


def sentinel_ids(tokenizer: Any) -> list[int]:
    """Ids of `<extra_id_0>`, `<extra_id_1>`, ... as long as the vocabulary has them (T5 has 100; most none)."""
    vocab, ids = tokenizer.get_vocab(), []
    while f"<extra_id_{len(ids)}>" in vocab:
        ids.append(vocab[f"<extra_id_{len(ids)}>"])
    return ids


def _segment(total: int, parts: int, generator: torch.Generator) -> list[int]:
    """`total` split into `parts` positive lengths at random cut points. Example: (5, 2) -> e.g. [2, 3]."""
    if parts <= 1:
        return [total]
    cuts = sorted((torch.randperm(total - 1, generator=generator)[: parts - 1] + 1).tolist())
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def noise_mask(length: int, density: float, mean_span: float, generator: torch.Generator, max_spans: int) -> list:
    """Which of `length` tokens are noise: about `density` of them in spans of mean length `mean_span`.

    As T5's random_spans_noise_mask: kept and noise spans alternate, kept first; at least one token is noise and,
    for texts of two tokens or more, at least one is kept. Example: length 10, density 0.3, mean 3 -> one span of 3.
    """
    if length <= 1:
        return [True] * length
    noise = min(max(1, round(length * density)), length - 1)
    spans = max(1, min(round(noise / mean_span), noise, length - noise, max_spans))
    mask: list[bool] = []
    for kept, noisy in zip(_segment(length - noise, spans, generator), _segment(noise, spans, generator), strict=True):
        mask += [False] * kept + [True] * noisy
    return mask


def corrupt(ids: list[int], mask: list[bool], mode: str, eos: int, fill: list[int]) -> tuple[list[int], list[int]]:
    """(encoder input, decoder target) of a text under a noise mask; both end with eos.

    Example (sentinel, fill [99, 98], eos 1): ids [5, 6, 7, 8], mask [F, T, F, T]
    -> ([5, 99, 7, 98, 1], [99, 6, 98, 8, 1])
    """
    source, target, span, previous = [], [], -1, False
    for token, noisy in zip(ids, mask, strict=True):
        if noisy and not previous:
            span += 1
            if mode != "delete":
                source.append(fill[span] if mode == "sentinel" else fill[0])
            if mode == "sentinel":
                target.append(fill[span])
        if not noisy:
            source.append(token)
        elif mode == "sentinel":
            target.append(token)
        previous = noisy
    return source + [eos], (target if mode == "sentinel" else list(ids)) + [eos]


class DenoiseCollator:
    """Pads texts and corrupts them into (input_ids, attention_mask, labels), each from its own seeded generator.

    Examples carry `input_ids` without special tokens (`data.denoise_dataset`) and their stream `position`.
    """

    seeded_per_example = True

    def __init__(self, tokenizer: Any, density: float, mean_span: float, seed: int, eos: int, pad: int) -> None:
        self.sentinels = sentinel_ids(tokenizer)
        mask_id = getattr(tokenizer, "mask_token_id", None)
        self.mode = "sentinel" if self.sentinels else "mask" if mask_id is not None else "delete"
        self.fill = self.sentinels or ([mask_id] if mask_id is not None else [])
        self.density, self.mean_span, self.seed, self.eos, self.pad = density, mean_span, seed, eos, pad

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        limit = len(self.sentinels) if self.mode == "sentinel" else 1 << 30
        pairs = []
        for example in examples:
            text, generator = list(example["input_ids"]), example_generator(self.seed, int(example["position"]))
            mask = noise_mask(len(text), self.density, self.mean_span, generator, limit)
            pairs.append(corrupt(text, mask, self.mode, self.eos, self.fill))
        sources, targets = [p[0] for p in pairs], [p[1] for p in pairs]
        return {"input_ids": self._pad(sources, self.pad), "attention_mask": self._attention(sources),
                "labels": self._pad(targets, -100)}  # fmt: skip

    @staticmethod
    def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
        width = max(len(r) for r in rows)
        return torch.tensor([r + [value] * (width - len(r)) for r in rows])

    @staticmethod
    def _attention(rows: list[list[int]]) -> torch.Tensor:
        width = max(len(r) for r in rows)
        return torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])


def eos_pad(tokenizer: Any, model: Any) -> tuple[int, int]:
    """End-of-sequence and padding ids of an encoder-decoder (the tokenizer's, else the model config's).

    Raises:
        ModelError: neither names an end-of-sequence token.
    """
    config = (model.get_base_model() if hasattr(model, "get_base_model") else model).config
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else config.eos_token_id
    if eos is None:
        raise ModelError("the tokenizer and the model config name no end-of-sequence token; denoising needs one")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else config.pad_token_id
    return int(eos), int(pad if pad is not None else 0)


class Denoise(Objective):
    """Span corruption (T5), text infilling (BART) or span deletion, reconstructed by the decoder."""

    name = "denoise"

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.loss = TokenCrossEntropy(feed_labels=True)

    def load_model(self, base: str) -> Any:
        return load_seq2seq(base)

    def dataset(self, tokenizer: Any, rows: list[dict], split: str) -> Any:
        return denoise_dataset(tokenizer, rows, self.cfg.max_length)

    def collator(self, tokenizer: Any, model: Any, seed: int, split: str) -> DenoiseCollator:
        eos, pad = eos_pad(tokenizer, model)
        return DenoiseCollator(tokenizer, self.cfg.mlm_probability, self.cfg.mean_span_length, seed, eos, pad)

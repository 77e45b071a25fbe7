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

The corruption draws from the collator's own seeded generator; `fit` collates one batch per micro-step in the
training process, so the generator moves once per trained batch and checkpoints resume exactly.
"""

from __future__ import annotations

from typing import Any

import torch


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
    """Pads texts and corrupts them into (input_ids, attention_mask, labels) with a seeded generator.

    Examples carry `input_ids` without special tokens (`data.denoise_dataset`).
    """

    def __init__(self, tokenizer: Any, density: float, mean_span: float, seed: int, eos: int, pad: int) -> None:
        self.sentinels = sentinel_ids(tokenizer)
        mask_id = getattr(tokenizer, "mask_token_id", None)
        self.mode = "sentinel" if self.sentinels else "mask" if mask_id is not None else "delete"
        self.fill = self.sentinels or ([mask_id] if mask_id is not None else [])
        self.density, self.mean_span, self.seed, self.eos, self.pad = density, mean_span, seed, eos, pad
        self.generator: torch.Generator | None = None

    def seed_generator(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return self._corrupt([list(e["input_ids"]) for e in examples])

    def _corrupt(self, texts: list[list[int]]) -> dict[str, torch.Tensor]:
        if self.generator is None:
            self.seed_generator()
        limit = len(self.sentinels) if self.mode == "sentinel" else 1 << 30
        pairs = [corrupt(t, noise_mask(len(t), self.density, self.mean_span, self.generator, limit), self.mode,
                         self.eos, self.fill) for t in texts]  # fmt: skip
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

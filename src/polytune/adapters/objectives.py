"""Objectives of aligned language adapters: distillation on translation pairs, optionally mixed with masked LM.

The adapted model reads a target sentence; the frozen base (no adapter, no gradient) has read its source
translation beforehand (`teacher_states`). The adapter is trained so that two representations match
(Reimers & Gurevych 2020; Cao et al. 2020):

- `first`: the first token's last hidden state, which a BERT classification head reads (through its pooler);
- `mean`: the mean of the token states (what retrieval and sentence embedders use).

Each is matched by MSE, by a contrastive term (InfoNCE on cosine similarity, the other pairs of the batch as
negatives, both directions), or by both. MSE alone pulls every sentence toward the same region of the source
space; the contrastive term also pushes a sentence away from other sentences' translations.

`PairCollator` pads target ids, gathers their teacher vectors and, when MLM is mixed in, masks a copy of the text
with its own seeded generator (BERT's 80/10/10), like the other LM collators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from polytune.adapters.trainer import masked_lm_loss

POOLINGS = ("first", "mean")


def pool(hidden: torch.Tensor, attention: torch.Tensor, how: str) -> torch.Tensor:
    """One vector per sequence: the first token's state, or the mean over attended tokens.

    Example: hidden [[[1, 1], [3, 5], [9, 9]]], attention [[1, 1, 0]] -> first [[1, 1]], mean [[2, 3]].
    """
    if how == "first":
        return hidden[:, 0]
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def backbone(model: Any) -> Any:
    """The encoder under a peft / task-head / DDP wrapper (`bert` of BertForMaskedLM)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(inner, "module", inner)
    return getattr(inner, inner.base_model_prefix, inner)


def states(model: Any, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Last hidden states of the model's encoder."""
    return backbone(model)(input_ids=input_ids, attention_mask=attention).last_hidden_state


def pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of right-padded rows. Example: [[5, 6], [7]], 0 -> [[5, 6], [7, 0]], [[1, 1], [1, 0]]."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [value] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


@torch.no_grad()
def teacher_states(model: Any, rows: list[list[int]], pad_id: int, batch_size: int) -> dict[str, torch.Tensor]:
    """The frozen model's `first` and `mean` vectors of tokenized source sentences, in eval mode (no dropout).

    Call it on the base before any adapter is attached (or with the adapter disabled).

    Returns:
        {"first": (len(rows), hidden), "mean": (len(rows), hidden)}, float32 on CPU.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: dict[str, list[torch.Tensor]] = {how: [] for how in POOLINGS}
    for i in range(0, len(rows), batch_size):
        ids, mask = pad(rows[i : i + batch_size], pad_id)
        hidden = states(model, ids.to(device), mask.to(device))
        for how in POOLINGS:
            out[how].append(pool(hidden, mask.to(device), how).float().cpu())
    model.train(was_training)
    return {how: torch.cat(parts) if parts else torch.empty(0) for how, parts in out.items()}


def contrastive(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: pair i's student vector must be closer (cosine) to teacher i than to the batch's others.

    Example: identical orthogonal rows give a loss near 0 at a small temperature.
    """
    logits = F.normalize(student.float(), dim=-1) @ F.normalize(teacher.float(), dim=-1).T / temperature
    target = torch.arange(len(student), device=student.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class PairCollator:
    """Batches of target `input_ids` with the teacher vectors of their pairs (`pair` indexes `teachers`); with
    `mlm`, `mask` adds a masked copy (`mlm_input_ids`) and its `labels`.

    Follows the LM collators' protocol: a `generator` made by `seed_generator` (saved in checkpoints); `fit`
    collates one batch per micro-step in the training process, so its state matches the batches trained.
    """

    def __init__(self, tokenizer: Any, teachers: dict[str, torch.Tensor] | None, mlm: bool, probability: float,
                 seed: int) -> None:  # fmt: skip
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.mask_id, self.vocab = tokenizer.mask_token_id, len(tokenizer)
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))
        self.teachers, self.mlm, self.probability, self.seed = teachers, mlm, probability, seed
        self.generator: torch.Generator | None = None

    def seed_generator(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        ids, attention = pad([list(e["input_ids"]) for e in examples], self.pad_id)
        batch = {"input_ids": ids, "attention_mask": attention}
        if self.teachers is not None:
            index = torch.tensor([int(e["pair"]) for e in examples])
            batch.update({f"teacher_{how}": vectors[index] for how, vectors in self.teachers.items()})
        return self.mask(batch) if self.mlm else batch  # only MLM draws random numbers

    def mask(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Add `mlm_input_ids` and `labels` (-100 off the masked tokens); at least one masked token per text."""
        if self.generator is None:
            self.seed_generator()
        device = batch["input_ids"].device
        ids, attention = batch["input_ids"].cpu(), batch["attention_mask"].cpu()
        candidate = (attention == 1) & ~torch.isin(ids, self.special)
        chosen = (torch.rand(ids.shape, generator=self.generator) < self.probability) & candidate
        empty = ~chosen.any(dim=1) & candidate.any(dim=1)
        first = candidate.int().argmax(dim=1)  # a text the draw missed gets its first real token masked
        chosen[empty.nonzero().flatten(), first[empty]] = True
        roll = torch.rand(ids.shape, generator=self.generator)
        noise = torch.randint(self.vocab, ids.shape, generator=self.generator)
        masked = torch.where(chosen & (roll < 0.8), torch.full_like(ids, self.mask_id), ids)
        masked = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), noise, masked)
        labels = torch.where(chosen, ids, torch.full_like(ids, -100))
        return {**batch, "mlm_input_ids": masked.to(device), "labels": labels.to(device)}


def objective_loss(
    weights: dict[str, float], poolings: tuple[str, ...], kind: str, temperature: float
) -> Callable[[Any, dict[str, torch.Tensor]], torch.Tensor]:
    """`loss(model, batch)`: the weighted sum of the alignment loss and the masked-LM loss.

    Args:
        weights: {"align": w, "mlm": w}; a missing or zero weight skips that forward pass.
        poolings: the representations aligned, among POOLINGS.
        kind: mse | contrastive | both.
        temperature: of the contrastive term.
    """

    def align(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = states(model, batch["input_ids"], batch["attention_mask"])
        total = hidden.new_zeros(())
        for how in poolings:
            student, teacher = pool(hidden, batch["attention_mask"], how).float(), batch[f"teacher_{how}"].float()
            if kind in ("mse", "both"):
                total = total + F.mse_loss(student, teacher)
            if kind in ("contrastive", "both"):
                total = total + contrastive(student, teacher, temperature)
        return total / len(poolings)

    def loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        total = None
        if weights.get("align"):
            total = weights["align"] * align(model, batch)
        if weights.get("mlm"):
            masked = {"input_ids": batch["mlm_input_ids"], "attention_mask": batch["attention_mask"],
                      "labels": batch["labels"]}  # fmt: skip
            term = weights["mlm"] * masked_lm_loss(model, masked)
            total = term if total is None else total + term
        return total

    return loss

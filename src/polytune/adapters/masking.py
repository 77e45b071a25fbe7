"""Language-model batches owned by polytune: padding, and BERT-style masking drawn from a seeded generator.

transformers' DataCollatorForLanguageModeling keeps its generator behind undocumented methods whose signatures
change between releases (5.24 broke every subclass of it), so the masking lives here: the same recipe as BERT
(15% of the non-special tokens are predicted; of those 80% become the mask token, 10% a random token, 10% stay),
with one `torch.Generator` that training checkpoints save and restore.
"""

from __future__ import annotations

from typing import Any

import torch


def mask_tokens(
    ids: torch.Tensor,
    maskable: torch.Tensor,
    probability: float,
    mask_id: int,
    vocab_size: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose positions to predict and corrupt them; labels are -100 everywhere else.

    Example: with probability 1.0 every maskable position gets its id as label; ~80% of them read `mask_id`.

    Args:
        ids: token ids, (batch, length), on the CPU.
        maskable: True where a token may be chosen (not special, not padding).
        probability: share of the maskable tokens chosen.
        mask_id: the tokenizer's mask token.
        vocab_size: random replacements are drawn from [0, vocab_size).
        generator: the source of every random draw (same state -> same masks).

    Returns:
        (corrupted ids, labels).
    """
    chosen = torch.bernoulli(torch.full(ids.shape, probability), generator=generator).bool() & maskable
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    masked = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool() & chosen
    randomized = torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool() & chosen & ~masked
    random_ids = torch.randint(vocab_size, ids.shape, dtype=ids.dtype, generator=generator)
    corrupted = torch.where(masked, torch.full_like(ids, mask_id), ids)
    return torch.where(randomized, random_ids, corrupted), labels


class LMCollator:
    """Pads tokenized examples; masks them for MLM (`mlm=True`) or labels every real token for causal LM.

    The generator is created on first use from `seed` (`seed_generator`), so every process and every rerun draws
    the same masks; `fit` collates in the training process, one batch per micro-step, so the generator state at a
    checkpoint belongs to exactly the batches trained so far.
    """

    def __init__(self, tokenizer: Any, mlm: bool, mlm_probability: float, seed: int) -> None:
        if mlm and tokenizer.mask_token_id is None:
            raise ValueError("masked-LM batches need a tokenizer with a mask token")
        self.tokenizer, self.mlm, self.mlm_probability, self.seed = tokenizer, mlm, mlm_probability, seed
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        self.generator: torch.Generator | None = None

    def seed_generator(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        columns = [{k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in e} for e in examples]
        batch = dict(self.tokenizer.pad(columns, return_tensors="pt"))
        ids = batch["input_ids"]
        real = batch["attention_mask"].bool() if "attention_mask" in batch else torch.ones_like(ids, dtype=torch.bool)
        if not self.mlm:
            batch["labels"] = torch.where(real, ids, torch.full_like(ids, -100))
            return batch
        if self.generator is None:
            self.seed_generator()
        maskable = real & ~torch.isin(ids, self.special_ids)
        batch["input_ids"], batch["labels"] = mask_tokens(ids, maskable, self.mlm_probability,
                                                          self.tokenizer.mask_token_id, len(self.tokenizer),
                                                          self.generator)  # fmt: skip
        return batch

"""Masked-LM (encoders) and causal-LM (decoders) objectives: batches, masking and losses owned by polytune.

transformers' DataCollatorForLanguageModeling keeps its generator behind undocumented methods whose signatures
change between releases (5.24 broke every subclass of it), so the masking lives here: the same recipe as BERT
(15% of the non-special tokens are predicted; of those 80% become the mask token, 10% a random token, 10% stay),
drawn per example from `example_generator`.

Both losses run only where there is something to predict: a full forward projects every position onto the whole
vocabulary, which on MiniLM costs as much as the encoder and on a 262k-piece decoder is most of the memory. The
backbone runs once, the head only on the masked (or labeled next-token) positions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from polytune.adapters.losses import TokenCrossEntropy, batch_mean
from polytune.adapters.objectives.base import Objective, example_generator
from polytune.errors import ModelError
from polytune.models import load_clm, load_mlm


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
        ids: token ids of one text (or a batch), on the CPU.
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


def mask_rows(ids: torch.Tensor, maskable: torch.Tensor, lengths: list[int], examples: list[dict[str, Any]],
              seed: int, probability: float, mask_id: int, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`mask_tokens` per row of a right-padded batch, each row from its example's generator and over its own
    length only (draws over the padded width would depend on the other texts of the batch).

    Returns:
        (corrupted ids, labels), padded like `ids` (labels -100 on padding).
    """
    corrupted, labels = ids.clone(), torch.full_like(ids, -100)
    for row, (example, length) in enumerate(zip(examples, lengths, strict=True)):
        generator = example_generator(seed, int(example["position"]))
        corrupted[row, :length], labels[row, :length] = mask_tokens(ids[row, :length], maskable[row, :length],
                                                                    probability, mask_id, vocab_size, generator)
    return corrupted, labels


class LMCollator:
    """Pads tokenized examples; masks them for MLM (`mlm=True`) or labels every real token for causal LM.

    Examples carry their stream `position` (`loop.fit` adds it): each text's mask is drawn from
    `example_generator(seed, position)`, whatever batch it lands in.
    """

    seeded_per_example = True

    def __init__(self, tokenizer: Any, mlm: bool, mlm_probability: float, seed: int) -> None:
        if mlm and tokenizer.mask_token_id is None:
            raise ValueError("masked-LM batches need a tokenizer with a mask token")
        self.tokenizer, self.mlm, self.mlm_probability, self.seed = tokenizer, mlm, mlm_probability, seed
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        columns = [{k: e[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in e} for e in examples]
        batch = dict(self.tokenizer.pad(columns, return_tensors="pt"))
        ids = batch["input_ids"]
        real = batch["attention_mask"].bool() if "attention_mask" in batch else torch.ones_like(ids, dtype=torch.bool)
        if not self.mlm:
            batch["labels"] = torch.where(real, ids, torch.full_like(ids, -100))
            return batch
        maskable = real & ~torch.isin(ids, self.special_ids)
        batch["input_ids"], batch["labels"] = mask_rows(ids, maskable, real.sum(dim=1).tolist(), examples, self.seed,
                                                        self.mlm_probability, self.tokenizer.mask_token_id,
                                                        len(self.tokenizer))  # fmt: skip
        return batch


def _inner(model: Any) -> Any:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


class MaskedLMLoss(TokenCrossEntropy):
    """Masked-LM cross-entropy summed over the masked positions (the model's own loss, computed faster).

    BERT-family heads (`cls`) take the fast path; other models run their own forward.

    Args:
        keys: the batch keys of (input ids, labels); aligned adapters mixing MLM in keep the masked copy apart.
    """

    def __init__(self, keys: tuple[str, str] = ("input_ids", "labels")) -> None:
        super().__init__()
        self.ids_key, self.labels_key = keys

    def units(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        return {"loss": float((batch[self.labels_key] != -100).sum())}

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        inner, labels = _inner(model), batch[self.labels_key]
        inputs = {"input_ids": batch[self.ids_key], "attention_mask": batch["attention_mask"],
                  **({"token_type_ids": batch["token_type_ids"]} if "token_type_ids" in batch else {})}  # fmt: skip
        head = getattr(inner, "cls", None)
        if head is None:
            logits = model(**inputs).logits
            return {"loss": F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                            ignore_index=-100, reduction="sum")}  # fmt: skip
        hidden = getattr(inner, inner.base_model_prefix)(**inputs).last_hidden_state
        masked = labels != -100
        return {"loss": F.cross_entropy(head(hidden[masked]).float(), labels[masked], reduction="sum")}


# Decoders whose forward changes the logits after the output layer in ways the fast path would skip.
_LOGIT_TRANSFORMS = ("logit_scale", "logits_scaling", "output_multiplier_scale")


class CausalLMLoss(TokenCrossEntropy):
    """Next-token cross-entropy summed over the labeled positions; the output layer runs only on those.

    Gemma-style final logit soft-capping (`final_logit_softcapping` in the config) is applied as the model's
    forward applies it; a model that scales its logits otherwise runs its own forward.
    """

    def __init__(self) -> None:
        super().__init__(shift=True)

    def sums(self, model: Any, batch: dict[str, torch.Tensor], gather: bool = False) -> dict[str, torch.Tensor]:
        inner = _inner(model)
        if any(getattr(inner.config, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
            return super().sums(model, batch, gather)
        backbone = getattr(inner, inner.base_model_prefix)
        hidden = backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        labels = batch["labels"][:, 1:]
        wanted = labels != -100
        logits = inner.get_output_embeddings()(hidden[:, :-1][wanted]).float()
        cap = getattr(inner.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return {"loss": F.cross_entropy(logits, labels[wanted], reduction="sum")}


class MaskedLM(Objective):
    """Masked LM on the target language's text (encoders; MAD-X's language adapters)."""

    name, mlm_head = "mlm", True

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.loss = MaskedLMLoss()

    def load_model(self, base: str) -> Any:
        return load_mlm(base)

    def collator(self, tokenizer: Any, model: Any, seed: int, split: str) -> LMCollator:
        if tokenizer.mask_token_id is None:
            raise ModelError(f"the tokenizer of {self.cfg.tokenizer or self.cfg.base} has no mask token; masked LM "
                             "needs one (use objective clm or align)")
        return LMCollator(tokenizer, mlm=True, mlm_probability=self.cfg.mlm_probability, seed=seed)


class CausalLM(Objective):
    """Causal LM (next-token prediction) on the target language's text (decoders)."""

    name = "clm"

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.loss = CausalLMLoss()

    def load_model(self, base: str) -> Any:
        return load_clm(base)

    def collator(self, tokenizer: Any, model: Any, seed: int, split: str) -> LMCollator:
        return LMCollator(tokenizer, mlm=False, mlm_probability=0.0, seed=seed)


def masked_lm_loss(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The masked-LM loss of a batch as one mean over its masked tokens (the model's own loss value).

    Example: masked_lm_loss(model, collator(examples)) == model(**batch).loss, up to float rounding.
    """
    return batch_mean(MaskedLMLoss(), model, batch)

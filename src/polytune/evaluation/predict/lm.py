"""The torch half of the probes: a base + language adapter composed with its LM head, sentence embeddings
(mean-pooled hidden states of one layer) and per-record LM losses (masked LM with a seeded mask, or next token).

Like the rest of `evaluation/predict/`, this imports torch; scoring (`evaluation/probes.py`) stays free of it.

Example: embed(model, tokenizer, ["In the beginning"], layer=4, batch_size=32, max_length=64).shape -> (1, 384)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polytune.errors import ConfigError, ModelError
from polytune.models import lm_objective, load_clm, load_mlm, load_seq2seq, load_tokenizer, merge_language_adapter

log = logging.getLogger(__name__)

HEAD_FILE = "mlm_head.safetensors"  # an LM head saved beside a language adapter (bases that ship none)


def load_lm(base: str, lang_adapter: str | Path | None = None) -> tuple[Any, Any, str]:
    """base (+ the language adapter's tokenizer, new rows and LoRA, merged) with its LM head, in eval mode.

    A base without an MLM head gets the deterministic "read out the embeddings" head of `models.load_mlm`, unless
    the adapter folder holds `mlm_head.safetensors` (head tensors by name), which is loaded over it.

    Returns:
        (model, tokenizer, objective): objective is "mlm", "clm" or "denoise" (`models.lm_objective`).

    Raises:
        ModelError: a missing or corrupt model, adapter or head file.
    """
    objective = lm_objective(base)
    model = {"mlm": load_mlm, "clm": load_clm, "denoise": load_seq2seq}[objective](base)
    if lang_adapter is None:
        tokenizer = load_tokenizer(base)
    else:
        model, tokenizer = merge_language_adapter(model, base, lang_adapter)
        head = Path(lang_adapter) / HEAD_FILE
        if head.is_file():
            _load_head(model, head)
    if tokenizer.pad_token is None:  # decoders ship no padding token; batches need one (masked out anyway)
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device), tokenizer, objective


def _load_head(model: Any, path: Path) -> None:
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise ModelError(f"LM head {path} is corrupt ({str(exc)[:120]}); retrain the language adapter") from exc
    unknown = model.load_state_dict(tensors, strict=False).unexpected_keys
    if unknown:
        raise ModelError(f"LM head {path} does not fit the model (unknown tensor {unknown[0]}); retrain the adapter")
    log.info("loaded the LM head %s (%d tensors)", path, len(tensors))


def n_layers(config: Any) -> int:
    """Transformer layers of the (encoder of the) model, from its config (`models.load_config`)."""
    for name in ("num_hidden_layers", "n_layer", "num_layers"):
        if isinstance(getattr(config, name, None), int):
            return int(getattr(config, name))
    raise ConfigError(f"{type(config).__name__} names no layer count; retrieval needs one")


def _encoder(model: Any) -> Any:
    """The module whose hidden states are embedded: the encoder of an encoder-decoder, else the backbone."""
    if getattr(model.config, "is_encoder_decoder", False):
        return model.get_encoder()
    return getattr(model, model.base_model_prefix)


def _batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of similar length (longest first), so little is padded."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _pad(rows: list[list[int]], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    return ids, mask


@torch.no_grad()
def embed(model: Any, tokenizer: Any, texts: list[str], layer: int, batch_size: int, max_length: int) -> np.ndarray:
    """Mean over the non-padding positions of hidden_states[layer] (0: embedding output), one row per text."""
    device = next(model.parameters()).device
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoder, out = _encoder(model), np.zeros((len(texts), 0), dtype=np.float32)
    for batch in _batches([len(x) for x in ids], batch_size):
        input_ids, mask = _pad([ids[i] for i in batch], pad, device)
        states = encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states[layer]
        weights = mask.unsqueeze(-1).to(states.dtype)
        pooled = ((states * weights).sum(1) / weights.sum(1).clamp(min=1)).float().cpu().numpy()
        if out.shape[1] == 0:
            out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
        out[batch] = pooled
    return out


def draw_masks(ids: list[list[int]], special: list[list[int]], probability: float,
               generator: torch.Generator) -> list[list[int]]:  # fmt: skip
    """Positions to mask per record: each non-special token with `probability`, at least one per record that has any.

    The draws come from `generator` only, record by record, so the same records, tokenizer and seed give the same
    masks whatever the batch size (and base and adapter on one vocabulary are scored on the same masked tokens).
    """
    out = []
    for row, flags in zip(ids, special, strict=True):
        allowed = [i for i, f in enumerate(flags) if not f]
        draws = torch.rand(len(row), generator=generator).tolist()
        chosen = [i for i in allowed if draws[i] < probability]
        if not chosen and allowed:
            chosen = [allowed[int(torch.randint(len(allowed), (1,), generator=generator))]]
        out.append(chosen)
    return out


def _mlm_logits(model: Any, input_ids: torch.Tensor, mask: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """Logits at the masked positions only: BERT-family heads (`cls`) skip the vocabulary projection elsewhere."""
    head = getattr(model, "cls", None)
    if head is None:
        return model(input_ids=input_ids, attention_mask=mask).logits[where]
    return head(_encoder(model)(input_ids=input_ids, attention_mask=mask).last_hidden_state[where])


def mlm_losses(model: Any, tokenizer: Any, texts: list[str], probability: float, seed: int, batch_size: int,
               max_length: int) -> list[tuple[float, int]]:  # fmt: skip
    """(summed NLL in nats, masked tokens) per text, masks drawn by `draw_masks` from a generator seeded `seed`."""
    if tokenizer.mask_token_id is None:
        raise ModelError("the tokenizer has no mask token; the masked-LM probe needs one")
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, return_special_tokens_mask=True)
    masks = draw_masks(enc["input_ids"], enc["special_tokens_mask"], probability, torch.Generator().manual_seed(seed))
    return masked_losses(model, enc["input_ids"], masks, tokenizer.mask_token_id, tokenizer.pad_token_id, batch_size)


@torch.no_grad()
def masked_losses(model: Any, ids: list[list[int]], masks: list[list[int]], mask_id: int, pad_id: int | None,
                  batch_size: int) -> list[tuple[float, int]]:  # fmt: skip
    """(summed NLL in nats, masked tokens) per row of token ids: the positions in `masks` replaced by `mask_id` at
    once, each predicted from the rest (the loss of one masked-LM step, not a one-at-a-time pseudo-likelihood)."""
    device = next(model.parameters()).device
    out = [(0.0, 0)] * len(ids)
    for batch in _batches([len(x) for x in ids], batch_size):
        masked = [[mask_id if j in set(masks[i]) else t for j, t in enumerate(ids[i])] for i in batch]
        input_ids, attention = _pad(masked, pad_id or 0, device)
        gold, _ = _pad([ids[i] for i in batch], 0, device)
        where = torch.zeros_like(attention, dtype=torch.bool)
        for row, i in enumerate(batch):
            where[row, masks[i]] = True
        nll = torch.nn.functional.cross_entropy(_mlm_logits(model, input_ids, attention, where).float(),
                                                gold[where], reduction="none")  # fmt: skip
        rows = where.nonzero()[:, 0]
        sums = torch.zeros(len(batch), device=device).index_add_(0, rows, nll).tolist()
        for row, i in enumerate(batch):
            out[i] = (sums[row], len(masks[i]))
    return out


def start_id(tokenizer: Any) -> int:
    """The token a text is scored after: the tokenizer's bos, else its eos (GPT-2's document separator), else cls or
    sep; the same base token for a base and an extended tokenizer, so both score every token of the text."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id):
        if token_id is not None:
            return int(token_id)
    raise ModelError("the tokenizer names no bos, eos, cls or sep token; the next-token probe needs one to start a "
                     "text")


def text_ids(tokenizer: Any, texts: list[str], max_length: int) -> tuple[list[list[int]], list[int]]:
    """(token ids without special tokens, UTF-8 bytes they cover) per text, at most `max_length` tokens each.

    Example: a 3-token text of 12 bytes under max_length 2 -> its first 2 tokens and the bytes of their characters.
    """
    if not getattr(tokenizer, "is_fast", False):  # no offsets: whole texts, all their bytes
        ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return ids, [len(text.encode("utf-8")) for text in texts]
    enc = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length,
                    return_offsets_mapping=True)  # fmt: skip
    covered = []
    for text, offsets in zip(texts, enc["offset_mapping"], strict=True):
        end = max((b for _, b in offsets), default=0)
        covered.append(len(text[:end].encode("utf-8")))
    return enc["input_ids"], covered


@torch.no_grad()
def clm_losses(model: Any, tokenizer: Any, texts: list[str], batch_size: int,
               max_length: int) -> list[tuple[float, int, int]]:  # fmt: skip
    """(summed NLL in nats, tokens, UTF-8 bytes) per text: every token of the text given the ones before it and a
    start token (`start_id`), so NLL / bytes (bits per byte, after / ln 2) compares tokenizers."""
    device = next(model.parameters()).device
    ids, covered = text_ids(tokenizer, texts, max_length - 1)
    first = start_id(tokenizer)
    ids = [[first, *row] for row in ids]
    out = [(0.0, 0, 0)] * len(texts)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else first
    for batch in _batches([len(x) for x in ids], batch_size):
        input_ids, attention = _pad([ids[i] for i in batch], pad, device)
        logits = model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), input_ids[:, 1:], reduction="none")
        nll = (nll * attention[:, 1:]).sum(1).tolist()
        for row, i in enumerate(batch):
            out[i] = (nll[row], len(ids[i]) - 1, covered[i])
    return out

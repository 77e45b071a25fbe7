"""The one generation path: hypotheses of an encoder-decoder and continuations of a decoder, used by prediction
(seq2seq and causal_lm task adapters, `evaluation/predict`) and by augmentation (back-translation and new
examples from a language model, `corpus/augment.py`).

Inputs are built as training builds them (`polytune.prompts`): a decoder's prompt starts with its bos (when it has
one) and keeps its end when too long. Batches hold rows of similar length, right-padded for an encoder and
left-padded for a decoder, so a row's text does not depend on its batch under greedy or beam search. Sampling
(`temperature` > 0) is seeded per call by the generators. Models given by path load through the weights policy
(`models.weights`): safetensors only, pickle weights only inside `allowing_pickle()`, never remote code.

torch is imported inside the functions: importing this module loads nothing heavy.

Example: Seq2SeqGenerator("opus-mt-ny-en")(["Mulungu ndi wabwino"]) -> ["God is good"]
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from polytune.errors import ModelError
from polytune.models.weights import load_pretrained
from polytune.prompts import decoder_special_ids, keep_end, pad_id, prompt_ids

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Decoding:
    """Decoding settings with the names of EvalConfig's, plus the ones only augmentation sets.

    Attributes:
        batch_size: rows per `generate()` call.
        max_length: longest input in tokens (a decoder's prompt keeps its end).
        num_beams: beam size (1: greedy).
        max_new_tokens: longest output.
        length_penalty: beam search: exponent of the length dividing a beam's score.
        no_repeat_ngram_size: never repeat an n-gram of this size (0: off).
        repetition_penalty: scores of tokens already in the prompt or output divided by it (1.0: off).
        min_new_tokens: shortest output (augmentation: an empty text is no example).
        temperature: 0 decodes deterministically; above 0 samples with nucleus mass `top_p`.
        top_p: nucleus sampling mass.
        forced_bos_token_id: many-to-many translation models (NLLB, M2M100): the target language token.
    """

    batch_size: int = 32
    max_length: int = 512
    num_beams: int = 1
    max_new_tokens: int = 64
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    min_new_tokens: int | None = None
    temperature: float = 0.0
    top_p: float = 1.0
    forced_bos_token_id: int | None = None


def generation_options(cfg: Any, pad: int | None, eos: int | None) -> dict[str, Any]:
    """`generate()` keyword arguments from decoding settings (an EvalConfig or a `Decoding`): greedy (num_beams 1)
    or beam search, deterministic; sampling only for settings with a `temperature` above 0."""
    options = {"do_sample": False, "num_beams": cfg.num_beams, "max_new_tokens": cfg.max_new_tokens}
    if cfg.num_beams > 1:
        options["length_penalty"] = cfg.length_penalty
    if cfg.no_repeat_ngram_size:
        options["no_repeat_ngram_size"] = cfg.no_repeat_ngram_size
    if getattr(cfg, "repetition_penalty", 1.0) != 1.0:
        options["repetition_penalty"] = float(cfg.repetition_penalty)
    if pad is not None:
        options["pad_token_id"] = pad
    if eos is not None:
        options["eos_token_id"] = eos
    # EvalConfig has none of these: evaluation always decodes deterministically, with no forced first token.
    if getattr(cfg, "min_new_tokens", None):
        options["min_new_tokens"] = cfg.min_new_tokens
    if getattr(cfg, "forced_bos_token_id", None) is not None:
        options["forced_bos_token_id"] = cfg.forced_bos_token_id
    if getattr(cfg, "temperature", 0) > 0:
        options.update(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
    return options


def _by_length(items: list[list[int]], batch_size: int) -> list[list[int]]:
    """Batches of indices, longest first: rows of similar length pad little."""
    order = sorted(range(len(items)), key=lambda i: -len(items[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def generate_seq2seq(model: Any, tokenizer: Any, sources: list[str], cfg: Any) -> list[str]:
    """Hypotheses of an encoder-decoder for `sources` (cfg: batch_size, max_length and the generation settings)."""
    import torch

    device = next(model.parameters()).device
    ids = tokenizer(sources, truncation=True, max_length=cfg.max_length)["input_ids"]
    pad = pad_id(tokenizer, model.config)
    options = generation_options(cfg, pad, None)
    out: list[str] = [""] * len(sources)
    for batch in _by_length(ids, cfg.batch_size):
        width = max(len(ids[i]) for i in batch)
        input_ids = torch.tensor([ids[i] + [pad] * (width - len(ids[i])) for i in batch], device=device)
        mask = torch.tensor([[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in batch], device=device)
        with torch.no_grad():
            generated = model.generate(input_ids=input_ids, attention_mask=mask, **options)
        for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
            out[i] = text.strip()
    return out


def generate_causal(model: Any, tokenizer: Any, prompts: list[str], cfg: Any) -> list[str]:
    """Answers of a decoder to rendered `prompts`: left-padded batches, the continuation after the prompt only."""
    import torch

    device = next(model.parameters()).device
    bos, eos, pad = decoder_special_ids(tokenizer, model.config)
    # The prompt keeps its end (which leads into the answer) when it is too long, as in training.
    ids = [keep_end(prompt_ids(tokenizer, p, bos), cfg.max_length, bos) for p in prompts]
    options = generation_options(cfg, pad, eos)
    out: list[str] = [""] * len(prompts)
    for batch in _by_length(ids, cfg.batch_size):
        width = max(len(ids[i]) for i in batch)
        # Left padding: every row's prompt ends at the last column, where generation continues.
        input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in batch], device=device)
        mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in batch], device=device)
        with torch.no_grad():
            generated = model.generate(input_ids=input_ids, attention_mask=mask, **options)[:, width:]
        for i, text in zip(batch, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
            out[i] = text.strip()
    return out


def load_generator(path: str, kind: str) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) of a seq2seq or causal LM folder, through the weights policy.

    Raises:
        ModelError: no such folder, a folder without config, weights or tokenizer, or pickle-only weights outside
            `allowing_pickle()`.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    if not Path(path).is_dir():
        raise ModelError(f"{kind} model not found: {path} (give a local model folder with model.safetensors)")
    what = f"a {kind} model (it needs config.json, safetensors weights and a tokenizer)"
    tokenizer = load_pretrained(AutoTokenizer, path, what, trust_remote_code=False)
    loader = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
    model = load_pretrained(loader, path, what, use_safetensors=True, trust_remote_code=False)
    model.eval()
    return model, tokenizer


class Seq2SeqGenerator:
    """Translate (or paraphrase) texts with an encoder-decoder model: Marian, T5, mT5, BART, NLLB, M2M100...

    Args:
        path: model folder.
        prefix: text put before every input (T5-style task prefixes, e.g. "translate English to German: ").
        max_new_tokens: longest output.
        num_beams: beam size (1: greedy).
        forced_bos_lang: for many-to-many models (NLLB, M2M100), the target language token, e.g. "eng_Latn".
        max_length: longest input in tokens.
    """

    def __init__(self, path: str, prefix: str = "", max_new_tokens: int = 64, num_beams: int = 1,
                 forced_bos_lang: str | None = None, max_length: int = 512) -> None:  # fmt: skip
        self.path, self.prefix = str(path), prefix
        self.model, self.tokenizer = load_generator(self.path, "seq2seq")
        self.decoding = Decoding(max_length=max_length, num_beams=num_beams, max_new_tokens=max_new_tokens,
                                 min_new_tokens=1)  # fmt: skip
        if forced_bos_lang:
            token_id = self.tokenizer.convert_tokens_to_ids(forced_bos_lang)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise ModelError(f"{forced_bos_lang!r} is not a token of {path}: give a language token it knows")
            self.decoding.forced_bos_token_id = token_id

    def __call__(self, texts: list[str], seed: int = 0) -> list[str]:
        """One output per input text (greedy or beam search: the seed only matters for sampling models)."""
        import torch

        torch.manual_seed(seed)
        decoding = dataclasses.replace(self.decoding, batch_size=max(1, len(texts)))
        return generate_seq2seq(self.model, self.tokenizer, [self.prefix + t for t in texts], decoding)


class CausalGenerator:
    """Continue prompts with a decoder-only language model (GPT-2, Llama, Qwen, ...), sampling with a seed.

    Example: CausalGenerator("my-gpt2")(["Pachiyambi Mulungu"], seed=1) -> ["adalenga kumwamba ndi dziko"]

    Args:
        path: model folder.
        max_new_tokens: longest continuation.
        temperature: sampling temperature (0: greedy).
        top_p: nucleus sampling mass.
        max_length: longest prompt in tokens (a longer one keeps its end).
    """

    def __init__(self, path: str, max_new_tokens: int = 48, temperature: float = 1.0, top_p: float = 0.95,
                 max_length: int = 512) -> None:  # fmt: skip
        self.path = str(path)
        self.model, self.tokenizer = load_generator(self.path, "causal")
        self.decoding = Decoding(max_length=max_length, max_new_tokens=max_new_tokens, min_new_tokens=1,
                                 temperature=max(temperature, 0.0), top_p=top_p)  # fmt: skip

    def __call__(self, prompts: list[str], seed: int = 0) -> list[str]:
        """The continuation of each prompt (without the prompt); the same prompts and seed give the same texts."""
        import torch

        torch.manual_seed(seed)
        decoding = dataclasses.replace(self.decoding, batch_size=max(1, len(prompts)))
        return generate_causal(self.model, self.tokenizer, prompts, decoding)

"""Text generation with transformers models given by path: seq2seq translation and causal-LM continuation.

Used by augmentation (back-translation, new examples from a language model) and open to any stage that needs
generated text. Weights load from safetensors only, never with remote code; a missing or unsafe model is a
ModelError naming the path. Generation is seeded per call, so the same model, inputs and seed give the same text.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polytune.errors import ModelError

log = logging.getLogger(__name__)


def _load(path: str, kind: str) -> tuple[Any, Any]:
    """(model, tokenizer) of a seq2seq or causal LM folder; safetensors only, remote code off."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    loader = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
    if not Path(path).is_dir():
        raise ModelError(f"{kind} model not found: {path} (give a local model folder with model.safetensors)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
        model = loader.from_pretrained(path, use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load a {kind} model from {path}: it needs config.json, model.safetensors and a "
                         f"tokenizer ({type(exc).__name__}: {str(exc)[:160]})") from exc  # fmt: skip
    model.eval()
    return model, tokenizer


class Seq2SeqGenerator:
    """Translate (or paraphrase) texts with an encoder-decoder model: Marian, T5, mT5, BART, NLLB, M2M100...

    Example: Seq2SeqGenerator("opus-mt-ny-en")(["Mulungu ndi wabwino"]) -> ["God is good"]

    Args:
        path: model folder.
        prefix: text put before every input (T5-style task prefixes, e.g. "translate English to German: ").
        max_new_tokens: longest output.
        num_beams: beam size (1: greedy).
        forced_bos_lang: for many-to-many models (NLLB, M2M100), the target language token, e.g. "eng_Latn".
    """

    def __init__(self, path: str, prefix: str = "", max_new_tokens: int = 64, num_beams: int = 1,
                 forced_bos_lang: str | None = None) -> None:  # fmt: skip
        self.path, self.prefix = str(path), prefix
        self.model, self.tokenizer = _load(self.path, "seq2seq")
        self.options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "num_beams": num_beams, "min_new_tokens": 1}
        if forced_bos_lang:
            token_id = self.tokenizer.convert_tokens_to_ids(forced_bos_lang)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise ModelError(f"{forced_bos_lang!r} is not a token of {path}: give a language token it knows")
            self.options["forced_bos_token_id"] = token_id

    def __call__(self, texts: list[str], seed: int = 0) -> list[str]:
        """One output per input text (greedy or beam search: the seed only matters for sampling models)."""
        import torch

        torch.manual_seed(seed)
        batch = self.tokenizer([self.prefix + t for t in texts], return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            out = self.model.generate(**batch, do_sample=False, **self.options)
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]


class CausalGenerator:
    """Continue prompts with a decoder-only language model (GPT-2, Llama, Qwen, ...), sampling with a seed.

    Example: CausalGenerator("my-gpt2")(["Pachiyambi Mulungu"], seed=1) -> [" adalenga kumwamba ndi dziko"]

    Args:
        path: model folder.
        max_new_tokens: longest continuation.
        temperature: sampling temperature (0: greedy).
        top_p: nucleus sampling mass.
    """

    def __init__(self, path: str, max_new_tokens: int = 48, temperature: float = 1.0, top_p: float = 0.95) -> None:
        self.path = str(path)
        self.model, self.tokenizer = _load(self.path, "causal")
        self.tokenizer.padding_side = "left"  # generation continues at the right end of every row
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        sample = temperature > 0
        self.options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "min_new_tokens": 1, "do_sample": sample,
                                        "pad_token_id": self.tokenizer.pad_token_id}  # fmt: skip
        if sample:
            self.options.update(temperature=temperature, top_p=top_p)

    def __call__(self, prompts: list[str], seed: int = 0) -> list[str]:
        """The continuation of each prompt (without the prompt)."""
        import torch

        torch.manual_seed(seed)
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            out = self.model.generate(**batch, **self.options)
        new = out[:, batch["input_ids"].shape[1]:]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

"""Tokenizer stage: SentencePiece training, vocabulary extension of a base tokenizer, fertility analysis.

Only `sentencepiece` and `tokenizers` are used here (no torch, no transformers), so this stage runs light.
"""

from __future__ import annotations

from polytune.tokenizer.analyze import analyze, fertility_stats, load_tokenizer
from polytune.tokenizer.extend import extend_tokenizer
from polytune.tokenizer.families import FAMILIES
from polytune.tokenizer.train import train_from_corpus, train_sentencepiece

__all__ = [
    "FAMILIES",
    "analyze",
    "extend_tokenizer",
    "fertility_stats",
    "load_tokenizer",
    "train_from_corpus",
    "train_sentencepiece",
]

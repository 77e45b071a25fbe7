"""SentencePiece training from an iterator of texts: deterministic, memory-bounded, safe on tiny corpora.

Determinism: one thread, a sentence sample drawn by polytune with the caller's seed, and no file names in the
model (the model is written through `model_writer`, so the trainer spec records no temp path): the same texts,
settings and seed give the same .model bytes. The sample is polytune's own because SentencePiece 0.2.3's
sampler ignores `set_random_generator_seed`: every seed gave the same model.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytune.errors import ConfigError, InputError
from polytune.io import atomic_path, iter_records, manifest, write_json

logger = logging.getLogger(__name__)

MODEL_TYPES = ("unigram", "bpe", "char", "word")


def select_records(input: str | Path, langs: Iterable[str] = (), split: str = "all") -> Iterator[dict[str, Any]]:
    """Yield the records of `input` in `langs` (empty: every language) and `split` ("all": every split).

    A record without a `split` field (plain text files carry none) is kept under any split; a record without a
    `lang` field is kept only when no language is asked for.

    Raises:
        InputError: the input is missing or unreadable (from polytune.io).
    """
    wanted = set(langs)
    for record in iter_records(input):
        if wanted and record.get("lang") not in wanted:
            continue
        if split != "all" and record.get("split", split) != split:
            continue
        yield record


def train_sentencepiece(
    texts: Iterable[str],
    out_dir: str | Path,
    vocab_size: int,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    seed: int = 13,
    *,
    name: str = "spm",
    input_sentence_size: int = 1_000_000,
    normalization_rule_name: str = "nmt_nfkc",
    max_sentence_length: int = 16384,
) -> Path:
    """Train a SentencePiece model on `texts` and write `<out_dir>/<name>.model` atomically.

    Example: train_sentencepiece(["ku na mu"] * 50, "out", vocab_size=40) -> Path("out/spm.model")

    Args:
        texts: the training sentences; empty ones are skipped. Consumed once, never held in memory by polytune.
        out_dir: folder that receives the model (created if missing).
        vocab_size: upper bound of the vocabulary; a soft limit (`hard_vocab_limit=false`), so a tiny corpus
            yields a smaller vocabulary instead of an error.
        model_type: unigram | bpe | char | word.
        character_coverage: share of characters covered by the vocabulary; the rarest rest maps to <unk>.
        seed: seed of the sentence sampling and of the trainer.
        name: file name of the model, without `.model`.
        input_sentence_size: sample at most this many sentences (bounds memory on large corpora); the sample
            is a uniform one (reservoir sampling) drawn with `seed`.
        normalization_rule_name: SentencePiece normalization; "identity" when the text is already normalized.
        max_sentence_length: longer sentences (in bytes) are skipped by the trainer.

    Returns:
        The path of the written .model file.

    Raises:
        ConfigError: a setting is invalid, e.g. vocab_size below the number of required characters.
        InputError: no non-empty text was given.
    """
    import sentencepiece as spm

    if model_type not in MODEL_TYPES:
        raise ConfigError(f"model_type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < 4:
        raise ConfigError(f"vocab_size must be an integer of at least 4, got {vocab_size!r}")
    counter: dict[str, Any] = {"sentences": 0}

    def sentences() -> Iterator[str]:
        try:
            for text in texts:
                text = text.strip()
                if text:
                    counter["sentences"] += 1
                    yield text
        except Exception as exc:  # SentencePiece turns it into a RuntimeError: keep the original for the caller
            counter["error"] = exc
            raise

    buffer = io.BytesIO()
    spm.set_random_generator_seed(seed)  # the trainer's own draws, if any
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_sample(sentences(), input_sentence_size, seed),
            model_writer=buffer,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            hard_vocab_limit=False,
            input_sentence_size=0,  # the sample is drawn above
            num_threads=1,
            normalization_rule_name=normalization_rule_name,
            max_sentence_length=max_sentence_length,
            minloglevel=2,
        )
    except RuntimeError as exc:
        if "error" in counter:
            raise counter["error"] from None
        if counter["sentences"] == 0:
            raise InputError("no text to train SentencePiece on: the input holds no non-empty record") from exc
        reason = str(exc).split("] ", 1)[-1]
        raise ConfigError(f"SentencePiece training failed with vocab_size={vocab_size}: {reason}") from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.model"
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(buffer.getvalue())
    logger.info("trained %s SentencePiece on %d sentences: %s", model_type, counter["sentences"], path)
    return path


def _sample(sentences: Iterator[str], size: int, seed: int) -> Iterator[str]:
    """Yield all of `sentences` when `size` <= 0, else a uniform sample of at most `size` (reservoir sampling)."""
    if size <= 0:
        yield from sentences
        return
    rng = random.Random(seed)
    reservoir: list[str] = []
    for seen, text in enumerate(sentences):
        if seen < size:
            reservoir.append(text)
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                reservoir[slot] = text
    yield from reservoir


def train_from_corpus(
    input: str | Path,
    out_dir: str | Path,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    character_coverage: float = 0.9995,
    seed: int = 13,
    langs: Iterable[str] = (),
    split: str = "train",
) -> dict[str, Any]:
    """Train SentencePiece on the records of a corpus; write `spm.model`, `spm.vocab` and manifest.json.

    Args:
        input: corpus folder or file of records.
        out_dir: output folder, replaced atomically.
        vocab_size: upper bound of the vocabulary (soft).
        model_type: unigram | bpe | char | word.
        character_coverage: share of characters the vocabulary covers.
        seed: seed.
        langs: learn only from these language keys (empty: all).
        split: learn only from records of this split ("all": every split).

    Returns:
        A summary: out, model path, records, vocab_size (pieces actually learned).

    Raises:
        ConfigError: a setting is invalid.
        InputError: the input is missing, unreadable or holds no matching text.
    """
    import sentencepiece as spm

    from polytune.langcodes import normalize

    if split not in ("train", "dev", "test", "all"):
        raise ConfigError(f"split must be one of train, dev, test, all, got {split!r}")
    langs = [normalize(lang) for lang in langs]
    counter = {"records": 0}

    def texts() -> Iterator[str]:
        for record in select_records(input, langs, split):
            counter["records"] += 1
            yield str(record["text"])
        counter["done"] = 1

    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        try:
            model = train_sentencepiece(texts(), tmp, vocab_size, model_type, character_coverage, seed)
        except InputError as exc:
            if not counter.get("done"):  # the input itself is unreadable: keep that message
                raise
            which = f"{', '.join(langs) or 'any language'}, split {split}"
            raise InputError(f"no text to train on in {input} ({which}); check --langs and --split") from exc
        processor = spm.SentencePieceProcessor(model_file=str(model))
        pieces = [f"{processor.id_to_piece(i)}\t{processor.get_score(i):g}" for i in range(processor.get_piece_size())]
        (Path(tmp) / "spm.vocab").write_text("\n".join(pieces) + "\n", encoding="utf-8")
        config = {"input": str(input), "out": str(out_dir), "vocab_size": vocab_size, "model_type": model_type,
                  "character_coverage": character_coverage, "seed": seed, "langs": langs, "split": split}
        counts = {"records": counter["records"], "vocab_size": processor.get_piece_size()}
        write_json(Path(tmp) / "manifest.json", manifest("tokenizer.train", config, [input], counts))
    return {"out": str(out_dir), "model": str(out_dir / "spm.model"), **counts}

"""Training data for adapters: records of one language and split from a filtered corpus, tokenized per record.

Examples are token-id lists of their own length; collators pad per batch (padding to max_length would waste
most of the compute on CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polytune.errors import InputError
from polytune.io import iter_records
from polytune.langcodes import is_key


def spread(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items spread evenly over `items` (deterministic). Example: spread([1, 2, 3, 4], 2) -> [1, 3]."""
    if limit is None or len(items) <= limit:
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def load_split(
    corpus: str | Path, lang: str, split: str, limit: int | None = None, label_field: str | None = None
) -> list[dict[str, Any]]:
    """Records of `lang` and `split` from a filtered corpus folder (`<corpus>/<lang>/`).

    Args:
        corpus: filtered corpus folder.
        lang: an `xxx_Scrp` key.
        split: train | dev | test.
        limit: keep at most this many, spread over the text.
        label_field: when given, every record must carry this field.

    Returns:
        The records, in corpus order.

    Raises:
        InputError: no folder for the language, no record of the split, or a record without its label.
    """
    if not is_key(lang):
        raise InputError(f"language {lang!r} is not an xxx_Scrp key; normalize it first")
    folder = Path(corpus) / lang
    if not folder.is_dir():
        raise InputError(f"no {lang} records under {corpus}: expected the folder {folder} (run `polytune corpus`)")
    records = [r for r in iter_records(folder) if r.get("split") == split]
    if not records:
        raise InputError(f"no {split} records in {folder}: every record needs a 'split' field; check the corpus")
    if label_field is not None:
        unlabeled = [r.get("id") for r in records if label_field not in r]
        if unlabeled:
            raise InputError(
                f"record {unlabeled[0]} in {folder} has no {label_field!r} field; set label_field to the label's field"
            )
    return spread(records, limit)


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text with special tokens, truncated to `max_length`, not padded."""
    return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]


def mlm_dataset(tokenizer: Any, records: list[dict[str, Any]], max_length: int):
    """A `datasets.Dataset` with one `input_ids` column, for masked-LM training."""
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": tokenize(tokenizer, [r["text"] for r in records], max_length)})


def classification_dataset(
    tokenizer: Any, records: list[dict[str, Any]], label_field: str, labels: list[str], max_length: int
):
    """A `datasets.Dataset` with `input_ids` and `labels` (ids into `labels`); unknown labels are an InputError."""
    from datasets import Dataset

    index = {name: i for i, name in enumerate(labels)}
    unknown = sorted({str(r[label_field]) for r in records} - set(index))
    if unknown:
        raise InputError(f"label {unknown[0]!r} is not among the training labels {labels}; check {label_field!r}")
    ids = tokenize(tokenizer, [r["text"] for r in records], max_length)
    return Dataset.from_dict({"input_ids": ids, "labels": [index[str(r[label_field])] for r in records]})

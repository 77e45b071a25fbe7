"""Training data for adapters: records of one language and split from a filtered corpus, tokenized per record.

Examples are token-id lists of their own length; collators pad per batch (padding to max_length would waste
most of the compute on CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polytune.errors import InputError, languages_present
from polytune.io import iter_records
from polytune.langcodes import is_key
from polytune.prompts import keep_end


def spread(items: list[Any], limit: int | None) -> list[Any]:
    """At most `limit` items spread evenly over `items` (deterministic). Example: spread([1, 2, 3, 4], 2) -> [1, 3]."""
    if limit is None or len(items) <= limit:
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def load_split(
    corpus: str | Path,
    lang: str,
    split: str,
    limit: int | None = None,
    label_field: str | None = None,
    text_field: str | None = None,
) -> list[dict[str, Any]]:
    """Records of `lang` and `split` from a filtered corpus folder (`<corpus>/<lang>/`).

    Args:
        corpus: filtered corpus folder.
        lang: an `xxx_Scrp` key.
        split: train | dev | test.
        limit: keep at most this many, spread over the text.
        label_field: when given, every record must carry this field.
        text_field: when given, every record must carry this field too.

    Returns:
        The records, in corpus order.

    Raises:
        InputError: no folder for the language, no record of the split, or a record without its label.
    """
    if not is_key(lang):
        raise InputError(f"language {lang!r} is not an xxx_Scrp key; normalize it first")
    folder = Path(corpus) / lang
    if not folder.is_dir():
        present = languages_present(p.name for p in Path(corpus).glob("*") if p.is_dir() and is_key(p.name))
        raise InputError(f"no {lang} records under {corpus}: expected the folder {folder}{present}; build the corpus "
                         "with `polytune filter`")  # fmt: skip
    records = [r for r in iter_records(folder) if r.get("split") == split]
    if not records:
        raise InputError(f"no {split} records in {folder}: every record needs a 'split' field; check the corpus")
    for field, key in ((label_field, "label_field"), (text_field, "text_field")):
        lacking = [r.get("id") for r in records if field is not None and field not in r]
        if lacking:
            raise InputError(f"record {lacking[0]} in {folder} has no {field!r} field; set {key} to the right field")
    return spread(records, limit)


def tokenize(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text with special tokens, truncated to `max_length`, not padded."""
    return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]


def mlm_dataset(tokenizer: Any, records: list[dict[str, Any]], max_length: int):
    """A `datasets.Dataset` with one `input_ids` column, for masked-LM training."""
    from datasets import Dataset

    return Dataset.from_dict({"input_ids": tokenize(tokenizer, [r["text"] for r in records], max_length)})


def denoise_dataset(tokenizer: Any, records: list[dict[str, Any]], max_length: int):
    """A `datasets.Dataset` of `input_ids` without special tokens (the denoising collator adds eos), for
    encoder-decoder language adapters; truncated so that text + eos fits `max_length`."""
    from datasets import Dataset

    texts = [r["text"] for r in records]
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max(max_length - 1, 1))["input_ids"]
    return Dataset.from_dict({"input_ids": ids})


def classification_dataset(
    tokenizer: Any, records: list[dict[str, Any]], label_field: str, labels: list[str], max_length: int,
    text_field: str = "text",
):  # fmt: skip
    """A `datasets.Dataset` with `input_ids` and `labels` (ids into `labels`); unknown labels are an InputError."""
    from datasets import Dataset

    index = {name: i for i, name in enumerate(labels)}
    unknown = sorted({str(r[label_field]) for r in records} - set(index))
    if unknown:
        raise InputError(f"label {unknown[0]!r} is not among the training labels {labels}; check {label_field!r}")
    ids = tokenize(tokenizer, [str(r[text_field]) for r in records], max_length)
    return Dataset.from_dict({"input_ids": ids, "labels": [index[str(r[label_field])] for r in records]})


def words_and_tags(record: dict[str, Any], text_field: str, label_field: str, scheme: str) -> tuple[list, list]:
    """The words (a list, or a string split on whitespace) and tags of a tagging record, checked to pair up.

    Example: words_and_tags({"text": "Ann sang", "tags": ["B-PER", "O"]}, "text", "tags", "IOB2")
    -> (["Ann", "sang"], ["B-PER", "O"])

    Raises:
        InputError: words or tags are not lists of strings, their lengths differ, or a tag breaks the scheme.
    """
    words, tags, rid = record[text_field], record[label_field], record.get("id")
    words = words.split() if isinstance(words, str) else words
    for name, value in ((text_field, words), (label_field, tags)):
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise InputError(f"record {rid}: {name!r} must be a list of strings (one per word), got {value!r:.80}")
    if len(words) != len(tags):
        raise InputError(
            f"record {rid}: {len(words)} words in {text_field!r} but {len(tags)} tags in {label_field!r}; "
            "give one tag per word"
        )
    prefixes = "BI" if scheme == "IOB2" else "BIES"
    bad = next((t for t in tags if t != "O" and not (len(t) > 2 and t[0] in prefixes and t[1] == "-")), None)
    if bad is not None:
        raise InputError(
            f"record {rid}: tag {bad!r} is not {scheme} (O or {'/'.join(prefixes)}-TYPE); "
            "set tag_scheme to the scheme of the data or convert the tags"
        )
    return words, tags


def align_labels(word_ids: list[int | None], word_labels: list[int]) -> list[int]:
    """Per-subword labels: the first subword of each word carries its label, the rest and specials -100.

    Example: align_labels([None, 0, 0, 1, None], [3, 5]) -> [-100, 3, -100, 5, -100]
    """
    out, previous = [], None
    for word in word_ids:
        out.append(-100 if word is None or word == previous else word_labels[word])
        previous = word
    return out


def token_classification_dataset(
    tokenizer: Any, records: list[dict[str, Any]], fields: tuple[str, str], labels: list[str], scheme: str,
    max_length: int,
):  # fmt: skip
    """A `datasets.Dataset` with `input_ids` and per-subword `labels` (ids into `labels`, -100 where ignored).

    Args:
        tokenizer: a fast tokenizer (word_ids() maps subwords to words).
        records: tagging records.
        fields: (text_field, label_field): words and tags.
        labels: tag names by id.
        scheme: IOB2 | BIOES.
        max_length: truncate to this many tokens (words beyond get no label).

    Raises:
        InputError: see `words_and_tags`; a tag absent from `labels`.
    """
    from datasets import Dataset

    index = {name: i for i, name in enumerate(labels)}
    ids, aligned = [], []
    for record in records:
        words, tags = words_and_tags(record, *fields, scheme)
        unknown = next((t for t in tags if t not in index), None)
        if unknown is not None:
            raise InputError(f"record {record.get('id')}: tag {unknown!r} is not among the training tags {labels}")
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        ids.append(enc["input_ids"])
        aligned.append(align_labels(enc.word_ids(), [index[t] for t in tags]))
    return Dataset.from_dict({"input_ids": ids, "labels": aligned})


def seq2seq_dataset(tokenizer: Any, sources: list[str], targets: list[str], max_length: int):
    """A `datasets.Dataset` of encoder `input_ids` and decoder `labels` (target ids; the collator pads with -100)."""
    from datasets import Dataset

    labels = tokenizer(text_target=targets, truncation=True, max_length=max_length)["input_ids"]
    return Dataset.from_dict({"input_ids": tokenize(tokenizer, sources, max_length), "labels": labels})


def causal_example(
    prompt: list[int], target: list[int], eos: int, max_length: int, bos: int | None = None
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of prompt + target + eos, the loss on the target and eos only (prompt labels -100).

    Too long: the prompt loses tokens at its start first (its end leads into the answer; a leading `bos` stays),
    down to half of `max_length`, then the target loses its end.

    Example: causal_example([5, 6], [7], eos=2, max_length=8) -> ([5, 6, 7, 2], [-100, -100, 7, 2])
    """
    answer = [*target, eos]
    keep = max(max_length // 2, max_length - len(answer))
    prompt = keep_end(prompt, keep, bos)
    answer = answer[: max(max_length - len(prompt), 1)]
    return prompt + answer, [-100] * len(prompt) + answer


def causal_dataset(
    tokenizer: Any, prompts: list[list[int]], targets: list[str], eos: int, max_length: int, bos: int | None = None
):
    """A `datasets.Dataset` of prompt + target + eos `input_ids` with `labels` on the target tokens only."""
    from datasets import Dataset

    target_ids = tokenizer(targets, add_special_tokens=False)["input_ids"]
    pairs = [causal_example(p, t, eos, max_length, bos) for p, t in zip(prompts, target_ids, strict=True)]
    return Dataset.from_dict({"input_ids": [p[0] for p in pairs], "labels": [p[1] for p in pairs]})


def pad_collator(pad_id: int):
    """Collate examples of `input_ids` (+ `labels`) into right-padded tensors with an attention mask.

    Labels (per-token labels, target ids) pad with -100, so padding never enters a loss.
    """
    import torch

    def collate(examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(e["input_ids"]) for e in examples)
        batch = {
            "input_ids": torch.tensor([e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in examples]),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"]))
                                            for e in examples]),  # fmt: skip
        }
        if "labels" in examples[0]:
            depth = max(len(e["labels"]) for e in examples)
            batch["labels"] = torch.tensor([e["labels"] + [-100] * (depth - len(e["labels"])) for e in examples])
        return batch

    return collate

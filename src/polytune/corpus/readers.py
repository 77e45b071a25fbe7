"""Input units for the filter: record files (txt, jsonl, jsonl.gz, parquet) and HF datasets saved to disk.

A unit is the smallest piece a datatrove task reads: one file, or a contiguous row range of a saved dataset.
Bad lines become `BadLine`s (reason + file:line), never exceptions, so the filter counts them as rejects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune.errors import InputError
from polytune.io import BadLine, iter_records_lenient, record_files

# Rows per unit of a saved HF dataset: small enough to spread over tasks, large enough to keep units few.
DATASET_UNIT_ROWS = 50_000


@dataclass(frozen=True)
class Unit:
    """One file (`split` None), or rows [start, stop) of one split of a dataset saved with `save_to_disk`."""

    path: str
    split: str | None = None
    start: int = 0
    stop: int = 0


def is_saved_dataset(path: Path) -> bool:
    """Whether `path` is a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`."""
    return path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file())


def _load_dataset(path: str) -> dict[str, Any]:
    """{split: Dataset} of a saved dataset (a plain Dataset is split "train"); memory-mapped, not read."""
    from datasets import Dataset, load_from_disk

    try:
        loaded = load_from_disk(path)
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise InputError(f"{path}: not a readable saved HF dataset ({exc}); save it again with save_to_disk") from exc
    return {"train": loaded} if isinstance(loaded, Dataset) else dict(loaded)


def list_units(inputs: list[str]) -> list[Unit]:
    """Every unit of the inputs, in a fixed order (so task `rank` of `n` always reads the same units).

    Raises:
        InputError: an input does not exist or holds no record file.
    """
    units: list[Unit] = []
    for item in inputs:
        path = Path(item)
        if is_saved_dataset(path):
            for split, data in sorted(_load_dataset(item).items()):
                for start in range(0, len(data), DATASET_UNIT_ROWS):
                    units.append(Unit(item, split, start, min(len(data), start + DATASET_UNIT_ROWS)))
        else:
            units.extend(Unit(str(file)) for file in record_files(path))
    return units


def read_unit(unit: Unit, text_field: str = "text") -> Iterator[dict[str, Any] | BadLine]:
    """Records of one unit; bad lines/rows as BadLine (invalid_utf8, malformed_json, no_text) with their position."""
    if unit.split is None:
        yield from iter_records_lenient(unit.path, text_field)
        return
    data = _load_dataset(unit.path)[unit.split]
    name = Path(unit.path).name
    for index in range(unit.start, unit.stop):
        row = data[index]
        where = f"{unit.path}[{unit.split}]:{index}"
        value = row.get(text_field)
        if not isinstance(value, str):
            kind = "missing" if text_field not in row else f"{type(value).__name__}, not a string"
            yield BadLine(unit.path, index, "no_text", f"{where}: '{text_field}' is {kind}", str(row)[:1000])
            continue
        record = {k: v for k, v in row.items() if k != text_field}
        record["text"] = value
        record.setdefault("id", f"{name}:{unit.split}:{index}")
        yield record


def bad_line_record(bad: BadLine) -> dict[str, Any]:
    """A BadLine as a reject record: where it was and its (lossily decoded) content."""
    return {"id": f"{Path(bad.file).name}:{bad.line}", "file": bad.file, "line": bad.line, "text": bad.raw}


def no_text_field_error(text_field: str, inputs: list[str], sample: str | None) -> InputError:
    """The error for a run where no parsed record held a string `text_field`: almost surely the wrong field name.

    Example: no_text_field_error("text", ["a.jsonl"], '{"body": "hi"}') -> "no record in a.jsonl has a string
    'text' field (fields seen: body); pass --text-field with the field that holds the text"
    """
    try:
        fields = ", ".join(sorted(json.loads(sample))) if sample else ""
    except (ValueError, TypeError):
        fields = ""
    seen = f" (fields seen: {fields})" if fields else ""
    return InputError(
        f"no record in {', '.join(inputs)} has a string {text_field!r} field{seen}; "
        "pass --text-field with the field that holds the text"
    )

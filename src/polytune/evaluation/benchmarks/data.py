"""A benchmark's rows, read with `datasets.load_dataset` (the one call, on a user's machine and in tests alike), and
written as a polytune corpus the evaluation reads: `<out>/<part>/<lang>/<split>.jsonl` plus `<out>/manifest.json`.

Where the rows come from (`dataset_path`): EvalConfig.benchmark_path when given (a local folder laid out as the hub
repository, or another hub id), else `$POLYTUNE_BENCHMARKS/<name>` when that folder exists, else the benchmark's own
hub id. From the hub, `datasets` caches what it downloads (HF_HOME); once cached, a run works offline
(HF_DATASETS_OFFLINE=1). Class ids become their names (the dataset's ClassLabel names, checked against the
benchmark's `labels`); a config lacking a column of the definition is refused before anything is written.

Example: write_benchmark_data(load_benchmark("xnli"), {"swh_Latn": entry}, Path("runs/x/data"), "test", None)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.errors import InputError, short_reason
from polytune.evaluation.benchmarks.spec import BenchmarkSpec, LanguageEntry
from polytune.io import manifest, write_json, write_jsonl

log = logging.getLogger(__name__)

ENV = "POLYTUNE_BENCHMARKS"  # a folder of local copies, one per benchmark name


def dataset_path(spec: BenchmarkSpec, given: str | None = None) -> str:
    """What load_dataset reads for `spec`: `given`, else $POLYTUNE_BENCHMARKS/<name> if it exists, else the hub id.

    Raises:
        InputError: `given` looks like a local path (absolute, or starting with . or ~) but is no folder.
    """
    if given:
        folder = Path(given).expanduser()
        if folder.exists() or given.startswith((".", "/", "~")):  # a local copy (as load_dataset decides too)
            if not folder.is_dir():
                raise InputError(f"benchmark_path {given} is not a folder; give a local copy of {spec.dataset} (laid "
                                 "out as its hub repository) or a hub id")  # fmt: skip
            return str(folder)
        return given
    env = os.environ.get(ENV)
    if env and (Path(env) / spec.name).is_dir():
        return str(Path(env) / spec.name)
    return spec.dataset


def _class_names(feature: Any) -> list[str] | None:
    """The names of a ClassLabel column, or of a sequence of ClassLabels (NER tags); None for other columns."""
    inner = getattr(feature, "feature", feature)
    names = getattr(inner, "names", None)
    return list(names) if isinstance(names, list) else None


def load_rows(spec: BenchmarkSpec, path: str, config: str, split: str) -> list[dict[str, Any]]:
    """The rows of one config and hub split, class ids turned into names.

    Raises:
        InputError: load_dataset fails (offline and not cached, unknown config or split, a gated dataset), a column
            of the definition is missing, or the dataset's class names differ from the benchmark's.
    """
    import datasets

    try:
        rows = datasets.load_dataset(path, config, split=split)
    except (OSError, ValueError) as exc:  # ConnectionError, DatasetNotFoundError, unknown config or split
        where = f"{path} config {config!r} split {split!r}"
        raise InputError(f"benchmark {spec.name}: cannot load {where} ({short_reason(exc)}); once online the hub "
                         f"copy is cached for offline runs, or set benchmark_path to a local copy of "
                         f"{spec.dataset}") from exc  # fmt: skip
    missing = [c for c in spec.columns if c not in rows.column_names]
    if missing:
        raise InputError(f"benchmark {spec.name}: {path} config {config!r} has no column {', '.join(missing)} "
                         f"(columns: {', '.join(rows.column_names)}); give a copy of {spec.dataset} "
                         f"({spec.version})")  # fmt: skip
    names = _class_names(rows.features.get(spec.label)) if spec.label else None
    if names is not None and spec.labels and names != spec.labels:
        raise InputError(f"benchmark {spec.name}: {path} config {config!r} names its {spec.label} classes {names}, "
                         f"the benchmark {spec.labels}; give a copy of {spec.dataset}")  # fmt: skip
    names = names or (spec.labels if spec.label else None)
    out = json.loads(json.dumps(rows.to_list(), default=str))  # timestamps (Belebele's ds) as text: records are JSON
    if names:
        for row in out:
            row[spec.label] = _as_names(row[spec.label], names)
    return out


def _as_names(value: Any, names: list[str]) -> Any:
    """Class ids as names (lists elementwise); names pass through. Example: _as_names([0, 5], ["O", ...]) -> ["O",
    "B-LOC"]"""
    if isinstance(value, list):
        return [_as_names(v, names) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return names[value]
    return value


def write_benchmark_data(spec: BenchmarkSpec, entries: dict[str, LanguageEntry], out: Path, splits: list[str],
                         path: str | None = None, source: LanguageEntry | None = None) -> dict[str, Path]:  # fmt: skip
    """Write the records of every language (and part) of `entries` for polytune `splits`, replacing `out`.

    Args:
        spec: the benchmark.
        entries: asked key -> the benchmark language it reads (spec.resolve_languages).
        out: the data folder (its old content is removed first).
        splits: polytune splits to write (train, dev, test), each a key of spec.splits.
        path: EvalConfig.benchmark_path.
        source: the source language's entry (translation pairs with it).

    Returns:
        part -> its corpus folder ("" -> `out` itself for tasks of one part).

    Raises:
        InputError: a split the benchmark lacks, or rows that cannot be loaded (see load_rows).
    """
    lacking = [s for s in splits if s not in spec.splits]
    if lacking:
        raise InputError(f"benchmark {spec.name} has no {lacking[0]} split (it has {', '.join(spec.splits)})")
    task = registry.load("benchmark_tasks", spec.task)()
    where = dataset_path(spec, path)
    cache: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def rows(config: str, split: str) -> list[dict[str, Any]]:
        if (config, split) not in cache:
            cache[config, split] = load_rows(spec, where, config, split)
        return cache[config, split]

    found: dict[str, dict[str, dict[str, list]]] = {}
    for part in task.parts(spec):
        for split in splits:
            for lang, entry in entries.items():
                for folder, records in task.records(spec, lang, entry, rows, split, part, source).items():
                    found.setdefault(part, {}).setdefault(folder, {}).setdefault(split, []).extend(records)
    shutil.rmtree(out, ignore_errors=True)
    counts = {}
    for part, folders in found.items():
        for folder, by_split in folders.items():
            for split, records in by_split.items():
                n = write_jsonl(Path(out) / part / folder / f"{split}.jsonl", records)
                counts.setdefault(part or spec.name, {}).setdefault(folder, {})[split] = n
    configs = {lang: entry.config for lang, entry in entries.items()}
    write_json(Path(out) / "manifest.json", manifest(
        "evaluate.benchmark", {"benchmark": spec.name, "dataset": where, "splits": splits}, counts=counts,
        benchmark={"name": spec.name, "title": spec.title, "dataset": where, "hub_id": spec.dataset,
                   "version": spec.version, "configs": configs,
                   "hub_splits": {s: spec.splits[s] for s in splits}}))  # fmt: skip
    log.info("benchmark %s: %d languages from %s", spec.name, len(entries), where)
    return {part: Path(out) / part for part in found}

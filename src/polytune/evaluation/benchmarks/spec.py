"""Standard benchmarks as data (lm-eval's tasks/ way): a folder of YAML per benchmark inside the package,
`polytune/data/benchmarks/<name>/`, holding

- `_benchmark.yaml`: what the benchmark is (the hub dataset, the schema version followed, its columns, the task type
  of `registry.TABLES["benchmark_tasks"]`, the label names, the metrics, the prompt a decoder base reads), and
- one `<key>.yaml` per language: the polytune key (`xxx_Scrp`) and the dataset config it reads (`nya_Latn` for
  SIB-200, `sw` for XNLI, `swh-eng` for Tatoeba), optionally a prompt or choices of its own. These files are written
  by `write_language_files` (tools/benchmark_languages.py holds each benchmark's config list); the keys follow
  `polytune.langcodes`.

A language asked for matches a benchmark's language by the matching rule of `polytune.langcodes` (macrolanguages:
`swa_Latn` finds `swh_Latn`); a key that matches several (`ara_Arab`: acm_Arab, arb_Arab, ...) is refused with the
list. No torch here, and no `datasets`: loading the rows is `data.py`'s.

Example: load_benchmark("belebele").task -> "multiple_choice"; resolve_languages(spec, ["sw"]) -> {"swa_Latn": ...}
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from polytune import registry
from polytune.config import BENCHMARKS, benchmark_names, from_dict
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.evaluation.metrics import get_metric
from polytune.langcodes import is_key, normalize, same_language
from polytune.prompts import prompt_fields

DEFINITION = "_benchmark.yaml"
NORMALIZE = ("none", "bytes")


@dataclasses.dataclass
class BenchmarkSpec:
    """A benchmark's `_benchmark.yaml` (every key checked by config.from_dict: a misspelt one says "did you mean")."""

    name: str  # the folder's name, e.g. sib200
    title: str  # what reports call it
    dataset: str  # the hub id load_dataset reads by default
    version: str  # which published layout of the dataset this definition follows
    task: str  # a row of registry.TABLES["benchmark_tasks"]
    columns: list[str]  # what every config must have (checked against the loaded rows)
    metrics: list[str]
    splits: dict[str, str] = dataclasses.field(default_factory=lambda: {"test": "test"})  # polytune -> hub split
    source: str | None = None  # the language read against (ceiling; FLORES' and Tatoeba's other side)
    id: str | None = None  # template of a record's id over the columns (None: the row's number)
    label: str | None = None  # the column holding the gold label
    labels: list[str] = dataclasses.field(default_factory=list)  # class names, in the dataset's id order
    text: str | None = None  # template of a record's `text` (what a task adapter reads)
    source_text: str | None = None  # retrieval: template of the source side's text
    prompt: str | None = None  # a decoder base without a task adapter reads this (rendered over the record)
    choices: dict[str, str] = dataclasses.field(default_factory=dict)  # label -> the continuation it scores
    normalize: str = "none"  # choice scores: summed log-probability, or divided by the continuation's UTF-8 bytes
    directions: list[str] = dataclasses.field(default_factory=list)  # translation: into_target, into_source
    max_length: int | None = None  # default for EvalConfig.max_length left at its default (long passages)
    max_new_tokens: int | None = None  # likewise for generation


@dataclasses.dataclass
class LanguageEntry:
    """A `<key>.yaml`: one language of a benchmark and the dataset config it reads."""

    lang: str
    config: str
    prompt: str | None = None  # this language's own prompt (e.g. in the language itself)
    choices: dict[str, str] | None = None  # and its own continuations


def _folder(name: str) -> Any:
    """The package folder of a benchmark's YAML (a Traversable: works from a wheel too).

    Raises:
        ConfigError: not a benchmark polytune ships (did you mean / available).
    """
    names = benchmark_names()
    if name not in names:
        raise ConfigError(f"unknown benchmark {name!r}{did_you_mean(str(name), names)}; available: {', '.join(names)}")
    return resources.files("polytune").joinpath(BENCHMARKS).joinpath(name)


def _read(path: Any, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{what}: cannot read ({exc}); fix the YAML") from exc
    if not isinstance(data, dict):
        raise InputError(f"{what}: expected a mapping of keys, got {type(data).__name__}")
    return data


@functools.lru_cache(maxsize=32)
def load_benchmark(name: str) -> BenchmarkSpec:
    """The checked definition of benchmark `name`.

    Raises:
        ConfigError: an unknown benchmark, key, task type, metric or normalization, or a prompt that is no template.
        InputError: the YAML does not parse.
    """
    where = f"polytune/{BENCHMARKS}/{name}/{DEFINITION}"
    spec = from_dict(BenchmarkSpec, _read(_folder(name).joinpath(DEFINITION), where), where)
    registry.check("benchmark_tasks", spec.task, f"{where}: task type")
    for metric in spec.metrics:
        get_metric(metric)
    if spec.normalize not in NORMALIZE:
        raise ConfigError(f"{where}: normalize must be one of {', '.join(NORMALIZE)}, got {spec.normalize!r}")
    for template in (spec.prompt, spec.text, spec.source_text, spec.id):
        if template is not None:
            prompt_fields(template)
    unknown = sorted(set(spec.choices) - set(spec.labels))
    if unknown:
        raise ConfigError(f"{where}: choices name {unknown[0]!r}, which is not one of labels {spec.labels}")
    if spec.source is not None:
        spec.source = normalize(spec.source)
    return spec


def benchmark_languages(name: str) -> list[str]:
    """The language keys of a benchmark (its `<key>.yaml` files), sorted. Example: len(benchmark_languages("xnli"))
    -> 15"""
    return sorted(p.name[: -len(".yaml")] for p in _folder(name).iterdir()
                  if p.name.endswith(".yaml") and is_key(p.name[: -len(".yaml")]))  # fmt: skip


def load_language(name: str, key: str) -> LanguageEntry:
    """The entry of one language file (`key` exactly as the file is named).

    Raises:
        InputError: the file is missing, malformed, or names another language than its file.
        ConfigError: an unknown key in it.
    """
    where = f"polytune/{BENCHMARKS}/{name}/{key}.yaml"
    path = _folder(name).joinpath(f"{key}.yaml")
    if not path.is_file():
        raise InputError(f"{where} not found; {name}'s languages are its <key>.yaml files")
    entry = from_dict(LanguageEntry, _read(path, where), where)
    if entry.lang != key or not isinstance(entry.config, str) or not entry.config:
        raise InputError(f"{where}: lang must be {key!r} (the file's name) and config a dataset config name")
    return entry


def resolve_languages(spec: BenchmarkSpec, langs: Sequence[str]) -> dict[str, LanguageEntry]:
    """The benchmark language each asked language reads, keyed by the asked key (which the report and `{lang}`
    adapter paths use); every language of the benchmark when `langs` is empty.

    A key matches its own file, else the one file that names the same language by the matching rule (a
    macrolanguage and its member, script aliases).

    Example: resolve_languages(load_benchmark("sib200"), ["swa_Latn"])["swa_Latn"].config -> "swh_Latn"

    Raises:
        ConfigError: a language the benchmark lacks, or one matching several of its languages (listed).
    """
    available = benchmark_languages(spec.name)
    if not langs:
        return {key: load_language(spec.name, key) for key in available}
    out = {}
    for lang in langs:
        key = normalize(lang)
        found = [key] if key in available else [k for k in available if same_language(key, k)]
        if not found:
            files = f"the files in polytune/{BENCHMARKS}/{spec.name}/"
            listed = ", ".join(available) if len(available) <= 20 else files
            raise ConfigError(f"{spec.name} has no {key}{_near(key, available)}; its {len(available)} languages: "
                              f"{listed}")  # fmt: skip
        if len(found) > 1:
            raise ConfigError(f"{key} matches several {spec.name} languages ({', '.join(found)}); give one of them")
        out[key] = load_language(spec.name, found[0])
    return out


def _near(key: str, available: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" for a near key of the same script, else an empty string."""
    same_script = {k[:3]: k for k in available if k.endswith(key[3:])}
    hint = did_you_mean(key[:3], same_script)  # the language codes alone: every key shares its script's suffix
    return f" (did you mean '{same_script[hint.split(chr(39))[1]]}'?)" if "did you mean" in hint else ""


def write_language_files(name: str, configs: dict[str, str], folder: str | Path | None = None) -> list[Path]:
    """Write `<key>.yaml` for each dataset config (config -> key), after checking every key and that no two configs
    share one.

    Args:
        name: the benchmark (its folder under polytune/data/benchmarks unless `folder` is given).
        configs: dataset config -> polytune key, e.g. {"sw": "swh_Latn"}.
        folder: where to write (default: the package's folder of the benchmark, for a source checkout).

    Returns:
        The files written, sorted.

    Raises:
        ConfigError: a key that is not the normalized form of itself, or two configs with one key.
    """
    target = Path(folder) if folder is not None else Path(str(_folder(name)))
    seen: dict[str, str] = {}
    for config, key in configs.items():
        if normalize(key) != key:
            raise ConfigError(f"{name} config {config!r}: {key!r} is not a polytune key ({normalize(key)!r} is)")
        if key in seen:
            raise ConfigError(f"{name}: configs {seen[key]!r} and {config!r} both map to {key}; keep one")
        seen[key] = config
    written = []
    for key, config in sorted(seen.items()):
        path, tmp = target / f"{key}.yaml", target / f".{key}.yaml.tmp"
        head = f"# {name}: generated by tools/benchmark_languages.py; the benchmark is {DEFINITION}.\n"
        tmp.write_text(head + yaml.safe_dump({"lang": key, "config": config}, sort_keys=False), encoding="utf-8")
        os.replace(tmp, path)  # whole or not at all (hundreds of small files: no temp folder each)
        written.append(path)
    return written

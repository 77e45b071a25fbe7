"""Eval suites as data: one small YAML per language under eval/suites/, generated from `_template.yaml`.

A suite names the task, the language, the split, the label field, a record limit and the metrics. `write_suites`
renders the template for each language (only the "{lang}" placeholder is substituted); `load_suites` reads a folder
(or one file) back, checking every value, so a typo fails before any model is loaded.

`polytune eval --suite DIR` (EvalConfig.suite) evaluates each language with its suite (`suite_plan`): what a suite
states wins for its language, the eval config fills what it leaves out (label_field, max_records), and a config
value set away from its default that contradicts a suite is refused rather than silently dropped.

Example: load_suites("eval/suites")["nya_Latn"]["metrics"] -> ["accuracy", "macro_f1"]
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from polytune.config import from_dict
from polytune.errors import ConfigError, InputError, LanguageCodeError
from polytune.evaluation.metrics import get_metric
from polytune.io import atomic_path
from polytune.langcodes import match, normalize

REQUIRED = ("task", "lang", "split", "metrics")


@dataclasses.dataclass
class SuiteKeys:
    """The keys a suite file may hold (checked by config.from_dict: a misspelt key fails with "did you mean")."""

    task: str
    lang: str
    split: str
    metrics: list[str]
    label_field: str | None = None
    max_records: int | None = None

TEMPLATE = "_template.yaml"
# What a suite sets per language, overriding the eval config's field of the same name.
PER_LANGUAGE = ("split", "label_field", "max_records", "metrics")


def write_suites(template: str | Path, langs: Sequence[str], out: str | Path) -> list[Path]:
    """Write `<out>/<lang>.yaml` for each language from a template holding "{lang}".

    Args:
        template: the template YAML file.
        langs: language codes (normalized to keys such as nya_Latn).
        out: folder for the suite files.

    Returns:
        The files written, in `langs` order.

    Raises:
        InputError: the template is missing or has no "{lang}".
    """
    path = Path(template)
    if not path.is_file():
        raise InputError(f"suite template not found: {path}; give eval/suites/_template.yaml or your own")
    text = path.read_text(encoding="utf-8")
    if "{lang}" not in text:
        raise InputError(f'{path} has no {{lang}} placeholder; add lang: "{{lang}}"')
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip() + "\n"
    written = []
    for lang in langs:
        key = normalize(lang)
        target = Path(out) / f"{key}.yaml"
        with atomic_path(target) as tmp:
            Path(tmp).write_text(f"# Generated from {path.name}; edit the template, not this file.\n"
                                 + body.replace("{lang}", key), encoding="utf-8")  # fmt: skip
        written.append(target)
    return written


def _check_values(path: Path, data: dict[str, Any]) -> None:
    """Types of a suite's values; raise InputError naming the file, the key and the value."""
    metrics = data["metrics"]
    if not isinstance(metrics, list) or not metrics or not all(isinstance(m, str) for m in metrics):
        raise InputError(f"{path}: metrics must be a non-empty list of metric names, e.g. [accuracy], got {metrics!r}")
    for key in ("split", "label_field"):
        if key in data and (not isinstance(data[key], str) or not data[key]):
            raise InputError(f"{path}: {key} must be a non-empty string, got {data[key]!r}")
    limit = data.get("max_records")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InputError(f"{path}: max_records must be a positive integer (or left out), got {limit!r}")


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read and check one suite file.

    Returns:
        The suite's keys, with lang normalized and "file" (the path it was read from) added.

    Raises:
        InputError: not a YAML mapping with task, lang, split and metrics, a value of the wrong type, or the lang is
            not a language.
        ConfigError: a key is unknown (with "did you mean"), or a metric name is.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the suite ({exc}); fix the YAML") from exc
    missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}; a suite needs {', '.join(REQUIRED)}")
    from_dict(SuiteKeys, data, str(path))
    _check_values(path, data)
    try:
        data["lang"] = normalize(str(data["lang"]))
    except LanguageCodeError as exc:
        raise InputError(f"{path}: {exc}") from exc
    for name in data["metrics"]:
        get_metric(name)
    return {**data, "file": str(path)}


def load_suites(path: str | Path) -> dict[str, dict[str, Any]]:
    """lang -> suite for every `*.yaml` in a folder except the template, or for one suite file.

    Raises:
        InputError: the path does not exist, the folder has no suites, two files name one language, or a suite
            is malformed.
    """
    path = Path(path)
    if path.is_file():
        suite = load_suite(path)
        return {suite["lang"]: suite}
    if not path.is_dir():
        raise InputError(f"suite {path} not found; give a suite file or a folder such as eval/suites")
    suites: dict[str, dict[str, Any]] = {}
    for file in sorted(path.glob("*.yaml")):
        if file.name == TEMPLATE:
            continue
        suite = load_suite(file)
        if suite["lang"] in suites:
            raise InputError(f"{file}: a second suite for {suite['lang']}; keep one file per language")
        suites[suite["lang"]] = suite
    if not suites:
        raise InputError(f"no suites in {path}; generate them with write_suites from {TEMPLATE}")
    return suites


def _refuse_conflicts(cfg: Any, suite: dict[str, Any]) -> None:
    """A config value moved off its default (so set on purpose) that a suite contradicts is a ConfigError."""
    defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(cfg) if f.name in PER_LANGUAGE}  # fmt: skip
    for key, default in defaults.items():
        value = getattr(cfg, key)
        if key in suite and value != default and value != suite[key]:
            raise ConfigError(
                f"evaluation {key} {value!r} contradicts {suite['file']} ({key}: {suite[key]!r}); a suite's values "
                f"win for its language, so edit the suite or leave {key} unset"
            )


def suite_plan(cfg: Any) -> dict[str, dict[str, Any]]:
    """What each evaluated language uses under cfg.suite: lang -> {split, label_field, max_records, metrics, file}.

    The languages are cfg.langs when given (each needs a suite), else every suite's language. A suite's values win;
    cfg fills label_field and max_records where a suite leaves them out.

    Example: suite_plan(cfg)["nya_Latn"] -> {"split": "test", "label_field": "genre", "max_records": 2000, ...}

    Args:
        cfg: a polytune.config.EvalConfig (its suite, langs, input and the per-language fields).

    Returns:
        The plan per language, in evaluation order; {} when cfg.suite is None.

    Raises:
        InputError: a malformed suite, or a suite whose language has no folder in the corpus (cfg.input).
        ConfigError: a language of cfg.langs without a suite, an unknown metric, or a config value that contradicts
            a suite.
    """
    if getattr(cfg, "suite", None) is None:
        return {}
    suites = load_suites(cfg.suite)
    langs = list(cfg.langs) or list(suites)
    # A language's suite by the matching rule (a zho_Hani suite serves cmn_Hans); the language keeps its key.
    suites = {lang: suites[found] for lang in langs if (found := match(lang, list(suites))) is not None} | {
        lang: suite for lang, suite in suites.items() if lang not in langs}
    lacking = [lang for lang in langs if lang not in suites]
    if lacking:
        raise ConfigError(
            f"no suite for {', '.join(lacking)} in {cfg.suite} (suites: {', '.join(suites)}); add <lang>.yaml "
            f"(write_suites from {TEMPLATE}) or leave the language out of langs"
        )
    plan = {}
    for lang in langs:
        suite = suites[lang]
        if not (Path(cfg.input) / lang).is_dir():
            raise InputError(
                f"{suite['file']} names {lang}, but the corpus {cfg.input} has no {lang} folder; "
                "add the language to the corpus or leave it out of langs"
            )
        _refuse_conflicts(cfg, suite)
        plan[lang] = {key: suite.get(key, getattr(cfg, key)) for key in PER_LANGUAGE} | {
            "file": suite["file"], "stated": sorted(key for key in PER_LANGUAGE if key in suite)}  # fmt: skip
    return plan


def suite_configs(cfg: Any, plan: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """lang -> a copy of cfg with that language's split, label_field and max_records ({} without cfg.suite).

    Args:
        cfg: the EvalConfig.
        plan: `suite_plan(cfg)` when the caller has it already.

    Raises:
        InputError, ConfigError: as `suite_plan`.
    """
    configs = {}
    for lang, settings in (suite_plan(cfg) if plan is None else plan).items():
        configs[lang] = copy.copy(cfg)  # no __post_init__ again: cfg is already checked
        for key in ("split", "label_field", "max_records"):
            setattr(configs[lang], key, settings[key])
        configs[lang].langs = [lang]
    return configs

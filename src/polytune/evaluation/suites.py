"""Eval suites as data: one small YAML per language under eval/suites/, generated from `_template.yaml`.

A suite names the task, the language, the split, the label field, a record limit and the metrics. `write_suites`
renders the template for each language (only the "{lang}" placeholder is substituted); `load_suites` reads a folder
back, checking every metric name, so a typo fails before any model is loaded.

Example: load_suites("eval/suites")["nya_Latn"]["metrics"] -> ["accuracy", "macro_f1"]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from polytune.errors import ConfigError, InputError
from polytune.evaluation.metrics import get_metric
from polytune.io import atomic_path
from polytune.langcodes import normalize

REQUIRED = ("task", "lang", "split", "metrics")
TEMPLATE = "_template.yaml"


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


def load_suite(path: str | Path) -> dict[str, Any]:
    """Read and check one suite file.

    Raises:
        InputError: not a YAML mapping with task, lang, split and metrics, or the lang is not a language.
        ConfigError: a metric name is unknown.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the suite ({exc}); fix the YAML") from exc
    missing = [k for k in REQUIRED if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"{path}: missing {', '.join(missing)}; a suite needs {', '.join(REQUIRED)}")
    data["lang"] = normalize(str(data["lang"]))
    for name in data["metrics"]:
        get_metric(name)
    if data.get("max_records") is not None and int(data["max_records"]) < 1:
        raise ConfigError(f"{path}: max_records must be positive, got {data['max_records']}")
    return data


def load_suites(folder: str | Path) -> dict[str, dict[str, Any]]:
    """lang -> suite for every `*.yaml` in a folder except the template.

    Raises:
        InputError: the folder has no suites, two files name one language, or a suite is malformed.
    """
    suites: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        if path.name == TEMPLATE:
            continue
        suite = load_suite(path)
        if suite["lang"] in suites:
            raise InputError(f"{path}: a second suite for {suite['lang']}; keep one file per language")
        suites[suite["lang"]] = suite
    if not suites:
        raise InputError(f"no suites in {folder}; generate them with write_suites from {TEMPLATE}")
    return suites

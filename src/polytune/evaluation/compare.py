"""Compare runs side by side: every system of every run, rescored together so differences across runs get
paired p-values too (the runs must have predicted the same examples).

A RUN is a report folder (holding predictions/) or a run folder holding report/. Systems are named
`<run>:<system>`, where <run> is the run folder's name; languages are those every run evaluated.

Example: compare_runs(["runs/a", "runs/b"], "reports/a-vs-b")["systems"] -> ["a:task-only", "b:task-only", ...]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polytune.errors import ConfigError, InputError
from polytune.evaluation.loading import load_predictions, predictions_root
from polytune.evaluation.report import input_manifests, read_fertility, score_found
from polytune.evaluation.stats import check_settings
from polytune.langcodes import normalize


def report_folder(run: str | Path) -> Path:
    """The folder holding predictions/ for a run: RUN itself, or RUN/report.

    Raises:
        InputError: neither has predictions.
    """
    run = Path(run)
    for folder in (run, run / "report"):
        if (folder / "predictions").is_dir():
            return folder
    raise InputError(f"no predictions/ in {run} or {run / 'report'}; give a report folder or a run folder")


def _run_names(runs: Sequence[str | Path]) -> list[str]:
    """Short unique names: the run folder's name (its parent's when the folder is 'report'), numbered on clashes."""
    names = []
    for run in runs:
        path = Path(run).resolve()
        name = path.parent.name if path.name == "report" else path.name
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    return names


def compare_runs(
    runs: Sequence[str | Path],
    out: str | Path,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 13,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Write one report (JSON, Markdown, HTML) comparing the systems of several runs.

    Args:
        runs: run or report folders (at least one).
        out: report folder.
        baseline: `<run>:<system>` the others are compared with (default: the first run's baseline).
        metrics: metric names (default: the first run's report.json metrics, else chosen from the labels).
        n_resamples: bootstrap resamples per language.
        seed: bootstrap seed.
        confidence: coverage of the intervals.

    Returns:
        The report dict.

    Raises:
        InputError: a run has no predictions, or the runs share no language.
        ConfigError: the baseline is not one of the systems.
    """
    if not runs:
        raise ConfigError("no runs to compare: give one or more run folders")
    check_settings(n_resamples, confidence)
    folders = [report_folder(r) for r in runs]
    found, previous = {}, []
    for name, folder in zip(_run_names(runs), folders, strict=True):
        report_json = folder / "report.json"
        previous.append(json.loads(report_json.read_text(encoding="utf-8")) if report_json.is_file() else {})
        for system, files in load_predictions(predictions_root(folder)).items():
            found[f"{name}:{system}"] = files
    langs = sorted(set.intersection(*(set(files) for files in found.values())))
    if not langs:
        raise InputError(f"the runs share no language ({', '.join(map(str, runs))}); evaluate a common language")
    first = previous[0]
    if baseline is None and first.get("baseline"):
        baseline = f"{_run_names(runs)[0]}:{first['baseline']}"
    fertility = Path(runs[0]) / "analysis" / "fertility.json"
    context = {
        "fertility": read_fertility(fertility if fertility.is_file() else None),
        "corpus_sizes": {},
        "lang_info": {},
        "input_paths": folders,
        "input_manifests": input_manifests([f / "predictions" for f in folders]),
    }
    settings = {"n_resamples": n_resamples, "seed": seed, "confidence": confidence}
    config = {"runs": [str(r) for r in runs], "baseline": baseline, "metrics": list(metrics or []), **settings}
    # Without --metrics, each language keeps the metrics the first run scored it with (its suite's, say).
    per_lang = {x: [m for m, ls in first.get("metric_languages", {}).items() if x in ls] for x in langs}
    return score_found(
        found, out, baseline, metrics or first.get("metrics"), langs=[normalize(x) for x in langs],
        settings=settings, context=context, config=config, lang_metrics=None if metrics else per_lang,
    )  # fmt: skip

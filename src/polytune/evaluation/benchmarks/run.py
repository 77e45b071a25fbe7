"""`polytune eval --benchmark NAME`: write the benchmark's languages as a corpus (data.py), then evaluate it as any
corpus is evaluated (`evaluation.run.run_eval`: predictions, metrics with bootstrap CIs, Δ and p-values vs the
baseline, the report), with the source language's own score as the ceiling.

Who answers: the task adapter (`task_adapter`, or each system's own) when one is given; without one, a decoder base
answers by itself (each system: the base, or the base with its language adapter): the log-likelihood of each choice
(classification, multiple choice) or greedy generation (translation). Tatoeba needs neither: the retrieval probe
embeds both sides. Translation writes one report per direction, `<out>/into_target/` (source -> language) and
`<out>/into_source/`, and a summary of both in `<out>/report.md`.

Example: run_benchmark(EvalConfig(base="zoo:smollm2-135m", out="runs/bb", benchmark="belebele", langs=["nya_Latn"]))
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from polytune import registry
from polytune.config import EvalConfig, SystemConfig
from polytune.errors import ConfigError
from polytune.evaluation.benchmarks.data import dataset_path, write_benchmark_data
from polytune.evaluation.benchmarks.spec import BenchmarkSpec, load_benchmark, resolve_languages
from polytune.io import manifest, read_json, write_json
from polytune.langcodes import normalize, same_language

log = logging.getLogger(__name__)

DATA = "benchmark-data"  # the corpus written from the benchmark, inside the report folder
ZERO_SHOT_SYSTEM = "base"  # the default system's name when the base answers by itself
TITLES = {"into_target": "{source} → each language ({part})", "into_source": "each language → {source} ({part})"}
DEFAULTS = {f.name: f.default for f in dataclasses.fields(EvalConfig) if f.name in ("max_length", "max_new_tokens")}


def _zero_shot(cfg: EvalConfig) -> bool:
    return cfg.task_adapter is None and all(s.task_adapter is None for s in cfg.systems)


def check_mode(cfg: EvalConfig, spec: BenchmarkSpec, task: Any) -> None:
    """Who answers fits the benchmark, before any data or weights load.

    Raises:
        ConfigError: no task adapter for a task that needs one (NER), or no task adapter and a base that is no
            decoder (only a causal LM answers by log-likelihood or generation).
    """
    if task.probe or not _zero_shot(cfg):
        return
    if task.zero_shot is None:
        raise ConfigError(f"benchmark {spec.name} ({spec.task}) needs a task adapter: give task_adapter, e.g. one "
                          f"trained on the benchmark's {spec.source} train split (export_benchmark)")  # fmt: skip
    from polytune.models import lm_objective

    objective = lm_objective(cfg.base)
    if objective != "clm":
        raise ConfigError(f"benchmark {spec.name} without a task adapter: the base answers by itself, which takes a "
                          f"decoder (causal LM); {cfg.base} is a {objective} model: give task_adapter")  # fmt: skip


def _source(cfg: EvalConfig, spec: BenchmarkSpec, task: Any) -> str | None:
    """The language read against: EvalConfig.source_lang, else the benchmark's (Tatoeba: always English).

    Raises:
        ConfigError: a source language a retrieval benchmark does not pair with.
    """
    if task.probe and cfg.source_lang and not same_language(cfg.source_lang, str(spec.source)):
        raise ConfigError(f"benchmark {spec.name} pairs every language with {spec.source}; leave source_lang unset")
    return spec.source if task.probe else normalize(cfg.source_lang or spec.source) if spec.source else None


def _derived(cfg: EvalConfig, spec: BenchmarkSpec, task: Any, part: str, folder: Path, langs: list[str],
             source: str | None) -> EvalConfig:  # fmt: skip
    """The EvalConfig that evaluates one part of the benchmark's corpus like any corpus."""
    changes: dict[str, Any] = {"input": folder, "out": Path(cfg.out) / part if part else Path(cfg.out),
                               "langs": langs, "metrics": list(cfg.metrics or spec.metrics)}  # fmt: skip
    if task.label_field(spec):
        changes["label_field"] = task.label_field(spec)
    changes["source_lang"] = source if task.ceiling or task.probe else None
    for name in DEFAULTS:  # long passages or sentences: the benchmark's own default, unless set
        if getattr(cfg, name) == DEFAULTS[name] and getattr(spec, name):
            changes[name] = getattr(spec, name)
    if task.probe:  # the retrieval probe alone, scored from the records
        changes.update(benchmark=None, retrieval=True, task_adapter=None, metrics=[],
                       systems=[dataclasses.replace(s, task_adapter=None) for s in cfg.systems])  # fmt: skip
    if (task.probe or _zero_shot(cfg)) and [(s.name, s.lang_adapter) for s in cfg.systems] == [("task-only", None)]:
        changes.update(systems=[SystemConfig(name=ZERO_SHOT_SYSTEM)], baseline=ZERO_SHOT_SYSTEM)  # the default
    return dataclasses.replace(cfg, **changes)


def _zero_shot_ceiling(derived: EvalConfig, source: str, run_eval: Any) -> dict[str, Any]:
    """The base alone on the source language: what run_eval's own ceiling is for a task adapter."""
    sub = dataclasses.replace(derived, langs=[source], out=Path(derived.out) / "ceiling",
                              systems=[SystemConfig(name=ZERO_SHOT_SYSTEM)], baseline=ZERO_SHOT_SYSTEM)  # fmt: skip
    result = run_eval(sub)["results"][source]
    return {"lang": source, "n": result["n"], "split": derived.split, "scores": result["scores"][ZERO_SHOT_SYSTEM]}


def run_benchmark(cfg: EvalConfig, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate every system of `cfg` on benchmark `cfg.benchmark` (see the module docstring).

    Args:
        cfg: an EvalConfig with `benchmark` set (langs: the languages, default all of the benchmark's).
        extra: JSON-able additions for report.json.

    Returns:
        The report (report.json's content); for translation {"benchmark", "parts": {direction: report}}.

    Raises:
        ConfigError: an unknown benchmark or language, or who answers does not fit (check_mode).
        InputError: the data cannot be loaded or is not the benchmark's layout.
        ModelError: a model or adapter cannot be loaded.
    """
    from polytune.evaluation.run import run_eval

    spec = load_benchmark(str(cfg.benchmark))
    task = registry.load("benchmark_tasks", spec.task)()
    entries = resolve_languages(spec, cfg.langs)
    check_mode(cfg, spec, task)
    source = _source(cfg, spec, task)
    if task.paired:
        entries.pop(str(source), None)  # translating a language into itself measures nothing
        if not entries:
            raise ConfigError(f"benchmark {spec.name}: give a language besides the source language {source}")
    source_entry = None
    if source is not None and not task.probe:
        source_entry = dataclasses.replace(resolve_languages(spec, [source])[source], lang=source)
    wanted = dict(entries)
    if task.ceiling and source_entry is not None and cfg.langs and source not in entries:
        wanted[source] = source_entry  # its own score is the ceiling
    folders = write_benchmark_data(spec, wanted, Path(cfg.out) / DATA, [cfg.split], cfg.benchmark_path, source_entry)
    answered = "retrieval probe" if task.probe else task.zero_shot if _zero_shot(cfg) else "task adapter"
    about = {"name": spec.name, "title": spec.title, "dataset": dataset_path(spec, cfg.benchmark_path),
             "version": spec.version, "task": spec.task, "split": spec.splits[cfg.split], "source": source,
             "answered_by": answered, "configs": {lang: entry.config for lang, entry in entries.items()}}
    reports = {}
    for part in task.parts(spec):
        derived = _derived(cfg, spec, task, part, folders[part], list(entries), source)
        more = {**(extra or {}), "benchmark": {**about, "part": part or None}}
        if _zero_shot(cfg) and source in wanted and source not in entries:
            more["ceiling"] = _zero_shot_ceiling(derived, source, run_eval)
        reports[part] = run_eval(derived, more)
    if list(reports) == [""]:
        _record_config(Path(cfg.out), cfg)
        return reports[""]
    return write_summary(Path(cfg.out), about, reports, cfg)


def _record_config(out: Path, cfg: EvalConfig) -> None:
    """The report's manifest records the benchmark run's own config (`polytune run` resumes by comparing it), and
    the config the benchmark's corpus was evaluated with beside it (`evaluated_as`)."""
    made = read_json(out / "manifest.json", "report manifest")
    made["evaluated_as"] = made.get("config")
    made["config"] = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    write_json(out / "manifest.json", made)


def write_summary(out: Path, about: dict[str, Any], reports: dict[str, dict[str, Any]], cfg: Any) -> dict[str, Any]:
    """`<out>/report.md` and report.json of a benchmark of several parts: each part's averages, linked."""
    lines = [f"# {about['title']}", "", f"Data: {about['dataset']} ({about['version']}), split {about['split']}.", ""]
    for part, report in reports.items():
        title = TITLES.get(part, "{part}").format(part=part, source=about["source"])
        lines += [f"## {title}", "", "| system | " + " | ".join(report["metrics"]) + " |",
                  "|---|" + "---:|" * len(report["metrics"])]  # fmt: skip
        for system in report["systems"]:
            cells = []
            for metric in report["metrics"]:
                entry = report["average"]["scores"][system][metric]
                cells.append(f"{entry['score']:.1f} [{entry['ci'][0]:.1f}, {entry['ci'][1]:.1f}]")
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines += ["", f"Per language, with Δ and p-values: [{part}/report.md]({part}/report.md)", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    summary = {"benchmark": about, "parts": reports}
    write_json(out / "report.json", summary)
    write_json(out / "manifest.json", manifest("eval", cfg, inputs=[out / part / "report.json" for part in reports],
                                               counts={"parts": len(reports)}))  # fmt: skip
    return summary

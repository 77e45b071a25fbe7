"""Score prediction files into report.json, report.md and report.html: per language and system, each metric with
its bootstrap CI, the difference to a baseline system with a paired p-value, macro averages (overall and per
resource tier), a fairness summary, and beside each language its script, tier, fertility and corpus size; for
classification per-class scores and confusion matrices (`per_class`); `warnings` read off the predictions (a
collapsed classifier, identical systems, tiny test sets: checks.py).

Input: `<pred_dir>/predictions/<system>/<lang>.jsonl` (or `<pred_dir>/<system>/<lang>.jsonl`), lines
{"id", "label", "pred"} (see loading.py). Any tool's predictions score the same way.

Example: build_report("runs/demo/report", "/tmp/r", baseline="task-only")["average"]["deltas"]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polytune import __version__
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.evaluation.langinfo import TIER_SOURCE, describe, load_lang_info
from polytune.evaluation.loading import align, load_predictions, predictions_root
from polytune.evaluation.metrics import check_fit, get_metric
from polytune.evaluation.probes import probe_dir, probe_summary, score_probes
from polytune.evaluation.report.checks import prediction_warnings
from polytune.evaluation.report.html import render_html
from polytune.evaluation.report.markdown import render_markdown
from polytune.evaluation.report.per_class import per_class
from polytune.evaluation.scoring import choose_metrics, score_metric
from polytune.evaluation.stats import check_settings
from polytune.io import atomic_path, file_hash, manifest, read_json, write_json
from polytune.langcodes import language_name

CEILING, CEILING_SYSTEM = "ceiling", "task-adapter"  # the source-language report's folder and its one system
__all__ = ["build_report", "input_manifests", "read_fertility", "report_counts", "score_found", "summary_lines",
           "write_report"]


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} {path}: cannot read JSON ({exc}); give the file polytune wrote") from exc


def read_fertility(path: str | Path | None) -> dict[str, dict[str, float]]:
    """lang -> {tokenizer: fertility} from an analysis/fertility.json ({} when path is None)."""
    if path is None:
        return {}
    data = _read_json(Path(path), "fertility")
    rows = data.get("results", {})
    return {lang: {t: v["fertility"] for t, v in per.items() if "fertility" in v} for lang, per in rows.items()}


def _corpus_sizes(path: str | Path | None) -> dict[str, int]:
    """lang -> records kept, from a corpus folder's manifest.json (counts.per_lang); {} when absent."""
    if path is None or not (Path(path) / "manifest.json").is_file():
        return {}
    return dict(_read_json(Path(path) / "manifest.json", "corpus manifest").get("counts", {}).get("per_lang", {}))


def _skeleton(aligned: dict[str, dict[str, Any]], order: list[str], context: dict[str, Any]) -> dict[str, Any]:
    def tables() -> dict[str, Any]:
        return {"scores": {s: {} for s in order}, "deltas": {s: {} for s in order[1:]}}

    results = {}
    for lang, a in aligned.items():
        results[lang] = {"name": language_name(lang), "n": len(a["ids"]), **describe(lang, context["lang_info"])}
        results[lang]["fertility"] = context["fertility"].get(lang)
        results[lang]["corpus_size"] = context["corpus_sizes"].get(lang)
        results[lang].update(tables())
    tiers = sorted({r["tier"] for r in results.values() if r["tier"] is not None})
    by_tier = {str(t): {"languages": [k for k, r in results.items() if r["tier"] == t], **tables()} for t in tiers}
    average = {"languages": len(aligned), "n": sum(len(a["ids"]) for a in aligned.values()), **tables()}
    fair = {s: {} for s in order}
    return {"results": results, "average": average, "by_tier": by_tier, "fairness": fair, "tier_source": TIER_SOURCE}


def metrics_per_language(
    aligned: dict[str, dict[str, Any]],
    metrics: Sequence[str] | None,
    lang_metrics: dict[str, Sequence[str]] | None,
    task: str | None = None,
) -> dict[str, list[str]]:
    """metric -> the languages it scores: a language's own list (from its suite) wins, else `metrics`, else the
    metrics of the task that made the predictions (when known), else metrics chosen from the labels. Every
    (metric, language, system) is checked to fit its labels first.

    Raises:
        InputError: a metric does not fit a language's labels (naming the metrics that do).
    """
    given = metrics or all((lang_metrics or {}).get(lang) for lang in aligned)
    chosen = None if given else choose_metrics(aligned, task)
    per_lang = {lang: list((lang_metrics or {}).get(lang) or metrics or chosen) for lang in aligned}
    order = list(dict.fromkeys(m for names in per_lang.values() for m in names))
    for name in order:
        metric = get_metric(name)
        for lang, a in aligned.items():
            for system, preds in a["preds"].items() if name in per_lang[lang] else ():
                check_fit(metric, a["labels"], preds, f"{lang}, system {system}: ")
    return {name: [lang for lang in aligned if name in per_lang[lang]] for name in order}


def score_found(
    found: dict[str, dict[str, Path]],
    out: str | Path,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    *,
    langs: Sequence[str] | None = None,
    settings: dict[str, Any],
    context: dict[str, Any],
    config: dict[str, Any],
    lang_metrics: dict[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Score files found as {system: {lang: path}} and write the report folder (see `build_report`)."""
    names = list(found)
    baseline = baseline or names[0]
    if baseline not in found:
        raise ConfigError(f"baseline {baseline!r} has no predictions{did_you_mean(baseline, names)}; pick a system")
    order = [baseline, *(s for s in names if s != baseline)]
    aligned = align(found, langs)
    metric_langs = metrics_per_language(aligned, metrics, lang_metrics, context.get("task"))
    metrics = list(metric_langs)
    settings = {"significance": "bootstrap", **settings}
    inputs = {f"{s}/{p.name}": file_hash(p) for s in order for lang, p in sorted(found[s].items()) if lang in aligned}
    if context.get("probes") is not None:
        inputs["probes/manifest.json"] = file_hash(Path(context["probes"]) / "manifest.json")
    inputs.update({f"suite/{p.name}": file_hash(p) for p in context.get("input_paths", []) if p.suffix == ".yaml"})
    report = {
        "polytune_version": __version__,
        **settings,
        "baseline": baseline,
        "systems": order,
        "languages": list(aligned),
        "metrics": metrics,
        "metric_languages": metric_langs,
        "task": context.get("task"),
        "ci_methods": {m: get_metric(m).ci_method for m in metrics},
        "lower_is_better": [m for m in metrics if get_metric(m).lower_is_better],
        "signatures": {},
        "lang_signatures": {},
        "inputs": inputs,
        "input_manifests": context.get("input_manifests", {}),
        **_skeleton(aligned, order, context),
        "per_class": per_class(aligned, metric_langs),
        "extra": context.get("extra") or {},
    }
    report["warnings"] = prediction_warnings(aligned, classification=report["per_class"])
    for name in metrics:
        subset = {lang: aligned[lang] for lang in metric_langs[name]}
        report["signatures"][name] = score_metric(name, subset, order, settings, report)
    report.update(score_probes(context.get("probes"), order, settings))
    # One JSON round trip: tuples become lists and paths strings, so the returned dict equals report.json.
    report = json.loads(json.dumps(report, default=str))
    made_by = manifest("eval", config, inputs=context.get("input_paths", []), counts=report_counts(report))
    write_report(Path(out), report, made_by)
    return report


def _task_of(root: Path) -> str | None:
    """The task type `polytune eval` recorded in the predictions' manifest (None for outside predictions)."""
    path = root / "manifest.json"
    if not path.is_file():
        return None
    meta = read_json(path, "predictions manifest")
    return meta.get("task") if isinstance(meta, dict) else None


def build_report(
    pred_dir: str | Path,
    out: str | Path,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 13,
    extra: dict[str, Any] | None = None,
    *,
    systems: Sequence[str] | None = None,
    langs: Sequence[str] | None = None,
    confidence: float = 0.95,
    config: Any = None,
    fertility: str | Path | None = None,
    corpus: str | Path | None = None,
    lang_info: str | Path | None = None,
    significance: str = "bootstrap",
    suites: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score every system's predictions and write report.json, report.md, report.html and manifest.json into `out`.

    Args:
        pred_dir: folder with `predictions/<system>/<lang>.jsonl` (or `<system>/<lang>.jsonl` directly).
        out: report folder.
        baseline: system the others are compared with (default: the first system name in sorted order).
        metrics: registered metric names (default: chosen from the labels, see scoring.choose_metrics).
        n_resamples: bootstrap resamples per language.
        seed: bootstrap seed (recorded in the report).
        extra: JSON-able additions stored under "extra".
        systems: score only these systems (default: every folder).
        langs: score only these languages (default: every language found).
        confidence: coverage of the intervals.
        config: what the manifest records as the config (default: these arguments).
        fertility: an analysis/fertility.json; its per-language fertility is shown beside the scores.
        corpus: a corpus folder whose manifest.json counts records per language (the gain-vs-size plot).
        lang_info: JSON {lang: {"tier": int, "seen": bool}} filling or overriding the built-in tiers.
        significance: paired test of Δ vs the baseline, "bootstrap" or "randomization" (approximate randomization
            with n_resamples trials); the CIs are bootstrap ones either way.
        suites: lang -> suite (suites.suite_plan): each language is scored with its suite's metrics; the suite
            files are hashed into the report's inputs.

    Returns:
        The report (the content of report.json).

    Raises:
        InputError: missing, malformed or mismatched prediction or side files; a metric that does not fit a
            language's labels.
        ConfigError: unknown baseline or metric, bad n_resamples, confidence or significance.
    """
    for name in metrics or ():
        get_metric(name)
    check_settings(n_resamples, confidence, significance)
    root = predictions_root(pred_dir)
    found = load_predictions(root, systems)
    found = {s: found[s] for s in sorted(found)}
    settings = {"n_resamples": n_resamples, "seed": seed, "confidence": confidence, "significance": significance}
    side = [Path(p) for p in (fertility, corpus, lang_info) if p is not None]
    side += sorted({Path(suite["file"]) for suite in (suites or {}).values()})
    context = {
        "fertility": read_fertility(fertility),
        "corpus_sizes": _corpus_sizes(corpus),
        "lang_info": load_lang_info(lang_info),
        "extra": extra,
        "input_paths": [root, *side],
        "input_manifests": input_manifests([root, *side]),
        "task": _task_of(root),
        "probes": probe_dir(pred_dir),
    }
    if config is None:
        config = {"pred_dir": str(pred_dir), "baseline": baseline, "metrics": list(metrics or []), **settings}
    lang_metrics = {lang: suite["metrics"] for lang, suite in (suites or {}).items()}
    return score_found(
        found, out, baseline, metrics, langs=langs, settings=settings, context=context, config=config,
        lang_metrics=lang_metrics or None,
    )  # fmt: skip


def input_manifests(paths: Sequence[Path]) -> dict[str, Any]:
    """The manifest.json of every input folder that has one (predictions, corpus), keyed by the folder."""
    found = {}
    for p in paths:
        for candidate in (p / "manifest.json", p.parent / "manifest.json") if p.is_dir() else ():
            if candidate.is_file():
                found[str(p)] = _read_json(candidate, "manifest")
                break
    return found


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    return {
        "languages": len(report["languages"]),
        "systems": len(report["systems"]),
        "examples": report["average"]["n"],
    }


def write_report(out: Path, report: dict[str, Any], made_by: dict[str, Any]) -> None:
    """report.json, report.md, report.html, then manifest.json, each atomically (out may also hold predictions/)."""
    write_json(out / "report.json", report)
    for name, render in (("report.md", render_markdown), ("report.html", render_html)):
        with atomic_path(out / name) as tmp:
            Path(tmp).write_text(render(report), encoding="utf-8")
    write_json(out / "manifest.json", made_by)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Short lines for a terminal: each system's averages, its average Δ against the baseline, then the warnings."""
    avg, lines = report["average"], []
    for s in report["systems"]:
        parts = [f"{m} {avg['scores'][s][m]['score']:.1f}" for m in report["metrics"]]
        if s in avg["deltas"]:
            parts += [f"Δ{m} {d['delta']:+.1f} (p={d['p_value']:.3f})" for m, d in avg["deltas"][s].items()]
        parts += probe_summary(report, s)
        lines.append(f"{s}: " + ", ".join(parts))
    return lines + [f"warning: {w['text']}" for w in report.get("warnings", [])]

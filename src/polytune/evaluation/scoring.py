"""Fill a report's numbers: per language and system each metric with its bootstrap CI and paired Δ vs the baseline,
then macro averages (overall and per resource tier) and a fairness summary across languages.

Systems share each language's resamples (a paired test). An average's resamples are the per-language ones averaged
resample by resample (language-stratified), so averages get intervals and p-values the same way.

Example: choose_metrics(aligned) -> ["accuracy", "macro_f1"] for class labels, ["bleu", "chrf", ...] for text.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from polytune.evaluation.metrics import get_metric
from polytune.evaluation.stats import percentile_interval, resample_statistics, summarize_delta

CLASSIFICATION = ["accuracy", "macro_f1"]
GENERATION = ["bleu", "chrf", "chrf_pp", "ter", "exact_match"]
TAGGING = ["ner_f1", "exact_match"]


def choose_metrics(aligned: dict[str, dict[str, Any]]) -> list[str]:
    """Metrics that fit the labels: tag lists -> NER; labels with spaces or mostly distinct -> text; else classes."""
    labels = [x for a in aligned.values() for x in a["labels"]]
    if any(isinstance(x, list) for x in labels):
        return list(TAGGING)
    distinct = len(set(labels))
    if any(" " in x.strip() for x in labels) or distinct > max(50, len(labels) // 2):
        return list(GENERATION)
    return list(CLASSIFICATION)


def _summary(points: list[float], draws: list[np.ndarray], conf: float) -> dict[str, Any]:
    return {"score": float(np.mean(points)), "ci": percentile_interval(np.mean(draws, axis=0), conf)}


def _average(table: dict, name: str, order: list[str], points: dict, draws: dict, idx: list[int], conf: float) -> None:
    """Macro average of the languages at positions `idx` into table["scores"/"deltas"][system][name]."""
    base = order[0]
    mean_draws = {s: np.mean([draws[s][i] for i in idx], axis=0) for s in order}
    for s in order:
        table["scores"][s][name] = _summary([points[s][i] for i in idx], [draws[s][i] for i in idx], conf)
        if s != base:
            delta = table["scores"][s][name]["score"] - table["scores"][base][name]["score"]
            table["deltas"][s][name] = summarize_delta(delta, mean_draws[s] - mean_draws[base], conf)


def score_metric(
    name: str, aligned: dict[str, dict[str, Any]], order: list[str], settings: dict[str, Any], report: dict[str, Any]
) -> str:
    """Fill one metric into report["results"], ["average"], ["by_tier"] and ["fairness"]; return its signature.

    Languages whose configuration differs (e.g. BLEU tokenized with `zh`) get their own signature under
    report["lang_signatures"][lang][name].
    """
    default, base, conf = get_metric(name), order[0], settings["confidence"]
    points: dict[str, list[float]] = {s: [] for s in order}
    draws: dict[str, list[np.ndarray]] = {s: [] for s in order}
    for lang, a in aligned.items():
        metric = default.for_language(lang)
        # The language key seeds its own stream: its numbers do not depend on which other languages are scored.
        lang_seed = [settings["seed"], zlib.crc32(lang.encode())]
        pairs = {s: metric.score_and_statistics(a["labels"], a["preds"][s]) for s in order}
        scores = resample_statistics(metric, {s: p[1] for s, p in pairs.items()}, settings["n_resamples"], lang_seed)
        result = report["results"][lang]
        for s in order:
            points[s].append(pairs[s][0])
            draws[s].append(scores[s])
            result["scores"][s][name] = {"score": points[s][-1], "ci": percentile_interval(scores[s], conf)}
            if s != base:
                delta = points[s][-1] - points[base][-1]
                result["deltas"][s][name] = summarize_delta(delta, scores[s] - scores[base], conf)
        if metric is not default:
            report["lang_signatures"].setdefault(lang, {})[name] = metric.signature()
    langs = list(aligned)
    _average(report["average"], name, order, points, draws, list(range(len(langs))), conf)
    for table in report["by_tier"].values():
        idx = [langs.index(lang) for lang in table["languages"]]
        _average(table, name, order, points, draws, idx, conf)
    for s in order:
        report["fairness"][s][name] = fairness(dict(zip(langs, points[s], strict=True)), default.lower_is_better)
    return default.signature()


def fairness(scores: dict[str, float], lower_is_better: bool = False) -> dict[str, Any]:
    """Spread of one system's scores across languages: best and worst language, their gap, and the std.

    Example: fairness({"a": 80.0, "b": 60.0}) -> {"best": "a", "worst": "b", "gap": 20.0, "std": 10.0, ...}
    """
    ranked = sorted(scores, key=scores.get, reverse=not lower_is_better)
    best, worst = ranked[0], ranked[-1]
    values = np.array(list(scores.values()))
    return {
        "best": best,
        "best_score": scores[best],
        "worst": worst,
        "worst_score": scores[worst],
        "gap": abs(scores[best] - scores[worst]),
        "std": float(values.std()),
    }

"""Fill a report's numbers: per language and system each metric with its bootstrap CI and paired Δ vs the baseline,
then macro averages (overall and per resource tier) and a fairness summary across languages.

Systems share each language's resamples (a paired test). An average's resamples are the per-language ones averaged
resample by resample (language-stratified), so averages get intervals and p-values the same way. sacrebleu's
metrics (BLEU, chrF, chrF++, TER) report sacrebleu's own per-language interval (its seed, its estimate) beside the
point score; their Δ, p-values and averages use polytune's seeded paired resamples like every other metric, since
sacrebleu reseeds every call (the same draws for each language) and so cannot give language-stratified averages.
With significance "randomization" the p-values come from paired approximate randomization instead (same strata).

Example: choose_metrics(aligned) -> ["accuracy", "macro_f1"] for class labels, ["bleu", "chrf", ...] for text.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from polytune.evaluation.metrics import get_metric
from polytune.evaluation.stats import (
    percentile_interval,
    randomization_p_value,
    randomized_differences,
    resample_statistics,
    sacrebleu_intervals,
    summarize_delta,
)

CLASSIFICATION = ["accuracy", "macro_f1"]
GENERATION = ["bleu", "chrf", "chrf_pp", "ter", "exact_match"]
TAGGING = ["ner_f1", "exact_match"]
REGRESSION = ["pearson", "spearman", "rmse"]


# What each task type of `polytune adapt task` predicts, when the caller knows it (the predictions' manifest).
BY_TASK = {
    "sequence_classification": CLASSIFICATION,
    "token_classification": TAGGING,
    "seq2seq": GENERATION,
    "causal_lm": GENERATION,
    "regression": REGRESSION,
}


def choose_metrics(aligned: dict[str, dict[str, Any]], task: str | None = None) -> list[str]:
    """Metrics for the labels: by `task` when given, else from the labels themselves.

    Tag lists -> NER; free text -> BLEU/chrF/...: references with whitespace, long ones (more than 30 characters:
    sentences of scripts written without spaces), or mostly distinct ones (more than half, and more than 50, since
    a class label repeats); else classes.

    Example: choose_metrics(aligned, task="causal_lm") -> ["bleu", "chrf", "chrf_pp", "ter", "exact_match"]
    """
    if task in BY_TASK:
        return list(BY_TASK[task])
    labels = [x for a in aligned.values() for x in a["labels"]]
    if labels and all(isinstance(x, float) for x in labels):
        return list(REGRESSION)
    if any(isinstance(x, list) for x in labels):
        return list(TAGGING)
    distinct = len(set(labels))
    mostly_distinct = distinct > max(50, len(labels) // 2)
    if any(" " in x.strip() or len(x) > 30 for x in labels) or mostly_distinct:
        return list(GENERATION)
    return list(CLASSIFICATION)


def _summary(points: list[float], draws: list[np.ndarray], conf: float) -> dict[str, Any]:
    return {"score": float(np.mean(points)), "ci": percentile_interval(np.mean(draws, axis=0), conf)}


def _average(table: dict, name: str, order: list[str], lang_data: dict, idx: list[int], conf: float) -> None:
    """Macro average of the languages at positions `idx` into table["scores"/"deltas"][system][name]."""
    points, draws, nulls = lang_data["points"], lang_data["draws"], lang_data["nulls"]
    base = order[0]
    mean_draws = {s: np.mean([draws[s][i] for i in idx], axis=0) for s in order}
    for s in order:
        table["scores"][s][name] = _summary([points[s][i] for i in idx], [draws[s][i] for i in idx], conf)
        if s != base:
            delta = table["scores"][s][name]["score"] - table["scores"][base][name]["score"]
            table["deltas"][s][name] = summarize_delta(delta, mean_draws[s] - mean_draws[base], conf)
            if nulls[s]:  # randomization: the trials' differences averaged over the languages (stratified)
                mean_null = np.mean([nulls[s][i] for i in idx], axis=0)
                table["deltas"][s][name]["p_value"] = randomization_p_value(delta, mean_null)


def _score_language(metric: Any, a: dict[str, Any], order: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """One language: each system's point score, polytune's paired resamples, sacrebleu's own interval (sacrebleu
    metrics), and with significance "randomization" the randomized differences to the baseline."""
    lang_seed = [settings["seed"], zlib.crc32(a["lang"].encode())]
    n = settings["n_resamples"]
    pairs = {s: metric.score_and_statistics(a["labels"], a["preds"][s]) for s in order}
    stats = {s: p[1] for s, p in pairs.items()}
    own = sacrebleu_intervals(metric, stats, n, settings["confidence"]) if metric.ci_method == "sacrebleu" else {}
    nulls = {}
    if settings.get("significance") == "randomization":
        # A stream of its own ([seed, language, 1]): the bootstrap draws stay those of the bootstrap test.
        nulls = {s: randomized_differences(metric, stats[order[0]], stats[s], n, [*lang_seed, 1]) for s in order[1:]}
    return {"points": {s: p[0] for s, p in pairs.items()}, "draws": resample_statistics(metric, stats, n, lang_seed),
            "own": own, "nulls": nulls}  # fmt: skip


def score_metric(
    name: str, aligned: dict[str, dict[str, Any]], order: list[str], settings: dict[str, Any], report: dict[str, Any]
) -> str:
    """Fill one metric into report["results"], ["average"], ["by_tier"] and ["fairness"]; return its signature.

    `aligned` holds the languages this metric scores (a suite may leave a metric out for some languages); averages,
    tiers and fairness cover those. Languages whose configuration differs (e.g. BLEU tokenized with `zh`) get their
    own signature under report["lang_signatures"][lang][name].
    """
    default, base, conf = get_metric(name), order[0], settings["confidence"]
    data: dict[str, dict[str, list]] = {k: {s: [] for s in order} for k in ("points", "draws", "nulls")}
    for lang, a in aligned.items():
        metric = default.for_language(lang)
        one = _score_language(metric, {**a, "lang": lang}, order, settings)
        result = report["results"][lang]
        for s in order:
            point, draws = one["points"][s], one["draws"][s]
            data["points"][s].append(point)
            data["draws"][s].append(draws)
            # sacrebleu's own interval (and its resample mean) replaces the percentile one for sacrebleu's metrics.
            entry = {"score": point, "ci": percentile_interval(draws, conf)}
            result["scores"][s][name] = {**entry, **one["own"].get(s, {})}
            if s != base:
                delta = point - one["points"][base]
                result["deltas"][s][name] = summarize_delta(delta, draws - one["draws"][base], conf)
                if one["nulls"]:
                    data["nulls"][s].append(one["nulls"][s])
                    result["deltas"][s][name]["p_value"] = randomization_p_value(delta, one["nulls"][s])
        if metric is not default:
            report["lang_signatures"].setdefault(lang, {})[name] = metric.signature()
    langs = list(aligned)
    _average(report["average"], name, order, data, list(range(len(langs))), conf)
    for table in report["by_tier"].values():
        idx = [langs.index(lang) for lang in table["languages"] if lang in aligned]
        if idx:
            _average(table, name, order, data, idx, conf)
    for s in order:
        scores = dict(zip(langs, data["points"][s], strict=True))
        report["fairness"][s][name] = fairness(scores, default.lower_is_better)
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

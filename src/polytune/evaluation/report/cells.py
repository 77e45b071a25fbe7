"""The cells of a report's tables, shared by report.md, report.html and the plots.

Per metric, one row per language (script, resource tier, n, tokenizer fertility, each system's score with its CI,
Δ vs the baseline with its p-value), macro averages overall and per tier; a fairness summary; the preamble.

Example: score_cell({"score": 50, "ci": [30, 70]}) -> "50.0 [30.0, 70.0]"
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.metrics import get_metric
from polytune.langcodes import language_name

DASH = "—"


def metric_label(name: str) -> str:
    """How tables name a metric. Example: metric_label("chrf_pp") -> "chrF++"."""
    return get_metric(name).label or name


def score_cell(entry: dict[str, Any]) -> str:
    """Example: {"score": 50, "ci": [30, 70]} -> "50.0 [30.0, 70.0]"."""
    low, high = entry["ci"]
    return f"{entry['score']:.1f} [{low:.1f}, {high:.1f}]"


def delta_cell(entry: dict[str, Any]) -> str:
    """Example: {"delta": 5, "ci": [1, 9], "p_value": 0.01} -> "+5.0 [+1.0, +9.0] (p=0.010)"."""
    low, high = entry["ci"]
    return f"{entry['delta']:+.1f} [{low:+.1f}, {high:+.1f}] (p={entry['p_value']:.3f})"


def fertility_cell(value: dict[str, float] | None) -> str:
    """Example: {"base": 4.31, "extended": 1.97} -> "4.31→1.97"; None -> "—"."""
    if not value:
        return DASH
    if set(value) == {"base", "extended"}:
        return f"{value['base']:.2f}→{value['extended']:.2f}"
    return ", ".join(f"{k} {v:.2f}" for k, v in sorted(value.items()))


def _plural(k: int) -> str:
    return f"{k} language{'s' * (k != 1)}"


def language_rows(report: dict[str, Any], metric: str) -> list[list[str]]:
    """The cells of one metric's table: languages, the average, then each tier's average."""
    systems = report["systems"]

    def cells(table: dict[str, Any]) -> list[str]:
        out = [score_cell(table["scores"][s][metric]) for s in systems]
        return out + [delta_cell(table["deltas"][s][metric]) for s in systems[1:]]

    rows = []
    for lang, r in report["results"].items():
        if metric not in r["scores"][systems[0]]:  # its suite does not score this metric
            continue
        tier = DASH if r.get("tier") is None else str(r["tier"])
        seen = {True: "yes", False: "no"}.get(r.get("seen"), DASH)
        first = [lang, language_name(lang), r.get("script", DASH), tier, seen, str(r["n"])]
        first.append(fertility_cell(r.get("fertility")))
        rows.append(first + cells(r))
    avg = report["average"]
    rows.append(["**average**", _plural(len(rows)), "", "", "", str(sum(int(r[5]) for r in rows)), ""] + cells(avg))
    for tier, table, langs in tier_tables(report, metric):
        n = sum(report["results"][lang]["n"] for lang in langs)
        rows.append([f"*tier {tier}*", _plural(len(langs)), "", tier, "", str(n), ""] + cells(table))
    return rows


def tier_tables(report: dict[str, Any], metric: str) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(tier, its averages, its languages) for the tiers worth a row: two languages or more, and not every language
    (a tier of one language repeats that language's row; a tier of all of them repeats the average)."""
    first = report["systems"][0]
    scored = [lang for lang, r in report["results"].items() if metric in r["scores"][first]]
    out = []
    for tier, table in report.get("by_tier", {}).items():
        langs = [lang for lang in table["languages"] if lang in scored]
        if 1 < len(langs) < len(scored):
            out.append((tier, table, langs))
    return out


def header(report: dict[str, Any], metric: str) -> list[str]:
    """Column names of one metric's table."""
    label, systems = metric_label(metric), report["systems"]
    cols = ["language", "name", "script", "tier", "seen", "n", "fertility"]
    return cols + [f"{s} {label}" for s in systems] + [f"{s} Δ {label}" for s in systems[1:]]


def fairness_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per system and metric: best and worst language, their gap, and the std across languages."""
    rows = []
    for s in report["systems"]:
        for m, f in report.get("fairness", {}).get(s, {}).items():
            best, worst = f"{f['best']} {f['best_score']:.1f}", f"{f['worst']} {f['worst_score']:.1f}"
            rows.append([s, metric_label(m), best, worst, f"{f['gap']:.1f}", f"{f['std']:.1f}"])
    return rows


FAIRNESS_HEADER = ["system", "metric", "best", "worst", "gap", "std"]


def preamble(report: dict[str, Any]) -> str:
    """One paragraph saying how the numbers were made."""
    conf = round(100 * report["confidence"])
    lower = ", ".join(metric_label(m) for m in report.get("lower_is_better", []))
    text = (
        f"Scores in %, with {conf}% percentile bootstrap intervals ({report['n_resamples']} resamples, seed "
        f"{report['seed']}). Δ = system − baseline `{report['baseline']}`, with a paired two-sided bootstrap "
        "p-value; averages are macro averages over languages, their intervals from language-stratified resamples."
    )
    text += f" Lower is better for {lower}." if lower else ""
    own = ", ".join(metric_label(m) for m, how in report.get("ci_methods", {}).items() if how == "sacrebleu")
    if own:
        how = "its mean ± half the 95% range" if conf == 95 else "percentiles of its resamples"
        text += f" Per-language intervals of {own} come from sacrebleu's bootstrap ({how}; seed in the signatures)."
    if report.get("significance") == "randomization":
        text = text.replace("paired two-sided bootstrap p-value", "paired two-sided approximate-randomization p-value")
    return text + f" Tier: {report.get('tier_source', 'resource tier')}; fertility: tokens per word (base→extended)."

"""The report as ONE self-contained HTML file (jinja2; plots inlined as base64 PNG; no external CSS, JS or fonts).

It leads with the answer: per language the best system, its Δ vs the baseline with its CI and a verdict, the share
of the source-language ceiling; then warnings (a collapsed classifier, identical systems, tiny test sets) and the
setup (base model, task, systems, statistics). Then per metric a bar plot with CI error bars (and Δ against
training-corpus size when the sizes differ enough to mean something) and its table, the probe tables, per language
per-class scores and confusion matrices (classification), and the details. Tables fit a 1366 px screen: a system's
Δ sits under its score in one cell, and more than WIDE_MAX systems turn into one row per system.

Example: Path("report.html").write_text(render_html(report))
"""

from __future__ import annotations

import base64
import json
from typing import Any

from polytune.evaluation.report.cells import (
    DASH,
    FAIRNESS_HEADER,
    delta_cell,
    fairness_rows,
    fertility_cell,
    metric_label,
    preamble,
    score_cell,
    tier_tables,
)
from polytune.evaluation.report.classes_html import per_class_sections
from polytune.evaluation.report.page import STYLE, TEMPLATE
from polytune.evaluation.report.plots import bars_png, gain_note, gain_png
from polytune.evaluation.report.probe_tables import probe_tables
from polytune.evaluation.report.summary import answer, lede, setup_items, summary_rows
from polytune.evaluation.report.tables import cell, sig_class, system_table
from polytune.langcodes import language_name


def _metric_table(report: dict[str, Any], metric: str) -> dict[str, Any]:
    """Languages, the average and the tiers worth a row (cells.tier_tables) of one metric."""
    systems, lower = report["systems"], metric in report.get("lower_is_better", [])

    def row(table: dict[str, Any], first: dict[str, Any], cls: str = "") -> dict[str, Any]:
        per = [(score_cell(table["scores"][systems[0]][metric]), None, "")]
        for s in systems[1:]:
            d = table["deltas"][s][metric]
            better = d["delta"] < 0 if lower else d["delta"] > 0
            per.append((score_cell(table["scores"][s][metric]), "Δ " + delta_cell(d), sig_class(d["p_value"], better)))
        return {"lead": [first, cell(str(table["n"]))], "systems": per, "cls": cls}

    scored = [(lang, r) for lang, r in report["results"].items() if metric in r["scores"][systems[0]]]
    rows = [row(r, cell(lang, language_name(lang))) for lang, r in scored]
    rows.append(row(report["average"], cell("average", f"{len(scored)} languages"), "avg"))
    for tier, table, langs in tier_tables(report, metric):
        n = sum(report["results"][lang]["n"] for lang in langs)
        rows.append(row({**table, "n": n}, cell(f"tier {tier}", f"{len(langs)} languages"), "avg"))
    return system_table(["language", "n"], rows, systems, report["baseline"])


def _probe_table(table: dict[str, Any], systems: list[str], baseline: str) -> dict[str, Any]:
    """A probe table (probe_tables) with each system's Δ under its score; as it is when it has no such columns."""
    lead = table.get("lead")
    if lead is None:
        rows = [{"cls": "avg" if r["average"] else "", "cells": [cell(c["text"]) for c in r["cells"]]}
                for r in table["rows"]]  # fmt: skip
        return {**table, "rows": rows}
    rows = []
    for r in table["rows"]:
        scores, deltas = r["cells"][lead : lead + len(systems)], [None, *r["cells"][lead + len(systems) :]]
        per = [(c["text"], d and "Δ " + d["text"], d and sig_class(d["p_value"], d["better"]) or "")
               for c, d in zip(scores, deltas, strict=True)]  # fmt: skip
        rows.append({"lead": [cell(c["text"]) for c in r["cells"][:lead]], "systems": per,
                     "cls": "avg" if r["average"] else ""})  # fmt: skip
    return {**table, **system_table(table["header"][:lead], rows, systems, baseline)}


def _summary(report: dict[str, Any]) -> dict[str, Any] | None:
    """The summary table: per language the best system, its Δ on the headline metric, verdict, ceiling share."""
    rows = summary_rows(report)
    if not rows:
        return None
    label, ceiling = metric_label(rows[0]["metric"]), (report.get("extra") or {}).get("ceiling")
    header = ["language", "n", f"{report['baseline']} (baseline) {label}", "best system", f"Δ {label} [95% CI]",
              "verdict", *([f"share of {ceiling['lang']} ceiling"] if ceiling else []), "other metrics, best system"]
    out = []
    for r in rows:
        d = r["delta"]
        low, high = d["ci"]
        best = cell(r["best"] + (" ⚠" if r["warned"] else ""), f"{label} {score_cell(r['score'])}")
        cells = [cell(r["lang"], r["name"]), cell(str(r["n"])), cell(score_cell(r["baseline"])), best,
                 cell(f"{d['delta']:+.1f}", f"[{low:+.1f}, {high:+.1f}] p={d['p_value']:.3f}"),
                 cell(r["verdict"], cls=r["verdict"])]  # fmt: skip
        if ceiling:
            base, top = r["ceiling"]
            cells.append(cell(DASH if top is None else f"{base:.2f} → {top:.2f}"))
        others = [f"{metric_label(m)} {e['delta']:+.1f} (p={e['p_value']:.3f})" for m, e in r["others"]]
        cells.append(cell("; ".join(others) or DASH))
        out.append({"cls": "avg" if r["average"] else "", "cells": cells})
    return {"header": header, "rows": out}


def _summary_note(report: dict[str, Any]) -> str:
    text = ("Best system: the one with the best Δ over the baseline in that row. Verdict: better / worse when the "
            "paired test gives p < 0.05 that way, else unclear.")
    text += " ⚠: see the warnings." if any(r["warned"] for r in summary_rows(report)) else ""
    ceiling = (report.get("extra") or {}).get("ceiling")
    if ceiling:
        text += (f" Share of ceiling: the baseline's and the best system's score / the task adapter's score on "
                 f"{ceiling['lang']}'s own {ceiling['split']} split (1.00 = as good as in {ceiling['lang']}).")
    return text


def _languages(report: dict[str, Any]) -> dict[str, Any]:
    """What is known of each language, once: script, resource tier, seen in pretraining, n, fertility, corpus size."""
    header = ["language", "script", "tier", "seen", "n", "fertility", "training records"]
    rows = []
    for lang, r in report["results"].items():
        tier = DASH if r.get("tier") is None else str(r["tier"])
        size = DASH if r.get("corpus_size") is None else f"{r['corpus_size']:,}"
        seen = {True: "yes", False: "no"}.get(r.get("seen"), DASH)
        rows.append({"cls": "", "cells": [cell(lang, language_name(lang)), cell(r.get("script") or DASH), cell(tier),
                                          cell(seen), cell(str(r["n"])), cell(fertility_cell(r.get("fertility"))),
                                          cell(size)]})  # fmt: skip
    return {"header": header, "rows": rows}


def _b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode("ascii") if png else None


def render_html(report: dict[str, Any]) -> str:
    """Render the HTML page for a report dict (report.json).

    Args:
        report: the dict `build_report` returns.

    Returns:
        The HTML text.
    """
    import jinja2

    systems, baseline = report["systems"], report["baseline"]
    metrics = [{"name": m, "label": metric_label(m), "bars": _b64(bars_png(report, m)),
                "gain": _b64(gain_png(report, m)),
                "gain_note": gain_note(report, m), "table": _metric_table(report, m)}
               for m in report["metrics"]]  # fmt: skip
    signatures = [(metric_label(m), s) for m, s in report["signatures"].items()]
    for lang, sigs in report.get("lang_signatures", {}).items():
        signatures += [(f"{metric_label(m)} ({lang})", s) for m, s in sigs.items()]
    per_class = per_class_sections(report)
    contents = [("summary", "Summary"), ("setup", "Setup"), *((f"metric-{m['name']}", m["label"]) for m in metrics),
                *([("per-class", "Per class")] if per_class else []), ("details", "Details")]  # fmt: skip
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(
        style=STYLE,
        lede=lede(report),
        contents=contents,
        summary=_summary(report),
        answer=answer(report),
        summary_note=_summary_note(report),
        warnings=[w["text"] for w in report.get("warnings", [])],
        setup=setup_items(report),
        languages=_languages(report) if report["results"] else None,
        preamble=preamble(report),
        metrics=metrics,
        probes=[_probe_table(t, systems, baseline) for t in probe_tables(report)],
        per_class=per_class,
        fairness_header=FAIRNESS_HEADER,
        fairness=fairness_rows(report),
        signatures=signatures,
        inputs=sorted(report.get("inputs", {}).items()),
        manifests=[(k, json.dumps(v, indent=2, sort_keys=True)) for k, v in report.get("input_manifests", {}).items()],
    )

"""The report as ONE self-contained HTML file (jinja2; plots inlined as base64 PNG; no external CSS, JS or fonts).

Same content as report.md, plus per metric a bar plot with CI error bars and, when corpus sizes are known, a plot
of the gain over the baseline against training-corpus size. Significant differences (p < 0.05) are highlighted.

Example: Path("report.html").write_text(render_html(report))
"""

from __future__ import annotations

import base64
import json
from typing import Any

from polytune.evaluation.report.cells import (
    FAIRNESS_HEADER,
    fairness_rows,
    header,
    language_rows,
    metric_label,
    preamble,
)
from polytune.evaluation.report.plots import bars_png, gain_png
from polytune.evaluation.report.probe_tables import probe_tables

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>polytune evaluation report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 6px}th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
tr.avg td{background:#fafafa;font-weight:600}td.sig{background:#e6f4e6}td.signeg{background:#fbe7e7}
.wide{overflow-x:auto}.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
img{max-width:100%;display:block;margin:0.5em 0}code{font-size:0.85em}
</style></head><body>
<h1>Evaluation report</h1>
<p>{{ preamble }}</p>
<p>Systems: {% for s in systems %}<code>{{ s }}</code>{% if not loop.last %}, {% endif %}{% endfor %};
languages: {{ languages|length }}; green / red: Δ with p &lt; 0.05 in the better / worse direction.</p>
{% for m in metrics %}
<h2>{{ m.label }}</h2>
<div class="plots"><img alt="{{ m.label }} per language with confidence intervals"
 src="data:image/png;base64,{{ m.bars }}">
{% if m.gain %}<img alt="gain vs corpus size" src="data:image/png;base64,{{ m.gain }}">{% endif %}</div>
<div class="wide"><table><tr>{% for h in m.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in m.rows %}<tr class="{{ row.cls }}">
{% for c in row.cells %}<td class="{{ c.cls }}">{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endfor %}
{% for t in probes %}
<h2>{{ t.title }}</h2>
{% if t.note %}<p>{{ t.note }}</p>{% endif %}
<div class="wide"><table><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr class="{{ row.cls }}">
{% for c in row.cells %}<td class="{{ c.cls }}">{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endfor %}
<h2>Fairness across languages</h2>
<table><tr>{% for h in fairness_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in fairness %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>
<h2>Signatures</h2><ul>
{% for label, sig in signatures %}<li>{{ label }}: <code>{{ sig }}</code></li>{% endfor %}</ul>
<h2>Inputs</h2><ul>
{% for name, digest in inputs %}<li><code>{{ name }}</code> sha256 <code>{{ digest }}</code></li>{% endfor %}</ul>
{% for name, text in manifests %}<details><summary>manifest of <code>{{ name }}</code></summary><pre>{{ text }}</pre>
</details>{% endfor %}
</body></html>
"""


def _cell(text: str, p_value: float | None = None, better: bool | None = None) -> dict[str, str]:
    numeric = text[:1].isdigit() or text[:1] in "+-"
    cls = "num" if numeric else ""
    if p_value is not None and p_value < 0.05:
        cls += " sig" if better else " signeg"
    return {"text": text.replace("**", "").replace("*", ""), "cls": cls}


def _rows(report: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    """Table rows with significant Δ cells marked (direction-aware: lower is better for TER)."""
    tables = [*report["results"].values(), report["average"], *report.get("by_tier", {}).values()]
    tables = [t for t in tables if metric in t["scores"][report["systems"][0]]]  # a suite may leave a metric out
    lower = metric in report.get("lower_is_better", [])
    n_scores = 7 + len(report["systems"])
    rows = []
    for table, cells in zip(tables, language_rows(report, metric), strict=True):
        out = [_cell(c) for c in cells[:n_scores]]
        for s, c in zip(report["systems"][1:], cells[n_scores:], strict=True):
            d = table["deltas"][s][metric]
            out.append(_cell(c, d["p_value"], (d["delta"] < 0) if lower else (d["delta"] > 0)))
        rows.append({"cells": out, "cls": "" if cells[0] in report["results"] else "avg"})
    return rows


def _probe_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The probe tables as template rows: significant Δ cells marked like the metrics' ones."""
    out = []
    for table in probe_tables(report):
        rows = [
            {
                "cls": "avg" if r["average"] else "",
                "cells": [_cell(c["text"], c["p_value"], c["better"]) for c in r["cells"]],
            }
            for r in table["rows"]
        ]
        out.append({**table, "rows": rows})  # fmt: skip
    return out


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

    metrics = [
        {
            "label": metric_label(m),
            "bars": _b64(bars_png(report, m)),
            "gain": _b64(gain_png(report, m)),
            "header": header(report, m),
            "rows": _rows(report, m),
        }
        for m in report["metrics"]
    ]
    signatures = [(metric_label(m), s) for m, s in report["signatures"].items()]
    for lang, sigs in report.get("lang_signatures", {}).items():
        signatures += [(f"{metric_label(m)} ({lang})", s) for m, s in sigs.items()]
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(
        preamble=preamble(report),
        systems=report["systems"],
        languages=report["languages"],
        metrics=metrics,
        probes=_probe_tables(report),
        fairness_header=FAIRNESS_HEADER,
        fairness=fairness_rows(report),
        signatures=signatures,
        inputs=sorted(report.get("inputs", {}).items()),
        manifests=[(k, json.dumps(v, indent=2, sort_keys=True)) for k, v in report.get("input_manifests", {}).items()],
    )

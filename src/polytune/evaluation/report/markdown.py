"""A report dict (report.json) as Markdown: the summary (best system per language, its Δ and verdict), warnings,
the setup, a table per metric, the probe tables, fairness, signatures, inputs.

Example: Path("report.md").write_text(render_markdown(json.loads(Path("report.json").read_text())))
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.report.cells import (
    FAIRNESS_HEADER,
    delta_cell,
    fairness_rows,
    header,
    language_rows,
    metric_label,
    preamble,
    score_cell,
)
from polytune.evaluation.report.probe_tables import probe_tables
from polytune.evaluation.report.summary import answer, lede, setup_items, summary_rows


def _md_table(head: list[str], rows: list[list[str]], left: int) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * left + ["---:"] * (len(head) - left)) + " |"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def render_markdown(report: dict[str, Any]) -> str:
    """The readable report: a table per metric, the probe tables, the fairness summary, signatures and inputs.

    Args:
        report: the dict `build_report` returns (or report.json loaded).

    Returns:
        Markdown text.
    """
    lines = ["# Evaluation report", "", lede(report), "", *_summary_lines(report), "## Setup", ""]
    lines += [f"- {label}: {value}" for label, value in setup_items(report)] + ["", preamble(report)]
    for m in report["metrics"]:
        lines += ["", f"## {metric_label(m)}", "", *_md_table(header(report, m), language_rows(report, m), 5)]
    lines += _probe_lines(report)
    if report["metrics"]:  # a report of the probes alone has no task metric to compare across languages
        lines += ["", "## Fairness across languages", "", *_md_table(FAIRNESS_HEADER, fairness_rows(report), 4)]
    lines += ["", "## Signatures", ""]
    lines += [f"- {metric_label(m)}: `{sig}`" for m, sig in report["signatures"].items()]
    for lang, sigs in report.get("lang_signatures", {}).items():
        lines += [f"- {metric_label(m)} ({lang}): `{sig}`" for m, sig in sigs.items()]
    lines += ["", "## Inputs (sha256)", ""]
    lines += [f"- `{name}`: `{digest[:16]}`" for name, digest in report.get("inputs", {}).items()]
    return "\n".join(lines) + "\n"


def _probe_lines(report: dict[str, Any]) -> list[str]:
    """The probe sections of report.md."""
    lines = []
    for table in probe_tables(report):
        head, rows = table["header"], [[c["text"] for c in r["cells"]] for r in table["rows"]]
        lines += ["", f"## {table['title']}", ""] + ([table["note"], ""] if table["note"] else [])
        lines += _md_table(head, rows, table["left"])
    return lines


def _summary_lines(report: dict[str, Any]) -> list[str]:
    """The summary table (best system per language on the headline metric) and the warnings, each with a blank
    line after it; [] for a report without either."""
    rows, lines = summary_rows(report), []
    if rows:
        label = metric_label(rows[0]["metric"])
        head = ["language", "n", f"{report['baseline']} {label}", "best system", f"its {label}", f"Δ {label}",
                "verdict"]
        body = []
        for r in rows:
            d = r["delta"]
            body.append([r["lang"], r["name"], str(r["n"]), score_cell(r["baseline"]), r["best"] + " ⚠" * r["warned"],
                         score_cell(r["score"]), delta_cell(d), r["verdict"]])  # fmt: skip
        lines += ["## Summary", "", answer(report), "", *_md_table(["language", "name", *head[1:]], body, 2), ""]
    if report.get("warnings"):
        lines += ["## Warnings", "", *(f"- {w['text']}" for w in report["warnings"]), ""]
    return lines

"""A report dict (report.json) as Markdown: a table per metric, the probe tables, fairness, signatures, inputs.

Example: Path("report.md").write_text(render_markdown(json.loads(Path("report.json").read_text())))
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.report.cells import (
    FAIRNESS_HEADER,
    fairness_rows,
    header,
    language_rows,
    metric_label,
    preamble,
)
from polytune.evaluation.report.probe_tables import probe_tables


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
    lines = ["# Evaluation report", "", preamble(report)]
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

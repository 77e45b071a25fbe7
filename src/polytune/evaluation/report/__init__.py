"""The evaluation report: scoring prediction files (build), its tables' cells, Markdown, HTML and plots.

This module only re-exports; the code lives in the submodules.

Example: build_report("runs/demo/report", "/tmp/r", baseline="task-only")["average"]["deltas"]
"""

from polytune.evaluation.report.build import (
    build_report,
    input_manifests,
    read_fertility,
    score_found,
    summary_lines,
)
from polytune.evaluation.report.html import render_html
from polytune.evaluation.report.markdown import render_markdown

__all__ = [
    "build_report",
    "input_manifests",
    "read_fertility",
    "render_html",
    "render_markdown",
    "score_found",
    "summary_lines",
]

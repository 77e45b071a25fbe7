"""Evaluation: metrics (a registry), bootstrap statistics and the per-language report (JSON, Markdown, HTML).

Scoring needs no torch; only `predict` (imported lazily by `run_eval`) loads models.
"""

from __future__ import annotations

from polytune.evaluation.compare import compare_runs
from polytune.evaluation.imports import score_files
from polytune.evaluation.metrics import Metric, available_metrics, get_metric
from polytune.evaluation.report import build_report, render_html, render_markdown
from polytune.evaluation.run import run_eval
from polytune.evaluation.stats import bootstrap_ci, paired_bootstrap

__all__ = [
    "Metric",
    "available_metrics",
    "bootstrap_ci",
    "build_report",
    "compare_runs",
    "get_metric",
    "paired_bootstrap",
    "render_html",
    "render_markdown",
    "run_eval",
    "score_files",
]

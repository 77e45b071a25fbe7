"""Evaluation: metrics (a registry), bootstrap statistics and the per-language report.

Scoring needs no torch; only `predict` (imported lazily by `run_eval`) loads models.
"""

from __future__ import annotations

from polytune.evaluation.metrics import Metric, available_metrics, get_metric, register_metric
from polytune.evaluation.report import build_report, render_markdown, run_eval
from polytune.evaluation.stats import bootstrap_ci, paired_bootstrap

__all__ = [
    "Metric",
    "available_metrics",
    "bootstrap_ci",
    "build_report",
    "get_metric",
    "paired_bootstrap",
    "register_metric",
    "render_markdown",
    "run_eval",
]

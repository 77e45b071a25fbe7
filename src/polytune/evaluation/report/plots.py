"""Report plots as PNG bytes (matplotlib, Agg backend, no display needed): per-language bars with CI error bars per
system, and each system's gain over the baseline against the training-corpus size of the language.

PNG metadata carries no software version or time, so the same report gives the same bytes.

Example: base64.b64encode(bars_png(report, "accuracy"))
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from polytune.evaluation.report.cells import metric_label


def figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # headless: CI and servers have no display
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), dpi=100)


def png_bytes(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def bars_png(report: dict[str, Any], metric: str) -> bytes:
    """Grouped bars: one group per language, one bar per system, error bars spanning the bootstrap CI.

    Args:
        report: a report dict (report.json).
        metric: a metric in report["metrics"].

    Returns:
        PNG bytes.
    """
    systems = report["systems"]
    langs = [lang for lang in report["languages"] if metric in report["results"][lang]["scores"][systems[0]]]
    fig, ax = figure(max(5.0, 0.9 * len(langs) * max(1, len(systems)) / 2 + 2), 4.0)
    width = 0.8 / len(systems)
    x = np.arange(len(langs))
    for i, s in enumerate(systems):
        entries = [report["results"][lang]["scores"][s][metric] for lang in langs]
        scores = np.array([e["score"] for e in entries])
        lows, highs = np.array([e["ci"][0] for e in entries]), np.array([e["ci"][1] for e in entries])
        err = np.vstack([np.clip(scores - lows, 0, None), np.clip(highs - scores, 0, None)])
        ax.bar(x + (i - (len(systems) - 1) / 2) * width, scores, width, yerr=err, capsize=3, label=s)
    ax.set_xticks(x, langs, rotation=30 if len(langs) > 6 else 0, ha="right" if len(langs) > 6 else "center")
    ax.set_ylabel(f"{metric_label(metric)} (%)")
    ax.set_title(f"{metric_label(metric)} per language ({round(100 * report['confidence'])}% CI)")
    # Below the axes: inside, the legend would hide the tallest bars.
    ax.legend(fontsize="small", ncols=min(len(systems), 3), loc="upper center", bbox_to_anchor=(0.5, -0.18))
    ax.grid(axis="y", alpha=0.3)
    return png_bytes(fig)


MIN_SPREAD = 1.1  # corpus sizes must differ by 10% or more (largest / smallest) for a gain-vs-size plot


def _gain_langs(report: dict[str, Any], metric: str) -> list[str]:
    results, first = report["results"], report["systems"][0]
    return [x for x in report["languages"] if results[x].get("corpus_size") and metric in results[x]["scores"][first]]


def gain_note(report: dict[str, Any], metric: str) -> str:
    """Why the gain-vs-corpus-size plot is not drawn, when sizes are known but hardly differ ("" otherwise)."""
    sizes = [report["results"][lang]["corpus_size"] for lang in _gain_langs(report, metric)]
    if len(report["systems"]) < 2 or not sizes or max(sizes) >= MIN_SPREAD * min(sizes):
        return ""
    return (f"No gain-vs-corpus-size plot: the training corpora hardly differ ({min(sizes):,}-{max(sizes):,} records, "
            f"less than {round(100 * (MIN_SPREAD - 1))}% apart), so size cannot explain a difference in gain.")


def gain_png(report: dict[str, Any], metric: str) -> bytes | None:
    """Δ vs the baseline (with CI) against the language's training-corpus size, one series per system.

    Returns:
        PNG bytes, or None when no language has a corpus size, there is no second system, or the sizes differ by
        less than MIN_SPREAD (a plot of sizes that hardly differ means nothing: see gain_note).
    """
    langs, systems = _gain_langs(report, metric), report["systems"][1:]
    if not langs or not systems:
        return None
    sizes = np.array([report["results"][lang]["corpus_size"] for lang in langs], dtype=float)
    if sizes.max() < MIN_SPREAD * sizes.min():
        return None
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    fig, ax = figure(5.5, 3.6)
    for s in systems:
        entries = [report["results"][lang]["deltas"][s][metric] for lang in langs]
        deltas = np.array([e["delta"] for e in entries])
        err = np.vstack([deltas - [e["ci"][0] for e in entries], [e["ci"][1] for e in entries] - deltas])
        ax.errorbar(sizes, deltas, yerr=np.clip(err, 0, None), fmt="o", capsize=3, label=s)
    for i, k in enumerate(np.argsort(sizes)):  # neighbours by size alternate height, so close names do not collide
        below = (2, -12 - 9 * (i % 2))
        ax.annotate(langs[k], (sizes[k], 0), textcoords="offset points", xytext=below, fontsize="x-small")
    ax.axhline(0, color="grey", lw=0.8)
    if sizes.max() > 10 * sizes.min():  # log only when sizes span an order of magnitude
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(numticks=6))
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:  # a few round ticks: five-digit labels side by side overlap on a 5.5-inch plot
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=2))
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel("training-corpus size (records)")
    ax.set_ylabel(f"Δ {metric_label(metric)} vs {report['baseline']}")
    ax.set_title("Gain vs corpus size")
    ax.legend(fontsize="small")
    return png_bytes(fig)


def _thousands(value: float, _pos: int | None = None) -> str:
    """Tick label: 30625 -> "30.6k", 1200000 -> "1.2M", 800 -> "800"."""
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"

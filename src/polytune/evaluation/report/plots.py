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


def gain_png(report: dict[str, Any], metric: str) -> bytes | None:
    """Δ vs the baseline (with CI) against the language's training-corpus size, one series per system.

    Returns:
        PNG bytes, or None when no language has a corpus size or there is no second system.
    """
    results, first = report["results"], report["systems"][0]
    langs = [x for x in report["languages"] if results[x].get("corpus_size") and metric in results[x]["scores"][first]]
    systems = report["systems"][1:]
    if not langs or not systems:
        return None
    fig, ax = figure(5.5, 3.6)
    sizes = np.array([report["results"][lang]["corpus_size"] for lang in langs], dtype=float)
    for s in systems:
        entries = [report["results"][lang]["deltas"][s][metric] for lang in langs]
        deltas = np.array([e["delta"] for e in entries])
        err = np.vstack([deltas - [e["ci"][0] for e in entries], [e["ci"][1] for e in entries] - deltas])
        ax.errorbar(sizes, deltas, yerr=np.clip(err, 0, None), fmt="o", capsize=3, label=s)
    for lang, size in zip(langs, sizes, strict=True):
        ax.annotate(lang, (size, 0), textcoords="offset points", xytext=(2, -12), fontsize="x-small")
    ax.axhline(0, color="grey", lw=0.8)
    if sizes.max() > 10 * sizes.min():  # log only when sizes span an order of magnitude; else ticks crowd
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel("training-corpus size (records)")
    ax.set_ylabel(f"Δ {metric_label(metric)} vs {report['baseline']}")
    ax.set_title("Gain vs corpus size")
    ax.legend(fontsize="small")
    return png_bytes(fig)

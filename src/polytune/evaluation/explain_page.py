"""Summaries and pages of `polytune explain` (torch-free): per language the words that push each class most, the
share of attribution mass on new vocabulary, highlighted records and attention heatmaps.

explain.json holds every record's word scores; explain.html is ONE self-contained file (inline CSS, heatmaps as
base64 PNG); both are written atomically, the HTML rendered before anything is written.

Example: summarize([{"pred": "law", "label": "law", "delta": 0.0, "logit_diff": 1.0,
    "words": [{"word": "Moses", "score": 0.9, "pieces": 2, "new_pieces": 1, "mass": 0.9, "new_mass": 0.5}]}],
    ["law"], 5)["top_words"]["law"][0]["word"] -> "moses"
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from polytune.evaluation.report.plots import figure, png_bytes
from polytune.io import atomic_path, manifest, write_json

# Punctuation stripped from a word before it is counted: "Moses," and "Moses" are one word in the summary.
_PUNCT = "\"'.,;:!?()[]{}«»“”‘’„-—–…·،؛؟"


def word_key(word: str) -> str:
    """The word as the summary counts it: lowercased, surrounding punctuation removed. Example: "Mose," -> "mose"."""
    return word.strip(_PUNCT).lower() or word.lower()


def _top_words(records: list[dict[str, Any]], labels: list[str], top_k: int) -> dict[str, list[dict[str, Any]]]:
    """Per predicted class, the words with the largest summed attribution towards it over the records."""
    totals: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label in labels}
    for record in records:
        for word in record["words"]:
            totals[record["pred"]][word_key(word["word"])].append(word["score"])
    out = {}
    for label, words in totals.items():
        ranked = sorted(words.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        out[label] = [{"word": w, "total": sum(s), "mean": sum(s) / len(s), "count": len(s)}
                      for w, s in ranked[:top_k] if sum(s) > 0]  # fmt: skip
    return out


def summarize(records: list[dict[str, Any]], labels: list[str], top_k: int) -> dict[str, Any]:
    """One language's summary: top words per class, new-vocabulary share of |attribution|, IG convergence.

    Args:
        records: the record entries (words with score, pieces, new_pieces, mass, new_mass; pred, label, delta).
        labels: the class names.
        top_k: words kept per class.

    Returns:
        {"records", "accuracy" (None without gold labels), "top_words", "new_vocab_share", "new_piece_share",
        "pieces_per_word", "mean_abs_delta", "max_rel_delta"}.
    """
    words = [w for r in records for w in r["words"]]
    mass = sum(w["mass"] for w in words)
    pieces = sum(w["pieces"] for w in words)
    gold = [r for r in records if r.get("label") is not None]
    rel = [abs(r["delta"]) / max(abs(r["logit_diff"]), 1e-6) for r in records]
    return {
        "records": len(records),
        "predicted": {label: sum(r["pred"] == label for r in records) for label in labels},
        "accuracy": 100.0 * sum(r["pred"] == r["label"] for r in gold) / len(gold) if gold else None,
        "top_words": _top_words(records, labels, top_k),
        "new_vocab_share": sum(w["new_mass"] for w in words) / mass if mass else 0.0,
        "new_piece_share": sum(w["new_pieces"] for w in words) / pieces if pieces else 0.0,
        "pieces_per_word": pieces / len(words) if words else 0.0,
        "mean_abs_delta": sum(abs(r["delta"]) for r in records) / len(records) if records else 0.0,
        "max_rel_delta": max(rel, default=0.0),
    }


def rounded(value: Any, digits: int = 6) -> Any:
    """`value` with every float rounded to `digits` significant digits: the JSON's bytes do not hang on the last
    bits of a float sum. Example: rounded({"a": [1.23456789]}) -> {"a": [1.23457]}"""
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return value
        return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


def heatmap_png(tokens: list[str], grid: list[list[float]], title: str) -> bytes:
    """An attention map as a PNG heatmap, rows (queries) over columns (keys), tokens on both axes."""
    size = max(3.0, 0.22 * len(tokens) + 1.5)
    fig, ax = figure(size + 1.0, size)
    image = ax.imshow(grid, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return png_bytes(fig)


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>polytune explanations</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:0.5em 0;font-size:0.85em}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}td.num{text-align:right}p.rec{line-height:1.9;margin:0.3em 0}
span.w{padding:1px 2px;border-radius:3px}.classes{display:flex;flex-wrap:wrap;gap:1em}
img{max-width:100%;display:block;margin:0.5em 0}code{font-size:0.85em}
</style></head><body>
<h1>Explanations</h1>
<p>Integrated Gradients ({{ s.n_steps }} steps, baseline: {{ s.baseline }} ids, special tokens kept) on the
word-embedding layer, towards the predicted class, summed over the pieces of each word. Green words push the
prediction, red ones pull against it. New vocabulary: piece ids at or above the base vocabulary size; its share is of
the absolute attribution mass. Attention: {{ attention }}.</p>
{% for sec in sections %}
<h2>{{ sec.system }} / {{ sec.lang }}</h2>
<p>{{ sec.sum.records }} records{% if sec.sum.accuracy is not none %}, accuracy {{ "%.1f"|format(sec.sum.accuracy)
}}%{% endif %}; attribution mass on new vocabulary {{ "%.1f"|format(100 * sec.sum.new_vocab_share) }}% (new pieces
{{ "%.1f"|format(100 * sec.sum.new_piece_share) }}% of pieces, {{ "%.2f"|format(sec.sum.pieces_per_word) }} pieces per
word); mean |IG convergence delta| {{ "%.2g"|format(sec.sum.mean_abs_delta) }}.</p>
<div class="classes">{% for label, words in sec.sum.top_words.items() %}{% if words %}
<table><tr><th colspan="3">pushes {{ label }}</th></tr><tr><th>word</th><th>total</th><th>n</th></tr>
{% for w in words %}<tr><td>{{ w.word }}</td><td class="num">{{ "%.3f"|format(w.total) }}</td>
<td class="num">{{ w.count }}</td></tr>{% endfor %}</table>{% endif %}{% endfor %}</div>
{% for r in sec.shown %}<p class="rec"><code>{{ r.id }}</code> pred <b>{{ r.pred }}</b>{% if r.label is not none
%} (gold {{ r.label }}){% endif %}: {% for w in r.words %}<span class="w" style="background:{{ w.color }}"
title="{{ "%.4f"|format(w.score) }} ({{ w.tokens|join(' ') }})">{{ w.word }}</span> {% endfor %}</p>{% endfor %}
{% for m in sec.maps %}<img alt="attention of {{ m.id }}" src="data:image/png;base64,{{ m.png }}">{% endfor %}
{% endfor %}
</body></html>
"""


def _color(score: float, scale: float) -> str:
    """Green for a push towards the predicted class, red against it; the alpha grows with |score| / scale."""
    alpha = 0.0 if scale <= 0 else min(1.0, abs(score) / scale)
    rgb = "40,160,60" if score >= 0 else "210,50,50"
    return f"rgba({rgb},{alpha:.2f})"


def _section(system: str, lang: str, one: dict[str, Any], show: int, what: str) -> dict[str, Any]:
    shown = []
    for record in one["records"][:show]:
        scale = max((abs(w["score"]) for w in record["words"]), default=0.0)
        words = [{**w, "color": _color(w["score"], scale)} for w in record["words"]]
        shown.append({**record, "words": words})
    maps = [{"id": rid, "png": base64.b64encode(heatmap_png(m["tokens"], m["map"], f"{system} / {lang} / {rid}: "
                                                            f"{what}")).decode("ascii")}
            for rid, m in sorted(one["attention"].items())]  # fmt: skip
    return {"system": system, "lang": lang, "sum": one["summary"], "shown": shown, "maps": maps}


def attention_label(settings: dict[str, Any]) -> str:
    """How the maps were made. Example: {"rollout": False, "layer": 2, "head": None} -> "layer 2, mean of heads"."""
    if settings.get("rollout"):
        return "rollout over all layers"
    layer = "last layer" if settings.get("layer") is None else f"layer {settings['layer']}"
    head = "mean of heads" if settings.get("head") is None else f"head {settings['head']}"
    return f"{layer}, {head}"


def render_page(explanation: dict[str, Any], show: int = 20) -> str:
    """The HTML page of an explanation (explain.json's content)."""
    import jinja2

    what = attention_label(explanation["settings"])
    sections = [_section(system, lang, one, show, what)
                for system, langs in explanation["results"].items() for lang, one in langs.items()]  # fmt: skip
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(TEMPLATE).render(s=explanation["settings"], sections=sections, attention=what)


def write_outputs(out: Path, explanation: dict[str, Any], cfg: Any, inputs: list[Path], show: int = 20) -> None:
    """explain.json, explain.html and manifest.json in `out`, each atomically; the page is rendered first, so a
    failure leaves the previous outputs as they were."""
    explanation = rounded(explanation)
    page = render_page(explanation, show)
    write_json(out / "explain.json", explanation)
    with atomic_path(out / "explain.html") as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    counts = {f"{s}/{lang}": one["summary"]["records"] for s, langs in explanation["results"].items()
              for lang, one in langs.items()}  # fmt: skip
    write_json(out / "manifest.json", manifest("explain", cfg, inputs=inputs, counts=counts,
                                               settings=explanation["settings"]))  # fmt: skip

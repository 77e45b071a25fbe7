"""The probe tables of a report (bitext retrieval, intrinsic LM loss) and its ceiling table (zero-shot scores as a
share of the source language's own), shared by report.md and report.html.

One table per retrieval measure (acc@1 and acc@10, target→source and source→target) and one for the LM loss; a row
per language and the macro average, each system's score with its CI, then each system's Δ vs the baseline. `lead`:
how many leading cells a row has before the systems' scores (report.html puts each Δ under its score).

Example: [t["title"] for t in probe_tables(report)] -> ["Retrieval acc@1, target → eng_Latn", ...]
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.report.cells import delta_cell, metric_label, score_cell

DIRECTION_LABELS = {"t2s": "target → {src}", "s2t": "{src} → target"}


def _cell(text: str, delta: dict[str, Any] | None = None, lower_is_better: bool = False) -> dict[str, Any]:
    """A cell's text, with the Δ's p-value and whether it moved the better way (HTML highlights p < 0.05)."""
    if delta is None:
        return {"text": text, "p_value": None, "better": None}
    better = delta["delta"] < 0 if lower_is_better else delta["delta"] > 0
    return {"text": text, "p_value": delta["p_value"], "better": better}


def loss_delta_cell(entry: dict[str, Any]) -> str:
    """Example: {"delta": -0.05, "ci": [-0.09, -0.01], "p_value": 0.02} -> "-0.050 [-0.090, -0.010] (p=0.020)"."""
    low, high = entry["ci"]
    return f"{entry['delta']:+.3f} [{low:+.3f}, {high:+.3f}] (p={entry['p_value']:.3f})"


def _rows(section: dict[str, Any], systems: list[str], measure: str, first, score, lower: bool = False) -> list:
    """Rows of one table: languages then the average; `first` gives the leading cells, `score` a score cell."""
    tables = [*section["results"].items(), ("**average**", section["average"])]
    fmt = loss_delta_cell if lower else delta_cell
    rows = []
    for lang, t in tables:
        cells = [_cell(c) for c in first(lang, t)]
        cells += [_cell(score(t["scores"][s])) for s in systems]
        cells += [_cell(fmt(t["deltas"][s][measure]), t["deltas"][s][measure], lower) for s in systems[1:]]
        rows.append({"cells": cells, "average": lang == "**average**"})
    return rows


def retrieval_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One table per retrieval measure (t2s@1, t2s@10, s2t@1, s2t@10)."""
    section, systems = report["retrieval"], report["systems"]
    src = section["source_lang"]
    note = (
        f"Bitext retrieval against {src} (records with the same id): cosine similarity of mean-pooled hidden states "
        f"of layer {section['layer']} of {section['n_layers']} ({section['layer_setting']}); {src} is "
        "encoded by the base, targets by each system. Accuracy in % over the pairs, CIs from bootstrap over queries; "
        "skipped: target records without a counterpart."
    )
    out = []
    for measure in section["measures"]:
        direction, k = measure.split("@")

        def first(lang: str, t: dict[str, Any]) -> list[str]:
            return [lang, str(t["n"]), str(t.get("skipped", sum(r["skipped"] for r in section["results"].values())))]

        def score(entry: dict[str, Any], m: str = measure) -> str:
            return score_cell(entry[m])

        out.append({
            "title": f"Retrieval acc@{k}, {DIRECTION_LABELS[direction].format(src=src)}",
            "note": note if not out else "",
            "header": ["language", "pairs", "skipped", *(f"{s} acc@{k}" for s in systems),
                       *(f"{s} Δ acc@{k}" for s in systems[1:])],
            "rows": _rows(section, systems, measure, first, score),
            "left": 1,
            "lead": 3,
        })  # fmt: skip
    return out


def intrinsic_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The LM-loss table: loss per predicted token with its CI and perplexity, Δ loss (lower is better)."""
    section, systems = report["intrinsic"], report["systems"]
    how = (f"masked LM, {round(100 * section['mask_probability'])}% of tokens masked by a seeded mask"
           if section["objective"] == "mlm" else "next-token prediction")  # fmt: skip
    note = (
        f"Held-out LM loss in {section['unit']} ({how}), CIs from bootstrap over records; ppl = exp(loss). Lower is "
        "better. Systems on different vocabularies predict different tokens: compare their losses with care."
    )

    def first(lang: str, t: dict[str, Any]) -> list[str]:
        return [lang, str(t["n"])]

    def score(entry: dict[str, Any]) -> str:
        low, high = entry["loss"]["ci"]
        return f"{entry['loss']['score']:.3f} [{low:.3f}, {high:.3f}] ppl {entry['perplexity']['score']:.1f}"

    tables = []
    if "bpb" in section.get("measures", []):
        tables.append({
            "title": "Intrinsic: bits per byte",
            "note": ("Held-out bits per UTF-8 byte of text (next-token NLL summed over every token of a record, after "
                     "a start token, / ln 2 / bytes), CIs from bootstrap over records, Δ paired. Lower is better; "
                     "unlike loss per token it compares a base with an extended tokenizer. The source language's "
                     "row measures forgetting."),
            "header": ["language", "records", *(f"{s} BPB" for s in systems), *(f"{s} Δ BPB" for s in systems[1:])],
            "rows": _rows(section, systems, "bpb", first, lambda e: _interval(e["bpb"]), lower=True),
            "left": 1,
            "lead": 2,
        })  # fmt: skip
    return tables + [{
        "title": "Intrinsic: LM loss",
        "note": note,
        "header": ["language", "records", *(f"{s} loss" for s in systems), *(f"{s} Δ loss" for s in systems[1:])],
        "rows": _rows(section, systems, "loss", first, score, lower=True),
        "left": 1,
        "lead": 2,
    }]  # fmt: skip


def _interval(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{entry['score']:.3f} [{low:.3f}, {high:.3f}]"


def ceiling_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each system's zero-shot score as a share of the ceiling (the task adapter on the source language's own test
    split), per metric and language; [] when the report has no ceiling."""
    ceiling = (report.get("extra") or {}).get("ceiling")
    if not ceiling or not report["metrics"]:
        return []
    metrics = [m for m in report["metrics"] if m in ceiling["scores"]]
    systems, src = report["systems"], ceiling["lang"]
    note = (f"The ceiling: the task adapter alone on {src}'s own {ceiling['split']} split ({ceiling['n']} records): "
            + "; ".join(f"{metric_label(m)} {score_cell(ceiling['scores'][m])}" for m in metrics)
            + f". Cells: a system's score on the target language / the {src} score (1.00 = as good as in {src}).")
    rows = []
    for lang, result in [*report["results"].items(), ("**average**", report["average"])]:
        cells = [_cell(lang)]
        for m in metrics:
            top = ceiling["scores"][m]["score"]
            cells += [_cell(f"{result['scores'][s][m]['score'] / top:.2f}" if top else "—") for s in systems]
        rows.append({"cells": cells, "average": lang == "**average**"})
    return [{
        "title": f"Zero-shot / {src} ceiling",
        "note": note,
        "header": ["language", *(f"{s} {metric_label(m)}" for m in metrics for s in systems)],
        "rows": rows,
        "left": 1,
    }]  # fmt: skip


def probe_tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every probe table of the report, then the ceiling table ([] when there is neither)."""
    tables = retrieval_tables(report) if "retrieval" in report else []
    return tables + (intrinsic_tables(report) if "intrinsic" in report else []) + ceiling_table(report)

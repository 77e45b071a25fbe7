"""The per-language sections of report.html for classification: per gold class each system's F1 (precision,
recall and how often it predicted the class under it), and each system's confusion matrix as a shaded table.

Reads report.json's `per_class` (per_class.py); nothing for other tasks.

Example: [s["key"] for s in per_class_sections(report)] -> ["ara_Arab", "nya_Latn"]
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.report.summary import lang_label
from polytune.evaluation.report.tables import cell, system_table


def _class_table(entry: dict[str, Any], systems: list[str], baseline: str) -> dict[str, Any]:
    rows = []
    for i, (name, support) in enumerate(zip(entry["classes"], entry["support"], strict=True)):
        per = []
        for s in systems:
            x = entry["systems"][s]
            sub = f"P {x['precision'][i]:.1f} · R {x['recall'][i]:.1f} · predicted {x['predicted'][i]}"
            per.append((f"F1 {x['f1'][i]:.1f}", sub, ""))
        rows.append({"lead": [cell(f"{i + 1} {name}", num=False), cell(str(support))], "systems": per, "cls": ""})
    return system_table(["gold class", "n"], rows, systems, baseline)


def matrix(entry: dict[str, Any], system: str) -> dict[str, Any] | None:
    """One system's confusion matrix as template rows (shade: the cell's share of its gold row)."""
    counts = entry["systems"][system]["confusion"]
    if counts is None:
        return None
    classes = entry["classes"]
    rows = []
    for i, row in enumerate(counts):
        total = sum(row) or 1
        cells = [{"text": str(c), "alpha": f"{0.75 * c / total:.2f}", "cls": "diag" if i == j else ""}
                 for j, c in enumerate(row)]  # fmt: skip
        rows.append({"label": f"{i + 1} {classes[i]}", "cells": cells})
    columns = [{"text": str(j + 1), "title": str(c)} for j, c in enumerate(classes)]
    return {"system": system, "columns": columns, "rows": rows}


def per_class_sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per language with per-class scores: its label, per-class table and confusion matrices."""
    systems, out = report["systems"], []
    for lang, entry in (report.get("per_class") or {}).items():
        matrices = [m for m in (matrix(entry, s) for s in systems) if m is not None]
        note = "" if matrices else f"{len(entry['classes'])} classes: confusion matrices left out (too many to read)"
        out.append({"key": lang, "label": lang_label(lang), "table": _class_table(entry, systems,
                    report["baseline"]), "matrices": matrices, "matrix_note": note})  # fmt: skip
    return out

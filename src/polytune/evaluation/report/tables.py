"""Table cells and the system-table layout report.html uses: a system's Δ under its score in one cell, and beyond
WIDE_MAX systems one row per system, so no table needs a sideways scroll on a 1366 px screen.

Example: system_table(["language"], [{"lead": [cell("nya_Latn")], "systems": [("50.0", None, "")], "cls": ""}],
["a"], "a")["header"] -> ["language", "a (baseline)"]
"""

from __future__ import annotations

from typing import Any

from polytune.evaluation.report.cells import DASH

WIDE_MAX = 5  # systems side by side at most; more: one row per system (a 1366 px screen holds about five)


def cell(text: str, sub: str | None = None, cls: str = "", num: bool | None = None, **extra: Any) -> dict[str, Any]:
    """A table cell: its text (markdown's ** dropped), a second smaller line, CSS classes; `num` (default: the text
    starts like a number) right-aligns it."""
    numeric = (text[:1].isdigit() or text[:1] in "+-−") if num is None else num
    text = text.replace("**", "")
    return {"text": text, "sub": sub, "cls": (cls + " num" if numeric else cls).strip(), **extra}


def sig_class(p_value: float | None, better: bool | None) -> str:
    """Highlight of a Δ: sig (p < 0.05, the better way), signeg (the worse way), else none."""
    if p_value is None or p_value >= 0.05:
        return ""
    return "sig" if better else "signeg"


def system_table(lead_header: list[str], rows: list[dict[str, Any]], systems: list[str], baseline: str) -> dict:
    """A table with the systems side by side (score, Δ under it) or, beyond WIDE_MAX systems, one row per system.

    Args:
        lead_header: names of the leading columns (language, n, ...).
        rows: [{"lead": [cells], "systems": [(score text, Δ text or None, css class)], "cls": row class}].
        systems: system names, baseline first.
        baseline: the baseline's name (its column says so).
    """
    if len(systems) <= WIDE_MAX:
        header = lead_header + [f"{s} (baseline)" if s == baseline else s for s in systems]
        out = [{"cls": r["cls"], "cells": r["lead"] + [cell(t, d, c) for t, d, c in r["systems"]]} for r in rows]
        return {"header": header, "rows": out}
    out = []
    for r in rows:
        for i, (s, (t, d, c)) in enumerate(zip(systems, r["systems"], strict=True)):
            lead = [{**x, "rowspan": len(systems)} for x in r["lead"]] if i == 0 else []
            out.append({"cls": r["cls"], "cells": lead + [cell(s), cell(t), cell(d or DASH, cls=c)]})
    return {"header": lead_header + ["system", "score", f"Δ vs {baseline}"], "rows": out}

"""Prediction files from right/wrong marks, for report tests that need known accuracies."""

from __future__ import annotations

import json
from pathlib import Path

GOLD = ["law", "history", "wisdom"]


def write_marked(root: Path, marks: dict[str, dict[str, str]], wrong: str = "other") -> Path:
    """`root/<system>/<lang>.jsonl` for {system: {lang: "1101..."}}: example i has label GOLD[i % 3], and the
    system predicts it where the mark is "1", else `wrong`."""
    for system, per_lang in marks.items():
        (root / system).mkdir(parents=True, exist_ok=True)
        for lang, m in per_lang.items():
            rows = [{"id": str(i), "label": GOLD[i % 3], "pred": GOLD[i % 3] if c == "1" else wrong}
                    for i, c in enumerate(m)]  # fmt: skip
            (root / system / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return root

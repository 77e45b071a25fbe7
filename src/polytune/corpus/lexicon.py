"""Word lists for augmentation: synonym lexicons and bilingual dictionaries, as TSV or TEI (FreeDict).

TSV: one entry per line, `word<TAB>alternative[<TAB>alternative...]`; `#` starts a comment line.
TEI: `<entry><form><orth>word</orth></form><sense><cit type="trans"><quote>translation</quote></cit></sense>
</entry>`, the format of FreeDict dictionaries (Debian's freedict-* packages ship them as .tei files).
Keys are lowercased; several entries for one word are merged, in file order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from polytune.errors import InputError

TEI_SUFFIXES = (".tei", ".xml")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # TEI files use the namespace http://www.tei-c.org/ns/1.0


def _add(table: dict[str, list[str]], word: str, alternatives: list[str]) -> None:
    key = word.strip().lower()
    new = [a.strip() for a in alternatives if a.strip() and a.strip().lower() != key]
    if key and new:
        known = table.setdefault(key, [])
        known.extend(a for a in new if a not in known)


def _read_tsv(path: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 at byte {exc.start}; re-encode the lexicon as UTF-8") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) < 2:
            raise InputError(f"{path}:{n}: expected word<TAB>alternative, got {line[:60]!r}")
        _add(table, cells[0], cells[1:])
    return table


def _read_tei(path: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    try:
        # iterparse keeps memory flat on full FreeDict files (tens of MB); expat refuses entity-expansion bombs.
        for _, element in ET.iterparse(path, events=("end",)):
            if _local(element.tag) != "entry":
                continue
            orths = [e.text or "" for e in element.iter() if _local(e.tag) == "orth"]
            quotes = [
                q.text or ""
                for cit in element.iter()
                if _local(cit.tag) == "cit" and cit.get("type") in ("trans", "translation", None)
                for q in cit.iter()
                if _local(q.tag) == "quote"
            ]
            for orth in orths:
                _add(table, orth, quotes)
            element.clear()
    except ET.ParseError as exc:
        raise InputError(f"{path}: malformed TEI/XML ({exc}); give a FreeDict .tei file or a TSV") from exc
    return table


def load_lexicon(path: str | Path) -> dict[str, list[str]]:
    """Word -> alternatives (synonyms or translations) from a TSV or TEI file.

    Example: a TSV line "big\\tlarge\\thuge" -> {"big": ["large", "huge"]}

    Raises:
        InputError: the file is missing, unreadable, malformed, or holds no entry.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"lexicon not found: {path} (give a TSV word<TAB>alternative file or a TEI dictionary)")
    table = _read_tei(path) if path.suffix.lower() in TEI_SUFFIXES else _read_tsv(path)
    if not table:
        raise InputError(f"{path}: no entries (TSV: word<TAB>alternative; TEI: <entry> with <orth> and <quote>)")
    return table

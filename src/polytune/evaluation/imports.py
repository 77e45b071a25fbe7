"""Score outputs polytune did not make: references and hypotheses as TSV, JSONL or plain text, for several systems.

Formats, chosen by the file extension:
- `.tsv`: a header row naming the columns; `lang` and a text column (`text`, or `ref`/`label` for references and
  `hyp`/`pred` for hypotheses) are required, `id` is optional (default: the row's position within its language).
- `.jsonl`: objects with the same keys; a value may be a list of tags (NER).
- `.txt`: one segment per line (as sacrebleu reads them), all of the language given by `lang`.
They are converted into `<out>/predictions/<system>/<lang>.jsonl` (kept, so the report can be re-scored) and scored
like polytune's own predictions.

Example: score_files("refs.tsv", {"mt-a": "a.tsv", "mt-b": "b.tsv"}, "reports/mt", baseline="mt-a")
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polytune.errors import ConfigError, InputError
from polytune.evaluation.loading import SYSTEM_RE
from polytune.io import write_jsonl
from polytune.langcodes import normalize

TEXT_KEYS = {"ref": ("text", "ref", "label"), "hyp": ("text", "hyp", "pred")}


def _rows(path: Path, lang: str | None) -> list[dict[str, Any]]:
    """Raw rows of a .tsv/.jsonl/.txt file (a .txt file becomes rows {"lang", "text"})."""
    if not path.is_file():
        raise InputError(f"file not found: {path}; give a .tsv, .jsonl or .txt file of segments")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".txt":
        if not lang:
            raise ConfigError(f"{path}: a .txt file has no language column; pass its language (--lang)")
        return [{"lang": lang, "text": line} for line in text.split("\n")[: -1 if text.endswith("\n") else None]]
    if path.suffix == ".tsv":
        reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
        return [dict(r, **({"lang": lang} if lang and not r.get("lang") else {})) for r in reader]
    if path.suffix == ".jsonl":
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: malformed JSON line ({exc.msg}); one object per line") from exc
        return [dict(r, **({"lang": lang} if lang and "lang" not in r else {})) for r in rows]
    raise InputError(f"{path}: unknown extension {path.suffix!r}; use .tsv, .jsonl or .txt")


def read_segments(path: str | Path, role: str, lang: str | None = None) -> dict[str, dict[str, Any]]:
    """lang key -> {id: text (or tag list)} from one file.

    Args:
        path: a .tsv, .jsonl or .txt file.
        role: "ref" or "hyp" (which column names count as the text).
        lang: the language of rows without a `lang` field (required for .txt).

    Raises:
        InputError: a row lacks a language or text, or repeats an id.
    """
    path = Path(path)
    out: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(_rows(path, lang), 1):
        key = next((k for k in TEXT_KEYS[role] if k in row and row[k] is not None), None)
        if key is None or not row.get("lang"):
            raise InputError(f"{path} row {n}: needs 'lang' and one of {', '.join(TEXT_KEYS[role])}; add the column")
        seg = out.setdefault(normalize(str(row["lang"])), {})
        sid = str(row.get("id") or len(seg) + 1)
        if sid in seg:
            raise InputError(f"{path} row {n}: duplicate id {sid!r} for {row['lang']}; make ids unique per language")
        seg[sid] = row[key]
    return out


def import_texts(refs: str | Path, hyps: Mapping[str, str | Path], out: str | Path, lang: str | None = None) -> Path:
    """Write references and each system's hypotheses as `<out>/predictions/<system>/<lang>.jsonl`; return out.

    Raises:
        InputError: a system lacks hypotheses for a reference id, or a file is malformed.
        ConfigError: no systems, or a system name is not path-safe.
    """
    if not hyps:
        raise ConfigError("no hypotheses: give at least one system as --hyp NAME=FILE")
    gold = read_segments(refs, "ref", lang)
    tables = {}
    for system, path in hyps.items():  # every file is checked before anything is written
        if not SYSTEM_RE.match(system):
            raise ConfigError(f"system name {system!r}: use letters, digits, '-', '_' or '+'")
        tables[system] = _aligned(gold, read_segments(path, "hyp", lang), path)
    for system, rows_by_lang in tables.items():
        for key, rows in rows_by_lang.items():
            write_jsonl(Path(out) / "predictions" / system / f"{key}.jsonl", rows)
    return Path(out)


def _aligned(gold: dict[str, dict[str, Any]], pred: dict[str, dict[str, Any]], path: str | Path) -> dict[str, list]:
    """Rows (id, lang, label, pred) per language; refuses hypotheses missing for a reference or without one.

    Raises:
        InputError: a reference id has no hypothesis, or a hypothesis id (or language) has no reference (a file
            shifted by a line, or scored against the wrong references).
    """
    tables = {}
    for key, segs in gold.items():
        got = pred.get(key, {})
        missing = [i for i in segs if i not in got]
        if missing:
            raise InputError(f"{path}: no {key} hypothesis for id {missing[0]!r}; give one per reference")
        extra = [i for i in got if i not in segs]
        if extra:
            raise InputError(f"{path}: {len(got)} {key} hypotheses for {len(segs)} references (first without a "
                             f"reference: id {extra[0]!r}); give exactly one hypothesis per reference")
        tables[key] = [{"id": i, "lang": key, "label": segs[i], "pred": got[i]} for i in segs]
    unknown = sorted(set(pred) - set(gold))
    if unknown:
        raise InputError(f"{path}: hypotheses for {unknown[0]} but no references in that language; "
                         "give references for every language scored")
    return tables


def parse_hyp_specs(specs: list[str]) -> dict[str, str]:
    """`--hyp` values as {system: path}. Example: ["a=out.tsv", "b.tsv"] -> {"a": "out.tsv", "b": "b.tsv"}."""
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = (name, path) if sep else (Path(spec).stem, spec)
        if name in out:
            raise ConfigError(f"system {name!r} given twice in --hyp; name each system once")
        out[name] = path
    return out


def score_files(
    refs: str | Path, hyps: Mapping[str, str | Path], out: str | Path, lang: str | None = None, **report_options: Any
) -> dict[str, Any]:
    """Import references and hypotheses into `out`, then build the report there (options: see build_report)."""
    from polytune.evaluation.report import build_report

    return build_report(import_texts(refs, hyps, out, lang), out, **report_options)

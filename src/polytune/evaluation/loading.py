"""Read prediction files: `<root>/<system>/<lang>.jsonl`, lines {"id", "label", "pred"} (plus "lang" and more).

label/pred are strings (a class, or a reference and a hypothesis for generation), ints, or lists of strings (NER:
one IOB2/BIOES tag per token). Systems are aligned on ids; they must share the gold labels.
To score outputs from elsewhere, `imports.py` turns TSV/JSONL references and hypotheses into this layout.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polytune.errors import InputError, LanguageCodeError
from polytune.langcodes import normalize

SYSTEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+\-]*$")


def _value(value: Any, path: Path, n: int, field: str) -> Any:
    """A label/pred as str (ints too), a finite float (regression) or a list of str; anything else is an InputError
    naming the line."""
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return list(value)
    raise InputError(f"{path}:{n}: {field!r} must be a string or a list of strings (NER tags), got {value!r}")


def predictions_root(pred_dir: str | Path) -> Path:
    """The folder holding `<system>/<lang>.jsonl`: `pred_dir/predictions` when present, else `pred_dir`.

    Raises:
        InputError: the folder does not exist.
    """
    pred_dir = Path(pred_dir)
    if (pred_dir / "predictions").is_dir():
        return pred_dir / "predictions"
    if not pred_dir.is_dir():
        raise InputError(f"predictions folder not found: {pred_dir} (give the folder holding <system>/<lang>.jsonl)")
    return pred_dir


def _read_file(path: Path) -> dict[str, tuple[Any, Any]]:
    rows: dict[str, tuple[Any, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 at byte {exc.start}; re-encode the file as UTF-8") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: malformed JSON ({exc.msg}); fix or remove that line") from exc
        if not isinstance(row, dict) or not isinstance(row.get("id"), str | int):
            raise InputError(f"{path}:{n}: needs a string/int field 'id' and fields 'label' and 'pred'; fix that line")
        key = str(row["id"])
        if key in rows:
            raise InputError(f"{path}:{n}: duplicate id {key!r}; keep one prediction per example")
        rows[key] = (_value(row.get("label"), path, n, "label"), _value(row.get("pred"), path, n, "pred"))
    return rows


def _lang_key(path: Path) -> str:
    try:
        return normalize(path.name[: -len(".jsonl")])
    except LanguageCodeError as exc:
        raise InputError(f"{path}: file name is not a language; name it <lang>.jsonl, e.g. nya_Latn.jsonl") from exc


def load_predictions(root: Path, systems: Sequence[str] | None = None) -> dict[str, dict[str, Path]]:
    """Find prediction files: system -> language key -> file. Hidden entries and non-JSONL files are skipped.

    Raises:
        InputError: a system or file name is not path-safe, two files name one language, or nothing is found.
    """
    found: dict[str, dict[str, Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not SYSTEM_RE.match(folder.name):
            raise InputError(f"{folder}: system names are letters, digits, '-', '_' or '+'; rename the folder")
        if systems is not None and folder.name not in systems:
            continue
        files: dict[str, Path] = {}
        for path in sorted(folder.glob("*.jsonl")):
            if path.name.startswith("."):
                continue
            key = _lang_key(path)
            if key in files:
                raise InputError(f"{path} and {files[key]} are both {key}; keep one file per language")
            files[key] = path
        found[folder.name] = files
    missing = sorted(set(systems or ()) - set(found))
    if missing or not any(found.values()):
        what = f"no predictions for {', '.join(missing)}" if missing else "no <system>/<lang>.jsonl files"
        raise InputError(f"{what} under {root}; run `polytune eval` first or check the folder")
    return found


def natural_key(example_id: str) -> tuple:
    """Sort key that orders digit runs by value, so ids "1", "2", "10" (imported rows) keep their file order.

    The order matters beyond looks: sacrebleu's bootstrap draws segment positions, so its intervals equal
    `sacrebleu --confidence` on the files only in the files' order. The id itself breaks ties ("01" and "1").

    Example: natural_key("GEN.1.10") > natural_key("GEN.1.9")
    """
    parts = re.split(r"(\d+)", example_id)
    runs = tuple((text, int(number)) for text, number in zip(parts[::2], [*parts[1::2], "-1"], strict=True))
    return runs, example_id


def align(found: dict[str, dict[str, Path]], langs: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Language -> {"ids", "labels", "preds": {system: [...]}} with ids in natural order (`natural_key`), after
    checking systems agree."""
    systems = sorted(found)
    all_langs = sorted(set().union(*(found[s] for s in systems)))
    wanted = sorted({normalize(x) for x in langs}) if langs else all_langs
    aligned = {}
    for lang in wanted:
        lacking = [s for s in systems if lang not in found[s]]
        if lacking:
            raise InputError(f"no {lang}.jsonl for system(s) {', '.join(lacking)}; every system needs every language")
        rows = {s: _read_file(found[s][lang]) for s in systems}
        ref = systems[0]
        ids = sorted(rows[ref], key=natural_key)
        if not ids:
            raise InputError(f"{found[ref][lang]} is empty; predict at least one example")
        for s in systems[1:]:
            if set(rows[s]) != set(ids):
                diff = sorted(set(rows[s]) ^ set(ids))
                raise InputError(f"{lang}: systems {ref} and {s} differ in ids (e.g. {diff[0]!r}); score the same set")
            bad = next((i for i in ids if rows[s][i][0] != rows[ref][i][0]), None)
            if bad is not None:
                raise InputError(f"{lang}: systems {ref} and {s} disagree on the label of {bad!r}; use the same gold")
        labels = [rows[ref][i][0] for i in ids]
        aligned[lang] = {"ids": ids, "labels": labels, "preds": {s: [rows[s][i][1] for i in ids] for s in systems}}
    return aligned

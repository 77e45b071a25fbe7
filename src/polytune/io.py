"""Readers and writers shared by every stage: records (txt, jsonl[.gz], parquet), atomic writes, manifests.

A record is a dict with at least `id`, `text` and, once known, `lang` (an `xxx_Scrp` key). Sources add `split`
("train" | "dev" | "test") and task labels such as `genre`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from polytune import __version__
from polytune.errors import InputError

RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt", ".parquet")
_BOM = b"\xef\xbb\xbf"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in RECORD_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def record_files(path: str | Path) -> list[Path]:
    """The record files under `path` (a file, or a folder searched recursively), sorted for determinism.

    Folders named `rejected` and files or folders starting with `.` are skipped: they hold drops, temporary
    and work files, not data.

    Raises:
        InputError: the path does not exist or holds no record file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path} (check the path)")
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and _suffix(p) in RECORD_SUFFIXES
        and "rejected" not in p.relative_to(path).parts
        and not any(part.startswith(".") for part in p.relative_to(path).parts)  # temp and work folders
    )
    if not files:
        raise InputError(f"no .jsonl/.jsonl.gz/.txt/.parquet files under {path}")
    return files


def _open_text(path: Path):
    if _suffix(path) == ".jsonl.gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="strict", newline="")
    # utf-8-sig: a byte-order mark (Windows editors write one) is an encoding marker, not part of record 1.
    return open(path, encoding="utf-8-sig", errors="strict", newline="")


def iter_records(path: str | Path, text_field: str = "text") -> Iterator[dict[str, Any]]:
    """Yield records from a file or folder; txt lines become `{id: "FILE:LINE", text}`.

    Args:
        path: file or folder of .jsonl/.jsonl.gz/.txt/.parquet files.
        text_field: the JSON/parquet field holding the text; it is renamed to `text`.

    Raises:
        InputError: a file is not valid UTF-8, a JSONL line is malformed, or the text field is missing.
    """
    for file in record_files(path):
        yield from _iter_file(file, text_field)


def _iter_file(file: Path, text_field: str) -> Iterator[dict[str, Any]]:
    suffix = _suffix(file)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, row in enumerate(pq.read_table(file).to_pylist(), 1):
            yield _with_text(row, text_field, file, n)
        return
    try:
        with _open_text(file) as handle:
            for n, line in enumerate(handle, 1):
                line = line.rstrip("\r\n")
                if suffix == ".txt":
                    if line.strip():
                        yield {"id": f"{file.name}:{n}", "text": line}
                    continue
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{file}:{n}: malformed JSON ({exc.msg}); fix or remove that line") from exc
                yield _with_text(row, text_field, file, n)
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not valid UTF-8 at byte {exc.start}; re-encode the file as UTF-8") from exc


def _with_text(row: Any, text_field: str, file: Path, n: int) -> dict[str, Any]:
    if not isinstance(row, dict) or text_field not in row:
        raise InputError(f"{file}:{n}: no '{text_field}' field; set text_field to the field holding the text")
    if text_field != "text":
        row = dict(row)
        row["text"] = row.pop(text_field)
    row.setdefault("id", f"{file.name}:{n}")
    return row


def check_out_folder(path: str | Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder path that is a file or runs through one.

    Raises:
        InputError: `path` or one of its parents is an existing file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{flag} {path} is a file; give a folder path (a new one, or an output folder to replace)")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{flag} {path} runs through the file {parent}; give a folder path")


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on error removed.

    Works for files and folders alike, so a reader never sees a half-written artifact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent))
    target = tmp / "out"
    try:
        yield target
        if path.is_symlink() or path.is_dir():
            # Move the old folder (or a link, never its target) aside rather than deleting it first: a crash
            # between the two renames leaves the old output in the temp folder, not a moment with neither.
            os.replace(path, tmp / "old")
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_temps(path: Path) -> None:
    """Remove `.NAME.PID.*.tmp` folders left beside `path` by writers killed with SIGKILL (their PID is gone)."""
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Atomically write records as JSONL (UTF-8, one object per line); return how many were written."""
    count = 0
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    return count


def write_json(path: str | Path, data: Any) -> None:
    """Atomically write pretty, key-sorted JSON (stable bytes for the same data)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | Path, what: str = "file") -> Any:
    """Read a JSON file, or raise InputError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{what} not found: {path}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} is corrupt: {path} ({exc}); rebuild it") from exc


def file_hash(path: str | Path) -> str:
    """sha256 of a file, or of every file under a folder (names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def manifest(
    stage: str,
    config: Any,
    inputs: Iterable[str | Path] = (),
    counts: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest of an artifact: what made it, from which inputs (hashed), with which seed, and its counts.

    No timestamps: the same inputs, config and seed give the same bytes. `environment` holds the Python, platform
    and library versions of the run (devices are in `polytune doctor`; reading them would import torch here).
    """
    from dataclasses import asdict, is_dataclass

    from polytune.environment import environment

    cfg = asdict(config) if is_dataclass(config) else dict(config or {})
    return {
        "stage": stage,
        "polytune_version": __version__,
        "command": " ".join(["polytune", *sys.argv[1:]]) if sys.argv and "polytune" in sys.argv[0] else None,
        "config": json.loads(json.dumps(cfg, default=str)),
        "seed": cfg.get("seed"),
        "inputs": {str(p): file_hash(p) for p in inputs if Path(p).exists()},
        "counts": counts or {},
        "environment": environment(),
        **extra,
    }


@dataclasses.dataclass(frozen=True)
class BadLine:
    """A line of a record file that is not a record: where it is, why, and its (lossily decoded) content."""

    file: str
    line: int
    reason: str  # invalid_utf8 | malformed_json | no_text
    detail: str
    raw: str


def iter_records_lenient(path: str | Path, text_field: str = "text") -> Iterator[dict[str, Any] | BadLine]:
    """Like iter_records, but a bad line becomes a BadLine item instead of an error, so a filter can count it.

    Lines are split on "\\n" only (bytes are decoded per line, so one bad byte costs one line, not the file).
    Blank lines are not records and are skipped, as in iter_records.

    Example: a file holding b'{"text": "a"}\\n\\xff\\n' yields {"text": "a", "id": ...}, then
    BadLine(reason="invalid_utf8", ...).

    Args:
        path: file or folder of .jsonl/.jsonl.gz/.txt/.parquet files.
        text_field: the JSON/parquet field holding the text; it is renamed to `text`.

    Raises:
        InputError: the path holds no record file, or a whole file is unreadable (corrupt gzip or parquet).
    """
    for file in record_files(path):
        try:
            if _suffix(file) == ".parquet":
                import pyarrow.parquet as pq

                rows = pq.read_table(file).to_pylist()
                for n, row in enumerate(rows, 1):
                    yield _lenient_row(row, text_field, file, n, json.dumps(row, ensure_ascii=False, default=str))
                continue
            opener = gzip.open if _suffix(file) == ".jsonl.gz" else open
            with opener(file, "rb") as handle:
                for n, data in enumerate(handle, 1):
                    if n == 1 and data.startswith(_BOM):  # an encoding marker, not part of record 1
                        data = data[len(_BOM) :]
                    yield from _lenient_line(data.rstrip(b"\r\n"), text_field, file, n)
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(f"{file}: unreadable ({exc}); repair or remove the file") from exc


def _lenient_line(data: bytes, text_field: str, file: Path, n: int) -> Iterator[dict[str, Any] | BadLine]:
    try:
        line = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raw = data.decode("utf-8", errors="replace")
        yield BadLine(str(file), n, "invalid_utf8", f"{file}:{n}: not valid UTF-8 at byte {exc.start}", raw)
        return
    if not line.strip():
        return
    if _suffix(file) == ".txt":
        yield {"id": f"{file.name}:{n}", "text": line}
        return
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", "nested too deeply")
        yield BadLine(str(file), n, "malformed_json", f"{file}:{n}: malformed JSON ({msg})", line)
        return
    yield _lenient_row(row, text_field, file, n, line)


def _lenient_row(row: Any, text_field: str, file: Path, n: int, raw: str) -> dict[str, Any] | BadLine:
    if not isinstance(row, dict) or text_field not in row:
        return BadLine(str(file), n, "no_text", f"{file}:{n}: no '{text_field}' field", raw)
    if not isinstance(row[text_field], str):
        kind = type(row[text_field]).__name__
        return BadLine(str(file), n, "no_text", f"{file}:{n}: '{text_field}' is {kind}, not a string", raw)
    return _with_text(row, text_field, file, n)

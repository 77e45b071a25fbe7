"""The corpus filter: normalize, length-filter, language-ID and dedup records into per-language shards plus rejects.

datatrove-style: a filter is a small object with a `name` and `filter(record) -> bool | (bool, reason[, detail])`;
filters that work better on many records at once (LID) override `filter_batch`. The driver streams records in
batches through the filters, and every record ends in exactly one place: `<out>/<lang>/part-00000.jsonl`, or
`<out>/rejected/<reason>.jsonl` with `reject_reason` and `detail`. So `input == kept + sum(rejected)`, always.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from polytune.config import FilterConfig
from polytune.corpus.langid import LidBackend, get_backend
from polytune.errors import InputError, LanguageCodeError
from polytune.io import BadLine, atomic_path, iter_records_lenient, manifest, record_files, write_json
from polytune.langcodes import normalize

log = logging.getLogger(__name__)

Verdict = bool | tuple[bool, str] | tuple[bool, str, str]
BATCH_SIZE = 512
# Control characters (C0/C1 except the whitespace ones, which are collapsed instead), lone surrogates (JSON
# "\ud800" escapes decode to them and cannot be written as UTF-8) and the byte-order mark.
_REASON_RE = re.compile(r"[^a-z0-9_]+")
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff]")


def normalize_text(text: str, form: str = "NFC") -> str:
    """Remove control characters, apply a Unicode normal form ("none": skip it) and collapse whitespace.

    Example: normalize_text(" e\\u0301\\x00t\\u00e9\\n ok ") -> "été ok"
    """
    text = _CONTROL_RE.sub("", text)
    if form != "none":
        text = unicodedata.normalize(form, text)
    return " ".join(text.split())


class BaseFilter:
    """A pipeline step: keep (True) or drop (False, or (False, reason) or (False, reason, detail)) a record.

    A step may also rewrite the record (normalizers do). A plain False is counted under the filter's name.
    """

    name = "filter"

    def filter(self, record: dict[str, Any]) -> Verdict:
        """Keep (True) or drop (False / (False, reason) / (False, reason, detail)) one record."""
        raise NotImplementedError

    def filter_batch(self, records: list[dict[str, Any]]) -> list[Verdict]:
        """Verdicts for many records at once; override when a batch is cheaper than one by one (models)."""
        return [self.filter(record) for record in records]


class TextNormalizer(BaseFilter):
    """Rewrites `text` with normalize_text; drops nothing."""

    name = "normalize"

    def __init__(self, form: str = "NFC") -> None:
        self.form = form

    def filter(self, record: dict[str, Any]) -> Verdict:
        record["text"] = normalize_text(record["text"], self.form)
        return True


class LengthFilter(BaseFilter):
    """Drops empty texts (`empty`), and texts shorter or longer than the limits (`too_short`, `too_long`)."""

    name = "length"

    def __init__(self, min_chars: int = 0, max_chars: int | None = None) -> None:
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, record: dict[str, Any]) -> Verdict:
        n = len(record["text"])
        if n == 0:
            return False, "empty", "no text after normalization"
        if n < self.min_chars:
            return False, "too_short", f"{n} < {self.min_chars} characters"
        if self.max_chars is not None and n > self.max_chars:
            return False, "too_long", f"{n} > {self.max_chars} characters"
        return True


class LanguageFilter(BaseFilter):
    """Language ID in batches; sets `lid_score`, and `lang` when the record has none.

    Reasons: `bad_lang` (the declared lang is not a language code), `lid_unknown` (the model's label is not a
    language), `lang_mismatch` (declared lang differs from LID), `lang_not_wanted` (outside `langs`),
    `low_lid_score` (top-1 probability below the threshold).
    """

    name = "language"

    def __init__(self, backend: LidBackend, langs: Iterable[str] = (), threshold: float = 0.5) -> None:
        self.backend, self.langs, self.threshold = backend, set(langs), threshold

    def filter_batch(self, records: list[dict[str, Any]]) -> list[Verdict]:
        predictions = self.backend.predict([r["text"] for r in records])
        return [self._judge(r, lang, score) for r, (lang, score) in zip(records, predictions, strict=True)]

    def _judge(self, record: dict[str, Any], lang: str | None, score: float) -> Verdict:
        record["lid_score"] = round(score, 4)
        declared = record.get("lang")
        if declared:
            try:
                declared = record["lang"] = normalize(str(declared))
            except LanguageCodeError as exc:
                return False, "bad_lang", str(exc)
        if lang is None:
            return False, "lid_unknown", "the LID model's label is not a language"
        if declared and declared != lang:
            record["lid_lang"] = lang
            return False, "lang_mismatch", f"declared {declared}, LID says {lang} ({score:.3f})"
        record["lang"] = lang
        if self.langs and lang not in self.langs:
            return False, "lang_not_wanted", f"{lang} is not in {sorted(self.langs)}"
        if score < self.threshold:
            return False, "low_lid_score", f"{lang} {score:.3f} < {self.threshold}"
        return True


class DedupFilter(BaseFilter):
    """Drops exact duplicates (`duplicate`) of an earlier text of the same language; keeps the first one."""

    name = "dedup"

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bytes], str] = {}

    def filter(self, record: dict[str, Any]) -> Verdict:
        # A 16-byte digest per text keeps memory flat however long the texts are.
        digest = hashlib.blake2b(record["text"].encode("utf-8"), digest_size=16).digest()
        key = (str(record.get("lang")), digest)
        if key in self._seen:
            return False, "duplicate", f"same text as {self._seen[key]}"
        self._seen[key] = str(record.get("id"))
        return True


def build_filters(cfg: FilterConfig) -> list[BaseFilter]:
    """The filter pipeline a config asks for, in order: normalize, length, language, dedup."""
    steps: list[BaseFilter] = [TextNormalizer(cfg.normalization), LengthFilter(cfg.min_chars, cfg.max_chars)]
    steps.append(LanguageFilter(get_backend(cfg.backend, cfg.model), cfg.langs, cfg.threshold))
    if cfg.dedup:
        steps.append(DedupFilter())
    return steps


class ShardWriter:
    """Lazily opened JSONL files inside the (temporary) output folder: kept shards and reject files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._handles: dict[Path, TextIO] = {}

    def write(self, relative: str, record: dict[str, Any]) -> None:
        """Append one record as a JSON line to `root/relative`."""
        path = self.root / relative
        handle = self._handles.get(path)
        if handle is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # A lone surrogate (legal in JSON input as "\ud800", not encodable as UTF-8) may survive in fields
            # other than text; backslashreplace writes it back as the same JSON escape.
            handle = self._handles[path] = open(path, "w", encoding="utf-8", errors="backslashreplace")
        handle.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()


def _batches(cfg: FilterConfig) -> Iterator[list[dict[str, Any] | BadLine]]:
    batch: list[dict[str, Any] | BadLine] = []
    for path in cfg.inputs:
        for item in iter_records_lenient(path, cfg.text_field):
            batch.append(item)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
    if batch:
        yield batch


def _bad_line_record(bad: BadLine) -> dict[str, Any]:
    return {"id": f"{Path(bad.file).name}:{bad.line}", "file": bad.file, "line": bad.line, "text": bad.raw}


class FilterRun:
    """Streams batches through the filters into a writer and counts every outcome."""

    def __init__(self, filters: list[BaseFilter], writer: ShardWriter) -> None:
        self.filters, self.writer = filters, writer
        self.input = 0
        self.rejected: Counter[str] = Counter()
        self.per_lang: Counter[str] = Counter()

    def reject(self, record: dict[str, Any], reason: str, detail: str) -> None:
        """Count a drop and write the record, with its reason and detail, to rejected/<reason>.jsonl."""
        reason = _REASON_RE.sub("_", reason.lower()).strip("_") or "rejected"  # a reason becomes a file name
        self.rejected[reason] += 1
        self.writer.write(f"rejected/{reason}.jsonl", {**record, "reject_reason": reason, "detail": detail})

    def process(self, batch: list[dict[str, Any] | BadLine]) -> None:
        """Run one batch through every filter; write survivors to their language's shard."""
        self.input += len(batch)
        survivors = []
        for item in batch:
            if isinstance(item, BadLine):
                self.reject(_bad_line_record(item), item.reason, item.detail)
            else:
                survivors.append(item)
        for step in self.filters:
            verdicts = step.filter_batch(survivors) if survivors else []
            kept = []
            for record, verdict in zip(survivors, verdicts, strict=True):
                ok, reason, detail = _unpack(verdict, step.name)
                if ok:
                    kept.append(record)
                else:
                    self.reject(record, reason, detail)
            survivors = kept
        for record in survivors:
            self.per_lang[record["lang"]] += 1
            self.writer.write(f"{record['lang']}/part-00000.jsonl", record)

    def stats(self) -> dict[str, Any]:
        """{input, kept, rejected: {reason: n}, per_lang: {lang: kept}}, keys sorted."""
        kept = sum(self.per_lang.values())
        return {
            "input": self.input,
            "kept": kept,
            "rejected": dict(sorted(self.rejected.items())),
            "per_lang": dict(sorted(self.per_lang.items())),
        }


def _unpack(verdict: Verdict, name: str) -> tuple[bool, str, str]:
    if isinstance(verdict, tuple):
        ok, reason, *rest = verdict
        return bool(ok), reason, rest[0] if rest else ""
    return bool(verdict), name, ""


def reconciliation(stats: dict[str, Any]) -> str:
    """One line that proves nothing was lost. Example: "input 5 = kept 3 + rejected 2 (duplicate: 1, empty: 1)"."""
    rejected = stats["rejected"]
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(rejected.items()))
    line = f"input {stats['input']} = kept {stats['kept']} + rejected {sum(rejected.values())}"
    return f"{line} ({reasons})" if reasons else line


def run_filter(cfg: FilterConfig) -> dict[str, Any]:
    """Filter records into `<out>/<lang>/part-00000.jsonl`, `<out>/rejected/<reason>.jsonl`, stats and manifest.

    The whole folder is written atomically: a reader sees the old output or the new one, never half of one.

    Args:
        cfg: the filter config.

    Returns:
        The stats: {input, kept, rejected: {reason: n}, per_lang: {lang: kept}}.

    Raises:
        InputError: an input is missing, unreadable, or holds no record at all.
        ModelError: the LID model is missing or corrupt.
    """
    for path in cfg.inputs:  # fail on a missing input before loading a model
        record_files(path)
    filters = build_filters(cfg)
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        writer = ShardWriter(tmp)
        run = FilterRun(filters, writer)
        try:
            for batch in _batches(cfg):
                run.process(batch)
        finally:
            writer.close()
        stats = run.stats()
        if stats["input"] == 0:
            raise InputError(f"no records in {', '.join(cfg.inputs)}: the files hold only blank lines")
        if stats["input"] != stats["kept"] + sum(stats["rejected"].values()):  # a bug, not bad input
            raise RuntimeError(f"filter lost records: {reconciliation(stats)}")
        write_json(tmp / "stats.json", stats)
        write_json(tmp / "manifest.json", manifest("filter", cfg, cfg.inputs, stats))
    if stats["kept"] == 0:
        log.warning("filter kept no record; see %s/rejected/ for the reasons", cfg.out)
    log.info(reconciliation(stats))
    return stats

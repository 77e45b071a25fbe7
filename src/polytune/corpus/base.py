"""The filter protocol shared by every corpus step (datatrove-shaped, on plain record dicts).

A filter has a `name` and `filter(record) -> bool | (bool, reason[, detail])`; filters that are cheaper on many
records at once (language ID) override `filter_batch`. A plain False is counted under the filter's name.
"""

from __future__ import annotations

import re
from typing import Any

Verdict = bool | tuple[bool, str] | tuple[bool, str, str]
_REASON_RE = re.compile(r"[^a-z0-9_]+")


class BaseFilter:
    """A step that keeps (True) or drops (False, or (False, reason) or (False, reason, detail)) a record.

    A step may also rewrite the record (normalizers do).
    """

    name = "filter"

    def filter(self, record: dict[str, Any]) -> Verdict:
        """Keep (True) or drop (False / (False, reason) / (False, reason, detail)) one record."""
        raise NotImplementedError

    def filter_batch(self, records: list[dict[str, Any]]) -> list[Verdict]:
        """Verdicts for many records at once; override when a batch is cheaper than one by one (models)."""
        return [self.filter(record) for record in records]


def unpack(verdict: Verdict, name: str) -> tuple[bool, str, str]:
    """(ok, reason, detail) of any verdict; the reason is made safe as a file name (it becomes one)."""
    if isinstance(verdict, tuple):
        ok, reason, *rest = verdict
        detail = rest[0] if rest else ""
    else:
        ok, reason, detail = bool(verdict), name, ""
    return bool(ok), safe_reason(reason), detail


def safe_reason(reason: str) -> str:
    """A reason as a file name. Example: safe_reason("../Bad Reason!") -> "bad_reason"."""
    return _REASON_RE.sub("_", str(reason).lower()).strip("_") or "rejected"

"""Summary log lines: a stage logs its summary once, marked, and a CLI command that prints it on stdout hides the mark.

`polytune run` prints no stage summary of its own, so there the marked lines are the summaries; `polytune filter`
prints its reconciliation line on stdout, and the same line logged at INFO on stderr would say it twice.

Example: log.info(reconciliation(stats), extra=SUMMARY)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

SUMMARY = {"polytune_summary": True}  # `extra=` of a log call whose line a CLI command also prints


class HideSummaries(logging.Filter):
    """Drops the log records marked with SUMMARY."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "polytune_summary", False)


@contextlib.contextmanager
def summaries_hidden(hide: bool = True) -> Iterator[None]:
    """Within the block, the root logger's handlers drop SUMMARY lines (no-op when `hide` is False)."""
    handlers = list(logging.getLogger().handlers) if hide else []
    marker = HideSummaries()
    for handler in handlers:
        handler.addFilter(marker)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(marker)

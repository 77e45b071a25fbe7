"""The report page as a person sees it: a demo-like report rendered by headless Chromium at 1366 px (a laptop).

Skipped where no `chromium` is on PATH (CI machines and `make test` do not install it; `apt-get install -y
chromium` does). `make report-shots` takes the same screenshots into runs/report-shots/.
"""

from __future__ import annotations

import struct

import pytest
from tools.report_shots import build_demo_like, chromium, measure, screenshot

pytestmark = pytest.mark.skipif(chromium() is None, reason="no chromium on PATH (apt-get install -y chromium)")


def test_the_summary_fits_the_first_screen_and_no_table_scrolls_sideways(tmp_path):
    report = build_demo_like(tmp_path / "demo", n_resamples=50)
    layout = measure(report / "report.html", 1366)
    assert layout["wide"] == []  # was: both accuracy and macro-F1 tables, 1360 px in a 1200 px column
    assert layout["page_width"] <= 1366
    assert layout["summary_bottom"] is not None and layout["summary_bottom"] < 900  # seen without scrolling
    png = screenshot(report / "report.html", tmp_path / "top.png", 1366, 900)
    width, height = struct.unpack(">II", png.read_bytes()[16:24])  # the PNG's IHDR
    assert (width, height) == (1366, 900)

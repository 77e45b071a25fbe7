"""Write the demos' result tables in README.md and docs/ from their committed report JSON (run from the repo root).

    .venv/bin/python tools/report_tables.py          # rewrite every marked block
    .venv/bin/python tools/report_tables.py --check  # exit 1 when a block differs from its JSON

A block is marked where it stands:

    <!-- report-table: KIND benchmarks/results/demo_report_2026-12-02.json -->
    ...generated...
    <!-- /report-table -->

KIND is `classification` (per language: fertility, accuracy / macro-F1 of every system, the last system's Δ
macro-F1 with its CI and p-value, zero-shot / source macro-F1 of each system; then the source-language ceiling),
`deltas` (Δ accuracy and Δ macro-F1 of every system against the baseline), `retrieval` (acc@1 both ways, acc@10,
and every system's Δ acc@1 against the baseline) or `translation` (a translation run's summary JSON: bits per byte
per target and on the source text, then chrF and BLEU per direction and the generation speed: the tables of the
run's own summary page).
A figure quoted from a demo is written here or not at all: a test keeps every block equal to what this script
writes from the JSON.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- report-table: (\w+) (\S+) -->\n)(.*?)(<!-- /report-table -->)", re.S)
NAMES = {"nya_Latn": "Chichewa", "ara_Arab": "Arabic", "vie_Latn": "Vietnamese", "eng_Latn": "English"}
SYSTEMS = {"task-only": "task-only", "lang-adapter": "+ language adapter", "vocab+lang-adapter": "+ vocabulary + LA"}


def files() -> list[Path]:
    """The Markdown files that may hold blocks: the README, the changelog and every docs page."""
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _signed(x: float, digits: int = 1) -> str:
    text = f"{abs(x):.{digits}f}"
    return ("−" if round(x, digits) < 0 else "+") + text


def _delta(d: dict, digits: int = 1) -> str:
    """Δ [low, high] (p=...), bold when the interval excludes zero. Example: **+9.6** [+8.0, +11.2] (p=0.001)."""
    low, high = d["ci"]
    value = _signed(d["delta"], digits)
    value = f"**{value}**" if low > 0 or high < 0 else value
    return f"{value} [{_signed(low, digits)}, {_signed(high, digits)}] (p={d['p_value']:.3f})"


def _lang(report: dict, lang: str) -> str:
    return f"{NAMES.get(lang, report['results'][lang].get('name') or lang)} `{lang}`"


def _rows(report: dict) -> list[tuple[str, dict]]:
    """(label, results) per language, then the average."""
    return [*((_lang(report, lang), report["results"][lang]) for lang in report["languages"]),
            ("**average**", report["average"])]  # fmt: skip


def classification(report: dict) -> str:
    systems, last = report["systems"], report["systems"][-1]
    ceiling = report["extra"]["ceiling"]
    source = NAMES.get(ceiling["lang"], ceiling["lang"])
    head = ["language", "fertility base → extended", *(f"{SYSTEMS.get(s, s)} acc / macro-F1" for s in systems),
            f"Δ macro-F1 ({SYSTEMS.get(last, last).lstrip('+ ')})",
            f"zero-shot / {source} macro-F1, per system"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, res in _rows(report):
        fert = res.get("fertility")
        cells = [label, f"{fert['base']:.2f} → {fert['extended']:.2f}" if fert else ""]
        cells += [f"{_num(res['scores'][s]['accuracy']['score'])} / {_num(res['scores'][s]['macro_f1']['score'])}"
                  for s in systems]  # fmt: skip
        cells.append(_delta(res["deltas"][last]["macro_f1"]))
        top = ceiling["scores"]["macro_f1"]["score"]
        cells.append(" / ".join(f"{res['scores'][s]['macro_f1']['score'] / top:.2f}" for s in systems))
        lines.append("| " + " | ".join(cells) + " |")
    acc, f1 = ceiling["scores"]["accuracy"], ceiling["scores"]["macro_f1"]
    lines += ["", f"{source} ceiling (the same task adapter on {ceiling['n']:,} {source} {ceiling['split']} records): "
              f"accuracy {_num(acc['score'])}% [{_num(acc['ci'][0])}, {_num(acc['ci'][1])}], macro-F1 "
              f"{_num(f1['score'])} [{_num(f1['ci'][0])}, {_num(f1['ci'][1])}]. Scores in %, 95% bootstrap "
              f"intervals, {report['results'][report['languages'][0]]['n']:,} test records per language; Δ against "
              f"{report['baseline']} with a paired {report['significance']} p-value."]  # fmt: skip
    return "\n".join(lines) + "\n"


def deltas(report: dict) -> str:
    others = [s for s in report["systems"] if s != report["baseline"]]
    head = ["language", *(f"Δ {m} ({SYSTEMS.get(s, s).lstrip('+ ')})" for s in others
                          for m in ("accuracy", "macro-F1"))]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, res in _rows(report):
        cells = [_delta(res["deltas"][s][m]) for s in others for m in ("accuracy", "macro_f1")]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines) + "\n"


def retrieval(report: dict) -> str:
    probe, systems = report["retrieval"], report["systems"]
    others = [s for s in systems if s != report["baseline"]]
    head = ["language", *(f"{SYSTEMS.get(s, s)} acc@1 t→s / s→t" for s in systems),
            *(f"Δ acc@1 t→s ({SYSTEMS.get(s, s).lstrip('+ ')})" for s in others),
            "acc@10 t→s, " + " / ".join(SYSTEMS.get(s, s).lstrip("+ ") for s in systems)]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, res in [*((_lang(report, lang), probe["results"][lang]) for lang in probe["results"]),
                       ("**average**", probe["average"])]:  # fmt: skip
        sc = res["scores"]
        cells = [f"{_num(sc[s]['t2s@1']['score'])} / {_num(sc[s]['s2t@1']['score'])}" for s in systems]
        cells += [_delta(res["deltas"][s]["t2s@1"]) for s in others]
        cells.append(" / ".join(_num(sc[s]["t2s@10"]["score"]) for s in systems))
        lines.append("| " + " | ".join([label, *cells]) + " |")
    lines += ["", f"Layer {probe['layer']} of {probe['n_layers']} (`{_layer_setting(probe['layer_setting'])}`), "
              f"{probe['pooling']} pooling; t→s: each target verse against the {probe['source_lang']} verses, s→t "
              "the other way; scores in %."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _layer_setting(setting) -> str:
    """The layer setting as a config line: reports before retrieval_depth held one number (a float was a share)."""
    if isinstance(setting, str):
        return setting.replace(" ", ": ", 1)
    return f"retrieval_depth: {setting}" if isinstance(setting, float) else f"retrieval_layer: {setting}"


def translation(report: dict) -> str:
    """The tables of a translation run's summary page (polytune.evaluation.report.translation), from its JSON."""
    from polytune.evaluation.report.translation import (
        DIRECTION_TITLES,
        bpb_rows,
        markdown_table,
        metric_rows,
        speed_rows,
    )

    source = report["source_lang"]
    bpb = markdown_table(*bpb_rows(report["probes"], source))
    lines = ["Bits per byte on held-out text (lower is better):", "", *bpb]
    order = list(DIRECTION_TITLES)  # writing first, then reading (the JSON's keys are sorted)
    for direction, result in sorted(report["directions"].items(), key=lambda item: order.index(item[0])):
        for metric, title in (("chrf", "chrF"), ("bleu", "BLEU")):
            lines += ["", f"{title}, {DIRECTION_TITLES[direction].format(source=source)}:", ""]
            lines += markdown_table(*metric_rows(result, metric))
    lines += ["", "95% bootstrap intervals; Δ against the first system, * where its interval excludes zero."]
    if report.get("generation"):  # reports before polytune measured generation speed have none
        lines += ["", "Generation speed (tokens written per verse in the system's own vocabulary; verses per second, "
                  "model loading excluded):", "", *markdown_table(*speed_rows(report["generation"]))]
    return "\n".join(lines) + "\n"


KINDS = {"classification": classification, "deltas": deltas, "retrieval": retrieval, "translation": translation}


def render(text: str) -> str:
    """The text with every marked block regenerated from its JSON."""

    def one(match: re.Match) -> str:
        kind, path = match[2], match[3]
        if kind not in KINDS:
            raise SystemExit(f"unknown report-table kind {kind!r} (known: {', '.join(KINDS)})")
        report = json.loads((ROOT / path).read_text(encoding="utf-8"))
        return match[1] + KINDS[kind](report) + match[5]

    return BLOCK.sub(one, text)


def main(argv: list[str]) -> int:
    stale = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        new = render(text)
        if new != text:
            stale.append(str(path.relative_to(ROOT)))
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if stale and "--check" in argv:
        print(f"stale: {', '.join(stale)}; run .venv/bin/python tools/report_tables.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

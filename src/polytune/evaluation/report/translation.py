"""The summary of a translation run (`polytune run` with `translation:`): one page that answers "did it help, where,
by how much" from the run's reports, before their details.

Per target language (key and name): bits per byte of the base and of each language-adapter system (Δ with its CI)
on the target's text, and on the source language's text through the same adapters (forgetting, also as a relative
change); per direction, chrF of every system (Δ vs the baseline with its CI and p-value), BLEU and chrF++ beside it;
then the warnings of the direction reports (identical systems, tiny test sets) and the setup (base model,
statistics); last, the generation speed per direction, language and system (tokens per verse, verses per
second). Tables put a system's Δ in its score's cell, so they fit a laptop screen. Reads
`<report>/probes/<lang>/report.json` and `<report>/<direction>/report.json`; writes `<report>/report.md`,
`report.json` and `report.html`. No torch here.

Example: write_translation_summary(Path("runs/demo-llm/report"), ["into_target", "into_source"], "eng_Latn",
["nya_Latn"])
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from polytune.evaluation.report.summary import setup_items
from polytune.io import read_json, write_json
from polytune.langcodes import language_name

LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")  # a Markdown link, [text](target)
DIRECTION_TITLES = {"into_target": "{source} → target (writing the new language)",
                    "into_source": "target → {source} (reading it)"}  # fmt: skip


def _ci(entry: dict[str, Any], digits: int = 2) -> str:
    low, high = entry["ci"]
    return f"{entry['score']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _delta(entry: dict[str, Any], digits: int = 2) -> str:
    low, high = entry["ci"]
    mark = " *" if entry.get("p_value", 1.0) < 0.05 and (low > 0 or high < 0) else ""
    return f"{entry['delta']:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]{mark}"


def _with_delta(score: str, delta: dict[str, Any] | None, digits: int) -> str:
    """A system's cell: its score, and its Δ vs the baseline after it (the page puts the Δ on a line of its own)."""
    return score if delta is None else f"{score} Δ {_delta(delta, digits)}"


def bpb_rows(probes: dict[str, dict[str, Any]], source: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the bits-per-byte table: per target, its own text, then the source language's text read
    through that target's adapters (forgetting). A system's cell holds its Δ vs the first system."""
    systems = next(iter(probes.values()))["systems"]
    header = ["text", *(f"{s} BPB" for s in systems)]
    rows = []
    for lang, report in probes.items():
        for text in (lang, source):
            result = report["intrinsic"]["results"][text]
            name = f"{lang} {language_name(lang)}" if text == lang else f"{source} through {lang}'s adapters"
            name += "" if text == lang else " (forgetting)"
            cells = [_with_delta(_ci(result["scores"][s]["bpb"], 3), result["deltas"].get(s, {}).get("bpb"), 3)
                     for s in systems]  # fmt: skip
            rows.append([name, *cells])
    return header, rows


def metric_rows(report: dict[str, Any], metric: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of one metric of a direction's report: scores with CIs, each with its Δ vs the baseline."""
    systems = report["systems"]
    header = ["language", "n", *systems]
    rows = []
    for lang, result in [*report["results"].items(), ("average", report["average"])]:
        label = f"{lang} {language_name(lang)}" if lang != "average" else lang
        rows.append([label, str(result["n"]), *(_with_delta(_ci(result["scores"][s][metric]),
                                                            result["deltas"].get(s, {}).get(metric), 2)
                                                for s in systems)])  # fmt: skip
    return header, rows


def headline(probes: dict[str, dict[str, Any]], reports: dict[str, dict[str, Any]], source: str) -> list[str]:
    """One line per target language: the best BPB system's Δ, per direction the best chrF system's Δ, and the
    source language's BPB change through the target's adapters (forgetting, relative)."""
    lines = []
    for lang, probe in probes.items():
        results, systems = probe["intrinsic"]["results"], probe["systems"]
        deltas = results[lang]["deltas"]
        best = min(deltas, key=lambda s: deltas[s]["bpb"]["delta"]) if deltas else None
        parts = [f"bits per byte {best} {_delta(deltas[best]['bpb'], 3)}" if best else "bits per byte: base only"]
        for direction, report in reports.items():
            result = report["results"].get(lang)
            if result is not None and result["deltas"]:
                top = max(result["deltas"], key=lambda s: result["deltas"][s]["chrf"]["delta"])
                parts.append(f"{direction} chrF {top} {_delta(result['deltas'][top]['chrf'])}")
        kept = results[source]["scores"]
        forgetting = [f"{s} {100 * (kept[s]['bpb']['score'] / kept[systems[0]]['bpb']['score'] - 1):+.1f}%"
                      for s in systems[1:]]  # fmt: skip
        if forgetting:
            parts.append(f"{source} bits per byte (forgetting) " + ", ".join(forgetting))
        lines.append(f"- **{lang}** {language_name(lang)}: " + "; ".join(parts))
    return lines


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def speed_rows(generation: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the generation-speed table: per direction, language and system, the tokens the system
    wrote per verse (its own vocabulary) and the verses it translated per second (model loading excluded)."""
    header = ["direction", "language", "system", "tokens per verse", "verses per second"]
    rows = [[direction, f"{lang} {language_name(lang)}", system, f"{v['tokens_per_record']:.1f}",
             f"{v['records_per_second']:.2f}"]
            for direction, systems in generation.items() for system, langs in systems.items()
            for lang, v in langs.items()]  # fmt: skip
    return header, rows


def summary_markdown(probes: dict[str, Any], reports: dict[str, dict[str, Any]], source: str,
                     generation: dict[str, dict[str, Any]] | None = None) -> str:  # fmt: skip
    """The summary page in Markdown (see the module docstring)."""
    intro = ("Does specializing the model help each target language? Δ are against the first system, with 95% "
             "bootstrap CIs; * marks a CI that excludes zero (p < 0.05).")
    out = ["# Translation run: summary", "", intro, "", *headline(probes, reports, source), ""]
    warnings = list(dict.fromkeys(f"{d}: {w['text']}" for d, r in reports.items() for w in r.get("warnings", [])))
    if warnings:
        out += ["## Warnings", "", *(f"- {w}" for w in warnings), ""]
    first = next(iter(reports.values()), None)
    if first is not None:
        out += ["## Setup", "", *(f"- {label}: {value}" for label, value in setup_items(first)), ""]
    out += ["## Bits per byte (held-out text, lower is better)", "", *markdown_table(*bpb_rows(probes, source)), ""]
    for direction, report in reports.items():
        out += [f"## {DIRECTION_TITLES[direction].format(source=source)}", ""]
        for metric, title in (("chrf", "chrF"), ("bleu", "BLEU"), ("chrf_pp", "chrF++")):
            if metric in report["metrics"]:
                out += [f"### {title}", "", *markdown_table(*metric_rows(report, metric)), ""]
        out += [f"Details: [{direction}/report.md]({direction}/report.md)", ""]
    if generation:
        out += ["## Generation speed", "", *markdown_table(*speed_rows(generation)), ""]
    out += ["Details of the probes: " + ", ".join(f"[{lang}](probes/{lang}/report.md)" for lang in probes), ""]
    return "\n".join(out)


def _page_link(found: re.Match) -> str:
    target = found[2].replace("report.md", "report.html")
    return f'<a href="{target}">{found[1].replace("report.md", "report.html")}</a>'


def _html(markdown: str) -> str:
    """A plain page of the summary (tables and headings), readable without a Markdown viewer."""
    body, table = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            if not line.startswith("|---"):
                cells = [html.escape(c.strip()).replace(" Δ ", "<br><small>Δ ", 1) for c in line.strip("|").split("|")]
                cells = [c + "</small>" if "<small>" in c else c for c in cells]
                tag = "th" if not table else "td"
                table.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<div class='scroll'><table>" + "".join(table) + "</table></div>")
            table = []
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<p>• {html.escape(line[2:]).replace('**', '')}</p>")
        elif line:  # the links to the detailed reports become links to their pages
            body.append("<p>" + LINK.sub(_page_link, html.escape(line)) + "</p>")
    style = ("body{font-family:sans-serif;max-width:1280px;margin:auto;padding:1em}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}small{color:#555}"
             "td{white-space:nowrap}.scroll{overflow-x:auto}")
    return f"<!doctype html><meta charset='utf-8'><title>Translation run</title><style>{style}</style>" + "".join(body)


def _generation(path: Path) -> dict[str, Any]:
    """The generation speed a direction's predictions manifest recorded (system -> language -> speed); {} when the
    predictions came from an older polytune that did not record it."""
    return read_json(path, "predictions manifest").get("generation", {}) if path.is_file() else {}


def write_translation_summary(folder: Path, directions: list[str], source: str, targets: list[str]) -> Path:
    """Write report.md / report.json / report.html of a translation run into `folder` (the run's report folder).

    Returns:
        The path of report.md.

    Raises:
        InputError: a report of the run is missing (its evaluation step did not run).
    """
    folder = Path(folder)
    probes = {lang: read_json(folder / "probes" / lang / "report.json", f"{lang} probe report") for lang in targets}
    reports = {d: read_json(folder / d / "report.json", f"{d} report") for d in directions}
    generation = {d: _generation(folder / d / "predictions" / "manifest.json") for d in directions}
    generation = {d: g for d, g in generation.items() if g}
    markdown = summary_markdown(probes, reports, source, generation)
    (folder / "report.md").write_text(markdown, encoding="utf-8")
    (folder / "report.html").write_text(_html(markdown), encoding="utf-8")
    write_json(folder / "report.json", json.loads(json.dumps({"source_lang": source, "probes": probes,
                                                               "directions": reports,
                                                               "generation": generation})))  # fmt: skip
    return folder / "report.md"

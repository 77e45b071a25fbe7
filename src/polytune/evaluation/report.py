"""Score prediction files into report.json + report.md: per language and system, each metric with its bootstrap CI,
the difference to a baseline system with a paired p-value, and macro averages over languages.

Input: `<pred_dir>/predictions/<system>/<lang>.jsonl` (or `<pred_dir>/<system>/<lang>.jsonl`), lines
{"id", "label", "pred"} (plus "lang" and anything else). Any tool's predictions score the same way.
The average difference over languages is tested on language-stratified resamples: each resample redraws every
language's examples, and the per-language differences are averaged.

Example: build_report("runs/demo", "runs/demo", baseline="task-only")["average"]["deltas"]
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polytune import __version__
from polytune.errors import ConfigError, InputError, LanguageCodeError, did_you_mean
from polytune.evaluation.metrics import get_metric
from polytune.evaluation.stats import check_settings, percentile_interval, resampled_scores, summarize_delta
from polytune.io import atomic_path, file_hash, manifest, write_json
from polytune.langcodes import display_name, normalize

SYSTEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+\-]*$")


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


def _read_file(path: Path) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
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
        if not isinstance(row, dict) or any(not isinstance(row.get(k), (str, int)) for k in ("id", "label", "pred")):
            raise InputError(f"{path}:{n}: needs string/int fields 'id', 'label' and 'pred'; fix that line")
        key = str(row["id"])
        if key in rows:
            raise InputError(f"{path}:{n}: duplicate id {key!r}; keep one prediction per example")
        rows[key] = (str(row["label"]), str(row["pred"]))
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


def _align(found: dict[str, dict[str, Path]], langs: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Language -> {"ids", "labels", "preds": {system: [...]}} with ids sorted, after checking systems agree."""
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
        ids = sorted(rows[ref])
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


def _score_metric(
    name: str, aligned: dict[str, dict[str, Any]], order: list[str], settings: dict[str, Any], report: dict[str, Any]
) -> str:
    """Fill one metric into report["results"] and report["average"]; return the metric's signature.

    Systems share each language's resamples (a paired test); the average's resamples are the per-language ones,
    averaged resample by resample (language-stratified).
    """
    metric, base, conf = get_metric(name), order[0], settings["confidence"]
    points: dict[str, list[float]] = {s: [] for s in order}
    draws: dict[str, list[np.ndarray]] = {s: [] for s in order}
    for lang, a in aligned.items():
        # The language key seeds its own stream: its numbers do not depend on which other languages are scored.
        lang_seed = [settings["seed"], zlib.crc32(lang.encode())]
        scores = resampled_scores(metric, a["labels"], a["preds"], settings["n_resamples"], lang_seed)
        result = report["results"][lang]
        for s in order:
            points[s].append(metric.compute(a["labels"], a["preds"][s]))
            draws[s].append(scores[s])
            result["scores"][s][name] = {"score": points[s][-1], "ci": percentile_interval(scores[s], conf)}
            if s != base:
                delta = points[s][-1] - points[base][-1]
                result["deltas"][s][name] = summarize_delta(delta, scores[s] - scores[base], conf)
    mean_point = {s: float(np.mean(points[s])) for s in order}
    mean_draws = {s: np.mean(draws[s], axis=0) for s in order}
    for s in order:
        report["average"]["scores"][s][name] = {"score": mean_point[s], "ci": percentile_interval(mean_draws[s], conf)}
        if s != base:
            delta = mean_point[s] - mean_point[base]
            report["average"]["deltas"][s][name] = summarize_delta(delta, mean_draws[s] - mean_draws[base], conf)
    return metric.signature()


def _skeleton(aligned: dict[str, dict[str, Any]], order: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    def tables() -> dict[str, Any]:
        return {"scores": {s: {} for s in order}, "deltas": {s: {} for s in order[1:]}}

    results = {lang: {"name": display_name(lang), "n": len(a["ids"]), **tables()} for lang, a in aligned.items()}
    average = {"languages": len(aligned), "n": sum(len(a["ids"]) for a in aligned.values()), **tables()}
    return results, average


def build_report(
    pred_dir: str | Path,
    out: str | Path,
    baseline: str | None = None,
    metrics: Sequence[str] = ("accuracy", "macro_f1"),
    n_resamples: int = 1000,
    seed: int = 13,
    extra: dict[str, Any] | None = None,
    *,
    systems: Sequence[str] | None = None,
    langs: Sequence[str] | None = None,
    confidence: float = 0.95,
    config: Any = None,
) -> dict[str, Any]:
    """Score every system's predictions and write report.json, report.md and manifest.json into `out`.

    Args:
        pred_dir: folder with `predictions/<system>/<lang>.jsonl` (or `<system>/<lang>.jsonl` directly).
        out: report folder.
        baseline: system the others are compared with (default: the first system name in sorted order).
        metrics: registered metric names.
        n_resamples: bootstrap resamples per language.
        seed: bootstrap seed.
        extra: JSON-able additions stored under "extra" (fertility tables, manifests, ...).
        systems: score only these systems (default: every folder).
        langs: score only these languages (default: every language found).
        confidence: coverage of the intervals.
        config: what the manifest records as the config (default: these arguments).

    Returns:
        The report (the content of report.json).

    Raises:
        InputError: missing, malformed or mismatched prediction files.
        ConfigError: unknown baseline or metric, bad n_resamples or confidence.
    """
    for name in metrics:
        get_metric(name)
    check_settings(n_resamples, confidence)
    root = predictions_root(pred_dir)
    found = load_predictions(root, systems)
    names = sorted(found)
    baseline = baseline or names[0]
    if baseline not in found:
        raise ConfigError(f"baseline {baseline!r} has no predictions in {root}{did_you_mean(baseline, names)}")
    order = [baseline, *(s for s in names if s != baseline)]
    aligned = _align(found, langs)
    settings = {"n_resamples": n_resamples, "seed": seed, "confidence": confidence}
    results, average = _skeleton(aligned, order)
    inputs = {f"{s}/{p.name}": file_hash(p) for s in order for lang, p in sorted(found[s].items()) if lang in aligned}
    report = {
        "polytune_version": __version__,
        **settings,
        "baseline": baseline,
        "systems": order,
        "languages": list(aligned),
        "metrics": list(metrics),
        "signatures": {},
        "inputs": inputs,
        "results": results,
        "average": average,
        "extra": extra or {},
    }
    for name in metrics:
        report["signatures"][name] = _score_metric(name, aligned, order, settings, report)
    # One JSON round trip: tuples become lists and paths strings, so the returned dict equals report.json.
    report = json.loads(json.dumps(report, default=str))
    if config is None:
        config = {"pred_dir": str(pred_dir), "baseline": baseline, "metrics": list(metrics), **settings}
    _write(Path(out), report, manifest("eval", config, inputs=[root], counts=_counts(report)))
    return report


def _counts(report: dict[str, Any]) -> dict[str, int]:
    return {
        "languages": len(report["languages"]),
        "systems": len(report["systems"]),
        "examples": report["average"]["n"],
    }


def _write(out: Path, report: dict[str, Any], made_by: dict[str, Any]) -> None:
    """report.json, report.md, then manifest.json, each atomically (the folder may also hold predictions/)."""
    write_json(out / "report.json", report)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(render_markdown(report), encoding="utf-8")
    write_json(out / "manifest.json", made_by)


def _cell(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{entry['score']:.1f} [{low:.1f}, {high:.1f}]"


def _delta_cell(entry: dict[str, Any]) -> str:
    low, high = entry["ci"]
    return f"{entry['delta']:+.1f} [{low:+.1f}, {high:+.1f}] (p={entry['p_value']:.3f})"


def _row(first: list[str], table: dict[str, Any], report: dict[str, Any]) -> str:
    cells = list(first)
    for s in report["systems"]:
        cells += [_cell(table["scores"][s][m]) for m in report["metrics"]]
    for s in report["systems"][1:]:
        cells += [_delta_cell(table["deltas"][s][m]) for m in report["metrics"]]
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: dict[str, Any]) -> str:
    """The readable report: one row per language, then the averages row, then the metric signatures.

    Args:
        report: the dict `build_report` returns (or report.json loaded).

    Returns:
        Markdown text.
    """
    labels = {m: get_metric(m).label or m for m in report["metrics"]}
    systems, base = report["systems"], report["baseline"]
    header = ["language", "name", "n"]
    header += [f"{s} {labels[m]}" for s in systems for m in report["metrics"]]
    header += [f"{s} Δ {labels[m]}" for s in systems[1:] for m in report["metrics"]]
    conf = round(100 * report["confidence"])
    lines = [
        "# Evaluation report",
        "",
        f"Scores in %, with {conf}% percentile bootstrap intervals ({report['n_resamples']} resamples, seed "
        f"{report['seed']}). Δ = system − baseline `{base}`, with a paired two-sided bootstrap p-value; the "
        "average row averages over languages, its intervals from language-stratified resamples.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---", "---", "---:"] + ["---:"] * (len(header) - 3)) + " |",
    ]
    for lang, table in report["results"].items():
        lines.append(_row([lang, table["name"], str(table["n"])], table, report))
    avg = report["average"]
    lines.append(
        _row(
            ["**average**", f"{avg['languages']} language{'s' * (avg['languages'] != 1)}", str(avg["n"])], avg, report
        )
    )
    lines += ["", "## Signatures", ""]
    lines += [f"- {labels[m]}: `{sig}`" for m, sig in report["signatures"].items()]
    return "\n".join(lines) + "\n"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Short lines for a terminal: each system's averages, and its average Δ against the baseline."""
    avg, lines = report["average"], []
    for s in report["systems"]:
        parts = [f"{m} {avg['scores'][s][m]['score']:.1f}" for m in report["metrics"]]
        if s in avg["deltas"]:
            parts += [f"Δ{m} {d['delta']:+.1f} (p={d['p_value']:.3f})" for m, d in avg["deltas"][s].items()]
        lines.append(f"{s}: " + ", ".join(parts))
    return lines


def run_eval(cfg: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Predict with every system of an EvalConfig, then score the predictions into `cfg.out`.

    Args:
        cfg: a polytune.config.EvalConfig.
        extra: JSON-able additions for report.json (e.g. the pipeline's fertility table).

    Returns:
        The report (the content of `cfg.out/report.json`).

    Raises:
        InputError: inputs are missing or malformed.
        ModelError: a model or adapter cannot be loaded.
    """
    # predict pulls torch and transformers: import it only when predicting, so scoring stays light.
    from polytune.evaluation.predict import predict

    pred_dir = predict(cfg)
    return build_report(
        pred_dir,
        cfg.out,
        baseline=cfg.baseline,
        n_resamples=cfg.bootstrap,
        seed=cfg.seed,
        extra=extra,
        systems=[s.name for s in cfg.systems],
        langs=cfg.langs or None,
        config=cfg,
    )

"""Score the probes that need no task adapter: bitext retrieval (accuracy@k both ways) and intrinsic LM loss, per
language and system, each with a bootstrap CI over its queries (records), a paired Δ vs the baseline with its
p-value (stats.summarize_delta), and a macro average over languages from language-stratified resamples.

Input: `<dir>/probes/manifest.json` plus `<dir>/probes/retrieval/<system>/<lang>.jsonl` (lines {"id", "t2s", "s2t",
"t2s_ties", "s2t_ties"}: the rank of the translation in each direction, and the candidates tied with it) and
`<dir>/probes/intrinsic/<system>/<lang>.jsonl` (lines {"id", "nll", "tokens"[, "bytes"]}: summed negative
log-likelihood in nats over the record's predicted tokens, and for decoders the UTF-8 bytes of text they cover), as
`evaluation/predict/probes.py` writes them. No torch here.

Example: score_probes(Path("runs/demo/report"), ["task-only", "lang-adapter"], settings)["retrieval"]["average"]
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from polytune.errors import InputError
from polytune.evaluation.retrieval import DIRECTIONS, KS, hits_at
from polytune.evaluation.stats import percentile_interval, resample_counts, summarize_delta
from polytune.io import read_json

PROBES = "probes"
MEASURES = [f"{d}@{k}" for d in DIRECTIONS for k in KS]


def probe_dir(folder: str | Path) -> Path | None:
    """The probes folder: `folder` itself, `folder/probes`, or the sibling of a `predictions` folder, when it holds
    a probe manifest; else None."""
    folder = Path(folder)
    sibling = folder.parent / PROBES if folder.name == "predictions" else None
    for candidate in (folder if folder.name == PROBES else None, folder / PROBES, sibling):
        if candidate is not None and (candidate / "manifest.json").is_file():
            return candidate
    return None


def _read_rows(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: malformed JSON ({exc.msg}); rerun the probe") from exc
        if not isinstance(row, dict) or any(f not in row for f in ("id", *fields)):
            raise InputError(f"{path}:{n}: needs fields id, {', '.join(fields)}; rerun the probe")
        rows.append(row)
    return rows


def _stats(folder: Path, order: list[str], langs: list[str], fields: tuple[str, ...]) -> dict[str, dict[str, list]]:
    """lang -> system -> rows, every system's rows on the same ids in the same order (paired).

    Raises:
        InputError: a file is missing or malformed, or two systems cover different ids.
    """
    out: dict[str, dict[str, list]] = {}
    for lang in langs:
        out[lang] = {}
        for system in order:
            path = folder / system / f"{lang}.jsonl"
            if not path.is_file():
                raise InputError(f"probe file {path} not found; rerun `polytune eval` with this system")
            out[lang][system] = _read_rows(path, fields)
        ids = {s: [str(r["id"]) for r in rows] for s, rows in out[lang].items()}
        if any(v != ids[order[0]] for v in ids.values()):
            raise InputError(f"{folder.name} probe of {lang}: systems cover different records; rerun the probe")
    return out


def ratio_table(stats: dict[str, dict[str, np.ndarray]], order: list[str], settings: dict[str, Any],
                scale: float = 1.0) -> dict[str, Any]:  # fmt: skip
    """Scores scale * sum(col 0) / sum(col 1) per language and system, with CIs, paired Δ and a macro average.

    Args:
        stats: lang -> system -> per-example statistics (n, 2), aligned across systems.
        order: systems, baseline first.
        settings: n_resamples, seed, confidence.
        scale: 100 for a share in %.

    Returns:
        {"results": {lang: {"scores", "deltas"}}, "average": {"scores", "deltas"}}.
    """
    conf, base = settings["confidence"], order[0]
    results, points, draws = {}, {s: [] for s in order}, {s: [] for s in order}
    for lang, per in stats.items():
        seed = [settings["seed"], zlib.crc32(lang.encode()), 7]  # a stream of its own, apart from the task metrics
        blocks = list(resample_counts(len(per[base]), settings["n_resamples"], seed))
        table: dict[str, dict] = {"scores": {}, "deltas": {}}
        for s in order:
            x = per[s]
            point = scale * float(x[:, 0].sum() / max(x[:, 1].sum(), 1e-12))
            summed = np.concatenate([c @ x for c in blocks])
            drawn = scale * summed[:, 0] / np.maximum(summed[:, 1], 1e-12)
            points[s].append(point)
            draws[s].append(drawn)
            table["scores"][s] = {"score": point, "ci": percentile_interval(drawn, conf)}
            if s != base:
                table["deltas"][s] = summarize_delta(point - points[base][-1], drawn - draws[base][-1], conf)
        results[lang] = table
    average: dict[str, dict] = {"scores": {}, "deltas": {}}
    for s in order:
        mean = np.mean(draws[s], axis=0)
        average["scores"][s] = {"score": float(np.mean(points[s])), "ci": percentile_interval(mean, conf)}
        if s != base:
            delta = average["scores"][s]["score"] - average["scores"][base]["score"]
            average["deltas"][s] = summarize_delta(delta, mean - np.mean(draws[base], axis=0), conf)
    return {"results": results, "average": average}


def _merge(section: dict[str, Any], measure: str, table: dict[str, Any]) -> None:
    """Put one measure's ratio_table into section["results"] / ["average"] under scores[s][measure]."""
    for lang, t in [*table["results"].items(), (None, table["average"])]:
        target = section["average"] if lang is None else section["results"][lang]
        for key in ("scores", "deltas"):
            for s, entry in t[key].items():
                target[key].setdefault(s, {})[measure] = entry


def _hits(rows: list[dict[str, Any]], direction: str, k: int) -> np.ndarray:
    """Expected hits@k of probe rows (ties from `<direction>_ties`, 0 when a file has none)."""
    ranks = np.array([r[direction] for r in rows], dtype=np.float64)
    return hits_at(ranks, k, np.array([r.get(f"{direction}_ties", 0) for r in rows], dtype=np.float64))


def score_retrieval(folder: Path, meta: dict[str, Any], order: list[str], settings: dict[str, Any]) -> dict:
    """The report's "retrieval" section from `folder` (probes/retrieval) and its manifest entry `meta`."""
    langs = list(meta["languages"])
    rows = _stats(folder, order, langs, DIRECTIONS)
    settings_of = {k: v for k, v in meta.items() if k not in ("skipped", "languages")}
    section = {**settings_of, "measures": list(MEASURES), "results": {},
               "average": {"languages": len(langs), "n": 0, "scores": {}, "deltas": {}}}  # fmt: skip
    for lang in langs:
        n = len(rows[lang][order[0]])
        section["results"][lang] = {"n": n, "skipped": meta["skipped"][lang], "scores": {}, "deltas": {}}
        section["average"]["n"] += n
    for measure in MEASURES:
        direction, k = measure.split("@")
        stats = {lang: {s: np.stack([_hits(rs, direction, int(k)), np.ones(len(rs))], 1) for s, rs in per.items()}
                 for lang, per in rows.items()}  # fmt: skip
        _merge(section, measure, ratio_table(stats, order, settings, scale=100.0))
    return section


def score_intrinsic(folder: Path, meta: dict[str, Any], order: list[str], settings: dict[str, Any]) -> dict:
    """The report's "intrinsic" section: loss per predicted token (nats) and its exp (perplexity), per system; for
    decoders also bits per UTF-8 byte (`bpb`)."""
    langs = list(meta["languages"])
    rows = _stats(folder, order, langs, ("nll", "tokens"))
    stats = {lang: {s: np.array([[float(r["nll"]), float(r["tokens"])] for r in rs]).reshape(-1, 2)
                    for s, rs in per.items()} for lang, per in rows.items()}  # fmt: skip
    section = {**{k: v for k, v in meta.items() if k != "languages"}, "measures": ["loss", "perplexity"],
               "results": {lang: {"n": len(rows[lang][order[0]]), "scores": {}, "deltas": {},
                                  "tokens": {s: int(stats[lang][s][:, 1].sum()) for s in order}} for lang in langs},
               "average": {"languages": len(langs), "n": sum(len(rows[lang][order[0]]) for lang in langs),
                           "scores": {}, "deltas": {}}}  # fmt: skip
    _merge(section, "loss", ratio_table(stats, order, settings))
    for table in [*section["results"].values(), section["average"]]:
        for entry in table["scores"].values():  # exp is monotone: the interval maps over as it is
            entry["perplexity"] = {"score": math.exp(entry["loss"]["score"]),
                                   "ci": tuple(math.exp(x) for x in entry["loss"]["ci"])}  # fmt: skip
    if all("bytes" in r for per in rows.values() for rs in per.values() for r in rs):
        # Bits per UTF-8 byte: the one LM measure that compares a base with an extended tokenizer (nats per token
        # rewards a tokenizer that cuts the same text into more, easier tokens).
        per_byte = {lang: {s: np.array([[float(r["nll"]), float(r["bytes"])] for r in rs]).reshape(-1, 2)
                           for s, rs in per.items()} for lang, per in rows.items()}  # fmt: skip
        _merge(section, "bpb", ratio_table(per_byte, order, settings, scale=1 / math.log(2)))
        section["measures"].append("bpb")
        for lang in langs:
            section["results"][lang]["bytes"] = int(per_byte[lang][order[0]][:, 1].sum())
    return section


def score_probes(folder: str | Path | None, order: list[str], settings: dict[str, Any]) -> dict[str, Any]:
    """{"retrieval": section, "intrinsic": section}, each present when the probe ran; {} without probes.

    Raises:
        InputError: a probe file is missing or malformed, or a probe lacks a system of the report.
    """
    root = probe_dir(folder) if folder is not None else None
    if root is None:
        return {}
    meta = read_json(root / "manifest.json", "probe manifest")
    missing = [s for s in order if s not in meta.get("systems", order)]
    if missing:
        raise InputError(f"probes in {root} did not run system {missing[0]!r}; rerun `polytune eval` with it")
    out = {}
    if "retrieval" in meta:
        out["retrieval"] = score_retrieval(root / "retrieval", meta["retrieval"], order, settings)
    if "intrinsic" in meta:
        out["intrinsic"] = score_intrinsic(root / "intrinsic", meta["intrinsic"], order, settings)
    return out


def probe_report(cfg: Any, settings: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report of the probes alone (no task adapter): the keys of a task report, with no task metric.

    Args:
        cfg: the EvalConfig whose probes were written to `cfg.out/probes`.
        settings: n_resamples, seed, confidence, significance.
        extra: JSON-able additions stored under "extra".
    """
    from polytune import __version__
    from polytune.io import file_hash

    order = [cfg.baseline, *(s.name for s in cfg.systems if s.name != cfg.baseline)]
    probes = score_probes(Path(cfg.out), order, settings)
    langs = list(dict.fromkeys(lang for section in probes.values() for lang in section["results"]))
    report = {
        "polytune_version": __version__, **settings, "baseline": cfg.baseline, "systems": order, "languages": langs,
        "metrics": [], "metric_languages": {}, "task": None, "ci_methods": {}, "lower_is_better": [],
        "signatures": {}, "lang_signatures": {}, "input_manifests": {}, "results": {}, "by_tier": {},
        "average": {"languages": len(langs), "n": 0, "scores": {s: {} for s in order}, "deltas": {}},
        "fairness": {}, "inputs": {"probes/manifest.json": file_hash(Path(cfg.out) / PROBES / "manifest.json")},
        **probes, "extra": extra or {},
    }  # fmt: skip
    return json.loads(json.dumps(report, default=str))


def probe_summary(report: dict[str, Any], system: str) -> list[str]:
    """Terminal summary parts of one system: average retrieval acc@1 (target→source) and intrinsic loss."""
    parts = []
    if "retrieval" in report:
        parts.append(f"retrieval t2s@1 {report['retrieval']['average']['scores'][system]['t2s@1']['score']:.1f}")
    if "intrinsic" in report:
        scores = report["intrinsic"]["average"]["scores"][system]
        parts.append(f"bits per byte {scores['bpb']['score']:.3f}" if "bpb" in scores else
                     f"LM loss {scores['loss']['score']:.3f}")  # fmt: skip
    return parts

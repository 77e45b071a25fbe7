"""Evaluation as a stage runs it: predict with every system, run the probes, score the source-language ceiling,
then build the report (`report/build.py` scores prediction files; this module makes them).

`run_eval` is what `polytune eval`, `polytune run` and the benchmarks call. Scoring stays free of torch: `predict`
is imported only when predicting.

Example: run_eval(EvalConfig(base="zoo:e5-small", task_adapter="runs/demo/adapters/task", input="runs/demo/corpus",
out="runs/demo/report", langs=["nya_Latn"]))
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from polytune.evaluation.probes import PROBES, probe_report
from polytune.evaluation.report.build import CEILING, CEILING_SYSTEM, build_report, report_counts, write_report
from polytune.evaluation.suites import suite_plan
from polytune.io import manifest
from polytune.resources import resolved

__all__ = ["run_eval", "source_ceiling"]


def source_ceiling(cfg: Any) -> dict[str, Any] | None:
    """The task adapter alone on the source language's own test split: the ceiling that zero-shot scores are read
    against (report.json `extra.ceiling`; its own report in `<out>/ceiling/`).

    None without a source language in the corpus, when the source is one of the evaluated languages already (listed,
    or every corpus language when none is listed), or with a suite (its languages and splits are the suite's to set).
    """
    source = getattr(cfg, "source_lang", None)
    if not source or cfg.suite or not cfg.langs or source in cfg.langs or not (Path(cfg.input) / source).is_dir():
        return None
    if cfg.task_adapter is None:  # systems with task adapters of their own: no one task to read a ceiling off
        return None
    from polytune.config import SystemConfig
    from polytune.evaluation.predict import predict

    sub = dataclasses.replace(cfg, langs=[source], systems=[SystemConfig(name=CEILING_SYSTEM)],
                              out=Path(cfg.out) / CEILING, baseline=CEILING_SYSTEM, retrieval=False,
                              intrinsic=False)  # fmt: skip
    report = build_report(predict(sub), sub.out, metrics=getattr(cfg, "metrics", None) or None,
                          n_resamples=cfg.bootstrap, seed=cfg.seed, langs=[source], config=sub)  # fmt: skip
    result = report["results"][source]
    return {"lang": source, "n": result["n"], "split": cfg.split, "scores": result["scores"][CEILING_SYSTEM]}


def run_eval(cfg: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Predict with every system of an EvalConfig, then score the predictions into `cfg.out`.

    Fertility comes from cfg.fertility, else `<cfg.out>/../analysis/fertility.json` when present; corpus sizes
    from the manifest of cfg.input. With cfg.suite, each language's split, label field, record limit and metrics
    come from its suite (see suites.suite_plan), checked before any model loads.

    Args:
        cfg: a polytune.config.EvalConfig.
        extra: JSON-able additions for report.json.

    Returns:
        The report (the content of `cfg.out/report.json`).

    Raises:
        InputError: inputs or suites are missing or malformed.
        ConfigError: a suite contradicts the config, or a language has no suite.
        ModelError: a model or adapter cannot be loaded.
    """
    cfg = resolved(cfg)  # a zoo: or pkg: base becomes its folder (the manifest records the folder)
    plan = suite_plan(cfg)  # a bad suite fails here, before predict imports torch or loads a model
    # predict pulls torch and transformers: import it only when predicting, so scoring stays light.
    from polytune.evaluation.predict import predict
    from polytune.evaluation.predict.probes import run_probes

    fertility = getattr(cfg, "fertility", None)
    default_fertility = Path(cfg.out).parent / "analysis" / "fertility.json"
    if fertility is None and default_fertility.is_file():
        fertility = default_fertility
    if cfg.retrieval or cfg.intrinsic:
        run_probes(cfg)
    else:  # probes of an earlier run must not show up in this report
        shutil.rmtree(Path(cfg.out) / PROBES, ignore_errors=True)
    if not cfg.has_task:
        settings = {"n_resamples": cfg.bootstrap, "seed": cfg.seed, "confidence": 0.95, "significance": "bootstrap"}
        report = probe_report(cfg, settings, extra)
        made_by = manifest("eval", cfg, inputs=[Path(cfg.out) / PROBES], counts=report_counts(report))
        write_report(Path(cfg.out), report, made_by)
        return report
    pred_dir = predict(cfg)
    ceiling = source_ceiling(cfg)
    if ceiling is not None:
        extra = {**(extra or {}), "ceiling": ceiling}
    return build_report(
        pred_dir, cfg.out, baseline=cfg.baseline, metrics=getattr(cfg, "metrics", None) or None,
        n_resamples=cfg.bootstrap, seed=cfg.seed, extra=extra, systems=[s.name for s in cfg.systems],
        langs=list(plan) or cfg.langs or None, config=cfg, fertility=fertility, corpus=cfg.input,
        lang_info=getattr(cfg, "lang_info", None), significance=getattr(cfg, "significance", "bootstrap"),
        suites=plan or None,
    )  # fmt: skip

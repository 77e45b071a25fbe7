"""`polytune run CONFIG.yaml`: every stage from one config; the only module that calls several stages.

Each stage reads what the one before wrote under `workdir` and writes its own folder with a manifest. A stage
whose output exists with a manifest recording the same config is skipped, unless a step before it ran, so a
rerun (after an interruption, or a change further down the config) redoes only what changed and what follows.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytune import config as C
from polytune.errors import ConfigError, did_you_mean
from polytune.io import read_json
from polytune.langcodes import normalize
from polytune.models import allowing_pickle
from polytune.resources import resolve_resource
from polytune.run_checks import check_corpus, check_sources
from polytune.translation_plan import (
    TranslationSettings,
    eval_configs,
    pairs_config,
    read_settings,
    task_configs,
    variants,
)

log = logging.getLogger(__name__)

# Top-level keys of a run config; each stage section maps onto that stage's config dataclass.
SECTIONS: dict[str, type] = {
    "sources": C.SourcesConfig,
    "lid": C.LidTrainConfig,
    "filter": C.FilterConfig,
    "augment": C.AugmentConfig,
    "class_weights": C.ClassWeightsConfig,
    "balance": C.BalanceConfig,
    "tokenizer": C.TokenizerExtendConfig,
    "analyze": C.TokenizerAnalyzeConfig,
    "language_adapter": C.LanguageAdapterConfig,
    "task_adapter": C.TaskAdapterConfig,
    "evaluation": C.EvalConfig,
}
# `tune` holds the search space of `polytune tune` (polytune/tune/space.py); `polytune run` ignores it.
GLOBALS = ("workdir", "seed", "base", "source_lang", "target_langs", "allow_pickle", "report_to", "translation",
           "tune")
# Derived keys a section may still set itself (the top-level value is the default).
OVERRIDABLE = {"seed", "langs", "source_lang", "report_to", "tracking_dir"}
CORPUS_STAGES = ("sources", "lid", "filter")  # the corpus check runs before the first step after these
STAGE_NAMES = ("sources", "lid", "filter", "augment", "class_weights", "balance", "tokenizer", "analyze", "pairs",
               "adapters", "evaluation")


@dataclass
class Step:
    """One unit of work: a stage function, its config, and the manifest that proves it is done."""

    stage: str
    name: str
    function: str  # "module:function", imported only when the step runs (torch stays unloaded until needed)
    config: Any
    manifest: Path

    def done(self) -> bool:
        """True when the manifest exists and records this very config."""
        if not self.manifest.exists():
            return False
        recorded = read_json(self.manifest, "manifest").get("config")
        return recorded == json.loads(json.dumps(dataclasses.asdict(self.config), default=str))

    def run(self) -> Any:
        module, _, name = self.function.partition(":")
        func: Callable[[Any], Any] = getattr(importlib.import_module(module), name)
        return func(self.config)


@dataclass
class RunSettings:
    """The global keys of a run config."""

    workdir: Path
    seed: int
    base: str
    source_lang: str
    target_langs: list[str]
    report_to: str = "none"  # training curves of every adapter step, under <workdir>/tracking/

    @property
    def langs(self) -> list[str]:
        return [self.source_lang, *self.target_langs]


def load_settings(raw: dict[str, Any]) -> RunSettings:
    """Validate the top-level keys of a run config."""
    for key in raw:
        if key not in GLOBALS and key not in SECTIONS:
            raise ConfigError(f"unknown top-level key {key!r}{did_you_mean(str(key), [*GLOBALS, *SECTIONS])}")
    missing = [k for k in ("workdir", "base", "target_langs") if k not in raw]
    if missing:
        raise ConfigError(f"run config: missing {', '.join(missing)}")
    targets = raw["target_langs"]
    if not isinstance(targets, list) or not targets:
        raise ConfigError("target_langs must be a non-empty list of language codes")
    seed = raw.get("seed", 13)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    return RunSettings(
        workdir=Path(raw["workdir"]),
        seed=seed,
        base=resolve_resource(str(raw["base"])),
        source_lang=normalize(raw.get("source_lang", "eng_Latn")),
        target_langs=[normalize(t) for t in targets],
        report_to=str(raw.get("report_to", "none")),
    )


def _section(raw: dict[str, Any], name: str, derived: dict[str, Any]) -> Any:
    """Build a stage config from its YAML section plus the values `polytune run` derives itself."""
    section = dict(raw.get(name) or {})
    clash = sorted(set(section) & set(derived) - OVERRIDABLE)
    if clash:
        raise ConfigError(f"{name}: {', '.join(clash)} is set by polytune run (from workdir and the top-level keys)")
    return C.from_dict(SECTIONS[name], {**derived, **section}, name)


def plan(raw: dict[str, Any]) -> list[Step]:
    """Every step of a run config, in order, with paths derived from `workdir`."""
    s = load_settings(raw)
    w, seed = s.workdir, s.seed
    # Training reads the augmented corpus when there is one; evaluation and analysis always read the filtered one
    # (augmentation copies dev/test records unchanged and never adds to them).
    train_corpus = w / "corpus-aug" if "augment" in raw else w / "corpus"
    sources = _section(raw, "sources", {"out": w / "raw", "seed": seed})
    filter_derived, own_lid = _filter_derived(raw, s)
    steps = [Step("sources", "sources", "polytune.corpus.sources:write_sources", sources, w / "raw" / "manifest.json")]
    if not own_lid and raw.get("lid"):
        raise ConfigError("lid: the filter does not use the LID model the run trains (filter: backend or model is "
                          "set); remove the lid section, or those filter keys")  # fmt: skip
    if own_lid:
        steps.append(Step("lid", "lid", "polytune.corpus.langid:train_lid",
                          _section(raw, "lid", {"input": w / "raw", "out": w / "lid" / "model.bin", "seed": seed}),
                          w / "lid" / "model.bin.manifest.json"))
    steps.append(Step("filter", "filter", "polytune.corpus.steps:run_filter",
                      _section(raw, "filter", filter_derived), w / "corpus" / "manifest.json"))
    if "augment" in raw:
        steps.append(Step("augment", "augment", "polytune.corpus.augment:run_augment",
                          _section(raw, "augment", {"input": w / "corpus", "out": train_corpus, "langs": s.langs,
                                                    "seed": seed}), train_corpus / "manifest.json"))
    if "class_weights" in raw:  # loss weights per label of the task's training data, for the task adapter
        steps.append(Step("class_weights", "class_weights", "polytune.corpus.class_weights:run_class_weights",
                          _section(raw, "class_weights", {"input": train_corpus, "out": w / "class-weights",
                                                          "langs": [s.source_lang]}),
                          w / "class-weights" / "manifest.json"))
    steps += [
        Step("balance", "balance", "polytune.corpus.balance:run_balance",
             _section(raw, "balance", {"input": train_corpus, "out": w / "mix", "langs": s.target_langs,
                                       "seed": seed}), w / "mix" / "manifest.json"),
        Step("tokenizer", "tokenizer", "polytune.tokenizer.extend:extend_tokenizer",
             # the source-language corpus guards the words the task adapter was trained on against re-cutting
             _section(raw, "tokenizer", {"base": s.base, "input": w / "mix", "out": w / "tokenizer",
                                         "langs": s.target_langs, "guard_input": train_corpus / s.source_lang,
                                         "seed": seed}), w / "tokenizer" / "manifest.json"),
        Step("analyze", "analyze", "polytune.tokenizer.analyze:analyze",
             _section(raw, "analyze", {"tokenizers": {"base": s.base, "extended": str(w / "tokenizer")},
                                       "input": w / "corpus", "out": w / "analysis", "langs": s.langs}),
             w / "analysis" / "manifest.json"),
    ]
    translation = read_settings(raw)
    if translation is not None:  # the task is translation (translation_plan.py)
        return steps + _translation_steps(raw, s, train_corpus, translation)
    steps += _adapter_steps(raw, s, train_corpus)
    evaluation = _eval_config(raw, s)  # `benchmark:` evaluates on a standard benchmark instead of the corpus
    run = "polytune.evaluation." + ("benchmarks:run_benchmark" if evaluation.benchmark else "run:run_eval")
    steps.append(Step("evaluation", "evaluation", run, evaluation, w / "report" / "manifest.json"))
    return steps


def _translation_steps(raw: dict[str, Any], s: RunSettings, corpus: Path, settings: TranslationSettings) -> list:
    """Language adapters of the variants the systems stack, the pairs, a task adapter per direction, target and
    system, the probe evaluation and one evaluation per direction."""
    w = s.workdir
    steps = _language_steps(raw, s, corpus, variants(settings))
    pairs = pairs_config(settings, w, s.target_langs, s.source_lang)
    steps.append(Step("pairs", "pairs", "polytune.corpus.translation:write_pairs", pairs, pairs.out / "manifest.json"))
    derived = {"base": s.base, "seed": s.seed, "report_to": s.report_to}
    for name, cfg in task_configs(settings, w, s.target_langs, derived, lambda d: _section(raw, "task_adapter", d)):
        steps.append(Step("adapters", name, "polytune.adapters:train_task_adapter", cfg, cfg.out / "manifest.json"))
    derived = {"base": s.base, "seed": s.seed, "source_lang": s.source_lang}
    for name, cfg in eval_configs(settings, w, s.target_langs, derived, lambda d: _section(raw, "evaluation", d)):
        steps.append(Step("evaluation", name, "polytune.evaluation.run:run_eval", cfg, cfg.out / "manifest.json"))
    return steps


def _filter_derived(raw: dict[str, Any], s: RunSettings) -> tuple[dict[str, Any], bool]:
    """What `polytune run` sets in the filter section, and whether the filter reads the LID model the run trains.

    The run trains a fastText model on the corpus itself (`lid` step) and filters with it, unless the section names
    another backend or a model; a `second_backend: fasttext` without `second_model` gets the run's model too.
    """
    section = raw.get("filter") or {}
    own = str(s.workdir / "lid" / "model.bin")
    derived: dict[str, Any] = {"inputs": [str(s.workdir / "raw")], "out": s.workdir / "corpus", "langs": s.langs,
                               "seed": s.seed}  # fmt: skip
    if "backend" not in section:
        derived["backend"] = "fasttext"
    own_lid = False
    if section.get("backend", "fasttext") == "fasttext" and not section.get("model"):
        derived["model"], own_lid = own, True
    if section.get("second_backend") == "fasttext" and not section.get("second_model"):
        derived["second_model"], own_lid = own, True
    return derived, own_lid


def _language_steps(raw: dict[str, Any], s: RunSettings, corpus: Path, variants: list[str]) -> list[Step]:
    """A language adapter per target language and variant: `lang` on the base vocabulary, `lang-ext` on the
    extended one."""
    w, steps = s.workdir, []
    for variant in variants:
        tokenizer = str(w / "tokenizer") if variant == "lang-ext" else None
        for lang in s.target_langs:
            out = w / "adapters" / variant / lang
            cfg = _section(raw, "language_adapter", {"base": s.base, "input": corpus, "lang": lang,
                                                     "out": out, "tokenizer": tokenizer, "seed": s.seed,
                                                     "source_lang": s.source_lang, "report_to": s.report_to,
                                                     "tracking_dir": w / "tracking" / variant})
            steps.append(Step("adapters", f"{variant}/{lang}", "polytune.adapters:train_language_adapter",
                              cfg, out / "manifest.json"))
    return steps


def _adapter_steps(raw: dict[str, Any], s: RunSettings, corpus: Path) -> list[Step]:
    """A language adapter per target language on the base vocabulary and on the extended one, then the task adapter."""
    w, steps = s.workdir, _language_steps(raw, s, corpus, ["lang", "lang-ext"])
    task_out = w / "adapters" / "task"
    derived = {"base": s.base, "input": corpus, "lang": s.source_lang, "out": task_out, "seed": s.seed,
               "report_to": s.report_to, "tracking_dir": w / "tracking"}
    if "class_weights" in raw:
        derived["class_weights"] = str(w / "class-weights" / "class_weights.json")
    task = _section(raw, "task_adapter", derived)
    steps.append(Step("adapters", "task", "polytune.adapters:train_task_adapter", task,
                      task_out / "manifest.json"))
    return steps


def adapter_steps(raw: dict[str, Any]) -> list[Step]:
    """The adapter steps of a run config alone, as `plan` builds them (what `polytune tune` searches)."""
    s = load_settings(raw)
    return _adapter_steps(raw, s, s.workdir / ("corpus-aug" if "augment" in raw else "corpus"))


def _eval_config(raw: dict[str, Any], s: RunSettings) -> C.EvalConfig:
    """The demo's three systems: (a) task adapter only, (b) + language adapter, (c) + extended vocab + LA."""
    w = s.workdir
    systems = [
        {"name": "task-only"},
        {"name": "lang-adapter", "lang_adapter": str(w / "adapters" / "lang" / "{lang}")},
        {"name": "vocab+lang-adapter", "lang_adapter": str(w / "adapters" / "lang-ext" / "{lang}")},
    ]
    derived = {"base": s.base, "task_adapter": str(w / "adapters" / "task"), "input": w / "corpus",
               "out": w / "report", "systems": systems, "langs": s.target_langs, "baseline": "task-only",
               "seed": s.seed, "source_lang": s.source_lang}
    return _section(raw, "evaluation", derived)


def run_pipeline(config_path: str | Path, only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Run (or resume) every step of a config.

    Args:
        config_path: the run config (YAML).
        only: run just these stages (names from STAGE_NAMES); their inputs must exist already.
        force: rerun steps even when their manifest records the same config.

    Returns:
        {"workdir": ..., "steps": {step name: "ran" | "skipped"}, "report": path of report.md}

    Raises:
        ConfigError: the config or a stage name is invalid.
    """
    for name in only or []:
        if name not in STAGE_NAMES:
            raise ConfigError(f"unknown stage {name!r}{did_you_mean(name, STAGE_NAMES)}")
    raw = C.load_yaml(config_path)
    allow_pickle = raw.get("allow_pickle", False)  # models may load .bin/.pt weights (like `--allow-pickle`)
    if not isinstance(allow_pickle, bool):
        raise ConfigError(f"allow_pickle must be true or false, got {allow_pickle!r}")
    steps = plan(raw)
    settings = load_settings(raw)
    sources = steps[0].config  # every section is valid: now whether each language has text, before any work
    check_sources({*sources.bible, *sources.files}, settings.langs)
    status: dict[str, str] = {}
    upstream_ran = False  # a step that reran may have changed what every later step reads
    corpus, checked = settings.workdir / "corpus", False
    with allowing_pickle(allow_pickle):
        for step in steps:
            if only and step.stage not in only:
                continue
            if step.stage not in CORPUS_STAGES and not checked and (corpus / "stats.json").is_file():
                check_corpus(corpus, settings.langs, str(config_path))  # stop before training, not in it
                checked = True
            if not force and not upstream_ran and step.done():
                log.info("%s: up to date, skipped", step.name)
                status[step.name] = "skipped"
                continue
            log.info("%s: running", step.name)
            step.run()
            status[step.name] = "ran"
            upstream_ran = True
    workdir = steps[0].config.out.parent
    translation = read_settings(raw)
    if translation is not None:
        from polytune.evaluation.report.translation import write_translation_summary

        s = load_settings(raw)
        parts = [f"probes/{lang}" for lang in s.target_langs] + translation.directions
        if all((workdir / "report" / part / "report.json").is_file() for part in parts):
            write_translation_summary(workdir / "report", translation.directions, s.source_lang, s.target_langs)
    return {"workdir": str(workdir), "steps": status, "report": str(workdir / "report" / "report.md")}

"""The steps a run config's `translation:` section adds to `polytune run` (see pipeline.py, which turns these step
configs into steps and runs them).

With `translation:`, the task is translation between the source language and each target, in the directions the
section names: `polytune pairs` writes the records; per direction, target and system a causal-LM task adapter
trains on them (the system's language adapter stacked, MAD-X style: `task-only` on the bare base, `lang-adapter`
on the target's language adapter, `vocab+lang-adapter` on the one with the extended vocabulary); one evaluation per
direction scores BLEU, chrF and chrF++ per target and system; and per target a probe evaluation measures bits per
byte of the base and of the target's language-adapter systems on the target's text and on the source language's
(forgetting).

Example (run config):

    translation:
      directions: [into_target, into_source]
      systems: [task-only, vocab+lang-adapter]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polytune import config as C
from polytune.errors import ConfigError, did_you_mean

# system -> the language-adapter variant it stacks (pipeline: adapters/<variant>/<lang>), None: the bare base.
SYSTEMS = {"task-only": None, "lang-adapter": "lang", "vocab+lang-adapter": "lang-ext"}
METRICS = ["chrf", "chrf_pp", "bleu"]
KEYS = ("directions", "systems", "names")


@dataclass
class TranslationSettings:
    """The `translation:` section of a run config."""

    directions: list[str] = field(default_factory=lambda: list(C.DIRECTIONS))
    systems: list[str] = field(default_factory=lambda: list(SYSTEMS))
    names: str | None = None  # a translation YAML (template and language names); None: polytune's data file


def read_settings(raw: dict[str, Any]) -> TranslationSettings | None:
    """The run's translation settings, checked; None when the config has no `translation:` section.

    Raises:
        ConfigError: an unknown key, direction or system, or a list left empty.
    """
    if "translation" not in raw:
        return None
    section = raw["translation"] or {}
    if not isinstance(section, dict):
        raise ConfigError(f"translation: expected a mapping such as {{directions: [into_source]}}, got {section!r}")
    for key in section:
        if key not in KEYS:
            raise ConfigError(f"translation: unknown key {key!r}{did_you_mean(str(key), KEYS)}; keys: "
                              f"{', '.join(KEYS)}")  # fmt: skip
    settings = TranslationSettings(**section)
    for name, allowed in (("directions", C.DIRECTIONS), ("systems", tuple(SYSTEMS))):
        values = getattr(settings, name)
        values = [values] if isinstance(values, str) else list(values or [])
        if not values:
            raise ConfigError(f"translation.{name}: give at least one of {', '.join(allowed)}")
        for value in values:
            if value not in allowed:
                raise ConfigError(f"translation.{name}: unknown {value!r}{did_you_mean(str(value), allowed)}; "
                                  f"available: {', '.join(allowed)}")  # fmt: skip
        setattr(settings, name, values)
    return settings


def variants(settings: TranslationSettings) -> list[str]:
    """The language-adapter variants the systems stack (lang, lang-ext), in the pipeline's order."""
    needed = {SYSTEMS[s] for s in settings.systems} - {None}
    return [v for v in ("lang", "lang-ext") if v in needed]


def pairs_config(settings: TranslationSettings, workdir: Path, targets: list[str], source: str) -> C.PairsConfig:
    """`polytune pairs` over the filtered corpus (dev and test pairs too: the corpus, not the augmented one)."""
    return C.PairsConfig(input=workdir / "corpus", out=workdir / "pairs", langs=targets, source_lang=source,
                         directions=settings.directions, names=settings.names)  # fmt: skip


def adapter_folder(workdir: Path, direction: str, system: str) -> Path:
    """Where the task adapters of one direction and system go ('{lang}' for the target)."""
    return workdir / "adapters" / "translation" / direction / system / "{lang}"


def task_configs(settings: TranslationSettings, workdir: Path, targets: list[str], derived: dict[str, Any],
                 section: Callable[[dict[str, Any]], Any]) -> list[tuple[str, Any]]:  # fmt: skip
    """(step name, TaskAdapterConfig) per direction, target and system.

    Args:
        settings: the translation section.
        workdir: the run's folder.
        targets: the target languages.
        derived: values every task adapter shares (base, seed, report_to, ...).
        section: builds a TaskAdapterConfig from the run config's `task_adapter:` section plus derived values.
    """
    from polytune.corpus.translation import prompt_data

    template = prompt_data(Path(settings.names) if settings.names else None)["template"]
    steps = []
    for direction in settings.directions:
        for system in settings.systems:
            variant = SYSTEMS[system]
            for lang in targets:
                out = Path(str(adapter_folder(workdir, direction, system)).replace("{lang}", lang))
                la = None if variant is None else str(workdir / "adapters" / variant / lang)
                cfg = section({**derived, "input": workdir / "pairs" / direction, "lang": lang, "out": out,
                               "task": "causal_lm", "label_field": "target", "prompt": template, "lang_adapter": la,
                               "tracking_dir": workdir / "tracking" / "translation" / direction / system})
                steps.append((f"translation/{direction}/{system}/{lang}", cfg))
    return steps


def eval_configs(settings: TranslationSettings, workdir: Path, targets: list[str], derived: dict[str, Any],
                 section: Callable[[dict[str, Any]], Any]) -> list[tuple[str, Any]]:  # fmt: skip
    """(step name, EvalConfig): per target, the bits-per-byte probe of the base and its language-adapter systems on
    the target's text and on the source language's (forgetting); then one report per direction (BLEU, chrF,
    chrF++ per target and system, Δ vs task-only).

    Args:
        settings: the translation section.
        workdir: the run's folder.
        targets: the target languages.
        derived: base, seed, source_lang.
        section: builds an EvalConfig from the run config's `evaluation:` section plus derived values.
    """
    source, evals = derived["source_lang"], []
    for lang in targets:  # the target's language adapters on its own text and on the source's (forgetting)
        systems = [{"name": "base"}] + [
            {"name": system, "lang_adapter": str(workdir / "adapters" / SYSTEMS[system] / lang)}
            for system in settings.systems if SYSTEMS[system] is not None
        ]
        probe = section({**derived, "input": workdir / "corpus", "out": workdir / "report" / "probes" / lang,
                         "systems": systems, "langs": [lang, source], "baseline": "base", "intrinsic": True,
                         "retrieval": False, "task_adapter": None})  # fmt: skip
        evals.append((f"evaluation/probes/{lang}", probe))
    for direction in settings.directions:
        systems = [{"name": system, "task_adapter": str(adapter_folder(workdir, direction, system)),
                    **({"lang_adapter": str(workdir / "adapters" / SYSTEMS[system] / "{lang}")}
                       if SYSTEMS[system] else {})} for system in settings.systems]  # fmt: skip
        cfg = section({**derived, "input": workdir / "pairs" / direction, "out": workdir / "report" / direction,
                       "systems": systems, "langs": targets, "baseline": settings.systems[0], "label_field": "target",
                       "metrics": METRICS, "intrinsic": False, "retrieval": False, "source_lang": None})
        evals.append((f"evaluation/{direction}", cfg))
    return evals

"""`polytune tune`: an Optuna study over one step of a run config, trials calling the step's training function.

Everything the search depends on is checked before the first trial: the `tune:` block (space.py), the metric
(metrics.py), and every bound and choice of the space applied to the step's config dataclass, so a value the
step would refuse fails at once. Studies live in Optuna's RDB storage (an SQLite file in the output folder by
default): a killed search resumes with the trials it lacks, and several workers given the same `--storage` URL
share one study (each trial is claimed in the database). Pruning is fed by the step's own dev measurement every
`eval_every` steps (`PruningCallback`).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

from polytune import config as C
from polytune.errors import ConfigError
from polytune.pipeline import adapter_steps
from polytune.tune.metrics import Metric, metric_for
from polytune.tune.space import TuneConfig, parse_tune

log = logging.getLogger(__name__)

TRAIN = {"task_adapter": "polytune.adapters.tasks:train_task_adapter",
         "language_adapter": "polytune.adapters.language:train_language_adapter"}  # fmt: skip


@dataclasses.dataclass
class Search:
    """A checked search: the run config, its tune block, the step's base config, the metric and the output."""

    raw: dict[str, Any]
    tune: TuneConfig
    base: Any  # the step's config dataclass as the run config sets it (the hand-set configuration)
    metric: Metric
    out: Path
    storage: str
    config_path: Path

    @property
    def study_name(self) -> str:
        return self.tune.study_name or f"tune-{self.tune.step}-{self.metric.name}"


def _step_config(raw: dict[str, Any], tune: TuneConfig) -> Any:
    """The step's config as `polytune run` would build it (paths derived from workdir)."""
    wanted = "task" if tune.step == "task_adapter" else f"lang/{tune.lang}"
    if tune.step == "language_adapter" and not tune.lang:
        raise ConfigError("tune.lang: name the target language whose adapter is searched, e.g. nya_Latn")
    if tune.step == "language_adapter":
        from polytune.langcodes import normalize

        wanted = f"lang/{normalize(tune.lang)}"
    steps = {s.name: s for s in adapter_steps(raw)}
    if wanted not in steps:
        raise ConfigError(f"tune.lang {tune.lang!r} is not one of the run's target_langs")
    return steps[wanted].config


def apply(base: Any, values: dict[str, Any], out: Path | None = None) -> Any:
    """The step config with sampled values (class_weights: a bool switches the run's file on/off).

    Example: apply(cfg, {"lora_r": 16}).lora_r -> 16
    """
    changes = dict(values)
    if isinstance(changes.get("class_weights"), bool):
        changes["class_weights"] = base.class_weights if changes["class_weights"] else None
    if out is not None:  # a trial is short and disposable: no resumable checkpoints; curves as <study>/tracking/NNNN
        changes.update(out=out, save_every=0, tracking_dir=out.parent.parent / "tracking")
    try:
        return dataclasses.replace(base, **changes)
    except ConfigError as exc:
        raise ConfigError(f"tune: {values} is refused by {type(base).__name__}: {exc}") from exc


def _check_space(search: Search) -> None:
    """Apply every bound and every choice to the step config alone, so a value it refuses fails before trial 0."""
    base, tune = search.base, search.tune
    for name, spec in tune.params.items():
        if name == "class_weights" and spec.type == "bool" and not base.class_weights:
            raise ConfigError("tune.params.class_weights: on/off needs a class_weights section in the run config")
        values = spec.choices if spec.type == "categorical" else [True, False] if spec.type == "bool" else []
        if spec.type in ("float", "int"):
            cast = int if spec.type == "int" else float
            values = [cast(spec.low), cast(spec.high)]
        for value in values:
            apply(base, {name: value})
    if tune.pruner != "none" and not base.eval_every:
        raise ConfigError(f"tune.pruner {tune.pruner} is fed by the dev metric every eval_every steps: set "
                          f"{tune.step}.eval_every (e.g. 25) or use pruner: none")  # fmt: skip


def prepare(config_path: str | Path, out: str | Path | None = None, storage: str | None = None) -> Search:
    """Read and check a run config's search (nothing trains here).

    Raises:
        ConfigError: the tune block, the metric or a value of the space is wrong (one line, before any trial).
    """
    config_path = Path(config_path)
    raw = C.load_yaml(config_path)
    tune = parse_tune(raw)
    base = _step_config(raw, tune)
    metric = metric_for(tune.step, tune.metric, getattr(base, "task", None), _objectives(base))
    out = Path(out) if out is not None else Path(raw["workdir"]) / "tune" / tune.step
    storage = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    search = Search(raw, tune, base, metric, out, storage, config_path)
    _check_space(search)
    return search


def _objectives(base: Any) -> frozenset[str]:
    """The objectives a language adapter config trains (empty for other steps)."""
    weights = getattr(base, "objectives", None)
    if weights:
        return frozenset(name for name, weight in weights.items() if weight > 0)
    objective = getattr(base, "objective", None)
    return frozenset({objective}) if objective else frozenset()


class PruningCallback:
    """A training callback (`loop.fit`): reports the step's dev metric to the trial; prunes when optuna says so.

    The early-stopping callback runs first and puts its measurement into the step's logs under `live`.
    """

    def __init__(self, trial: Any, live: str | None) -> None:
        self.trial, self.live = trial, live

    def on_step(self, step: int, logs: dict[str, float]) -> bool:
        import optuna

        if self.live is None or self.live not in logs:
            return False
        self.trial.report(float(logs[self.live]), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"{self.live} {logs[self.live]:.4f} at step {step}")
        return False


def _train(step: str, cfg: Any, callbacks: list[Any]) -> dict[str, Any]:
    module, _, name = TRAIN[step].partition(":")
    return getattr(importlib.import_module(module), name)(cfg, callbacks=callbacks)


def objective(search: Search):
    """The function optuna calls per trial: sample, train in trials/NNNN, return the metric."""

    def run(trial: Any) -> float:
        values = {name: spec.suggest(trial, name) for name, spec in search.tune.params.items()}
        cfg = apply(search.base, values, search.out / "trials" / f"{trial.number:04d}")
        trial.set_user_attr("values", json.loads(json.dumps(values)))
        start = time.perf_counter()
        summary = _train(search.tune.step, cfg, [PruningCallback(trial, search.metric.live)])
        if search.metric.final not in summary:
            raise ConfigError(f"{search.tune.step} produced no {search.metric.final}; its summary has "
                              f"{', '.join(sorted(summary))}")  # fmt: skip
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        trial.set_user_attr("steps", summary["steps"])
        trial.set_user_attr("best_step", summary.get("best_step"))
        return float(summary[search.metric.final])

    return run


def _sampler_pruner(search: Search) -> tuple[Any, Any]:
    import optuna

    seed, tune = search.base.seed, search.tune
    sampler = (optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(2, tune.n_trials // 3)))
               if tune.sampler == "tpe" else optuna.samplers.RandomSampler(seed=seed))  # fmt: skip
    if tune.pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=tune.startup_trials,
                                             n_warmup_steps=tune.pruner_warmup_steps)  # fmt: skip
    elif tune.pruner == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=search.base.eval_every,
                                                max_resource=search.base.max_steps)  # fmt: skip
    else:
        pruner = optuna.pruners.NopPruner()
    return sampler, pruner


def load_study(search: Search) -> Any:
    """Create or reopen the study in its storage (heartbeats turn trials of a killed worker into FAIL)."""
    import optuna

    search.out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # heartbeats are "experimental" in optuna 5; they are what marks dead trials
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(search.storage, heartbeat_interval=30, grace_period=90)
    sampler, pruner = _sampler_pruner(search)
    return optuna.create_study(study_name=search.study_name, storage=storage, sampler=sampler, pruner=pruner,
                               direction=search.metric.direction, load_if_exists=True)  # fmt: skip


def finished(study: Any) -> int:
    """Trials that count towards n_trials: complete and pruned ones (failed ones are retried)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def run_study(search: Search) -> dict[str, Any]:
    """Run the trials the study still lacks (n_trials in all), then write the best YAML, the table and the page.

    Returns:
        Summary: study, storage, out, trials (finished), ran (this call), pruned, best (number, value, values).
    """
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    from polytune.tune.report import write_outputs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(search)
    before = finished(study)
    todo = max(0, search.tune.n_trials - before)
    log.info("study %s: %d trials done, %d to run (%s)", search.study_name, before, todo, search.storage)
    if todo:
        stop = MaxTrialsCallback(search.tune.n_trials, states=(TrialState.COMPLETE, TrialState.PRUNED))
        study.optimize(objective(search), n_trials=todo, timeout=search.tune.timeout, callbacks=[stop],
                       catch=(), gc_after_trial=True)  # fmt: skip
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise ConfigError(f"study {search.study_name}: no trial completed (all pruned or failed); widen the space")
    files = write_outputs(search, study)
    pruned = len(study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)))
    best = study.best_trial
    return {"study": search.study_name, "storage": search.storage, "out": str(search.out), "trials": finished(study),
            "ran": finished(study) - before, "pruned": pruned, "metric": search.metric.name,
            "best": {"number": best.number, "value": best.value, "values": best.user_attrs.get("values")},
            "files": files}  # fmt: skip

"""The search space of `polytune tune`: the `tune:` block of a run config, parsed and checked before any trial runs.

Torch-free: a space is checked against the fields of the step's config dataclass (config.py), so an unknown
parameter, an empty or inverted range, or a metric the step does not produce is one ConfigError line.

Example block:

    tune:
      step: task_adapter
      metric: dev_accuracy
      n_trials: 20
      params:
        learning_rate: {type: float, low: 1.0e-4, high: 5.0e-3, log: true}
        lora_r: {type: int, low: 4, high: 32}
        class_weights: {type: bool}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from polytune import config as C
from polytune.errors import ConfigError, did_you_mean
from polytune.tune.metrics import metric_for

# The pipeline sections a study can search over, and their config dataclasses.
STEPS: dict[str, type] = {"task_adapter": C.TaskAdapterConfig, "language_adapter": C.LanguageAdapterConfig}
TYPES = ("float", "int", "categorical", "bool")
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
# Fields a trial may not change: where data comes from and goes to, and what makes trials comparable.
FIXED = ("base", "input", "out", "lang", "seed", "save_every", "eval_every", "max_eval_records", "from_adapter",
         "task", "label_field", "text_field", "tokenizer", "lang_adapter")


def _help(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class ParamSpec:
    """One searched parameter: a distribution over values of one field of the step's config."""

    type: str = _help("float | int | categorical | bool (bool: on/off; class_weights on = the run's file)")
    low: float | None = _help("float/int: lowest value (inclusive)", default=None)
    high: float | None = _help("float/int: highest value (inclusive)", default=None)
    log: bool = _help("float/int: sample on a log scale (low must be > 0)", default=False)
    step: float | None = _help("float/int: grid step between low and high", default=None)
    choices: list[Any] = _help("categorical: the values to choose from (lists allowed, e.g. target modules)",
                               default_factory=list)

    def check(self, name: str) -> None:
        """Raise ConfigError naming `name` when the distribution is malformed (empty, inverted, log <= 0)."""
        where = f"tune.params.{name}"
        if self.type not in TYPES:
            raise ConfigError(f"{where}: type must be one of {', '.join(TYPES)}, got {self.type!r}"
                              f"{did_you_mean(str(self.type), TYPES)}")  # fmt: skip
        if self.type in ("float", "int"):
            if not _number(self.low) or not _number(self.high):
                raise ConfigError(f"{where}: {self.type} needs numbers low and high, got {self.low!r}, {self.high!r}")
            if self.low >= self.high:
                raise ConfigError(f"{where}: empty or inverted range low={self.low} >= high={self.high}; "
                                  "give low < high (or a categorical with one choice)")  # fmt: skip
            if self.log and self.low <= 0:
                raise ConfigError(f"{where}: a log scale needs low > 0, got {self.low}")
            if self.log and self.step is not None:
                raise ConfigError(f"{where}: give either log or step, not both (optuna samples one or the other)")
            if self.step is not None and (not _number(self.step) or self.step <= 0):
                raise ConfigError(f"{where}: step must be a positive number, got {self.step!r}")
            if self.type == "int" and not all(float(v).is_integer() for v in (self.low, self.high)):
                raise ConfigError(f"{where}: int low/high must be whole numbers, got {self.low}, {self.high}")
        elif self.type == "categorical" and not self.choices:
            raise ConfigError(f"{where}: categorical needs a non-empty list of choices")

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw this parameter's value from an optuna trial."""
        if self.type == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.type == "bool":
            return trial.suggest_categorical(name, [True, False])
        # optuna stores categorical choices that are None/bool/int/float/str; lists travel as their index.
        if all(c is None or isinstance(c, (bool, int, float, str)) for c in self.choices):
            return trial.suggest_categorical(name, list(self.choices))
        return self.choices[trial.suggest_categorical(name, list(range(len(self.choices))))]


@dataclass
class TuneConfig:
    """The `tune:` block of a run config: what is searched, on which step, for which metric, how."""

    step: str = _help("the pipeline section searched: task_adapter | language_adapter")
    metric: str = _help("the objective, a dev metric the step produces (see `polytune tune --help`)")
    params: dict[str, ParamSpec] = _help("field of the step's config -> distribution {type, low, high, log, "
                                         "step, choices}", default_factory=dict)
    lang: str | None = _help("language_adapter: the target language whose adapter is searched", default=None)
    n_trials: int = _help("trials in the study in all (a resumed study runs only the missing ones)", default=20)
    timeout: float | None = _help("stop starting trials after this many seconds (None: no limit)", default=None)
    sampler: str = _help("tpe (seeded with the run's seed) | random", default="tpe")
    pruner: str = _help("median | hyperband | none: stop trials whose dev metric lags", default="median")
    pruner_warmup_steps: int = _help("median: no trial is pruned before this training step", default=0)
    startup_trials: int = _help("median: trials that complete before any pruning", default=3)
    study_name: str | None = _help("name of the study in the storage (None: tune-<step>-<metric>)", default=None)

    def __post_init__(self) -> None:
        if self.step not in STEPS:
            raise ConfigError(f"tune.step must be one of {', '.join(STEPS)}, got {self.step!r}"
                              f"{did_you_mean(str(self.step), STEPS)}")  # fmt: skip
        if not isinstance(self.params, dict) or not self.params:
            raise ConfigError("tune.params: declare at least one parameter, e.g. learning_rate: {type: float, ...}")
        self.params = {str(k): v if isinstance(v, ParamSpec) else C.from_dict(ParamSpec, v, f"tune.params.{k}")
                       for k, v in self.params.items()}  # fmt: skip
        fields = {f.name for f in dataclasses.fields(STEPS[self.step])}
        for name, spec in self.params.items():
            if name not in fields:
                raise ConfigError(f"tune.params: {name!r} is not a field of {self.step}"
                                  f"{did_you_mean(name, sorted(fields - set(FIXED)))}")  # fmt: skip
            if name in FIXED:
                raise ConfigError(f"tune.params: {name!r} is fixed for every trial (it sets what trials compare on)")
            spec.check(name)
        for name in ("n_trials", "startup_trials"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (1 if name == "n_trials" else 0):
                raise ConfigError(f"tune.{name} must be a whole number >= {1 if name == 'n_trials' else 0}")
        C._choice(self.sampler, "tune.sampler", SAMPLERS)
        C._choice(self.pruner, "tune.pruner", PRUNERS)
        metric_for(self.step, self.metric)  # raises for a metric the step does not produce


def parse_tune(raw: dict[str, Any]) -> TuneConfig:
    """The `tune:` block of a run config as a checked TuneConfig.

    Raises:
        ConfigError: no block, an unknown key (with "did you mean"), or any check of TuneConfig/ParamSpec.
    """
    if "tune" not in raw:
        raise ConfigError("the config has no tune: block; add one (see examples/tune_demo.yaml)")
    return C.from_dict(TuneConfig, raw["tune"], "tune")

"""The objectives a study can optimize: which step produces each, in which direction, and where it is read.

A metric is read twice: during training from the step's early-stopping measurement (`live`: the name the
early-stopping callback puts into the step's logs every `eval_every` steps, which feeds pruning), and at the end
from the training summary (`final`: measured on the kept, best weights). A metric that another module provides
later (e.g. retrieval acc@1 of a language adapter) plugs in as one more row with `available` naming its module.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from polytune.errors import ConfigError, did_you_mean

LM_OBJECTIVES = ("auto", "mlm", "clm", "denoise")  # an align run's dev loss is the alignment loss, not an LM's


@dataclass(frozen=True)
class Metric:
    """One objective of a study."""

    name: str
    step: str  # task_adapter | language_adapter
    higher_is_better: bool
    final: str  # key of the step's training summary
    live: str | None  # key the early-stopping callback logs every eval_every steps (None: no pruning)
    tasks: tuple[str, ...] = ()  # task_adapter: task types that produce it (empty: all)
    labels_of: str = "source"  # whose labels selection uses: source | none (label-free on the target language)
    available: str | None = None  # module that must be importable for the metric (None: always)
    objectives: tuple[str, ...] = ()  # language_adapter: objectives whose training summary has it (empty: all)
    only: bool = False  # every objective of the run must be among `objectives` (else one of them suffices)
    help: str = ""

    @property
    def direction(self) -> str:
        return "maximize" if self.higher_is_better else "minimize"


METRICS: tuple[Metric, ...] = (
    Metric("dev_accuracy", "task_adapter", True, "dev_accuracy", "dev_accuracy", ("sequence_classification",),
           help="accuracy on the source language's dev split"),
    Metric("dev_f1", "task_adapter", True, "dev_f1", "dev_f1", ("token_classification",),
           help="strict entity F1 on the source language's dev split"),
    Metric("dev_loss", "task_adapter", False, "dev_loss_after", "dev_loss", ("seq2seq", "causal_lm"),
           help="cross-entropy per target token on the source language's dev split"),
    Metric("dev_mlm_loss", "language_adapter", False, "dev_loss_after", "dev_loss", labels_of="none",
           objectives=LM_OBJECTIVES, only=True,
           help="held-out LM loss on the target language's dev split (no labels)"),
    # align measures dev retrieval before and after training only, so this metric cannot prune
    Metric("dev_retrieval_acc1", "language_adapter", True, "dev_retrieval_after", None, labels_of="none",
           objectives=("align",), help="parallel-sentence retrieval acc@1 on the target dev pairs (no labels)"),
)


def metric_for(step: str, name: str, task: str | None = None, objectives: frozenset[str] = frozenset()) -> Metric:
    """The metric `name` of `step` (for task adapters, of `task`; for language adapters, of its `objectives`).

    Raises:
        ConfigError: the step does not produce the metric (not for this task type or objective), or the module
            providing it is not installed.
    """
    mine = [m for m in METRICS if m.step == step]
    found = next((m for m in mine if m.name == name), None)
    if found is None:
        hint = did_you_mean(str(name), [m.name for m in mine])
        raise ConfigError(f"tune.metric {name!r} is not produced by {step}{hint}")
    if task is not None and found.tasks and task not in found.tasks:
        others = ", ".join(m.name for m in mine if task in m.tasks)
        raise ConfigError(f"tune.metric {name} is not produced by a {task} task adapter (it is for "
                          f"{', '.join(found.tasks)}); choose one of {others}")
    fits = objectives <= set(found.objectives) if found.only else bool(objectives & set(found.objectives))
    if found.objectives and objectives and not fits:
        raise ConfigError(f"tune.metric {name} is measured by a language adapter trained with objective "
                          f"{' or '.join(found.objectives)}; this one trains {', '.join(sorted(objectives))}")
    if found.available and importlib.util.find_spec(found.available) is None:
        raise ConfigError(f"tune.metric {name} needs {found.available}, which this polytune does not have yet")
    return found

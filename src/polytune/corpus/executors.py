"""The datatrove executors that run the filter's pipelines, and the check that every task of a pipeline finished.

datatrove does not fail a run when a task fails: the Ray executor logs "Only X/Y tasks completed" and returns, so
summing the stats of the tasks that wrote some would silently lose their shards. After each pipeline, every task
must therefore have datatrove's completion marker (`completions/<rank>` in the logging folder, read with the
executor's `get_incomplete_ranks`) and its stats (datatrove's `stats/<rank>.json` there, and polytune's where a stage
writes its own); otherwise `TaskError` names the tasks and the log to read. Nothing is assembled then, the work
folder stays, and the same command reruns only the tasks without a marker (datatrove skips the others).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from polytune.config import FilterConfig
from polytune.corpus.lifeline import DieWithParent, forks_die_with_this_process
from polytune.errors import PolytuneError, TaskError, require_module

SHOWN = 5  # failed task numbers named in the message; the rest are counted
_ERROR_LINE = re.compile(r"\| ERROR +\| \S+ - (.+)")  # datatrove's task-log format: "<time> | ERROR | where - message"


def make_executor(cfg: FilterConfig, pipeline: list[PipelineStep], tasks: int, logs: Path) -> Any:
    """The executor of `cfg.executor` for `pipeline` in `tasks` tasks, logging to `logs` (its completions too)."""
    workers = min(cfg.workers, tasks)
    if cfg.executor == "ray":
        ray = require_module("ray", extra="cluster")
        from datatrove.executor import RayPipelineExecutor

        if not ray.is_initialized():
            # What datatrove's first ray.put would do (join RAY_ADDRESS's cluster, or start a local one), without
            # forwarding every worker's console to this terminal: each task's log is in the work folder, and an
            # error stays the last line.
            ray.init(log_to_driver=False)
        return RayPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=str(logs), cpus_per_task=1)
    from datatrove.executor import LocalPipelineExecutor

    # The local pool's workers die with this process (polytune.corpus.lifeline); Ray's belong to its cluster.
    guarded = [DieWithParent(os.getpid()), *pipeline]
    return LocalPipelineExecutor(guarded, tasks=tasks, workers=workers, logging_dir=str(logs))


def run_tasks(executor: Any, stage: str, stats: Path | None = None) -> None:
    """Run every task of `executor`; datatrove's console log goes to its logging folder, not to the terminal.

    Args:
        executor: a datatrove executor (local or Ray).
        stage: what the pipeline is, for the message ("stage one", "stage two (buckets)").
        stats: a folder where each task also writes `<rank>.json`, or None.

    Raises:
        TaskError: a task did not finish (see `check_tasks`).
        PolytuneError: a local task raised one (an unreadable input...): it names the thing and the fix already.
    """
    from datatrove.executor import LocalPipelineExecutor

    local = isinstance(executor, LocalPipelineExecutor)
    try:
        with forks_die_with_this_process() if local else contextlib.nullcontext():
            with contextlib.redirect_stderr(io.StringIO()):
                executor.run()
    except PolytuneError:
        raise
    except Exception as exc:
        check_tasks(executor, stage, stats, cause=str(exc).strip().splitlines()[0] if str(exc).strip() else None)
        raise
    check_tasks(executor, stage, stats)


def check_tasks(executor: Any, stage: str, stats: Path | None = None, cause: str | None = None) -> None:
    """Raise TaskError, naming the tasks and the log to read, unless every task of `executor` finished.

    Example message: "filter stage one: task 3 of 4 did not finish: in/c.jsonl.gz: unreadable (...); see
    .out.work/logs1/logs/task_00003.log, then rerun the same command (...)".
    """
    failed = unfinished(executor, stats)
    if not failed:
        return
    shown = ", ".join(map(str, failed[:SHOWN])) + (f" and {len(failed) - SHOWN} more" if len(failed) > SHOWN else "")
    log = f"logs/task_{failed[0]:05d}.log"
    cause = cause or _logged_error(executor, log)
    if executor.logging_dir.isfile(log):
        where = executor.logging_dir.resolve_paths(log) + (" and the logs beside it" if len(failed) > 1 else "")
    else:  # never started, or its worker died before the log was copied back
        where = f"the task logs in {executor.logging_dir.resolve_paths('logs')}"
    raise TaskError(
        f"filter {stage}: task{'s' if len(failed) > 1 else ''} {shown} of {executor.world_size} did not finish"
        f"{': ' + cause if cause else ''}; see {where}, then rerun the same command (tasks that finished are not "
        "run again while the inputs and config are unchanged)"
    )


def unfinished(executor: Any, stats: Path | None = None) -> list[int]:
    """Tasks without a completion marker or without their stats files, sorted.

    A task marked complete whose stats are missing (deleted, or written where this machine cannot see them) loses
    its marker, so that the rerun runs it again instead of skipping it.
    """
    folder = executor.logging_dir
    ranks = range(executor.world_size)
    failed = set(executor.get_incomplete_ranks(ranks, skip_completed=True))
    written = set(folder.list_files("stats"))
    for rank in sorted(set(ranks) - failed):
        name = f"{rank:05d}.json"
        if f"stats/{name}" not in written or (stats is not None and not (stats / name).is_file()):
            folder.rm(f"completions/{rank:05d}")
            failed.add(rank)
    return sorted(failed)


def _logged_error(executor: Any, log: str) -> str | None:
    """The last error a task logged (the first line of its exception), or None."""
    if not executor.logging_dir.isfile(log):
        return None
    with executor.logging_dir.open(log, "rt", errors="replace") as handle:
        errors = [match.group(1) for line in handle if (match := _ERROR_LINE.search(line))]
    return errors[-1].strip()[:500] if errors else None

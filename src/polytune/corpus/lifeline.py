"""Worker processes that die with the polytune process that started them.

datatrove's LocalPipelineExecutor runs tasks in a `multiprocess` pool started through a forkserver, with a manager
process for its rank queue. A SIGKILL of polytune runs no cleanup, and none of those processes notices on its own:
pool workers block forever on their task queue (each also holds the queue's write end and the forkserver's "alive"
pipe, so they never see EOF), the manager waits for a stop request, and the forkserver and resource tracker wait for
the workers. So each worker and the manager watch the polytune process themselves and SIGKILL themselves when it
ends; the forkserver and resource tracker then see EOF on their pipes and exit by themselves.

Only public APIs: the watched pipeline step is an ordinary datatrove step (the executor pickles it into every
task, so unpickling it in a worker starts the watch before the task reads the manager's queue), and the manager,
which runs only library code, is reached through `os.register_at_fork` while a local executor runs. The watch is
a thread blocked on a pidfd (`os.pidfd_open`, Linux >= 5.3), polling elsewhere. prctl's PR_SET_PDEATHSIG would
fire on the death of the *parent*, but pool workers are children of the forkserver, not of polytune, and a fork
from a thread would tie the manager to that thread's life rather than the process's.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from datatrove.pipeline.base import PipelineStep

_watched: set[int] = set()
_owner: int | None = None  # while a local executor runs in this process: its pid, for the processes it forks


def die_with(pid: int) -> None:
    """SIGKILL this process as soon as process `pid` ends (nothing in `pid` itself; one watch per pid).

    Example: in a pool worker, die_with(<pid of polytune>) and the worker goes when polytune goes, however it ends.
    """
    if pid == os.getpid() or pid in _watched:
        return
    _watched.add(pid)
    threading.Thread(target=_watch, args=(pid,), name=f"polytune-dies-with-{pid}", daemon=True).start()


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None  # gone already
    except (AttributeError, OSError):  # no pidfd here (not Linux, an old kernel, a sandbox): poll instead
        fd = None
        while _alive(pid):
            time.sleep(0.5)
    if fd is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)  # readable once the process has ended
        poller.poll()
    os.kill(os.getpid(), signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def _after_fork_in_child() -> None:
    if _owner is not None:
        die_with(_owner)


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def forks_die_with_this_process() -> Iterator[None]:
    """Within this block, every process forked from this one (datatrove's manager) dies when this process ends."""
    global _owner
    _owner = os.getpid()
    try:
        yield
    finally:
        _owner = None


class DieWithParent(PipelineStep):
    """First step of a local pipeline: the worker that runs (or unpickles) it dies when process `pid` ends."""

    name, type = "polytune lifeline", "🛟 - GUARD"

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        die_with(self.pid)

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Any:
        die_with(self.pid)
        return data

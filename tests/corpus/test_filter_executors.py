"""The filter's executors lose no shard: a task that fails stops the run (exit 2, the task and its log named, nothing
assembled, the work folder kept); the same command then runs only the unfinished tasks and writes the bytes an
undisturbed run writes. Workers die with a SIGKILLed parent.

The fault is a gzip input whose CRC is wrong on the first try and right again, with its old mtime, for the rerun:
a transient read error (a flaky mount), which leaves the work folder valid. chmod 000 would not do: tests run as
root here, and root reads the file anyway.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datatrove.executor import LocalPipelineExecutor

from polytune.cli.main import main
from polytune.corpus import steps
from polytune.corpus.executors import check_tasks, unfinished
from polytune.errors import TaskError

WORDS = ("the king said unto his people that the lord had given them rest from all their enemies round about and "
         "they went up to the house of god with joy and singing in the morning").split()  # fmt: skip
FILES = ("a.jsonl", "b.jsonl", "c.jsonl", "d.jsonl.gz")  # task i of 4 reads FILES[i]
ARGV = ["--tasks", "4", "--workers", "2"]


def _polytune(argv: list[str]) -> tuple[int, str]:
    """`polytune --quiet ARGV` in this process: (exit code, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["--quiet", *argv])
    return code, err.getvalue()


def _write_inputs(folder: Path, records: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for index, name in enumerate(FILES):
        texts = [" ".join(rng.choices(WORDS, k=rng.randint(6, 18))) for _ in range(records)]
        texts[::7] = ["the lord is my shepherd and i shall not want"] * len(texts[::7])  # duplicates across tasks
        data = "".join(json.dumps({"id": f"{index}-{n}", "text": t}) + "\n" for n, t in enumerate(texts)).encode()
        (folder / name).write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
    return folder


def _output(root: Path) -> dict[str, object]:
    """Every file under an output folder, as bytes; manifest.json parsed, less how the run ran (its command line,
    executor and workers): those differ between equal outputs, everything else (config, input hashes, counts,
    environment) must not."""
    files: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        files[str(path.relative_to(root))] = path.read_bytes()
    manifest = json.loads(files.pop("manifest.json"))
    manifest.pop("command")
    for key in ("executor", "workers"):
        manifest["config"].pop(key)
    files["manifest.json"] = manifest
    return files


@contextlib.contextmanager
def _unreadable_once(path: Path):
    """Within the block, `path` fails its gzip CRC check (after every line was read); then it is as it was.

    Size and mtime stay (what the work folder's fingerprint holds), as they would for a transient read error.
    """
    data, stat = path.read_bytes(), path.stat()
    trailer = bytearray(data[-8:])
    trailer[0] ^= 0xFF  # the CRC32 of the trailer: every line decompresses, the end of the file fails
    try:
        path.write_bytes(data[:-8] + bytes(trailer))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: the same file to polytune
        yield
    finally:
        path.write_bytes(data)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    """(folder holding in/, an undisturbed run's output of in/ into <folder>/out). Tests write <folder>/out too
    (the output path is in the manifest) and remove it when done."""
    root = tmp_path_factory.mktemp("executors")
    _write_inputs(root / "in", records=40)
    # One worker, in this process: the same bytes as more (test_corpus_engine), in a fraction of the time.
    code, err = _polytune(["filter", str(root / "in"), "--out", str(root / "out"), "--tasks", "4", "--workers", "1"])
    assert code == 0, err
    reference = _output(root / "out")
    shutil.rmtree(root / "out")
    return root, reference


@pytest.fixture
def planned(monkeypatch) -> dict[str, list[int]]:
    """{logs folder: the tasks its pipeline was about to run}, recorded as the filter builds each executor."""
    plans: dict[str, list[int]] = {}
    real = steps._executor

    def recording(cfg, pipeline, tasks, logs):
        executor = real(cfg, pipeline, tasks, logs)
        plans[logs.name] = executor.get_incomplete_ranks()
        return executor

    monkeypatch.setattr(steps, "_executor", recording)
    return plans


def _fail_then_rerun(root: Path, argv: list[str], planned: dict[str, list[int]], reference) -> tuple[str, list[str]]:
    """Run with task 3's input unreadable, then rerun; returns (the error line, tasks complete after the failure)."""
    out, work = root / "out", root / ".out.work"
    try:
        with _unreadable_once(root / "in" / FILES[3]):
            code, err = _polytune(argv)
        errors = [line for line in err.splitlines() if line.startswith("polytune: error: ")]
        assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
        assert not out.exists() and (work / "fingerprint.json").is_file()  # nothing declared finished
        finished = sorted(p.name for p in (work / "logs1" / "completions").iterdir())
        assert "00003" not in finished and not (work / "s1" / "stats" / "00003.json").exists()
        planned.clear()
        code, err = _polytune(argv)
        assert code == 0, err
        assert planned["logs1"] == sorted(set(range(4)) - {int(n) for n in finished})  # only the unfinished ran
        assert _output(out) == reference and not work.exists()
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return errors[0], finished


@pytest.mark.slow
def test_a_local_task_that_fails_stops_the_run_and_the_rerun_finishes_it(corpus, planned):
    root, reference = corpus
    argv = ["filter", str(root / "in"), "--out", str(root / "out"), *ARGV]
    error, _ = _fail_then_rerun(root, argv, planned, reference)
    # The local executor raises the task's own error: it names the file and the fix.
    assert error.startswith(f"polytune: error: {root / 'in' / FILES[3]}: unreadable (CRC check failed")
    assert error.endswith("repair or remove the file")


@pytest.mark.slow
def test_a_ray_task_that_fails_is_named_with_its_log_and_the_rerun_finishes_it(corpus, planned):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'polytune[cluster]')")
    root, reference = corpus
    argv = ["filter", str(root / "in"), "--out", str(root / "out"), *ARGV, "--executor", "ray"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        error, finished = _fail_then_rerun(root, argv, planned, reference)
    finally:
        ray.shutdown()
    assert finished == ["00000", "00001", "00002"]  # Ray ran the other tasks to their end
    log = root / ".out.work" / "logs1" / "logs" / "task_00003.log"
    assert error.startswith("polytune: error: filter stage one: task 3 of 4 did not finish: ")
    assert f"{root / 'in' / FILES[3]}: unreadable (CRC check failed" in error
    assert f"; see {log}, then rerun the same command" in error


def test_a_task_that_fails_in_stage_two_is_named_and_only_it_reruns(tmp_path, planned, monkeypatch):
    _write_inputs(tmp_path / "in", records=10)
    argv = ["filter", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--tasks", "2", "--workers", "1"]
    real_run = steps.LanguageStep.run

    def broken(self, data=None, rank=0, world_size=1):
        raise OSError(28, "No space left on device")  # one worker process: the fault reaches it
        yield

    monkeypatch.setattr(steps.LanguageStep, "run", broken)
    code, err = _polytune(argv)
    log = tmp_path / ".out.work" / "logs2-filter" / "logs" / "task_00000.log"
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("polytune: error: filter stage two (filter): task 0 of 1 did not finish: "
                          "[Errno 28] No space left on device; see " f"{log}, then rerun")  # fmt: skip
    assert log.is_file() and not (tmp_path / "out").exists()
    monkeypatch.setattr(steps.LanguageStep, "run", real_run)
    planned.clear()
    code, err = _polytune(argv)
    assert code == 0, err
    assert planned["logs1"] == [] and planned["logs2-signatures"] == [] and planned["logs2-filter"] == [0]


def test_a_task_marked_complete_without_its_stats_is_unfinished_and_runs_again(tmp_path):
    logs, stats = tmp_path / "logs", tmp_path / "s1stats"
    executor = LocalPipelineExecutor([], tasks=8, logging_dir=str(logs))
    for rank in range(8):
        (logs / "completions").mkdir(parents=True, exist_ok=True)
        if rank != 1:
            (logs / "completions" / f"{rank:05d}").touch()
        if rank != 2:
            (logs / "stats").mkdir(exist_ok=True)
            (logs / "stats" / f"{rank:05d}.json").write_text("[]")
        if rank not in (3, 4, 5, 6, 7):
            stats.mkdir(exist_ok=True)
            (stats / f"{rank:05d}.json").write_text("{}")
    assert unfinished(executor) == [1, 2]
    assert not (logs / "completions" / "00002").exists()  # so a rerun does not skip it
    assert unfinished(executor, stats) == [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(TaskError) as caught:
        check_tasks(executor, "stage one", stats)
    message = str(caught.value)
    assert message.startswith("filter stage one: tasks 1, 2, 3, 4, 5 and 2 more of 8 did not finish; see the task "
                              f"logs in {logs / 'logs'}, then rerun")  # fmt: skip
    assert "\n" not in message


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, found, todo = _children(), [], [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (a zombie runs nothing; init reaps it)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_parent_leaves_no_worker_alive(tmp_path):
    _write_inputs(tmp_path / "in", records=6000)  # a few seconds of work per task on a loaded 2-core machine
    argv = ["filter", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *ARGV]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "polytune.cli.main", "--quiet", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    started = tmp_path / ".out.work" / "logs1" / "logs"
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        # Manager, resource tracker, forkserver and two pool workers, the workers into their tasks.
        while proc.poll() is None and time.monotonic() < deadline:
            workers = _descendants(proc.pid)
            if len(workers) >= 5 and started.is_dir() and len(list(started.iterdir())) >= 2:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        workers = _descendants(proc.pid)
        assert proc.poll() is None and len(workers) >= 5, f"not mid-run: {proc.poll()=}, {workers=}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if _running(pid)], "processes outlived a SIGKILLed polytune filter"
    finally:
        for pid in [proc.pid, *workers]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_die_with_ends_a_process_when_the_one_it_watches_ends():
    code = ("import os, time\n"
            "from polytune.corpus.lifeline import die_with\n"
            "parent = os.getpid()\n"
            "if os.fork() == 0:\n"
            "    die_with(parent)\n"
            "    print(os.getpid(), flush=True)\n"
            "    time.sleep(60)\n"
            "    os._exit(0)\n"
            "time.sleep(60)\n")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(proc.stdout.readline())
    try:
        assert _running(child)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 5
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _running(child)
    finally:
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
        proc.stdout.close()

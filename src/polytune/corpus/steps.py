"""The filter as datatrove pipeline steps, run by datatrove's executors (local processes, Ray, or Slurm).

Stage one, `tasks` shards of the input: RecordReader -> FilterStep (polytune filters) -> LangShardWriter.
Stage two, sharded (see `polytune.corpus.dedup_steps`): signatures per chunk -> buckets per (language, bucket) ->
clusters per language -> LanguageStep per chunk (keeps or rejects each record). Every pipeline keeps its files in
a work folder beside the output (`.<out>.work/`) with datatrove's completion markers, so repeating an interrupted
run skips finished tasks; the final output is assembled atomically and the work folder removed.

For a cluster, hand `stage_one(cfg, work)` to datatrove's SlurmPipelineExecutor; when it has finished, run each
(name, steps, tasks) of `stage_two(cfg, work)` in order (each may depend on the one before), then call
`assemble(cfg, work)` (see the README).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from itertools import islice
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from polytune.config import FilterConfig
from polytune.corpus.chunks import ChunkWriter
from polytune.corpus.dedup import score_bin
from polytune.corpus.dedup_steps import (
    BucketStep,
    ClusterStep,
    LanguageStep,
    SignatureStep,
    bucket_tasks,
    chunk_stats,
    chunk_tasks,
    cluster_tasks,
    read_plan,
    write_plan,
)
from polytune.corpus.executors import make_executor, run_tasks
from polytune.corpus.filters import DUPLICATE_REASONS, apply_filters, build_filters, reconciliation
from polytune.corpus.readers import bad_line_record, list_units, no_text_field_error, read_unit
from polytune.corpus.shards import JsonlShards
from polytune.corpus.splits import give_split
from polytune.errors import InputError, LanguageCodeError
from polytune.io import BadLine, atomic_path, check_out_folder, manifest, write_json
from polytune.langcodes import normalize
from polytune.logs import SUMMARY

BATCH_SIZE = 512
log = logging.getLogger(__name__)


def _lang_of(record: dict[str, Any]) -> str:
    try:
        return normalize(str(record["lang"])) if record.get("lang") else "und"
    except LanguageCodeError:
        return "und"


class RecordReader(PipelineStep):
    """Reads the units (files, dataset row ranges) of task `rank`: units[rank::world_size]; bad lines included."""

    name, type = "polytune records", "📖 - READER"

    def __init__(self, inputs: list[str], text_field: str = "text") -> None:
        super().__init__()
        self.inputs, self.text_field = inputs, text_field

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> Iterator[dict[str, Any] | BadLine]:
        for unit in list_units(self.inputs)[rank::world_size]:
            count = 0
            for item in read_unit(unit, self.text_field):
                count += 1
                yield item
            self.stat_update("records", value=count, unit="input")  # once per unit: per record it cost ~2 µs


class FilterStep(PipelineStep):
    """Runs polytune's stage-one filters in batches; writes drops to `rejected/<reason>/<rank>.jsonl`."""

    name, type = "polytune filters", "🔻 - FILTER"

    def __init__(self, cfg: FilterConfig, work: str) -> None:
        super().__init__()
        self.cfg, self.work = cfg, Path(work)

    def run(self, data: Any, rank: int = 0, world_size: int = 1) -> Iterator[dict[str, Any]]:
        filters = build_filters(self.cfg)  # per task: models load in the worker, never pickled
        for stale in (self.work / "s1").glob(f"**/{rank:05d}[-.]*"):  # a failed earlier attempt of this task
            stale.unlink()
        rejects = JsonlShards(self.work / "s1" / "rejected")
        counts: dict[str, Counter] = {key: Counter() for key in ("input", "rejected", "passed", "split")}
        per_lang: dict[str, Counter] = {}
        bins: dict[str, Counter] = {}  # per language, the histogram of top-1 scores (stage two's `auto`)
        try:
            iterator = iter(data or ())
            while batch := list(islice(iterator, BATCH_SIZE)):
                counts["input"]["all"] += len(batch)
                records, dropped = [], []
                for item in batch:
                    if isinstance(item, BadLine):
                        dropped.append((bad_line_record(item), item.reason, item.detail))
                    else:
                        records.append(item)
                kept, more = apply_filters(filters, records)
                for record, reason, detail in dropped + more:
                    counts["rejected"][reason] += 1
                    per_lang.setdefault(_lang_of(record), Counter())[reason] += 1
                    rejects.write(f"{reason}/{rank:05d}.jsonl", {**record, "reject_reason": reason, "detail": detail})
                self.stat_update("passed", value=len(kept), unit="batch")
                cfg = self.cfg
                for record in kept:
                    if give_split(record, cfg.seed, cfg.test_fraction, cfg.dev_fraction):
                        counts["split"][record["lang"]] += 1
                    counts["passed"][record["lang"]] += 1
                    bins.setdefault(record["lang"], Counter())[score_bin(record["lid_score"])] += 1
                    yield record
        finally:
            rejects.close()
        stats = {
            "input": counts["input"]["all"],
            "rejected": dict(counts["rejected"]),
            "passed": dict(counts["passed"]),
            "split_given": dict(counts["split"]),  # records that had no split and got one from their text's hash
            "per_lang_rejected": {k: dict(c) for k, c in per_lang.items()},
            "score_bins": {lang: dict(sorted(c.items())) for lang, c in sorted(bins.items())},
        }
        write_json(self.work / "s1" / "stats" / f"{rank:05d}.json", stats)


class LangShardWriter(PipelineStep):
    """Writes each record to the chunks of its language, `<folder>/<lang>/<rank>-<part>.jsonl`, with the arrays
    stage two reads beside them (`polytune.corpus.chunks`)."""

    name, type = "polytune shards", "💽 - WRITER"

    def __init__(self, cfg: FilterConfig, folder: str) -> None:
        super().__init__()
        self.cfg, self.folder = cfg, Path(folder)

    def run(self, data: Any, rank: int = 0, world_size: int = 1) -> Iterator[dict[str, Any]]:
        chunks = ChunkWriter(self.folder, rank, self.cfg)
        try:
            for record in data or ():
                chunks.write(record)
                yield record
        finally:
            chunks.close()


def stage_one(cfg: FilterConfig, work: Path) -> list[PipelineStep]:
    """The stage-one pipeline: read -> filter -> per-language shards (any datatrove executor runs it)."""
    reader = RecordReader(cfg.inputs, cfg.text_field)
    return [reader, FilterStep(cfg, str(work)), LangShardWriter(cfg, str(work / "s1"))]


def stage_two(cfg: FilterConfig, work: Path) -> list[tuple[str, list[PipelineStep], int]]:
    """The stage-two pipelines, in order, as (name, steps, tasks); run each after the one before has finished.

    Writes `s2/plan.json` (chunks, thresholds from the merged score histograms) from stage one's output first.
    """
    plan = write_plan(cfg, work, stage_one_langs(work), read_stats(work / "s1" / "stats"))
    chunks = len(chunk_tasks(plan))
    phases = [("signatures", [SignatureStep(cfg, str(work))], chunks)] if cfg.dedup or cfg.near_dedup else []
    if cfg.dedup or cfg.near_dedup:
        phases.append(("buckets", [BucketStep(cfg, str(work))], len(bucket_tasks(cfg, plan))))
        phases.append(("clusters", [ClusterStep(cfg, str(work))], len(cluster_tasks(plan))))
    return [*phases, ("filter", [LanguageStep(cfg, str(work))], chunks)]


def stage_one_langs(work: Path) -> list[str]:
    """Languages stage one wrote shards for, sorted."""
    s1 = work / "s1"
    return sorted(p.name for p in s1.iterdir() if p.is_dir() and p.name not in ("rejected", "stats"))


def _executor(cfg: FilterConfig, pipeline: list[PipelineStep], tasks: int, logs: Path) -> Any:
    """The executor of one pipeline (one name to wrap, for a test that counts tasks)."""
    return make_executor(cfg, pipeline, tasks, logs)


def _fingerprint(cfg: FilterConfig) -> dict[str, Any]:
    """What a resumable work folder is valid for: the config (minus how it runs) and each input's size + mtime."""
    config = {k: v for k, v in asdict(cfg).items() if k not in ("workers", "executor")}
    files = {}
    for unit in list_units(cfg.inputs):
        stat = Path(unit.path).stat()
        files[unit.path] = [stat.st_size, stat.st_mtime_ns]
    return json.loads(json.dumps({"config": config, "inputs": files}, default=str))


def work_folder(cfg: FilterConfig) -> Path:
    """The resumable work folder of a run: `.<out name>.work` beside the output; wiped when the config changes."""
    # Absolute: datatrove's folders are fsspec filesystems, cached by their path as given, so a relative path would
    # keep pointing into the directory that was current when it was first used (a library caller may chdir).
    work = (cfg.out.parent / f".{cfg.out.name}.work").absolute()
    fingerprint = _fingerprint(cfg)
    stamp = work / "fingerprint.json"
    if work.exists() and (not stamp.is_file() or json.loads(stamp.read_text(encoding="utf-8")) != fingerprint):
        shutil.rmtree(work)
    if not work.exists():
        write_json(stamp, fingerprint)
    return work


def run_filter(cfg: FilterConfig) -> dict[str, Any]:
    """Filter records into `<out>/<lang>/part-00000.jsonl`, `<out>/rejected/<reason>.jsonl`, stats and manifest.

    Runs as datatrove pipelines (`cfg.tasks` input shards, `cfg.workers` at a time, local or Ray); an interrupted
    or failed run repeated with the same config skips the tasks that finished. The output folder is written
    atomically, and only once every task of every pipeline has finished.

    Args:
        cfg: the filter config.

    Returns:
        The stats: {input, kept, rejected: {reason: n} (duplicates included), per_lang: {lang: kept},
        per_lang_rejected, scores, thresholds, ...}.

    Raises:
        InputError: an input is missing, unreadable, or holds no record at all.
        TaskError: a task did not finish (the message names it and its log); the work folder is kept.
        ModelError: the LID model is missing or corrupt.
    """
    check_out_folder(cfg.out)  # an output path that is a file would fail only at the end, after all the work
    list_units(cfg.inputs)  # a missing input fails before a model loads or a folder is made
    build_filters(cfg)  # so does a missing or corrupt model, or a bad rules file
    work = work_folder(cfg)
    run_tasks(_executor(cfg, stage_one(cfg, work), cfg.tasks, work / "logs1"), "stage one", work / "s1" / "stats")
    if sum(task["input"] for task in read_stats(work / "s1" / "stats").values()) == 0:
        shutil.rmtree(work)
        raise InputError(f"no records in {', '.join(cfg.inputs)}: the files hold only blank lines")
    _check_text_field(cfg, work)
    for name, pipeline, tasks in stage_two(cfg, work):
        if tasks:
            run_tasks(_executor(cfg, pipeline, tasks, work / f"logs2-{name}"), f"stage two ({name})")
    stats = assemble(cfg, work)
    shutil.rmtree(work, ignore_errors=True)
    if stats["kept"] == 0:
        log.warning("filter kept no record; see %s/rejected/ for the reasons", cfg.out)
    log.info(reconciliation(stats), extra=SUMMARY)
    return stats


def _check_text_field(cfg: FilterConfig, work: Path) -> None:
    """Fail (InputError) when every parsable record lacked a string text field; partial misses stay rejects."""
    tasks = read_stats(work / "s1" / "stats").values()
    rejected: Counter[str] = sum((Counter(task["rejected"]) for task in tasks), Counter())
    parsed = sum(task["input"] for task in tasks) - rejected["invalid_utf8"] - rejected["malformed_json"]
    if parsed == 0 or rejected["no_text"] != parsed:
        return
    first = min((work / "s1" / "rejected" / "no_text").glob("*.jsonl"))
    sample = json.loads(first.open(encoding="utf-8").readline()).get("text")
    shutil.rmtree(work)
    raise no_text_field_error(cfg.text_field, cfg.inputs, sample)


def read_stats(folder: Path) -> dict[Any, dict[str, Any]]:
    """Per-task stats files of a stage: {rank or lang: stats}."""
    out: dict[Any, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.json")):
        out[int(path.stem) if path.stem.isdigit() else path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


def _concat(sources: list[Path], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for source in sources:
            with open(source, "rb") as handle:
                shutil.copyfileobj(handle, out)


def assemble(cfg: FilterConfig, work: Path) -> dict[str, Any]:
    """Merge both stages into the output folder (atomically): shards, rejected/<reason>.jsonl, stats, manifest.

    Raises:
        RuntimeError: the counts do not reconcile (a bug, never bad input).
    """
    plan = read_plan(work)
    s2 = {lang: {**chunk_stats(work, lang), "threshold": plan["thresholds"][lang], "scores": plan["scores"][lang]}
          for lang in plan["langs"]}  # fmt: skip
    stats = merge_stats(cfg, read_stats(work / "s1" / "stats"), s2)
    if stats["input"] != stats["kept"] + sum(stats["rejected"].values()):
        raise RuntimeError(f"filter lost records: {reconciliation(stats)}")
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        for lang in stats["per_lang"]:
            _concat(sorted((work / "s2" / "kept" / lang).glob("*.jsonl")), tmp / lang / "part-00000.jsonl")
        for reason in stats["rejected"]:
            parts = sorted((work / "s1" / "rejected" / reason).glob("*.jsonl"))
            parts += sorted((work / "s2" / "rejected" / reason).glob("*/*.jsonl"))
            _concat(parts, tmp / "rejected" / f"{reason}.jsonl")
        write_json(tmp / "stats.json", stats)
        write_json(tmp / "manifest.json", manifest("filter", cfg, cfg.inputs, stats))
    return stats


def merge_stats(cfg: FilterConfig, s1: dict[Any, dict], s2: dict[Any, dict]) -> dict[str, Any]:
    """One stats dict from every task's: counts per language and per reason, scores, thresholds used."""
    rejected: Counter[str] = Counter()
    per_lang_rejected: dict[str, Counter] = {}
    for task in s1.values():
        rejected.update(task["rejected"])
        for lang, reasons in task["per_lang_rejected"].items():
            per_lang_rejected.setdefault(lang, Counter()).update(reasons)
    for lang, task in s2.items():
        rejected.update(task["rejected"])
        per_lang_rejected.setdefault(lang, Counter()).update(task["rejected"])
    per_lang = {lang: task["kept"] for lang, task in sorted(s2.items()) if task["kept"]}
    split_given: Counter[str] = sum((Counter(task.get("split_given", {})) for task in s1.values()), Counter())
    kept = sum(per_lang.values())
    duplicates = sum(n for reason, n in rejected.items() if reason in DUPLICATE_REASONS)
    return {
        "input": sum(task["input"] for task in s1.values()),
        "kept": kept,
        "duplicates": duplicates,
        "rejected": dict(sorted(rejected.items())),
        "per_lang": per_lang,
        "per_lang_rejected": {lang: dict(sorted(c.items())) for lang, c in sorted(per_lang_rejected.items())},
        "thresholds": {lang: task["threshold"] for lang, task in sorted(s2.items())},
        "threshold_rule": "auto" if cfg.threshold == "auto" else "fixed",
        "scores": {lang: task["scores"] for lang, task in sorted(s2.items())},
        "mixed_kept": {lang: task["mixed_kept"] for lang, task in sorted(s2.items()) if task["mixed_kept"]},
        "split_given": dict(sorted(split_given.items())),
    }

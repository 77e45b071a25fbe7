"""The benchmarks this field reports, by name: SIB-200, Belebele, FLORES-200, XNLI, WikiANN (PAN-X) and Tatoeba.

Each is data (`polytune/data/benchmarks/<name>/`: `_benchmark.yaml` and one `<key>.yaml` per language, see spec.py),
read with `datasets.load_dataset` (data.py), turned into records by its task type (tasks.py, a registry row) and
evaluated like any corpus (run.py). `export_benchmark` writes a benchmark's splits as a corpus, e.g. the source
language's train split for `polytune adapt task`.

Example: export_benchmark("sib200", ["eng_Latn"], "runs/sib/corpus") -> {"": Path("runs/sib/corpus")}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from polytune.evaluation.benchmarks.data import dataset_path, write_benchmark_data
from polytune.evaluation.benchmarks.run import run_benchmark
from polytune.evaluation.benchmarks.spec import benchmark_languages, load_benchmark, resolve_languages

__all__ = ["benchmark_languages", "dataset_path", "export_benchmark", "load_benchmark", "resolve_languages",
           "run_benchmark"]  # fmt: skip


def export_benchmark(name: str, langs: Sequence[str], out: str | Path, splits: Sequence[str] | None = None,
                     path: str | None = None) -> dict[str, Path]:  # fmt: skip
    """Write benchmark `name`'s records of `langs` as a corpus (`<out>/<lang>/<split>.jsonl`, splits train, dev and
    test as the benchmark has them), e.g. to train a task adapter on its source language's train split.

    Args:
        name: a benchmark (polytune.config.benchmark_names()).
        langs: language keys (matched as in an evaluation; empty: all).
        out: the corpus folder (replaced).
        splits: polytune splits (default: every split the benchmark has).
        path: a local copy or another hub id (EvalConfig.benchmark_path).

    Returns:
        part -> corpus folder (translation: one per direction).

    Raises:
        ConfigError, InputError: as in an evaluation.
    """
    spec = load_benchmark(name)
    entries = resolve_languages(spec, list(langs))
    source = None
    if spec.source in benchmark_languages(name):  # translation pairs every language with it
        source = resolve_languages(spec, [spec.source])[str(spec.source)]
    return write_benchmark_data(spec, entries, Path(out), list(splits or spec.splits), path, source)

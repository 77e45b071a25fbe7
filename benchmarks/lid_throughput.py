"""LID throughput: polytune's LID step vs a bare fastText `predict` loop on the same model and lines; the same for
heliport (when `polytune[lid-gpl]` is installed) against a bare `identify` loop; the full filter with 1 and 2
workers; langid and py3langid for reference. Figures as one JSON object on the last line.

    .venv/bin/python benchmarks/lid_throughput.py            # 100k LID lines, 300k filter lines (~2-3 min)
    .venv/bin/python benchmarks/lid_throughput.py --quick    # 10k LID lines, 20k filter lines
    .venv/bin/python benchmarks/lid_throughput.py --heliport-only --lines 20000   # the heliport figures alone

The LID step is compared with the bare loop at the same k (3: the step's top-3) and at k=1, best of alternated
rounds in one process. The full filter runs 2 tasks with 1 then 2 workers; each worker process imports polytune +
datatrove and loads the model (~2 s), so the 2-worker ratio means something only from ~100k lines (default 300k).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from polytune.config import FilterConfig, LidTrainConfig, SourcesConfig
from polytune.corpus.filters import LanguageFilter
from polytune.corpus.langid import get_backend, train_lid
from polytune.corpus.sources import write_sources
from polytune.corpus.steps import run_filter
from polytune.errors import DependencyError

BIBLES = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}


def _lines(root: Path, n: int) -> list[str]:
    raw = root / "raw"
    write_sources(SourcesConfig(out=raw, bible=BIBLES, seed=13))
    texts = [json.loads(line)["text"] for lang in BIBLES for line in (raw / f"{lang}.jsonl").open(encoding="utf-8")]
    return [texts[i % len(texts)] for i in range(0, n * 7, 7)][:n]  # spread over languages, repeats if n is big


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def _lid_rates(backend: object, lines: list[str], rounds: int) -> dict[str, float]:
    """Best-of-`rounds` seconds for the bare loop (k=1 and k=3) and the polytune step (top-3), alternated."""
    bare = backend._model  # the same fastText model object, called the plain way
    step = LanguageFilter(backend, topk=3)

    def bare_loop(k: int) -> None:
        for line in lines:
            bare.predict(line.replace("\n", " "), k=k)

    def polytune_step() -> None:
        for i in range(0, len(lines), 512):
            step.filter_batch([{"text": t} for t in lines[i : i + 512]])

    runs = {"bare_k1": lambda: bare_loop(1), "bare_k3": lambda: bare_loop(3), "step": polytune_step}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):  # alternate, so CPU contention from other jobs hits every measure alike
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _heliport_rates(lines: list[str], rounds: int) -> dict[str, float] | None:
    """Best-of-`rounds` lines/s: bare heliport `identify` and `identify_topk_with_score(k=3)` loops vs the step."""
    try:
        backend = get_backend("heliport")
    except DependencyError:
        return None
    bare = backend._identifier  # the same heliport Identifier, called the plain way
    step = LanguageFilter(backend, topk=3)

    def polytune_step() -> None:
        for i in range(0, len(lines), 512):
            step.filter_batch([{"text": t} for t in lines[i : i + 512]])

    runs = {
        "bare_identify": lambda: [bare.identify(t) for t in lines],
        "bare_top3": lambda: [bare.identify_topk_with_score(t, 3) for t in lines],
        "step": polytune_step,
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    n = len(lines)
    return {"heliport_bare_identify_lines_per_s": _rate(n, best["bare_identify"]),
            "heliport_bare_top3_lines_per_s": _rate(n, best["bare_top3"]),
            "polytune_heliport_step_lines_per_s": _rate(n, best["step"]),
            "heliport_step_vs_bare_identify": round(best["bare_identify"] / best["step"], 3),
            "heliport_step_vs_bare_top3": round(best["bare_top3"] / best["step"], 3)}  # fmt: skip


def _full_filter(root: Path, lines: list[str], model: Path, rounds: int) -> dict[int, float]:
    """Best-of-`rounds` lines/s of the whole filter (2 tasks) with 1 and 2 workers, alternated."""
    half = len(lines) // 2
    (root / "in").mkdir(exist_ok=True)
    for i, part in enumerate((lines[:half], lines[half:])):
        (root / "in" / f"part{i}.txt").write_text("\n".join(part) + "\n", encoding="utf-8")
    full = {1: 0.0, 2: 0.0}
    for attempt in range(rounds):
        for workers in (1, 2):
            cfg = FilterConfig(inputs=[str(root / "in")], out=root / f"out{workers}-{attempt}", backend="fasttext",
                               model=str(model), tasks=2, workers=workers)  # fmt: skip
            start = time.perf_counter()
            stats = run_filter(cfg)
            full[workers] = max(full[workers], _rate(stats["input"], time.perf_counter() - start))
    return full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k LID lines and 20k filter lines")
    parser.add_argument("--lines", type=int, help="LID-step lines (default 100000, --quick 10000)")
    parser.add_argument("--filter-lines", type=int, help="full-filter lines (default 300000, --quick 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated LID rounds, best kept (default 3)")
    parser.add_argument("--filter-rounds", type=int, default=1, help="alternated 1/2-worker filter runs, best kept")
    parser.add_argument("--heliport-only", action="store_true", help="only the heliport step vs its bare loops")
    args = parser.parse_args()
    n = args.lines or (10_000 if args.quick else 100_000)
    n_filter = args.filter_lines or (20_000 if args.quick else 300_000)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        lines = _lines(root, n if args.heliport_only else max(n, n_filter))
        heliport_figures = _heliport_rates(lines[:n], args.rounds)
        if args.heliport_only:
            print(json.dumps({"lines": n, **(heliport_figures or {"heliport": "not installed"})}))
            return
        model = root / "lid.bin"
        train_lid(LidTrainConfig(input=root / "raw", out=model, bucket=200000, max_per_lang=5000, seed=13))
        backend = get_backend("fasttext", str(model))
        best = _lid_rates(backend, lines[:n], args.rounds)
        ref = lines[: min(n, 5000)]
        refs = {}
        for name in ("langid", "py3langid"):
            other = get_backend(name)
            start = time.perf_counter()
            other.predict(ref)
            refs[name] = _rate(len(ref), time.perf_counter() - start)
        full = _full_filter(root, lines[:n_filter], model, args.filter_rounds)
    figures = {
        "lines": n, "bare_fasttext_k1_lines_per_s": _rate(n, best["bare_k1"]),
        "bare_fasttext_k3_lines_per_s": _rate(n, best["bare_k3"]),
        "polytune_lid_step_lines_per_s": _rate(n, best["step"]),
        "lid_step_vs_bare_k1": round(best["bare_k1"] / best["step"], 3),
        "lid_step_vs_bare_same_k": round(best["bare_k3"] / best["step"], 3), "langid_lines_per_s": refs["langid"],
        "py3langid_lines_per_s": refs["py3langid"], "filter_lines": n_filter, "filter_rounds": args.filter_rounds,
        "full_filter_1_worker_lines_per_s": full[1], "full_filter_2_workers_lines_per_s": full[2],
        "two_workers_vs_one": round(full[2] / full[1], 3), **(heliport_figures or {"heliport": "not installed"}),
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""LID throughput: polytune's LID step vs a bare fastText `predict` loop on the same model and lines; the full
filter with 1 and 2 workers; langid and py3langid for reference. Figures as one JSON object on the last line.

    .venv/bin/python benchmarks/lid_throughput.py            # 100k lines (about 2-4 min on 2 cores)
    .venv/bin/python benchmarks/lid_throughput.py --quick    # 10k lines
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from polytune.config import FilterConfig, LidTrainConfig, SourcesConfig
from polytune.corpus.filters import LanguageFilter, run_filter
from polytune.corpus.langid import get_backend, train_lid
from polytune.corpus.sources import write_sources

BIBLES = {"eng_Latn": "k", "nya_Latn": "chichewa", "ara_Arab": "y", "vie_Latn": "7"}


def _lines(root: Path, n: int) -> list[str]:
    raw = root / "raw"
    write_sources(SourcesConfig(out=raw, bible=BIBLES, seed=13))
    texts = [json.loads(line)["text"] for lang in BIBLES for line in (raw / f"{lang}.jsonl").open(encoding="utf-8")]
    return [texts[i % len(texts)] for i in range(0, n * 7, 7)][:n]  # spread over languages, repeats if n is big


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k lines instead of 100k")
    parser.add_argument("--lines", type=int, help="number of lines (default 100000, --quick 10000)")
    args = parser.parse_args()
    n = args.lines or (10_000 if args.quick else 100_000)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        lines = _lines(root, n)
        model = root / "lid.bin"
        train_lid(LidTrainConfig(input=root / "raw", out=model, bucket=200000, max_per_lang=5000, seed=13))
        backend = get_backend("fasttext", str(model))
        bare = backend._model  # the same fastText model object, called the plain way
        start = time.perf_counter()
        for line in lines:
            bare.predict(line.replace("\n", " "), k=1)
        bare_s = time.perf_counter() - start
        step = LanguageFilter(backend, topk=3)
        start = time.perf_counter()
        for i in range(0, n, 512):
            step.filter_batch([{"text": t} for t in lines[i : i + 512]])
        step_s = time.perf_counter() - start
        ref = lines[: min(n, 5000)]
        refs = {}
        for name in ("langid", "py3langid"):
            other = get_backend(name)
            start = time.perf_counter()
            other.predict(ref)
            refs[name] = _rate(len(ref), time.perf_counter() - start)
        half = n // 2
        for i, part in enumerate((lines[:half], lines[half:])):
            (root / "in").mkdir(exist_ok=True)
            (root / "in" / f"part{i}.txt").write_text("\n".join(part) + "\n", encoding="utf-8")
        full = {}
        for workers in (1, 2):
            cfg = FilterConfig(inputs=[str(root / "in")], out=root / f"out{workers}", backend="fasttext",
                               model=str(model), tasks=2, workers=workers)  # fmt: skip
            start = time.perf_counter()
            stats = run_filter(cfg)
            full[workers] = _rate(stats["input"], time.perf_counter() - start)
    figures = {
        "lines": n, "bare_fasttext_lines_per_s": _rate(n, bare_s), "polytune_lid_step_lines_per_s": _rate(n, step_s),
        "lid_step_vs_bare": round(bare_s / step_s, 3), "langid_lines_per_s": refs["langid"],
        "py3langid_lines_per_s": refs["py3langid"], "full_filter_1_worker_lines_per_s": full[1],
        "full_filter_2_workers_lines_per_s": full[2], "two_workers_vs_one": round(full[2] / full[1], 3),
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Balance: polytune's streaming UniMax/temperature mixture (two passes, offsets in memory, datatrove shards)
beside the in-memory baseline most scripts use (load every record, `random.choices` by language weight, write
one JSONL), on the same synthetic corpus: time of a plain run, peak Python memory of a second run under
tracemalloc. Figures as one JSON object on the last line.

    .venv/bin/python benchmarks/balance_mixture.py            # 300k records in 3 languages (about 1-2 min on 2 cores)
    .venv/bin/python benchmarks/balance_mixture.py --quick    # 30k records
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
from pathlib import Path

from polytune.config import BalanceConfig
from polytune.corpus.balance import run_balance
from polytune.corpus.sampling import temperature_weights

SHARES = {"eng_Latn": 0.89, "nya_Latn": 0.1, "ara_Arab": 0.01}


def _corpus(root: Path, total: int) -> dict[str, int]:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(2000)]
    sizes = {}
    for lang, share in SHARES.items():
        (root / lang).mkdir(parents=True)
        n = sizes[lang] = max(1, int(total * share))
        with open(root / lang / "part-00000.jsonl", "w", encoding="utf-8") as fh:
            for i in range(n):
                text = " ".join(rng.choices(words, k=rng.randint(8, 40)))
                fh.write(json.dumps({"id": f"{lang}.{i}", "lang": lang, "text": text, "split": "train"}) + "\n")
    return sizes


def _baseline(corpus: Path, out: Path, budget: int, temperature: float, seed: int) -> int:
    """Load everything, draw `budget` records by language weight with replacement, write one file."""
    records = {lang: [json.loads(line) for line in open(corpus / lang / "part-00000.jsonl", encoding="utf-8")]
               for lang in SHARES}  # fmt: skip
    weights = temperature_weights({k: len(v) for k, v in records.items()}, temperature)
    rng = random.Random(seed)
    langs = rng.choices(list(weights), weights=list(weights.values()), k=budget)
    with open(out, "w", encoding="utf-8") as fh:
        for lang in langs:
            fh.write(json.dumps(rng.choice(records[lang]), ensure_ascii=False) + "\n")
    return budget


def _measure(func, *args, **kwargs) -> tuple[float, float]:
    """(seconds of a plain run, peak MiB of a second run under tracemalloc, which slows Python down)."""
    start = time.perf_counter()
    func(*args, **kwargs)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    func(*args, **kwargs)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k records instead of 300k")
    args = parser.parse_args()
    total = 30_000 if args.quick else 300_000
    import datatrove.pipeline.writers.jsonl  # noqa: F401  imported before measuring, so imports are not counted
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sizes = _corpus(root / "corpus", total)
        budget = total // 2
        base_s, base_mb = _measure(_baseline, root / "corpus", root / "baseline.jsonl", budget, 3.0, 13)
        cfg = BalanceConfig(input=root / "corpus", out=root / "mix", strategy="temperature", temperature=3.0,
                            budget=budget)  # fmt: skip
        temp_s, temp_mb = _measure(run_balance, cfg)
        uni = BalanceConfig(input=root / "corpus", out=root / "uni", strategy="unimax", unimax_epochs=4, budget=budget)
        uni_s, uni_mb = _measure(run_balance, uni)
        mix = json.loads((root / "uni" / "mix.json").read_text())
    figures = {
        "records": sum(sizes.values()), "budget": budget,
        "baseline_s": round(base_s, 2), "baseline_peak_mb": round(base_mb, 1),
        "polytune_temperature_s": round(temp_s, 2), "polytune_temperature_peak_mb": round(temp_mb, 1),
        "polytune_unimax_s": round(uni_s, 2), "polytune_unimax_peak_mb": round(uni_mb, 1),
        "time_ratio_polytune_over_baseline": round(temp_s / base_s, 2),
        "memory_ratio_polytune_over_baseline": round(temp_mb / base_mb, 3),
        "unimax_epochs": {k: round(v["epochs"], 2) for k, v in mix["langs"].items()},
    }  # fmt: skip
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()

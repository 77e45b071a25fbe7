"""`polytune tune` on the demo's task adapter vs the demo's hand-set configuration: English dev accuracy (the
tuning objective) and English test accuracy / macro-F1 of both, in one run.

Needs the demo's corpus and class weights (`polytune run examples/tune_demo.yaml --only sources lid filter
class_weights`). The study runs `examples/tune_demo.yaml`'s search (fresh storage in --out); the hand-set
configuration is that config's task_adapter section as examples/demo.yaml sets it (300 steps, batch 32, lr 1e-3,
LoRA r 8 on query/value, class weights on, no early stopping). The test split is read only here, after the
search: neither the study nor the baseline sees it. Figures as one JSON object on the last line.

    .venv/bin/python benchmarks/tune_task_adapter.py                 # 20 trials (~15-20 min on 2 contended cores)
    .venv/bin/python benchmarks/tune_task_adapter.py --quick         # 3 trials of 20-40 steps, hand-set at 40
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from polytune.adapters.data import load_split  # noqa: E402
from polytune.adapters.tasks import train_task_adapter  # noqa: E402
from polytune.evaluation.predict import classify  # noqa: E402
from polytune.models import load_classifier  # noqa: E402
from polytune.tune.space import ParamSpec  # noqa: E402
from polytune.tune.study import prepare, run_study  # noqa: E402

DEMO = {"max_steps": 300, "batch_size": 32, "learning_rate": 1e-3, "max_length": 64}  # examples/demo.yaml


def test_scores(base: str, adapter: Path, corpus: Path, lang: str, max_records: int | None) -> dict[str, float]:
    """Accuracy and macro-F1 of a task adapter on the test split of `lang`."""
    from sklearn.metrics import f1_score

    records = load_split(corpus, lang, "test", max_records, label_field="genre")
    model, tokenizer, labels = load_classifier(base, adapter)
    pred = classify(model, tokenizer, [r["text"] for r in records], labels, 64, 64)
    gold = [str(r["genre"]) for r in records]
    return {"test_accuracy": round(sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold), 4),
            "test_macro_f1": round(float(f1_score(gold, pred, average="macro")), 4), "test_records": len(gold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="examples/tune_demo.yaml")
    parser.add_argument("--out", default="runs/demo/tune-bench")
    parser.add_argument("--workdir", default=None, help="replace the config's workdir (where corpus/ is)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--test-records", type=int, default=None, help="at most N test records (default all)")
    parser.add_argument("--quick", action="store_true",
                        help="3 trials of 20-40 steps on 2,000 train / 128 dev verses; hand-set at 40 steps; 300 test")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    raw["workdir"] = args.workdir or raw["workdir"]
    out.mkdir(parents=True)
    (out / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    search = prepare(out / "config.yaml", out / "study")
    search.tune = dataclasses.replace(search.tune, n_trials=3 if args.quick else args.trials)
    if args.quick:  # small enough for a contended machine: 2,000 train verses, 128 dev verses, dev every 10 steps
        search.tune.params["max_steps"] = ParamSpec(type="int", low=20, high=40, step=10)
        search.tune = dataclasses.replace(search.tune, pruner_warmup_steps=10)
        search.base = dataclasses.replace(search.base, max_train_records=2000, max_eval_records=128, eval_every=10)
    test_records = 300 if args.quick else args.test_records
    start = time.perf_counter()
    study = run_study(search)
    tune_seconds = time.perf_counter() - start
    best_dir = out / "study" / "trials" / f"{study['best']['number']:04d}"
    best_manifest = json.loads((best_dir / "manifest.json").read_text(encoding="utf-8"))

    hand = dataclasses.replace(search.base, **(DEMO if not args.quick else {**DEMO, "max_steps": 40}),
                               out=out / "hand-set", eval_every=None, save_every=0)  # fmt: skip
    start = time.perf_counter()
    hand_summary = train_task_adapter(hand)
    hand_seconds = time.perf_counter() - start
    corpus, lang, base = search.base.input, search.base.lang, str(search.base.base)
    figures = {
        "trials": study["trials"], "pruned": study["pruned"], "tune_seconds": round(tune_seconds, 1),
        "tuned": {"trial": study["best"]["number"], "values": study["best"]["values"],
                  "dev_accuracy": round(best_manifest["dev_accuracy"], 4), "steps": best_manifest["steps"],
                  **test_scores(base, best_dir, corpus, lang, test_records)},
        "hand_set": {"values": DEMO, "dev_accuracy": round(hand_summary["dev_accuracy"], 4),
                     "steps": hand_summary["steps"], "seconds": round(hand_seconds, 1),
                     **test_scores(base, out / "hand-set", corpus, lang, test_records)},
        "dev_records": best_manifest["counts"]["dev_records"],
    }  # fmt: skip
    figures["dev_delta"] = round(figures["tuned"]["dev_accuracy"] - figures["hand_set"]["dev_accuracy"], 4)
    figures["test_delta"] = round(figures["tuned"]["test_accuracy"] - figures["hand_set"]["test_accuracy"], 4)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

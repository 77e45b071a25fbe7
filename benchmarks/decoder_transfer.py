"""Zero-shot reading through a language adapter: does a "translate into English" task adapter trained on a language
the decoder already reads (French) translate a new language (Tagalog) into English better with the new language's
adapter underneath?

SmolLM2-135M; corpus of the KJV, Louis Segond (French) and Ang Dating Biblia (Tagalog, no demo uses it), chapter
splits shared by all three (10% test, 5% dev). Per seed:

- a causal-LM task adapter on French -> English train pairs (polytune's translation prompt, "Translate from French
  to English." and the verse, as `polytune run` writes it), on the bare base;
- a causal-LM language adapter on the Tagalog verses (base vocabulary: the French task adapter knows only base
  tokens; English replay 0.2 as the LLM demo uses);
- the same language adapter in the lower half of the layers only (`layers_to_transform` 0..14 of SmolLM2's 30): the
  lower layers read the input, the upper ones write the output, so an adapter there may help reading without
  pulling the output toward Tagalog;
- a causal-LM task adapter on Tagalog -> English train pairs (the supervised reference a user with pairs would have);
- chrF and BLEU (sacrebleu, bootstrap CIs) on the Tagalog -> English test pairs of four systems: `fra-task`
  (zero-shot, the baseline), `fra-task+la` (the same task adapter over the Tagalog language adapter: the transfer
  recipe), `fra-task+la-lower` (over the lower-layer adapter), `tgl-task` (trained on Tagalog pairs); paired Δ vs
  fra-task.

The figures as one JSON object on the last line; benchmarks/README.md holds them with the command.

    .venv/bin/python benchmarks/decoder_transfer.py             # 1 seed, small budgets: < 5 min on 2 idle cores
    .venv/bin/python benchmarks/decoder_transfer.py --quick     # 3 steps each: does every part run
    .venv/bin/python benchmarks/decoder_transfer.py --full      # 3 seeds, 40 steps, 60 test pairs
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

# run as a script, its folder is on sys.path: the recipe benchmark's settings and helpers are shared
from decoder_recipes import LA, TASK, add_size_flags, bible_code, mean_std, scores, size_name  # noqa: E402

from polytune.adapters import train_language_adapter, train_task_adapter  # noqa: E402
from polytune.config import EvalConfig, LanguageAdapterConfig, PairsConfig, SystemConfig, TaskAdapterConfig  # noqa: E402
from polytune.corpus.sources import bible_records  # noqa: E402
from polytune.corpus.translation import prompt_data, write_pairs  # noqa: E402
from polytune.evaluation.run import run_eval  # noqa: E402
from polytune.io import write_jsonl  # noqa: E402
from polytune.langcodes import normalize  # noqa: E402
from polytune.resources import resolve_resource  # noqa: E402

SEED, SOURCE, DIRECTION = 13, "eng_Latn", "into_source"
BUDGETS = {
    "quick": {"la_steps": 3, "task_steps": 3, "test": 6, "seeds": (13,), "resamples": 100, "max_new_tokens": 16},
    "default": {"la_steps": 8, "task_steps": 6, "test": 12, "seeds": (13,), "resamples": 200, "max_new_tokens": 32},
    "full": {"la_steps": 40, "task_steps": 40, "test": 60, "seeds": (13, 14, 15), "resamples": 1000,
             "max_new_tokens": 64},
}
SYSTEMS = ("fra-task", "fra-task+la", "fra-task+la-lower", "tgl-task")
LOWER = list(range(15))  # the lower half of SmolLM2-135M's 30 layers


def build(work: Path, helper: str, target: str) -> None:
    """Corpus of the three Bibles and the reading-direction pairs (helper and target -> English), once."""
    if not (work / "corpus").is_dir():
        for lang in (SOURCE, helper, target):
            records = (r for r in bible_records(lang, bible_code(lang), SEED, 0.1, 0.05) if len(r["text"]) >= 10)
            write_jsonl(work / "corpus" / lang / "part-00000.jsonl", records)
    if not (work / "pairs").is_dir():
        write_pairs(PairsConfig(input=work / "corpus", out=work / "pairs", langs=[helper, target], source_lang=SOURCE,
                                directions=[DIRECTION]))  # fmt: skip


def task_adapter(work: Path, base: str, lang: str, seed: int, budget: dict, out: Path) -> float:
    start = time.perf_counter()
    train_task_adapter(TaskAdapterConfig(base=base, input=work / "pairs" / DIRECTION, lang=lang, out=out, seed=seed,
                                         max_steps=budget["task_steps"], prompt=prompt_data()["template"],
                                         **TASK))  # fmt: skip
    return round(time.perf_counter() - start, 1)


def run_seed(work: Path, base: str, helper: str, target: str, seed: int, budget: dict) -> dict:
    root = work / f"seed{seed}"
    seconds = {"helper_task": task_adapter(work, base, helper, seed, budget, root / "task" / helper),
               "target_task": task_adapter(work, base, target, seed, budget, root / "task" / target)}
    for name, layers in (("la", None), ("la-lower", LOWER)):
        start = time.perf_counter()
        train_language_adapter(LanguageAdapterConfig(base=base, input=work / "corpus", lang=target, out=root / name,
                                                     seed=seed, max_steps=budget["la_steps"], replay=0.2,
                                                     layers_to_transform=layers, **LA))  # fmt: skip
        seconds[name] = round(time.perf_counter() - start, 1)
    helper_task, target_task = str(root / "task" / helper), str(root / "task" / target)
    systems = [SystemConfig(name="fra-task", task_adapter=helper_task),
               SystemConfig(name="fra-task+la", task_adapter=helper_task, lang_adapter=str(root / "la")),
               SystemConfig(name="fra-task+la-lower", task_adapter=helper_task, lang_adapter=str(root / "la-lower")),
               SystemConfig(name="tgl-task", task_adapter=target_task)]
    report = run_eval(EvalConfig(base=base, input=work / "pairs" / DIRECTION, out=root / "report", systems=systems,
                                 langs=[target], metrics=["chrf", "bleu"], max_records=budget["test"],
                                 max_new_tokens=budget["max_new_tokens"], no_repeat_ngram_size=4,
                                 label_field="target", seed=seed, bootstrap=budget["resamples"], batch_size=16,
                                 max_length=128))  # fmt: skip
    out = {name: scores(report, target, name, ("chrf", "bleu")) for name in SYSTEMS}
    out["seconds"] = seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="zoo:smollm2-135m")
    parser.add_argument("--helper", default="fra_Latn", help="the language the task adapter is trained on")
    parser.add_argument("--target", default="tgl_Latn")
    add_size_flags(parser, "3 seeds, 40 steps, 60 test pairs")
    parser.add_argument("--keep", default=None, help="work folder kept between runs (corpus, pairs)")
    args = parser.parse_args()
    size = size_name(args)
    budget = BUDGETS[size]
    base, helper, target = resolve_resource(args.base), normalize(args.helper), normalize(args.target)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        build(work, helper, target)
        per_seed = {seed: run_seed(work, base, helper, target, seed, budget) for seed in budget["seeds"]}
    summary = {name: {m: mean_std([s[name][m] for s in per_seed.values()]) for m in ("chrf", "bleu")}
               for name in SYSTEMS}  # fmt: skip
    for name in SYSTEMS[1:]:
        summary[name]["chrf_delta"] = mean_std([s[name]["chrf_delta"]["delta"] for s in per_seed.values()])
    print(json.dumps({"benchmark": "decoder_transfer", "budget_name": size, "base": args.base, "helper": helper,
                      "target": target, "budget": budget, "summary": summary, "per_seed": per_seed,
                      "seconds": round(time.perf_counter() - start, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()

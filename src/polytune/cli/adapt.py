"""`polytune adapt language|task`: train a language adapter (MLM) or a task adapter (classifier)."""

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
    parser.add_argument("--lora-r", type=int, default=8, help="LoRA rank (default 8)")
    parser.add_argument("--max-train-records", type=int, default=None, help="use at most N training records")
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
        "lora_r": args.lora_r,
        "max_train_records": args.max_train_records,
        "seed": args.seed,
    }


def _language(args: argparse.Namespace) -> int:
    from polytune.adapters.train import train_language_adapter
    from polytune.config import LanguageAdapterConfig

    cfg = LanguageAdapterConfig(**_common(args), tokenizer=args.tokenizer, init=args.init)
    s = train_language_adapter(cfg)
    print(
        f"language adapter {cfg.lang}: {s['steps']} steps, loss {s['loss_first']:.3f} -> {s['loss_last']:.3f}, "
        f"dev MLM {s['dev_loss_before']:.3f} -> {s['dev_loss_after']:.3f}, {s['new_tokens']} new tokens; "
        f"saved to {s['out']}"
    )
    return 0


def _task(args: argparse.Namespace) -> int:
    from polytune.adapters.train import train_task_adapter
    from polytune.config import TaskAdapterConfig

    cfg = TaskAdapterConfig(**_common(args), label_field=args.label_field)
    s = train_task_adapter(cfg)
    print(
        f"task adapter ({cfg.label_field}, {len(s['labels'])} labels, {cfg.lang}): {s['steps']} steps, "
        f"loss {s['loss_first']:.3f} -> {s['loss_last']:.3f}, dev accuracy {s['dev_accuracy']:.3f}; "
        f"saved to {s['out']}"
    )
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("adapt", help="train language or task adapters (peft LoRA)")
    sub = parser.add_subparsers(dest="adapt_command", metavar="KIND", required=True)

    lang = sub.add_parser("language", help="language adapter: LoRA + new embedding rows, masked LM")
    _training_flags(lang)
    lang.add_argument("--lang", required=True, help="the adapter's language (e.g. nya or nya_Latn)")
    lang.add_argument("--tokenizer", default=None, help="extended tokenizer folder (with extension.json)")
    lang.add_argument(
        "--init",
        default="subword_mean",
        choices=("subword_mean", "mean", "random"),
        help="new-row initialization (default subword_mean)",
    )
    lang.set_defaults(handler=_language)

    task = sub.add_parser("task", help="task adapter: LoRA + classifier head on the source language")
    _training_flags(task)
    task.add_argument("--lang", default="eng_Latn", help="source language (default eng_Latn)")
    task.add_argument("--label-field", default="genre", help="record field holding the label (default genre)")
    task.set_defaults(handler=_task)

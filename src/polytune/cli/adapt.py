"""`polytune adapt language|task`: train adapters; `polytune pack build|verify`: ship a language adapter."""

from __future__ import annotations

import argparse

from polytune.cli.options import add_config_flags, config_options
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig

# The command line spells these fields its own way (the rest are `--field-name`).
FLAGS = {"gradient_accumulation_steps": "--grad-accum", "from_adapter": "--from", "layers_to_transform": "--layers"}
REQUIRED = ("base", "input", "out")


def _language(args: argparse.Namespace) -> int:
    from polytune.adapters import train_language_adapter

    cfg = LanguageAdapterConfig(objectives=args.objectives, **config_options(args, LanguageAdapterConfig))
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


def _task(args: argparse.Namespace) -> int:
    from polytune.adapters import train_task_adapter

    options = config_options(args, TaskAdapterConfig)
    if "prompt" in options:
        options["prompt"] = options["prompt"].replace("\\n", "\n")  # a typed \n: line break
    cfg = TaskAdapterConfig(**options)
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
    add_config_flags(lang, LanguageAdapterConfig, required=(*REQUIRED, "lang"), flags=FLAGS)
    lang.add_argument("--objectives", default=None, metavar="NAME=W,...",
                      help="mixed objective weights, e.g. align=1,mlm=0.5 (replaces --objective)")
    lang.set_defaults(handler=_language)

    task = sub.add_parser("task", help="task adapter: classification, tagging or generation on the source language")
    add_config_flags(task, TaskAdapterConfig, required=REQUIRED, flags=FLAGS)
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

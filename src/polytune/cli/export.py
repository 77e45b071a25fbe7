"""`polytune export`: base + optional language adapter + optional task adapter, merged, for serving.

    polytune export --base zoo:smollm2-135m --lang-adapter runs/la/nya_Latn [--task-adapter runs/task] \\
        --out serve/nya [--gguf [f16|f32]]

Writes a plain transformers folder (safetensors, config, generation config, the extended tokenizer, manifest.json)
that `AutoModelForCausalLM.from_pretrained` loads without peft or polytune; `--gguf` adds gguf/model-<type>.gguf
(llama-architecture decoders, byte-level BPE tokenizers).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `polytune export` to the `polytune` parser."""
    parser = subparsers.add_parser("export", help="merge adapters into a plain transformers folder (and GGUF)")
    parser.add_argument("--base", required=True, help="decoder base: folder, hub id, zoo:NAME or pkg:... spec")
    parser.add_argument("--out", required=True, help="folder to write (replaced atomically if an earlier export)")
    parser.add_argument("--lang-adapter", help="language adapter folder (its tokenizer and new rows come along)")
    parser.add_argument("--task-adapter", help="causal_lm task adapter folder")
    parser.add_argument("--gguf", nargs="?", const="f16", choices=("f16", "f32"),
                        help="also write gguf/model-<type>.gguf, llama architecture only (default type f16)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from polytune.export import export_model

    done = export_model(args.base, args.out, lang_adapter=args.lang_adapter, task_adapter=args.task_adapter,
                        gguf=args.gguf)
    print(f"exported: {done['out']} ({done['parameters']:,} parameters, vocabulary {done['vocab_size']:,}, "
          f"{done['new_tokens']:,} new tokens){'; GGUF: ' + done['gguf'] if done['gguf'] else ''}")
    print(f"load it with AutoModelForCausalLM.from_pretrained({done['out']!r})")
    return 0

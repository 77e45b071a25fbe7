"""Adapter folders on disk: written atomically, by the main process only, in the same bytes in every process.

Example: save_adapter(Path("runs/a/nya_Latn"), peft_model, tokenizer, {"labels.json": labels}, meta)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from polytune.adapters.checkpoints import work_dir
from polytune.io import atomic_path, read_json, write_json


def process_state() -> Any:
    """accelerate's state of this process, made as the training loop makes it: on a machine without GPU,
    `accelerate launch` runs CPU processes (gloo), which accelerate sets up only when asked for the CPU. (A
    `PartialState()` made first without that would leave every process thinking it is alone.)"""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def is_main_process() -> bool:
    """False on the processes other than the main one of `accelerate launch` (they train but must not write)."""
    return process_state().is_main_process


def _sort_target_modules(config_path: Path) -> None:
    """peft stores target_modules as a set, so its saved order follows the process's hash seed; sort it so the
    same training gives the same bytes in every process."""
    config = read_json(config_path, "adapter_config.json")
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        write_json(config_path, config)


def save_adapter(out: Path, peft_model: Any, tokenizer: Any, extra: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the adapter folder atomically: peft adapter (no full embedding matrix), extra JSON files or copies of
    files (`Path` values), tokenizer, manifest; then drop the run's checkpoints. The other processes wait for it."""
    state = process_state()
    if state.is_main_process:
        with atomic_path(out) as tmp:
            tmp.mkdir()
            peft_model.save_pretrained(str(tmp), save_embedding_layers=False, safe_serialization=True)
            _sort_target_modules(tmp / "adapter_config.json")
            if tokenizer is not None:
                tokenizer.save_pretrained(str(tmp))
            for name, data in extra.items():
                if isinstance(data, Path):
                    shutil.copyfile(data, tmp / name)
                else:
                    write_json(tmp / name, data)
            write_json(tmp / "manifest.json", meta)
        shutil.rmtree(work_dir(out), ignore_errors=True)  # the checkpoints are spent once the adapter is saved
    state.wait_for_everyone()

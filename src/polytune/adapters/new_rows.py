"""What a language adapter needs for new vocabulary rows and an MLM head, shared by the MLM/CLM/denoise trainer
(language.py) and the aligned one (align.py): read a tokenizer extension, resize and initialize the new rows, tell
peft which rows train, and make the MLM head trainable.

Example: new_ids = init_new_rows(model, read_extension("runs/demo/tokenizer"), tokenizer, cfg, train)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polytune.adapters import methods
from polytune.adapters.embeddings import extend_model
from polytune.config import LanguageAdapterConfig
from polytune.errors import InputError, ModelError
from polytune.io import read_json
from polytune.models import load_tokenizer


def unfreeze_mlm_head(model: Any) -> int:
    """Make the MLM head (outside the backbone) trainable, except weights tied to the input embeddings.

    The head is needed to learn at all (MiniLM ships none), but it is not saved with the adapter.
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    prefix = inner.base_model_prefix + "."
    backbone = {p.data_ptr() for name, p in inner.named_parameters() if name.startswith(prefix)}
    # A head layer wrapped for new rows (peft's trainable tokens on a tied output layer) computes its logits from
    # the matrix alone and never reads the bias tied to it: training that bias would do nothing, and DDP refuses
    # parameters without gradients.
    backbone |= {p.data_ptr() for name, p in inner.named_parameters(remove_duplicate=False)
                 if f"{methods.ROWS}.base_layer" in name}  # fmt: skip
    count = 0
    for name, param in inner.named_parameters():
        if name.startswith(prefix) or methods.adapter_parameter(name) or param.data_ptr() in backbone:
            continue
        param.requires_grad_(True)
        count += param.numel()
    return count


# peft's trainable-token rows: the name of the delta tensor (the wrapper's `base_layer` beside it holds the whole
# frozen matrix, and for a tied output layer its bias: neither may train in the embedding-first stage).
NEW_ROWS = "trainable_tokens_delta"


def new_rows_only(model: Any) -> dict[str, bool]:
    """Make only the new embedding rows trainable (the embedding-first stage); return the previous flags."""
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    for name, param in model.named_parameters():
        param.requires_grad_(NEW_ROWS in name)
    return before


def read_extension(tokenizer_dir: str | None) -> dict[str, Any] | None:
    """The extension.json of a tokenizer folder made by `polytune tokenizer extend` (None: no tokenizer given)."""
    if tokenizer_dir is None:
        return None
    path = Path(tokenizer_dir) / "extension.json"
    if not path.is_file():
        raise ModelError(f"{tokenizer_dir} has no extension.json: give a folder made by `polytune tokenizer extend`")
    try:
        return read_json(path, "extension.json")
    except InputError as exc:
        raise ModelError(str(exc)) from exc


def init_new_rows(model: Any, extension: dict[str, Any], tokenizer: Any, cfg: LanguageAdapterConfig, train) -> list:
    """Resize and initialize the new rows; FOCUS starts from subword_mean and replaces the rows it can."""
    base_len = len(load_tokenizer(cfg.base))
    if int(extension["base_vocab_size"]) != base_len:  # else the "new" ids would overwrite real base tokens
        raise ModelError(
            f"tokenizer {cfg.tokenizer} was extended from another base ({extension['base_vocab_size']} base pieces, "
            f"not the {base_len} of {cfg.base}); extend this base's tokenizer"
        )
    method = "subword_mean" if cfg.init == "focus" else cfg.init
    new_ids = extend_model(model, extension, len(tokenizer), method, cfg.seed)
    if cfg.init == "focus":
        from polytune.adapters.focus import focus_init

        focus_init(model, extension, tokenizer, [r["text"] for r in train], cfg.seed)
    return new_ids


def token_indices(model: Any, new_ids: list[int]) -> Any:
    """peft trainable_token_indices: the new ids, in the untied output head too when there is one."""
    if not new_ids:
        return None
    output = model.get_output_embeddings()
    if output is None or output.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr():
        return new_ids
    names = {id(m): n.split(".")[-1] for n, m in model.named_modules()}
    return {names[id(model.get_input_embeddings())]: new_ids, names[id(output)]: new_ids}

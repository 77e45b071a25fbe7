"""Language adapters: a peft adapter (LoRA by default; `methods.py`) + trainable new embedding rows, trained on one
language (MAD-X) by one of the objectives in `objectives/`: masked LM (encoders), causal LM (decoders), denoising
(encoder-decoders), or alignment to the source language on translation pairs, alone or mixed with masked LM.

One flow for every objective, in order:
1. the objective's examples (the language's records, or translation pairs); with `--from`, checked for leaks;
2. the tokenizer (extended, the parent's, or the base's) and the base; new rows initialized (`new_rows.py`);
3. the objective's work on the bare base (alignment: the frozen base reads every source sentence);
4. an MLM head the base lacks (MiniLM) fitted alone for `head_warmup_steps`, then frozen;
5. the adapter attached (or the parent's loaded, trainable); with an extended tokenizer and `embedding_steps`,
   the new rows train alone first (body and adapter frozen);
6. training with early stopping on the dev loss (`eval_every`), dev measured before and after;
7. one save: adapter, new rows, tokenizer, extension.json, the MLM head (for --from) and the manifest.

A head trained along is saved beside the adapter (`mlm_head.safetensors`) only so that `--from` can continue the
same loss; inference never loads it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from polytune.adapters import lineage, methods, objectives, tracking
from polytune.adapters.early_stop import early_stopping
from polytune.adapters.loop import fit
from polytune.adapters.new_rows import init_new_rows, new_rows_only, read_extension, token_indices, unfreeze_mlm_head
from polytune.adapters.objectives.base import Objective
from polytune.adapters.objectives.lm import MaskedLM
from polytune.config import LanguageAdapterConfig
from polytune.io import manifest
from polytune.logs import SUMMARY
from polytune.models import config_hash, load_tokenizer, tokenizer_hash

log = logging.getLogger(__name__)


def _freeze(model: Any) -> None:
    for param in model.parameters():
        param.requires_grad_(False)


def _restore(model: Any, flags: dict[str, bool]) -> None:
    for name, param in model.named_parameters():
        param.requires_grad_(flags[name])


def _stage(model: Any, objective: Objective, tokenizer: Any, train: list[dict], steps: int, seed: int,
           phase: str) -> list[float]:  # fmt: skip
    """A short run before the adapter's own (no checkpoints: it is repeated, identically, when a run resumes)."""
    cfg = replace(objective.cfg, max_steps=steps, save_every=0, eval_every=None, gradient_checkpointing=False)
    data = objective.dataset(tokenizer, train, "train")
    return fit(model, data, objective.collator(tokenizer, model, seed, "train"), cfg, objective.loss, phase=phase)


def _warm_up_head(model: Any, tokenizer: Any, train: list[dict], cfg: LanguageAdapterConfig) -> None:
    """Fit a fresh MLM head alone (base frozen) for cfg.head_warmup_steps, then freeze it.

    A base shipped without an MLM head (MiniLM) starts near log(vocab) whatever the head's init; without this,
    most of an adapter's early loss drop is the head learning to read the base, not the adapter learning.
    """
    _freeze(model)
    count = unfreeze_mlm_head(model)
    masked = MaskedLM(cfg)
    losses = _stage(model, masked, tokenizer, train, cfg.head_warmup_steps, cfg.seed + 1, "head-warmup")
    log.info("MLM head warm-up: %d params, %d steps, loss %.3f -> %.3f", count, len(losses), losses[0], losses[-1])
    _freeze(model)


def _tokenizer(cfg: LanguageAdapterConfig) -> Any:
    """The parent's tokenizer (--from), the extended one, or the base's; decoders get eos as padding."""
    tokenizer = load_tokenizer(cfg.from_adapter or cfg.tokenizer or cfg.base)
    if tokenizer.pad_token is None:  # decoders (GPT-2, Llama) ship none; batches need one
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _adapter(cfg: LanguageAdapterConfig, objective: Objective, model: Any, tokenizer: Any, train: list[dict],
             new_ids: list[int]) -> Any:  # fmt: skip
    """The peft model: a fresh adapter (new rows trainable) or the --from parent's, trainable; the MLM head
    trainable unless warmed up or inherited (then it stays frozen: the adapter moves the states to it)."""
    frozen_head = False
    if objective.mlm_head and cfg.head_warmup_steps > 0:
        _warm_up_head(model, tokenizer, train, cfg)
        frozen_head = True
    if cfg.from_adapter:
        frozen_head = objective.mlm_head and lineage.restore_head(model, cfg.from_adapter)
        peft_model = lineage.load_parent(model, cfg.from_adapter)
    else:
        config = methods.peft_config(cfg, trainable_token_indices=token_indices(model, new_ids))
        peft_model = methods.wrap_peft(model, config)
    head = unfreeze_mlm_head(peft_model) if objective.mlm_head and not frozen_head else 0
    log.info("language adapter %s (%s): %d train records, %d new tokens, MLM head %d params", cfg.lang,
             objective.name, len(train), len(new_ids), head)  # fmt: skip
    return peft_model


def train_language_adapter(cfg: LanguageAdapterConfig, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a language adapter on cfg.lang with its objective (see the module docstring) and save it.

    Args:
        cfg: the language adapter config.
        callbacks: more training callbacks (`loop.fit`), run after early stopping (which logs `dev_loss`).

    Returns:
        Summary: out, steps, loss_first, loss_last, dev_loss_before, dev_loss_after, dev_retrieval_before/after
        (acc@1 of the dev pairs, target -> source; None without alignment), new_tokens, train_records, objective,
        pairs (counts of the examples), embedding_steps.

    Raises:
        InputError: no training records (or pairs) for the language; new data repeating the parent's test records.
        ModelError: missing/corrupt base or tokenizer, an extension made for another base, or an objective the
            base cannot train.
    """
    from transformers import set_seed

    methods.check_options(cfg, new_rows=lineage.extension_source(cfg) is not None)  # before anything loads
    tracking.tracker_names(cfg.report_to)
    objective = objectives.build(cfg)
    set_seed(cfg.seed)  # before loading: a freshly initialized head is the same every run
    parent = None
    if cfg.from_adapter:
        lineage.check_options(cfg)
        parent = lineage.read_parent(cfg.from_adapter, "language", cfg.base)
    train, dev, counts = objective.examples()
    if parent is not None:  # refuse a leak before the model loads: any record offered, read this run or not
        lineage.check_leak(parent, cfg.from_adapter, objective.offered())
    tokenizer = _tokenizer(cfg)
    model = objective.load_model(cfg.base)
    extension = read_extension(lineage.extension_source(cfg))
    target = [r for r in train if not r.get("replay")]  # new rows start from the target language's text only
    new_ids = init_new_rows(model, extension, tokenizer, cfg, target) if extension else []
    objective.prepare(model, tokenizer, train, dev)
    peft_model = _adapter(cfg, objective, model, tokenizer, train, new_ids)
    batches = objective.dev_batches(tokenizer, peft_model, dev)
    before = objective.measure(peft_model, batches)
    embedding = []
    if cfg.embedding_steps and new_ids:
        flags = new_rows_only(peft_model)
        embedding = _stage(peft_model, objective, tokenizer, train, cfg.embedding_steps, cfg.seed + 2,
                           "embedding-first")  # fmt: skip
        _restore(peft_model, flags)
    stopper = [early_stopping(peft_model, lambda: objective.measure(peft_model, batches)["dev_loss"],
                              cfg.eval_every, cfg.patience, "dev_loss")] if cfg.eval_every and batches else []
    losses = fit(peft_model, objective.dataset(tokenizer, train, "train"),
                 objective.collator(tokenizer, peft_model, cfg.seed, "train"), cfg, objective.loss,
                 callbacks=stopper + list(callbacks or []))  # fmt: skip
    after = objective.measure(peft_model, batches)
    summary = {"out": str(cfg.out), "steps": len(losses), "loss_first": losses[0], "loss_last": losses[-1],
               "dev_loss_before": before["dev_loss"], "dev_loss_after": after["dev_loss"],
               "dev_retrieval_before": before.get("dev_retrieval"), "dev_retrieval_after": after.get("dev_retrieval"),
               "new_tokens": len(new_ids), "train_records": len(train), "objective": objective.name,
               "pairs": counts, "embedding_steps": len(embedding)}  # fmt: skip
    history = stopper[0].history if stopper else []
    _save(cfg, objective, peft_model, tokenizer, summary, (losses, embedding, history), parent, train)
    return summary


def _inputs(cfg: LanguageAdapterConfig, objective: Objective) -> list[Path]:
    inputs = [Path(cfg.input) / cfg.lang]
    if objective.name.startswith("align"):
        inputs += [Path(cfg.input) / cfg.source_lang] + ([Path(cfg.parallel)] if cfg.parallel else [])
    return inputs


def _save(cfg: LanguageAdapterConfig, objective: Objective, peft_model: Any, tokenizer: Any, summary: dict,
          curves: tuple[list, list, list], parent: dict | None, train: list[dict]) -> None:  # fmt: skip
    losses, embedding, history = curves
    meta = manifest(
        "adapt.language",
        cfg,
        inputs=_inputs(cfg, objective),
        counts={**summary["pairs"], "train_records": summary["train_records"], "new_tokens": summary["new_tokens"]},
        adapter="language",
        **methods.manifest_fields(methods.method_of_parent(cfg, parent)),
        objective=objective.name,
        objectives=getattr(objective, "weights", {objective.name: 1.0}),
        source_lang=cfg.source_lang if objective.name.startswith("align") else None,
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(tokenizer),
        lang=cfg.lang,
        steps=summary["steps"],
        init=cfg.init,
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses, "embedding": embedding,
                "dev_before": summary["dev_loss_before"], "dev_after": summary["dev_loss_after"],
                "dev_retrieval_before": summary["dev_retrieval_before"],
                "dev_retrieval_after": summary["dev_retrieval_after"], "dev_history": history},
        test_records=lineage.test_records(cfg.input, cfg.lang),
        **({"lineage": lineage.lineage(parent, cfg.from_adapter, cfg, train, cfg.input)} if parent else {}),
    )  # fmt: skip
    lineage.save_continuable(cfg, peft_model, tokenizer, meta, with_head=objective.mlm_head)
    log.info("saved %s language adapter to %s", objective.name, cfg.out, extra=SUMMARY)


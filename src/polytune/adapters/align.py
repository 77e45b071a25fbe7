"""Aligned language adapters: LoRA + new embedding rows trained on translation pairs (objective `align`), alone or
mixed with masked LM by weight (`objectives: {align: 1.0, mlm: 0.5}`).

Order of training: the new rows are initialized; the frozen base reads every source sentence once (the teacher
vectors, `objectives.teacher_states`, before any adapter exists); a base without an MLM head fits it alone when
MLM is mixed in and `head_warmup_steps` asks; with an extended tokenizer, `embedding_steps` train only the new
rows (body and LoRA frozen); then LoRA and the rows train together. The adapter folder has the same layout as an
MLM language adapter's, so evaluation, MAD-X stacking and packs take it unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from polytune.adapters import lineage, methods
from polytune.adapters.data import load_split, spread, tokenize
from polytune.adapters.early_stop import early_stopping
from polytune.adapters.new_rows import init_new_rows, read_extension, token_indices, unfreeze_mlm_head
from polytune.adapters.objectives import PairCollator, objective_loss, pool, states, teacher_states
from polytune.adapters.parallel import load_pairs
from polytune.adapters.trainer import device_of, fit, wrap_peft
from polytune.config import LanguageAdapterConfig
from polytune.errors import ModelError
from polytune.io import manifest
from polytune.models import config_hash, lm_objective, load_mlm, load_tokenizer, tokenizer_hash

log = logging.getLogger(__name__)


def _examples(cfg: LanguageAdapterConfig, align: bool) -> tuple[list[dict], list[dict], dict[str, int]]:
    """Train and dev examples: translation pairs for alignment, else the target's own records (MLM alone)."""
    if align:
        train, dev, counts = load_pairs(cfg.input, cfg.lang, cfg.source_lang, cfg.parallel)
    else:
        train = [{"target": r["text"]} for r in load_split(cfg.input, cfg.lang, "train")]
        dev = [{"target": r["text"]} for r in load_split(cfg.input, cfg.lang, "dev")]
        counts = {"train_records": len(train)}
    # Training sees at most steps x batch examples; without a limit of the user's, that many pairs spread over the
    # corpus are kept, so the teacher reads each source sentence once instead of the whole corpus.
    seen = (cfg.max_steps + cfg.embedding_steps) * cfg.batch_size * cfg.gradient_accumulation_steps
    limit = cfg.max_train_records if cfg.max_train_records is not None else seen
    return spread(train, limit), spread(dev, cfg.max_eval_records), counts


def _dataset(tokenizer: Any, rows: list[dict], max_length: int):
    from datasets import Dataset

    ids = tokenize(tokenizer, [r["target"] for r in rows], max_length)
    return Dataset.from_dict({"input_ids": ids, "pair": list(range(len(rows)))})


def _teachers(model: Any, cfg: LanguageAdapterConfig, rows: list[dict]) -> dict[str, torch.Tensor] | None:
    """The base's vectors of the source sentences, read with the base's own tokenizer (not the extended one)."""
    source = load_tokenizer(cfg.base)
    pad_id = source.pad_token_id if source.pad_token_id is not None else 0
    return teacher_states(model, tokenize(source, [r["source"] for r in rows], cfg.max_length), pad_id,
                          cfg.batch_size)  # fmt: skip


def _only(model: Any, names: tuple[str, ...]) -> dict[str, bool]:
    """Make trainable only the parameters whose name holds one of `names`; return the previous flags."""
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    for name, param in model.named_parameters():
        param.requires_grad_(any(key in name for key in names))
    return before


def _restore(model: Any, flags: dict[str, bool]) -> None:
    for name, param in model.named_parameters():
        param.requires_grad_(flags[name])


def _stage(model: Any, data: Any, collator: Any, cfg: LanguageAdapterConfig, steps: int, loss: Any) -> list[float]:
    """A short run before the adapter's own (no checkpoints: it is repeated, identically, when a run resumes)."""
    short = replace(cfg, max_steps=steps, save_every=0, eval_every=None, gradient_checkpointing=False)
    return fit(model, data, collator, short, loss=loss)


@torch.no_grad()
def _measure(model: Any, batches: list[dict[str, torch.Tensor]], loss: Any) -> tuple[float, float | None]:
    """(mean objective loss, retrieval acc@1 target -> source by cosine of mean states) over fixed dev batches."""
    if not batches:
        return float("nan"), None
    model.eval()
    device = device_of(model)
    losses, students, teachers = [], [], []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        losses.append(float(loss(model, batch)))
        if "teacher_mean" in batch:
            students.append(pool(states(model, batch["input_ids"], batch["attention_mask"]),
                                 batch["attention_mask"], "mean").float())  # fmt: skip
            teachers.append(batch["teacher_mean"].float())
    model.train()
    if not students:
        return sum(losses) / len(losses), None
    s = torch.nn.functional.normalize(torch.cat(students), dim=-1)
    t = torch.nn.functional.normalize(torch.cat(teachers), dim=-1)
    hits = (s @ t.T).argmax(dim=1) == torch.arange(len(s), device=s.device)
    return sum(losses) / len(losses), float(hits.float().mean())


def _prepare(cfg: LanguageAdapterConfig, weights: dict[str, float], parent: dict[str, Any] | None):
    """Tokenizer, base (new rows initialized), examples, counts and teacher vectors.

    With a --from parent: its tokenizer and extension, and new data checked against its test records first.
    """
    if lm_objective(cfg.base) != "mlm":
        raise ModelError(f"objective align needs an encoder base (a masked-LM model class); {cfg.base} is not one")
    train, dev, counts = _examples(cfg, bool(weights.get("align")))
    if parent is not None:  # refuse a leak before the model loads
        lineage.check_leak(parent, cfg.from_adapter, _target_records(train))
    tokenizer = load_tokenizer(cfg.from_adapter or cfg.tokenizer or cfg.base)
    if weights.get("mlm") and tokenizer.mask_token_id is None:
        raise ModelError(f"the tokenizer of {cfg.tokenizer or cfg.base} has no mask token; drop mlm from objectives")
    model = load_mlm(cfg.base)
    extension = read_extension(lineage.extension_source(cfg))
    new_ids = init_new_rows(model, extension, tokenizer, cfg, [{"text": r["target"]} for r in train]) \
        if extension else []  # fmt: skip
    teachers = (_teachers(model, cfg, train), _teachers(model, cfg, dev)) if weights.get("align") else (None, None)
    return tokenizer, model, train, dev, counts, new_ids, teachers


def _target_records(rows: list[dict]) -> list[dict[str, Any]]:
    """The target side of training examples as records (id, text): what a leak check and the lineage compare."""
    return [{"id": r.get("id"), "text": r["target"]} for r in rows]


def _wrap(cfg: LanguageAdapterConfig, model: Any, new_ids: list[int], mlm: bool) -> tuple[Any, bool]:
    """(peft model, whether the MLM head stays frozen): a fresh adapter, or the --from parent's (LoRA, new rows and
    the MLM head it saved), trainable."""
    if cfg.from_adapter:
        kept_head = mlm and lineage.restore_head(model, cfg.from_adapter)
        return lineage.load_parent(model, cfg.from_adapter), kept_head
    return wrap_peft(model, methods.peft_config(cfg, trainable_token_indices=token_indices(model, new_ids))), False


def train_aligned_adapter(cfg: LanguageAdapterConfig, weights: dict[str, float],
                          callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train a language adapter with `align` and/or `mlm` objectives (see the module docstring); save it.

    Args:
        cfg: the language adapter config.
        weights: objective weights, e.g. {"align": 1.0, "mlm": 0.5}.

    Returns:
        Summary as `train_language_adapter`'s, plus pairs (counts), dev_retrieval_before/after (acc@1 of the dev
        pairs, target -> source; None without alignment) and embedding_steps.

    Raises:
        InputError: no translation pairs (or no records), a bad pairs file.
        ModelError: a base that is not an encoder, missing/corrupt base or tokenizer.
    """
    from transformers import set_seed

    set_seed(cfg.seed)
    mlm = bool(weights.get("mlm"))
    parent = None
    if cfg.from_adapter:
        lineage.check_options(cfg)
        parent = lineage.read_parent(cfg.from_adapter, "language", cfg.base)
    tokenizer, model, train, dev, counts, new_ids, (teach, dev_teach) = _prepare(cfg, weights, parent)
    poolings = ("first", "mean") if cfg.align_pooling == "both" else (cfg.align_pooling,)
    loss = objective_loss(weights, poolings, cfg.align_loss, cfg.align_temperature)
    data = _dataset(tokenizer, train, cfg.max_length)
    warm = mlm and cfg.head_warmup_steps > 0
    if warm:  # fit a fresh MLM head alone on the bare base; it stays frozen afterwards
        _only(model, ())
        unfreeze_mlm_head(model)
        _stage(model, data, PairCollator(tokenizer, None, True, cfg.mlm_probability, cfg.seed + 1), cfg,
               cfg.head_warmup_steps, objective_loss({"mlm": 1.0}, poolings, cfg.align_loss, cfg.align_temperature))
        _only(model, ())
    peft_model, kept_head = _wrap(cfg, model, new_ids, mlm)
    if mlm and not (warm or kept_head):  # a warmed-up or inherited head stays frozen, as in language.py
        unfreeze_mlm_head(peft_model)
    dev_data = _dataset(tokenizer, dev, cfg.max_length)
    dev_collator = PairCollator(tokenizer, dev_teach, mlm, cfg.mlm_probability, cfg.seed + 3)
    batches = [dev_collator(list(dev_data.select(range(i, min(i + cfg.batch_size, len(dev_data))))))
               for i in range(0, len(dev_data), cfg.batch_size)]  # fmt: skip
    dev_before = _measure(peft_model, batches, loss)
    embedding = []
    if cfg.embedding_steps and new_ids:
        flags = _only(peft_model, ("token_adapter",))
        embedding = _stage(peft_model, data, PairCollator(tokenizer, teach, mlm, cfg.mlm_probability, cfg.seed + 2),
                           cfg, cfg.embedding_steps, loss)  # fmt: skip
        _restore(peft_model, flags)
    stopper = [early_stopping(peft_model, lambda: _measure(peft_model, batches, loss)[0], cfg.eval_every,
                              cfg.patience, "dev_loss")] if cfg.eval_every and batches else []  # fmt: skip
    losses = fit(peft_model, data, PairCollator(tokenizer, teach, mlm, cfg.mlm_probability, cfg.seed), cfg,
                 loss=loss, callbacks=stopper + list(callbacks or []))  # fmt: skip
    dev_after = _measure(peft_model, batches, loss)
    name = "+".join(k for k, w in weights.items() if w)
    summary = {"out": str(cfg.out), "steps": len(losses), "loss_first": losses[0], "loss_last": losses[-1],
               "dev_loss_before": dev_before[0], "dev_loss_after": dev_after[0], "new_tokens": len(new_ids),
               "train_records": len(train), "objective": name, "pairs": counts,
               "dev_retrieval_before": dev_before[1], "dev_retrieval_after": dev_after[1],
               "embedding_steps": len(embedding)}  # fmt: skip
    _save(cfg, peft_model, tokenizer, summary, losses, embedding, weights, stopper, parent, train)
    return summary


def _save(cfg, peft_model, tokenizer, summary, losses, embedding, weights, stopper, parent, train) -> None:
    meta = manifest(
        "adapt.language",
        cfg,
        inputs=[Path(cfg.input) / cfg.lang, Path(cfg.input) / cfg.source_lang]
        + ([Path(cfg.parallel)] if cfg.parallel else []),
        counts={**summary["pairs"], "train_records": summary["train_records"], "new_tokens": summary["new_tokens"]},
        adapter="language",
        **methods.manifest_fields(methods.method_of_parent(cfg, parent)),
        objective=summary["objective"],
        objectives=weights,
        source_lang=cfg.source_lang,
        base=str(cfg.base),
        base_config_hash=config_hash(cfg.base),
        tokenizer_hash=tokenizer_hash(tokenizer),
        lang=cfg.lang,
        steps=summary["steps"],
        init=cfg.init,
        losses={"train_first": losses[0], "train_last": losses[-1], "train": losses, "embedding": embedding,
                "dev_before": summary["dev_loss_before"], "dev_after": summary["dev_loss_after"],
                "dev_retrieval_before": summary["dev_retrieval_before"],
                "dev_retrieval_after": summary["dev_retrieval_after"],
                "dev_history": stopper[0].history if stopper else []},
        test_records=lineage.test_records(cfg.input, cfg.lang),
        **({"lineage": lineage.lineage(parent, cfg.from_adapter, cfg, _target_records(train), cfg.input)}
           if parent else {}),
    )  # fmt: skip
    lineage.save_continuable(cfg, peft_model, tokenizer, meta, with_head=bool(weights.get("mlm")))
    log.info("saved %s language adapter to %s", summary["objective"], cfg.out)

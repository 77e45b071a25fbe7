"""Predictions of every system on every language: base + language adapter (optional) + task adapter.

Writes `<out>/predictions/<system>/<lang>.jsonl` lines {"id", "lang", "label", "pred"} and a manifest.json;
metrics and reports are computed from these files by the rest of `evaluation/`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from polytune.config import EvalConfig, SystemConfig
from polytune.errors import InputError, ModelError
from polytune.io import iter_records, manifest, write_json, write_jsonl
from polytune.langcodes import is_key
from polytune.models import load_classifier

log = logging.getLogger(__name__)


def _records(cfg: EvalConfig, lang: str) -> list[dict[str, Any]]:
    """Records of cfg.split for `lang`, at most cfg.max_records spread evenly over the corpus order."""
    folder = Path(cfg.input) / lang
    if not folder.is_dir():
        raise InputError(f"no {lang} records under {cfg.input}: expected the folder {folder}")
    records = [r for r in iter_records(folder) if r.get("split") == cfg.split]
    if not records:
        raise InputError(f"no {cfg.split} records in {folder}: check the corpus or the eval split")
    missing = [r.get("id") for r in records if cfg.label_field not in r]
    if missing:
        raise InputError(f"record {missing[0]} in {folder} has no {cfg.label_field!r} field; set label_field")
    limit = cfg.max_records
    if limit is not None and len(records) > limit:
        records = [records[i * len(records) // limit] for i in range(limit)]
    return records


def _langs(cfg: EvalConfig) -> list[str]:
    """cfg.langs, or every language folder of the corpus when none is given."""
    if cfg.langs:
        return list(cfg.langs)
    langs = (
        sorted(p.name for p in Path(cfg.input).iterdir() if p.is_dir() and is_key(p.name))
        if Path(cfg.input).is_dir()
        else []
    )
    if not langs:
        raise InputError(f"no language folders (xxx_Scrp) under {cfg.input}: give langs or a filtered corpus")
    return langs


def lang_adapter_path(system: SystemConfig, lang: str) -> Path | None:
    """The system's language adapter folder for `lang` ('{lang}' replaced), or None.

    Raises:
        ModelError: the folder does not exist.
    """
    if system.lang_adapter is None:
        return None
    path = Path(system.lang_adapter.replace("{lang}", lang))
    if not path.is_dir():
        raise ModelError(f"system {system.name!r}: language adapter folder {path} for {lang} not found; train it")
    return path


@torch.no_grad()
def classify(model: Any, tokenizer: Any, texts: list[str], labels: list[str], batch_size: int, max_length: int):
    """Label names predicted for `texts`, batch by batch, without gradients."""
    device = next(model.parameters()).device
    preds: list[str] = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[i : i + batch_size], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        preds.extend(labels[j] for j in model(**batch).logits.argmax(-1).tolist())
    return preds


def predict(cfg: EvalConfig) -> Path:
    """Write predictions of every system in cfg.systems for every language.

    Args:
        cfg: the evaluation config (base, task adapter, corpus, systems, languages, split).

    Returns:
        The predictions folder, `<cfg.out>/predictions`.

    Raises:
        InputError: a language has no records of the split, or a record lacks the label.
        ModelError: a model or adapter is missing, corrupt, or made for another base.
    """
    out = Path(cfg.out) / "predictions"
    langs = _langs(cfg)
    data = {lang: _records(cfg, lang) for lang in langs}  # fail on bad input before loading any model
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    counts: dict[str, dict[str, int]] = {}
    for system in cfg.systems:
        paths = {lang: lang_adapter_path(system, lang) for lang in langs}
        for lang in langs:
            model, tokenizer, labels = load_classifier(cfg.base, cfg.task_adapter, paths[lang])
            records = data[lang]
            preds = classify(
                model.to(device), tokenizer, [r["text"] for r in records], labels, cfg.batch_size, cfg.max_length
            )
            rows = (
                {"id": r["id"], "lang": lang, "label": str(r[cfg.label_field]), "pred": p}
                for r, p in zip(records, preds, strict=True)
            )
            counts.setdefault(system.name, {})[lang] = write_jsonl(out / system.name / f"{lang}.jsonl", rows)
            log.info("predicted %s / %s: %d records", system.name, lang, len(records))
    write_json(
        out / "manifest.json",
        manifest(
            "evaluate.predict",
            cfg,
            inputs=[Path(cfg.input) / lang for lang in langs],
            counts=counts,
            systems={s.name: s.lang_adapter for s in cfg.systems},
        ),
    )
    return out

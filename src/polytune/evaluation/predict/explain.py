"""`polytune explain`: Integrated-Gradients word attributions and attention maps of a classifier task adapter, per
system (base + the system's language adapter + task adapter, composed as `polytune eval` composes them) and language.

Writes `<out>/explain.json`, `<out>/explain.html` (torch-free rendering: `evaluation/explain_page.py`) and a
manifest. The target of the attribution is the predicted class; the baseline is the record with every piece
replaced by the pad (or mask) id and the special tokens kept.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from polytune.config import ExplainConfig, SystemConfig
from polytune.errors import ConfigError, InputError
from polytune.evaluation.explain_page import summarize, write_outputs
from polytune.evaluation.predict import _langs, _records, lang_adapter_path, task_inputs
from polytune.evaluation.predict.attribution import (
    attention_map,
    baseline_ids,
    check_attention_range,
    integrated_gradients,
    word_pieces,
)
from polytune.io import read_json
from polytune.models import load_classifier, require_classifier
from polytune.resources import resolved

log = logging.getLogger(__name__)


def _pick(records: list[dict[str, Any]], limit: int | None, ids: list[str]) -> list[dict[str, Any]]:
    """At most `limit` records spread over the split (as `polytune eval --max-records`), plus the named ones."""
    chosen = records if limit is None or len(records) <= limit else [
        records[i * len(records) // limit] for i in range(limit)]  # fmt: skip
    have = {str(r["id"]) for r in chosen}
    return chosen + [r for r in records if str(r["id"]) in ids and str(r["id"]) not in have]


def _base_vocab_size(lang_adapter: Path | None, tokenizer: Any) -> int:
    """Ids at or above this are new vocabulary (the tokenizer extension's); without an extension, none are."""
    ext = None if lang_adapter is None else lang_adapter / "extension.json"
    if ext is not None and ext.is_file():
        return int(read_json(ext, "extension.json")["base_vocab_size"])
    return len(tokenizer)


def _fill_id(tokenizer: Any, kind: str) -> int:
    value = tokenizer.pad_token_id if kind == "pad" else tokenizer.mask_token_id
    if value is None:
        raise ConfigError(f"the tokenizer has no {kind} token for the IG baseline; use --baseline "
                          f"{'mask' if kind == 'pad' else 'pad'}")  # fmt: skip
    return int(value)


def _explain_batch(model: Any, tokenizer: Any, texts: list[str], cfg: ExplainConfig, fill: int) -> list[dict]:
    """Per record: predicted class index, logits difference explained, convergence delta, and its pieces
    (position, id, attribution) with the word alignment."""
    enc = tokenizer(texts, padding=True, truncation=True, max_length=cfg.max_length, return_tensors="pt",
                    return_offsets_mapping=True, return_special_tokens_mask=True)  # fmt: skip
    offsets, special = enc.pop("offset_mapping"), enc.pop("special_tokens_mask")
    special = special.bool() | (enc["attention_mask"] == 0)
    device = next(model.parameters()).device
    enc = {k: v.to(device) for k, v in enc.items()}
    with torch.no_grad():
        logits = model(**enc).logits.float()
    target = logits.argmax(-1)
    base = baseline_ids(enc["input_ids"], special.to(device), fill)
    attr, delta = integrated_gradients(model, enc, base, target, cfg.n_steps, cfg.batch_size * cfg.n_steps)
    with torch.no_grad():
        base_logits = model(**{**enc, "input_ids": base}).logits.float()
    rows = []
    for i, text in enumerate(texts):
        length = int(enc["attention_mask"][i].sum())
        words = word_pieces(text, [tuple(o) for o in offsets[i][:length].tolist()], special[i][:length].tolist())
        rows.append({
            "target": int(target[i]),
            "logit_diff": float(logits[i, target[i]] - base_logits[i, target[i]]),
            "delta": float(delta[i]),
            "ids": enc["input_ids"][i][:length].tolist(),
            "scores": attr[i][:length].float().tolist(),
            "words": words,
        })  # fmt: skip
    return rows


def _record_entry(record: dict, row: dict, labels: list[str], label_field: str, base_vocab: int, tokenizer) -> dict:
    """The JSON entry of one record: words with their summed attribution and new-vocabulary share."""
    scores, ids = row["scores"], row["ids"]
    words = []
    for word, positions in row["words"]:
        new = [p for p in positions if ids[p] >= base_vocab]
        words.append({"word": word, "score": sum(scores[p] for p in positions), "pieces": len(positions),
                      "new_pieces": len(new), "tokens": tokenizer.convert_ids_to_tokens([ids[p] for p in positions]),
                      "new_mass": sum(abs(scores[p]) for p in new), "mass": sum(abs(scores[p]) for p in positions)})
    return {"id": str(record["id"]), "label": None if label_field not in record else str(record[label_field]),
            "pred": labels[row["target"]], "logit_diff": row["logit_diff"], "delta": row["delta"],
            "words": words}  # fmt: skip


def _attention(model: Any, tokenizer: Any, text: str, cfg: ExplainConfig) -> dict[str, Any]:
    enc = tokenizer(text, truncation=True, max_length=cfg.max_length, return_tensors="pt")
    device = next(model.parameters()).device
    grid = attention_map(model, {k: v.to(device) for k, v in enc.items()}, cfg.layer, cfg.head, cfg.rollout)
    return {"tokens": tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist()), "map": grid.cpu().tolist()}


def explain_system(cfg: ExplainConfig, system: SystemConfig, lang: str, records: list[dict], info: dict) -> dict:
    """Attributions of one system on one language's records, and attention maps of cfg.record_ids among them."""
    lang_adapter = lang_adapter_path(system, lang)
    model, tokenizer, labels = load_classifier(cfg.base, cfg.task_adapter, lang_adapter)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device)
    check_attention_range(model, cfg.layer, cfg.head)
    fill, base_vocab = _fill_id(tokenizer, cfg.baseline), _base_vocab_size(lang_adapter, tokenizer)
    texts = [str(r[info["text_field"]]) for r in records]
    entries = []
    for i in range(0, len(texts), cfg.batch_size):
        rows = _explain_batch(model, tokenizer, texts[i : i + cfg.batch_size], cfg, fill)
        entries += [_record_entry(r, row, labels, info["label_field"], base_vocab, tokenizer)
                    for r, row in zip(records[i : i + cfg.batch_size], rows, strict=True)]  # fmt: skip
    maps = {}
    if cfg.record_ids:
        model.set_attn_implementation("eager")  # sdpa kernels return no attention weights
        maps = {str(r["id"]): _attention(model, tokenizer, str(r[info["text_field"]]), cfg)
                for r in records if str(r["id"]) in cfg.record_ids}  # fmt: skip
    return {"records": entries, "attention": maps, "labels": labels, "base_vocab_size": base_vocab,
            "vocab_size": len(tokenizer), "lang_adapter": None if lang_adapter is None else str(lang_adapter)}


def _load_records(cfg: ExplainConfig, langs: list[str], info: dict) -> dict[str, list[dict]]:
    """Each language's records to explain, checked before any model loads."""
    data = {}
    for lang in langs:
        every = _records(cfg.eval, lang, {info["text_field"]: "the task adapter's text_field"})
        data[lang] = _pick(every, cfg.max_records, cfg.record_ids)
    found = {str(r["id"]) for records in data.values() for r in records}
    missing = [i for i in cfg.record_ids if i not in found]
    if missing:
        raise InputError(f"--record-ids {missing[0]!r} is not a {cfg.split} record of {', '.join(langs)}; "
                         "give ids of that split")  # fmt: skip
    return data


def explain(cfg: ExplainConfig) -> dict[str, Any]:
    """Explain every system on every language and write explain.json, explain.html and manifest.json.

    Args:
        cfg: the explain settings.

    Returns:
        The explanation (what explain.json holds).

    Raises:
        InputError: an unknown language, no records of the split, a record id not found, layer/head out of range.
        ModelError: the task adapter is not a sequence classifier, or a model or adapter is missing or corrupt.
    """
    cfg = resolved(cfg)  # a zoo: or pkg: base becomes its folder, in the records' EvalConfig too
    cfg.eval = resolved(cfg.eval)
    require_classifier(cfg.base, cfg.task_adapter)
    info = task_inputs(cfg.eval)
    info["label_field"] = info.get("label_field") or cfg.eval.label_field
    langs = _langs(cfg.eval)
    data = _load_records(cfg, langs, info)
    check_attention_range(_base_config(cfg.base), cfg.layer, cfg.head)
    for system in cfg.systems:  # every language adapter found before the first model loads
        for lang in langs:
            lang_adapter_path(system, lang)
    results: dict[str, dict[str, Any]] = {}
    for system in cfg.systems:
        for lang in langs:
            one = explain_system(cfg, system, lang, data[lang], info)
            one["summary"] = summarize(one["records"], one["labels"], cfg.top_k)
            results.setdefault(system.name, {})[lang] = one
            log.info("explained %s / %s: %d records", system.name, lang, len(data[lang]))
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("systems", "eval")}
    explanation = {"settings": {**settings, "input": str(cfg.input), "out": str(cfg.out)},
                   "systems": {s.name: s.lang_adapter for s in cfg.systems}, "results": results}  # fmt: skip
    write_outputs(Path(cfg.out), explanation, cfg.eval, [Path(cfg.input) / lang for lang in langs], cfg.show)
    return explanation


def _base_config(base: str) -> Any:
    """Something with the base's config (layers, heads), to check --layer and --head before any weights load."""
    from types import SimpleNamespace

    from transformers import AutoConfig

    return SimpleNamespace(config=AutoConfig.from_pretrained(str(base)))

"""Predictions of every system on every language: base + language adapter (optional) + task adapter.

Writes `<out>/predictions/<system>/<lang>.jsonl` lines {"id", "lang", "label", "pred"} and a manifest.json (with
the task type); metrics and reports are computed from these files by the rest of `evaluation/`. Labels and
predictions are class names (sequence classification), lists of tags, one per word (token classification), or
reference and hypothesis texts (seq2seq, causal_lm; see `predict/tasks.py` for these two and tagging).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import torch

from polytune.config import EvalConfig, SystemConfig
from polytune.errors import InputError, ModelError
from polytune.evaluation.suites import suite_configs, suite_plan
from polytune.io import iter_records, manifest, write_json, write_jsonl
from polytune.langcodes import is_key
from polytune.models import check_ensemble, load_classifier, read_adapter_manifest
from polytune.models import load_merged_ensemble as load_merged_ensemble  # composition: models/ensembles.py
from polytune.prompts import prompt_fields, template_for

log = logging.getLogger(__name__)
GENERATION_TASKS = ("seq2seq", "causal_lm")  # predictions are texts written by the model


def _records(cfg: EvalConfig, lang: str, fields: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Records of cfg.split for `lang`, at most cfg.max_records spread evenly over the corpus order.

    `fields` maps each field every record needs to what sets it (default: cfg.label_field, "label_field").
    """
    folder = Path(cfg.input) / lang
    if not folder.is_dir():
        raise InputError(f"no {lang} records under {cfg.input}: expected the folder {folder}")
    records = [r for r in iter_records(folder) if r.get("split") == cfg.split]
    if not records:
        raise InputError(f"no {cfg.split} records in {folder}: check the corpus or the eval split")
    for name, key in (fields or {cfg.label_field: "label_field"}).items():
        missing = [r.get("id") for r in records if name not in r]
        if missing:
            raise InputError(f"record {missing[0]} in {folder} has no {name!r} field; set {key}")
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


def task_adapter_path(cfg: EvalConfig, system: SystemConfig, lang: str) -> Path:
    """The task adapter a system runs for `lang`: its own ('{lang}' replaced), else the evaluation's.

    Raises:
        ModelError: the folder does not exist.
    """
    own = system.task_adapter is not None
    path = Path((system.task_adapter if own else cfg.task_adapter).replace("{lang}", lang))
    if not path.is_dir():
        whose = f"system {system.name!r}" if own else "evaluation"
        raise ModelError(f"{whose}: task adapter folder {path} for {lang} not found; train it")
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


@torch.no_grad()
def classify_average(base: str, task_adapter, lang_adapters: list[Path], texts: list[str], weights=None,
                     batch_size: int = 32, max_length: int = 128) -> list[str]:
    """Labels by the weighted mean of class probabilities of base + each language adapter + task adapter."""
    folders = [Path(f) for f in lang_adapters]
    weights = check_ensemble(base, folders, weights)
    total, labels = None, None
    for folder, weight in zip(folders, weights, strict=True):
        model, tokenizer, labels = load_classifier(base, task_adapter, folder)
        probs = []
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(texts[i : i + batch_size], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")  # fmt: skip
            probs.append(model(**batch).logits.float().softmax(-1))
        total = torch.cat(probs) * weight + (0 if total is None else total)
    return [labels[j] for j in total.argmax(-1).tolist()]


def task_inputs(cfg: EvalConfig, lang: str | None = None) -> dict[str, Any]:
    """What the task adapter's manifest says about its inputs: task type, text field, label field, prompt; with
    systems of their own task adapters, the first system's for `lang` (every system's must agree).

    Without any task adapter, a benchmark's base answers by itself (predict/zero_shot.py).

    Raises:
        ModelError: a task adapter is missing, corrupt or made for another base, or two disagree on the inputs.
    """
    if cfg.task_adapter is None and all(s.task_adapter is None for s in cfg.systems) and cfg.benchmark:
        from polytune.evaluation.predict.zero_shot import zero_shot_inputs

        return zero_shot_inputs(cfg.benchmark)
    if cfg.task_adapter is not None and all(s.task_adapter is None for s in cfg.systems):
        return _inputs(read_adapter_manifest(cfg.task_adapter, cfg.base, "task"))
    found = {s.name: _inputs(read_adapter_manifest(task_adapter_path(cfg, s, lang or ""), cfg.base, "task"))
             for s in cfg.systems}  # fmt: skip
    first = next(iter(found.values()))
    other = next((name for name, info in found.items() if info != first), None)
    if other is not None:
        raise ModelError(f"system {other!r}: its task adapter reads other inputs ({found[other]}) than the first "
                         f"system's ({first}); compare systems of one task")
    return first


def _inputs(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "task": meta.get("task", "sequence_classification"),  # adapters made before task types
        "text_field": meta.get("text_field", "text"),
        "label_field": meta.get("label_field"),
        "prompt": meta.get("prompt"),
    }


def _fields(cfg: EvalConfig, info: dict[str, Any], suite_label: bool = False) -> tuple[str, dict[str, str]]:
    """(label field, {every field the records need: the setting that names it}) for cfg's records.

    The label field is cfg.label_field when a suite names it or it is set away from its default, else the one the
    adapter was trained on, so `polytune eval` on a NER or generation adapter needs no field flags.
    """
    default = next(f.default for f in dataclasses.fields(EvalConfig) if f.name == "label_field")
    given = suite_label or cfg.label_field != default
    label = cfg.label_field if given or not info["label_field"] else info["label_field"]
    fields = {label: "label_field"}
    if info["task"] in GENERATION_TASKS:
        template = template_for(info["task"], info["text_field"], info["prompt"])
        fields.update({name: "the task adapter's prompt" for name in prompt_fields(template)})
    else:
        fields[info["text_field"]] = "the task adapter's text_field"
    return label, fields


def _gold(record: dict[str, Any], task: str, label: str, text: str) -> Any:
    """A record's reference: a class name, a list of tags (one per word, checked), or a text.

    Raises:
        InputError: a tag list that is not one tag per word.
    """
    value = record[label]
    if task == "regression":
        from polytune.evaluation.predict.regression import gold_float

        return gold_float(record, label)
    if task != "token_classification":
        return str(value)
    words = record[text].split() if isinstance(record[text], str) else record[text]
    if not isinstance(value, list) or not isinstance(words, list) or len(value) != len(words):
        raise InputError(
            f"record {record.get('id')}: {label!r} must be a list of one tag per word of {text!r}, got {value!r:.60}"
        )
    return [str(tag) for tag in value]


def _predict_lang(cfg: EvalConfig, info: dict[str, Any], adapters: tuple[Path | None, Path | None],
                  records: list[dict], lang: str) -> tuple[list, dict[str, float] | None]:  # fmt: skip
    """Predictions of base + language adapter + task adapter (`adapters`) for one language's records, on the GPU if
    present; with no task adapter, of the base answering a benchmark by itself. Also the generation speed of a
    generation task (else None)."""
    from polytune.evaluation.predict.tasks import predict_records
    from polytune.evaluation.predict.zero_shot import ZERO_SHOT, predict_zero_shot
    from polytune.models import load_task_model

    lang_adapter, task_adapter = adapters
    if info["task"] in ZERO_SHOT:
        return predict_zero_shot(cfg, info, lang_adapter, records, lang), None
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if info["task"] == "sequence_classification":
        model, tokenizer, labels = load_classifier(cfg.base, task_adapter, lang_adapter)
        texts = [str(r[info["text_field"]]) for r in records]
        return classify(model.to(device), tokenizer, texts, labels, cfg.batch_size, cfg.max_length), None
    model, tokenizer, labels, meta = load_task_model(cfg.base, task_adapter, lang_adapter)
    if info["task"] == "regression":
        from polytune.evaluation.predict.regression import regress

        texts = [str(r[info["text_field"]]) for r in records]
        return regress(model.to(device), tokenizer, texts, cfg.batch_size, cfg.max_length), None
    start = time.perf_counter()
    preds = predict_records(model.to(device), tokenizer, labels, meta, records, cfg)
    if info["task"] not in GENERATION_TASKS:
        return preds, None
    return preds, generation_speed(tokenizer, preds, time.perf_counter() - start)


def generation_speed(tokenizer: Any, preds: list[str], seconds: float) -> dict[str, float]:
    """Tokens a system wrote per record (in its own vocabulary: an extended one writes fewer) and records per
    second of generation (model loading excluded), for the report's generation-speed table."""
    tokens = sum(len(ids) for ids in tokenizer(list(preds), add_special_tokens=False)["input_ids"]) if preds else 0
    return {"seconds": round(seconds, 3), "tokens_per_record": round(tokens / max(len(preds), 1), 2),
            "records_per_second": round(len(preds) / seconds, 3) if seconds > 0 else 0.0}  # fmt: skip


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
    plan = suite_plan(cfg)  # per-language split, label_field and max_records from cfg.suite, if any
    configs = suite_configs(cfg, plan)
    langs = list(configs) or _langs(cfg)
    info = task_inputs(cfg, langs[0])
    fields = {lang: _fields(configs.get(lang, cfg), info, "label_field" in plan.get(lang, {}).get("stated", ()))
              for lang in langs}  # fmt: skip
    # Fail on bad input before loading any model.
    data = {lang: _records(configs.get(lang, cfg), lang, fields[lang][1]) for lang in langs}
    gold = {lang: [_gold(r, info["task"], fields[lang][0], info["text_field"]) for r in records]
            for lang, records in data.items()}  # fmt: skip
    counts: dict[str, dict[str, int]] = {}
    generation: dict[str, dict[str, dict[str, float]]] = {}  # system -> lang -> speed (generation tasks)
    # Every adapter folder exists before the first model loads.
    own = cfg.task_adapter is not None or any(s.task_adapter is not None for s in cfg.systems)
    adapters = {s.name: {lang: (lang_adapter_path(s, lang), task_adapter_path(cfg, s, lang) if own else None)
                         for lang in langs} for s in cfg.systems}  # fmt: skip
    for system in cfg.systems:
        for lang in langs:
            records = data[lang]
            preds, speed = _predict_lang(cfg, info, adapters[system.name][lang], records, lang)
            if speed is not None:
                generation.setdefault(system.name, {})[lang] = speed
            rows = (
                {"id": r["id"], "lang": lang, "label": g, "pred": p}
                for r, g, p in zip(records, gold[lang], preds, strict=True)
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
            task_adapters={s.name: s.task_adapter or cfg.task_adapter for s in cfg.systems},
            task=info["task"],
            **({"generation": generation} if generation else {}),
        ),
    )
    return out

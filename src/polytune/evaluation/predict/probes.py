"""Run the probes that need no task adapter, for every system and language, and write what they measured:

- retrieval: the eval records of each target language and their source-language counterparts (same `id`) are
  embedded (mean-pooled hidden states of the layer cfg.retrieval_layer or cfg.retrieval_depth names);
  `<out>/probes/retrieval/<system>/<lang>.jsonl` holds per pair the rank of the translation in both directions.
  Source sentences are always encoded by the base (the representation the task adapter was trained on; a language
  adapter is for its own language), targets by the system, so the probe asks what zero-shot transfer needs: does
  the adapted target land next to its translation?
- intrinsic: `<out>/probes/intrinsic/<system>/<lang>.jsonl` holds per record the summed NLL and the predicted
  tokens (decoders: every token of the text, and its UTF-8 bytes): masked LM with a seeded mask (encoders),
  next-token loss (decoders).

`<out>/probes/manifest.json` records the settings (resolved layer, source language, skipped ids) for scoring.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import zlib
from pathlib import Path
from typing import Any

from polytune.config import EvalConfig
from polytune.errors import ConfigError, InputError
from polytune.evaluation.predict import _langs, _records, lang_adapter_path
from polytune.evaluation.predict.lm import clm_losses, embed, load_lm, mlm_losses, n_layers
from polytune.evaluation.probes import PROBES
from polytune.evaluation.retrieval import pair_by_id, resolve_layer, retrieval_ranks
from polytune.io import iter_records, manifest, write_json, write_jsonl
from polytune.models import lm_objective, load_config

log = logging.getLogger(__name__)


def _pairs(cfg: EvalConfig, langs: list[str]) -> tuple[dict[str, list], dict[str, int]]:
    """lang -> (target, source) record pairs, and lang -> ids skipped for want of a source counterpart.

    Raises:
        InputError: the source language is not in the corpus, or a language has no pair at all.
    """
    folder = Path(cfg.input) / str(cfg.source_lang)
    if not folder.is_dir():
        raise InputError(
            f"source language {cfg.source_lang} is not in the corpus {cfg.input} (no folder {folder}); retrieval "
            "pairs records with the same id in it: set source_lang to one of the corpus's languages"
        )
    sources = list(iter_records(folder))
    pairs, skipped = {}, {}
    for lang in langs:
        found, missing = pair_by_id(_records(cfg, lang, {"text": "text"}), sources)
        if not found:
            raise InputError(f"no {cfg.split} record of {lang} has a counterpart (same id) in {cfg.source_lang}")
        if missing:
            log.warning("retrieval %s: %d of %d records have no %s counterpart: skipped", lang, len(missing),
                        len(found) + len(missing), cfg.source_lang)  # fmt: skip
        pairs[lang], skipped[lang] = found, len(missing)
    return pairs, skipped


def _intrinsic_rows(model: Any, tokenizer: Any, objective: str, records: list[dict], cfg: EvalConfig, lang: str):
    texts = [str(r["text"]) for r in records]
    if objective == "mlm":
        seed = zlib.crc32(f"{cfg.seed}:{lang}".encode())  # one mask stream per language, the same for every system
        losses = mlm_losses(model, tokenizer, texts, cfg.mask_probability, seed, cfg.batch_size, cfg.max_length)
        return [{"id": r["id"], "nll": nll, "tokens": n} for r, (nll, n) in zip(records, losses, strict=True)]
    losses = clm_losses(model, tokenizer, texts, cfg.batch_size, cfg.max_length)
    return [{"id": r["id"], "nll": nll, "tokens": n, "bytes": b} for r, (nll, n, b) in zip(records, losses,
                                                                                            strict=True)]


def _probe_system(cfg: EvalConfig, system: Any, lang: str, work: dict[str, Any], out: Path) -> None:
    """The probes for one system and language: load once, embed the targets, score the LM loss."""
    loaded = work["base"] if system.lang_adapter is None else load_lm(cfg.base, lang_adapter_path(system, lang))
    model, tokenizer, objective = loaded
    if lang in work.get("pairs", {}):
        pairs = work["pairs"][lang]
        targets = [str(t["text"]) for t, _ in pairs]
        sources = [str(s["text"]) for _, s in pairs]
        emb = embed(model, tokenizer, targets, work["layer"], cfg.batch_size, cfg.max_length)
        ranks = retrieval_ranks(emb, work["source"][lang], targets, sources)
        columns = {name: [int(x) for x in values] for name, values in ranks.items()}
        rows = ({"id": t["id"], **{name: values[i] for name, values in columns.items()}}
                for i, (t, _) in enumerate(pairs))  # fmt: skip
        write_jsonl(out / "retrieval" / system.name / f"{lang}.jsonl", rows)
    if cfg.intrinsic:
        rows = _intrinsic_rows(model, tokenizer, objective, work["records"][lang], cfg, lang)
        write_jsonl(out / "intrinsic" / system.name / f"{lang}.jsonl", rows)
    log.info("probed %s / %s", system.name, lang)


def _layer_setting(cfg: EvalConfig) -> str:
    """How the layer was asked for, as the report's note shows it. Example: "retrieval_depth 0.667"."""
    if cfg.retrieval_layer is not None:
        return f"retrieval_layer {cfg.retrieval_layer}"
    return f"retrieval_depth {cfg.retrieval_depth}"


def run_probes(cfg: EvalConfig) -> Path:
    """Write retrieval and/or intrinsic probe files for every system of cfg and every language.

    Args:
        cfg: the evaluation config (retrieval, intrinsic, source_lang, retrieval_layer, mask_probability, ...).

    Returns:
        The probes folder, `<cfg.out>/probes`.

    Raises:
        InputError: no source language in the corpus, a language without records or without any pair.
        ConfigError: retrieval_layer out of range for the base; intrinsic on an encoder-decoder.
        ModelError: a model or adapter cannot be loaded.
    """
    out = Path(cfg.out) / PROBES
    if cfg.probe_max_records is not None:
        cfg = dataclasses.replace(cfg, max_records=cfg.probe_max_records)
    langs = _langs(cfg)
    retrieval_langs = [lang for lang in langs if lang != cfg.source_lang]
    work: dict[str, Any] = {"records": {lang: _records(cfg, lang, {"text": "text"}) for lang in langs}}
    if cfg.retrieval and not retrieval_langs:
        raise ConfigError(f"retrieval needs a language besides the source language {cfg.source_lang}; add langs")
    if cfg.retrieval:
        work["pairs"], skipped = _pairs(cfg, retrieval_langs)
        depth = n_layers(load_config(cfg.base))
        work["layer"] = resolve_layer(cfg.retrieval_layer, cfg.retrieval_depth, depth)  # before any weights load
    if cfg.intrinsic and lm_objective(cfg.base) == "denoise":
        raise ConfigError(f"intrinsic: {cfg.base} is an encoder-decoder; the LM-loss probe takes encoders or decoders")
    for system in cfg.systems:  # every adapter folder exists before the first model loads
        for lang in langs:
            lang_adapter_path(system, lang)
    work["base"] = load_lm(cfg.base)
    model, tokenizer, objective = work["base"]
    meta: dict[str, Any] = {"systems": [s.name for s in cfg.systems]}
    if cfg.retrieval:
        sources = {lang: [str(s["text"]) for _, s in p] for lang, p in work["pairs"].items()}
        work["source"] = {lang: embed(model, tokenizer, texts, work["layer"], cfg.batch_size, cfg.max_length)
                          for lang, texts in sources.items()}  # fmt: skip
        meta["retrieval"] = {"source_lang": cfg.source_lang, "layer": work["layer"], "n_layers": depth,
                             "layer_setting": _layer_setting(cfg), "pooling": "mean", "source_encoder": "base",
                             "skipped": skipped, "languages": retrieval_langs}  # fmt: skip
    if cfg.intrinsic:
        unit = "nats per masked token" if objective == "mlm" else "nats per token; bits per UTF-8 byte"
        meta["intrinsic"] = {"objective": objective, "unit": unit, "languages": langs,
                             "mask_probability": cfg.mask_probability if objective == "mlm" else None}  # fmt: skip
    # The manifest goes last: until it is written, the folder reads as no probe at all, never as a stale mix.
    shutil.rmtree(out, ignore_errors=True)
    for system in cfg.systems:
        for lang in langs if cfg.intrinsic else retrieval_langs:
            _probe_system(cfg, system, lang, work, out)
    write_json(out / "manifest.json", manifest("evaluate.probes", cfg, inputs=[Path(cfg.input) / x for x in langs],
                                               counts={"languages": len(langs)}, **meta))  # fmt: skip
    return out

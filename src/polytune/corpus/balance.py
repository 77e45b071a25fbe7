"""Balance: mix languages by temperature sampling and report how often each one repeats (effective epochs).

p_l ∝ n_l^(1/τ): τ = 1 keeps the natural proportions, τ → ∞ gives every language the same share. A language with
few records then repeats: `epochs = taken / available`, written to mix.json so over-sampling is visible.
"""

from __future__ import annotations

import json
import logging
import math
import random
from array import array
from pathlib import Path
from typing import Any

from polytune.config import BalanceConfig
from polytune.errors import ConfigError, InputError, did_you_mean
from polytune.io import atomic_path, iter_records, manifest, write_json
from polytune.langcodes import is_key

log = logging.getLogger(__name__)


def temperature_weights(sizes: dict[str, int], temperature: float) -> dict[str, float]:
    """Sampling probabilities p_l ∝ n_l^(1/τ), summing to 1.

    Example: temperature_weights({"a": 900, "b": 100}, 1.0) -> {"a": 0.9, "b": 0.1}

    Args:
        sizes: records available per language (0 allowed: that language gets probability 0).
        temperature: τ > 0; 1 is proportional, large is uniform, below 1 favours large languages.

    Returns:
        Probability per language, same keys as `sizes`.

    Raises:
        ConfigError: the temperature is not positive, or a size is negative, or every size is 0.
    """
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}")
    if any(n < 0 for n in sizes.values()) or not any(n > 0 for n in sizes.values()):
        raise ConfigError(f"sizes must be non-negative with at least one above 0, got {sizes}")
    # Work in log space: n^(1/τ) overflows a float for small τ (1e6 ** 100).
    logs = {lang: math.log(n) / temperature for lang, n in sizes.items() if n > 0}
    top = max(logs.values())
    raw = {lang: math.exp(value - top) for lang, value in logs.items()}
    total = sum(raw.values())
    return {lang: raw.get(lang, 0.0) / total for lang in sizes}


def plan(sizes: dict[str, int], temperature: float, budget: int) -> dict[str, dict[str, Any]]:
    """Per language: available, probability, taken = round(budget · p), epochs = taken / available.

    Example: plan({"a": 900, "b": 100}, 1.0, 500) -> a: taken 450 (0.5 epochs), b: taken 50 (0.5 epochs)
    """
    weights = temperature_weights(sizes, temperature)
    rows = {}
    for lang, available in sizes.items():
        taken = math.floor(budget * weights[lang] + 0.5) if available else 0
        rows[lang] = {
            "available": available,
            "probability": weights[lang],
            "taken": taken,
            "epochs": taken / available if available else 0.0,
        }
    return rows


def _in_split(record: dict[str, Any], split: str) -> bool:
    return split == "all" or record.get("split") == split


def _languages(cfg: BalanceConfig) -> list[str]:
    if not cfg.input.is_dir():
        raise InputError(f"balance input is not a folder: {cfg.input} (give a filtered corpus folder)")
    found = sorted(p.name for p in cfg.input.iterdir() if p.is_dir() and is_key(p.name))
    if not found:
        raise InputError(f"no <lang>/ shards under {cfg.input}: run `polytune filter` first")
    for lang in cfg.langs:
        if lang not in found:
            raise InputError(f"language {lang} has no shard under {cfg.input}{did_you_mean(lang, found)}")
    return sorted(cfg.langs) or found


def _multiplicities(available: int, taken: int, rng: random.Random) -> tuple[int, dict[int, int]]:
    """How often each record index is taken: (whole passes for every index, extra count for sampled indices)."""
    passes, rest = divmod(taken, available)
    return passes, dict.fromkeys(rng.sample(range(available), rest), 1)


def _write_selection(cfg: BalanceConfig, rows: dict[str, dict[str, Any]], scratch: Path) -> array:
    """Write each taken record once to `scratch`; return the byte offset of every slot of the mixture."""
    slots = array("q")
    with open(scratch, "wb") as handle:
        for lang, row in rows.items():
            if not row["taken"]:
                continue
            passes, extra = _multiplicities(row["available"], row["taken"], random.Random(f"{cfg.seed}:{lang}"))
            index = 0
            for record in iter_records(cfg.input / lang):
                if not _in_split(record, cfg.split):
                    continue
                count = passes + extra.get(index, 0)
                index += 1
                if count:
                    offset = handle.tell()
                    handle.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
                    slots.extend([offset] * count)
    return slots


def run_balance(cfg: BalanceConfig) -> dict[str, Any]:
    """Write `<out>/mixture.jsonl` (shuffled), `<out>/mix.json` and `<out>/manifest.json`.

    Two streaming passes over the shards (count, then select); memory holds 8 bytes per mixture slot, not records.

    Args:
        cfg: the balance config.

    Returns:
        The mix: {temperature, budget, seed, split, langs: {lang: {available, probability, taken, epochs}}}.

    Raises:
        InputError: the input is not a corpus folder, a language has no shard, or no record is in the split.
    """
    langs = _languages(cfg)
    sizes = {lang: sum(_in_split(r, cfg.split) for r in iter_records(cfg.input / lang)) for lang in langs}
    if not any(sizes.values()):
        raise InputError(f"no records of split {cfg.split!r} under {cfg.input} for {', '.join(langs)}")
    budget = cfg.budget if cfg.budget is not None else sum(sizes.values())
    rows = plan(sizes, cfg.temperature, budget)
    for lang, row in rows.items():
        if row["epochs"] > cfg.max_epochs:
            log.warning("%s repeats %.1f times (> max_epochs %s): lower the temperature or add text", lang,
                        row["epochs"], cfg.max_epochs)  # fmt: skip
    mix = {"temperature": cfg.temperature, "budget": budget, "seed": cfg.seed, "split": cfg.split, "langs": rows}
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        scratch = tmp / ".selection.jsonl"
        slots = _write_selection(cfg, rows, scratch)
        random.Random(cfg.seed).shuffle(slots)
        with open(scratch, "rb") as source, open(tmp / "mixture.jsonl", "wb") as out:
            for offset in slots:
                source.seek(offset)
                out.write(source.readline())
        scratch.unlink()
        write_json(tmp / "mix.json", mix)
        counts = {lang: row["taken"] for lang, row in rows.items()}
        write_json(tmp / "manifest.json", manifest("balance", cfg, [cfg.input], counts))
    return mix

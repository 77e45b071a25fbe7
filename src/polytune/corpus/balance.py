"""Balance: mix languages by a sampling strategy and report how often each one repeats (effective epochs).

The strategies live in `sampling.py`; this is the driver. Two streaming passes over the shards: one measures
each language (records, and characters or tokens when the budget counts those), one writes each taken record
once to a scratch file. The mixture is a seeded shuffle of byte offsets into that file (8 bytes per slot, never
the records), written as shards by datatrove's JsonlWriter.
"""

from __future__ import annotations

import logging
import random
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polytune.config import BalanceConfig
from polytune.corpus.sampling import plan, temperature_weights
from polytune.corpus.splits import SPLITS
from polytune.errors import ConfigError, InputError, languages_present
from polytune.io import atomic_path, iter_records, manifest, write_json
from polytune.langcodes import is_key, lookup, match

__all__ = ["format_table", "plan", "run_balance", "temperature_weights"]

log = logging.getLogger(__name__)


def _in_split(record: dict[str, Any], split: str) -> bool:
    return split == "all" or record.get("split") == split


def _languages(cfg: BalanceConfig) -> list[str]:
    if not cfg.input.is_dir():
        raise InputError(f"balance input is not a folder: {cfg.input} (give a filtered corpus folder)")
    found = sorted(p.name for p in cfg.input.iterdir() if p.is_dir() and is_key(p.name))
    if not found:
        raise InputError(f"no <lang>/ shards under {cfg.input}: run `polytune filter` first")
    shards = []
    for lang in cfg.langs:  # by the matching rule: swh_Latn takes a swa_Latn shard; the shard keeps its name
        shard = match(lang, found)
        if shard is None:
            raise InputError(f"language {lang} has no shard under {cfg.input}{languages_present(found)}")
        shards.append(shard)
    return sorted(set(shards)) or found


def _token_counter(spec: str):
    """A function counting the tokens of a batch of texts with a `tokenizers` tokenizer.json (no transformers)."""
    from tokenizers import Tokenizer

    path = Path(spec)
    path = path / "tokenizer.json" if path.is_dir() else path
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust loader raises its own Exception type for missing and corrupt files
        raise InputError(f"cannot read tokenizer {path}: give a tokenizer.json or its folder ({exc})") from exc
    return lambda texts: sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))


def _batches(records: Iterator[dict[str, Any]], size: int = 1024) -> Iterator[list[str]]:
    batch: list[str] = []
    for record in records:
        batch.append(record["text"])
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def measure(cfg: BalanceConfig, langs: list[str]) -> tuple[dict[str, float], dict[str, int]]:
    """(size in budget units, records) per language, over the records of the configured split."""
    count_tokens = _token_counter(cfg.tokenizer) if cfg.unit == "tokens" else None
    sizes, records = {}, {}
    for lang in langs:
        n = units = 0
        unsplit = [0, 0]  # records without a valid split, all records

        def counted(record: dict[str, Any], unsplit: list[int] = unsplit) -> dict[str, Any]:
            unsplit[0] += record.get("split") not in SPLITS
            unsplit[1] += 1
            return record

        for texts in _batches(r for r in map(counted, iter_records(cfg.input / lang)) if _in_split(r, cfg.split)):
            n += len(texts)
            if cfg.unit == "chars":
                units += sum(len(t) for t in texts)
            elif count_tokens is not None:
                units += count_tokens(texts)
        records[lang], sizes[lang] = n, (n if cfg.unit == "records" else units)
        if unsplit[0] and cfg.split != "all":
            log.warning("%s: %d of %d records have no split (train|dev|test) and are left out of split %s; run the "
                        "files through `polytune filter` or `polytune sources`: each gives such a record a split",
                        lang, unsplit[0], unsplit[1], cfg.split)  # fmt: skip
    return sizes, records


def _options(cfg: BalanceConfig, langs: list[str]) -> dict[str, Any]:
    def bound(value: float | dict[str, float], default: float) -> dict[str, float]:
        return {lang: lookup(value, lang, default) for lang in langs} if isinstance(value, dict) else dict.fromkeys(
            langs, value)  # fmt: skip

    # Weights the user keyed swh_Latn apply to the swa_Latn shard they match (keys compare by the matching rule).
    weights = {match(lang, langs) or lang: w for lang, w in (cfg.weights or {}).items()}
    temperature = 1 / cfg.alpha if cfg.alpha is not None else cfg.temperature
    return {"temperature": temperature, "epochs": cfg.unimax_epochs, "weights": weights,
            "low": bound(cfg.min_share, 0.0), "high": bound(cfg.max_share, 1.0)}  # fmt: skip


def _multiplicities(available: int, taken: int, rng: random.Random) -> tuple[int, dict[int, int]]:
    """How often each record index is taken: (whole passes for every index, extra count for sampled indices)."""
    passes, rest = divmod(taken, available)
    return passes, dict.fromkeys(rng.sample(range(available), rest), 1)


def _write_selection(cfg: BalanceConfig, rows: dict[str, dict[str, Any]], scratch: Path) -> array:
    """Write each taken record once to `scratch`; return the byte offset of every slot of the mixture."""
    import json

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


def _write_shards(scratch: Path, slots: array, folder: Path, shard_records: int) -> int:
    """Write the slots in order as `folder/part-NNNNN.jsonl` shards with datatrove's JsonlWriter."""
    import json

    from datatrove.data import Document
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    def adapter(_writer: Any, document: Document) -> dict[str, Any]:
        return document.metadata["record"]  # the record itself, not datatrove's {text, id, metadata} envelope

    # One process writes every shard, so the shard number takes the place of datatrove's worker rank.
    writer = JsonlWriter(str(folder), output_filename="part-${rank}.jsonl", compression=None, adapter=adapter)
    with open(scratch, "rb") as source, writer:
        for i, offset in enumerate(slots):
            source.seek(offset)
            record = json.loads(source.readline())
            if i and i % shard_records == 0:
                writer.close_file(f"part-{i // shard_records - 1:05d}.jsonl")  # keep one shard open at a time
            document = Document(text=record["text"], id=str(record.get("id", i)), metadata={"record": record})
            writer.write(document, rank=i // shard_records)
    return (len(slots) + shard_records - 1) // shard_records


def _warn_epochs(rows: dict[str, dict[str, Any]], max_epochs: float) -> None:
    for lang, row in rows.items():
        if row["epochs"] > max_epochs:
            log.warning("%s repeats %.1f times (> max_epochs %s): lower the temperature, use unimax or add text",
                        lang, row["epochs"], max_epochs)  # fmt: skip


def run_balance(cfg: BalanceConfig) -> dict[str, Any]:
    """Write `<out>/mixture/part-NNNNN.jsonl` (shuffled), `<out>/mix.json` and `<out>/manifest.json`.

    Args:
        cfg: the balance config.

    Returns:
        The mix: {strategy, temperature, unit, budget, seed, split, shards, langs: {lang: {available, size,
        probability, units, taken, epochs}}}.

    Raises:
        InputError: the input is not a corpus folder, a language has no shard, or no record is in the split.
        ConfigError: the strategy's options do not fit the languages (manual weights, share bounds).
    """
    langs = _languages(cfg)
    sizes, records = measure(cfg, langs)
    if not any(records.values()):
        raise InputError(f"no records of split {cfg.split!r} under {cfg.input} for {', '.join(langs)}")
    if not any(sizes.values()):
        raise ConfigError(f"every text under {cfg.input} is empty in unit {cfg.unit}: use unit records")
    budget = cfg.budget if cfg.budget is not None else sum(sizes.values())
    rows = plan(sizes, records, budget, cfg.strategy, **_options(cfg, langs))
    _warn_epochs(rows, cfg.max_epochs)
    mix = {"strategy": cfg.strategy, "temperature": _options(cfg, langs)["temperature"], "unit": cfg.unit,
           "budget": budget, "seed": cfg.seed, "split": cfg.split, "langs": rows}  # fmt: skip
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        scratch = tmp / ".selection.jsonl"
        slots = _write_selection(cfg, rows, scratch)
        random.Random(cfg.seed).shuffle(slots)
        mix["shards"] = _write_shards(scratch, slots, tmp / "mixture", cfg.shard_records)
        scratch.unlink()
        write_json(tmp / "mix.json", mix)
        counts = {lang: row["taken"] for lang, row in rows.items()}
        write_json(tmp / "manifest.json", manifest("balance", cfg, [cfg.input], counts))
    return mix


def format_table(mix: dict[str, Any], max_epochs: float | None = None) -> list[str]:
    """The printed table: per language source size, probability, records taken, effective epochs (! above cap)."""
    lines = [f"{'lang':<10} {'available':>10} {'probability':>12} {'taken':>8} {'epochs':>7}"]
    for lang, row in mix["langs"].items():
        flag = " !" if max_epochs is not None and row["epochs"] > max_epochs else ""
        lines.append(f"{lang:<10} {row['available']:>10} {row['probability']:>12.4f} {row['taken']:>8} "
                     f"{row['epochs']:>7.2f}{flag}")  # fmt: skip
    if mix["unit"] != "records":
        units = sum(row["units"] for row in mix["langs"].values())
        lines.append(f"budget {mix['budget']:g} {mix['unit']}, allocated {units:,.0f} ({mix['strategy']})")
    return lines

"""Translation records for generation task adapters: a target language's records paired with the source language's
by id (the Bible's verse ids pair every translation), in one or both directions.

`into_target` records read the source sentence and carry the target sentence (writing the new language);
`into_source` records the reverse (reading it). A pair keeps the split its records share; a pair whose two sides
sit in different splits is dropped and counted (`split_mismatch`), so a test sentence never trains in the other
direction's clothes. Each record carries `source_name` and `target_name` for the prompt, from a YAML data file
(polytune's `data/translation.yaml` by default) that also holds the prompt `template`: prompts are data, not code.

Output: `<out>/<direction>/<target lang>/part-00000.jsonl`, records
{id, lang, split, text, target, source_lang, target_lang, source_name, target_name}; `<out>/manifest.json` with
the counts and the template.

Example: write_pairs(PairsConfig(input="runs/llm/corpus", out="runs/llm/pairs", langs=["nya_Latn"]))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polytune.config import PairsConfig
from polytune.errors import ConfigError, InputError
from polytune.io import atomic_path, iter_records, manifest, write_json, write_jsonl
from polytune.langcodes import NAMES_FILE, read_names_file
from polytune.langcodes import language_name as shared_language_name

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


def prompt_data(path: Path | None = None) -> dict[str, Any]:
    """{"template": str, "names": {key: name}} from a translation YAML (default: polytune's data file).

    Raises:
        ConfigError: the file is not a mapping with a string template and a names mapping.
    """
    where = path or f"polytune/{NAMES_FILE}"
    data = read_names_file(path)  # the names table is shared with reports (langcodes.language_name)
    if not isinstance(data.get("template"), str):
        raise ConfigError(f"{where}: needs a `template:` string, e.g. '{{source_name}}: {{text}}\\n{{target_name}}:'")
    return {"template": data["template"], "names": data["names"]}


def language_name(key: str, names: dict[str, str]) -> str:
    """What a prompt calls a language: the data file's name, else its English display name (langcodes.language_name
    with this file's names only).

    Example: language_name("nya_Latn", {"nya_Latn": "Chichewa"}) -> "Chichewa"; language_name("vie_Latn", {}) ->
    "Vietnamese"
    """
    return shared_language_name(key, names)


def _by_id(folder: Path) -> dict[str, dict[str, Any]]:
    if not folder.is_dir():
        raise InputError(f"no records of {folder.name} under {folder.parent}: expected the folder {folder} (run "
                         "`polytune filter` or `polytune run` first)")  # fmt: skip
    return {str(r["id"]): r for r in iter_records(folder) if r.get("id") is not None}


def pair_records(target: dict[str, dict], source: dict[str, dict], lang: str, source_lang: str, direction: str,
                 names: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """Records of one direction for one target language, in the target's corpus order, and their counts.

    Returns:
        (records, counts): counts of pairs per split, `unpaired` (target records without a source record) and
        `split_mismatch`.
    """
    into_target = direction == "into_target"
    reads, writes = (source_lang, lang) if into_target else (lang, source_lang)
    counts = dict.fromkeys([*SPLITS, "unpaired", "split_mismatch"], 0)
    out = []
    for rid, record in target.items():
        other = source.get(rid)
        if other is None:
            counts["unpaired"] += 1
            continue
        split = record.get("split")
        if split not in SPLITS or other.get("split") != split:
            counts["split_mismatch"] += 1
            continue
        counts[split] += 1
        text, translation = (other["text"], record["text"]) if into_target else (record["text"], other["text"])
        out.append({"id": rid, "lang": lang, "split": split, "text": text, "target": translation,
                    "source_lang": reads, "target_lang": writes, "source_name": language_name(reads, names),
                    "target_name": language_name(writes, names)})  # fmt: skip
    return out, counts


def _limit(records: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """At most `limit` train records spread evenly (dev and test kept whole)."""
    train = [r for r in records if r["split"] == "train"]
    if limit is None or len(train) <= limit:
        return records
    kept = {id(train[i * len(train) // limit]) for i in range(limit)}
    return [r for r in records if r["split"] != "train" or id(r) in kept]


def write_pairs(cfg: PairsConfig) -> dict[str, Any]:
    """Write the translation records of every direction and target language (atomically) with a manifest.

    Returns:
        {"template", "counts": {direction: {lang: {train, dev, test, unpaired, split_mismatch}}}}.

    Raises:
        InputError: a language has no corpus folder, or no pair in the train or test split.
        ConfigError: a bad names/template file.
    """
    data = prompt_data(cfg.names)
    source = _by_id(Path(cfg.input) / cfg.source_lang)
    targets = {lang: _by_id(Path(cfg.input) / lang) for lang in cfg.langs}
    counts: dict[str, dict[str, dict[str, int]]] = {}
    with atomic_path(cfg.out) as tmp:
        tmp.mkdir(parents=True)
        for direction in cfg.directions:
            for lang in cfg.langs:
                records, n = pair_records(targets[lang], source, lang, cfg.source_lang, direction, data["names"])
                if not n["train"] or not n["test"]:
                    raise InputError(
                        f"{lang}: {n['train']} train and {n['test']} test pairs with {cfg.source_lang} in {cfg.input} "
                        "(records pair by id, in the same split); translations need shared ids, as `polytune "
                        "sources` gives Bible verses"
                    )
                records = _limit(records, cfg.max_train_records)
                write_jsonl(tmp / direction / lang / "part-00000.jsonl", records)
                counts.setdefault(direction, {})[lang] = n
                log.info("pairs %s %s: %s", direction, lang, n)
        inputs = [Path(cfg.input) / x for x in (cfg.source_lang, *cfg.langs)]
        write_json(tmp / "manifest.json", manifest("pairs", cfg, inputs, counts, template=data["template"]))
    return {"template": data["template"], "counts": counts}

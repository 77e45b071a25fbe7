"""Checks of `polytune run` between its stages: every language the config asks for has text, before training starts.

Before any work: each requested language (source_lang, target_langs) has a source. After the filter: each one kept
records of every split the later steps read (train: balance and adapters, dev: adapters, test: evaluation). A
language the filter emptied stops the run with one line naming the language, the count, the reasons and the fix;
a language that lost much of its text is a warning that says where the rejects are.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from polytune.corpus.filters import DUPLICATE_REASONS
from polytune.corpus.splits import SPLITS
from polytune.errors import ConfigError, InputError
from polytune.langcodes import match

log = logging.getLogger(__name__)

WARN_SHARE = 0.1  # warn when the filter rejects more than this share of a language's records (duplicates aside)
BACKENDS = "choose filter: backend (py3langid, langid, ...; closed_set: true picks among your languages only)"
# The fix of a language the filter emptied, by its most frequent reject reason.
FIXES = {
    "low_lid_score": f"lower filter: threshold, or {BACKENDS}",
    "lang_mismatch": "language ID says they are another language: check that the files of {lang} hold {lang}, or "
    + BACKENDS,
    "lang_not_wanted": "language ID says they are another language: check that the files of {lang} hold {lang}, "
    "or " + BACKENDS,
}


def check_sources(keys: set[str], langs: list[str]) -> None:
    """Every requested language has a source (a `bible` or `files` key).

    Raises:
        ConfigError: a language has none.
    """
    for lang in langs:
        if match(lang, sorted(keys)) is None:
            given = ", ".join(sorted(keys)) or "none"
            raise ConfigError(f"{lang} is in source_lang/target_langs but sources gives no text for it (sources: "
                              f"{given}); add it under sources: files (or bible)")  # fmt: skip


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _split_counts(shard: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(shard.glob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                counts[json.loads(line).get("split")] += 1
    return counts


def check_corpus(corpus: Path, langs: list[str], config: str) -> dict[str, dict[str, Any]]:
    """After the filter: each language in `langs` kept train, dev and test records; log what each one lost and why.

    Args:
        corpus: the filter's output folder (stats.json, <lang>/ shards).
        langs: the requested languages.
        config: the run config's path, for the command the messages name.

    Returns:
        Per language: kept, input, rejected {reason: n}, splits {split: n}.

    Raises:
        InputError: a language kept no record, or no record of a split.
    """
    stats = json.loads((corpus / "stats.json").read_text(encoding="utf-8"))
    rerun = f"then rerun `polytune run {config}`"
    out = {}
    for lang in langs:
        kept = stats["per_lang"].get(lang, 0)
        rejected = stats["per_lang_rejected"].get(lang, {})
        total = kept + sum(rejected.values())
        if kept == 0:
            why = f" ({_reasons(rejected)}; see {corpus / 'rejected'})" if rejected else ""
            top = max(rejected, key=rejected.__getitem__) if rejected else ""
            fix = FIXES.get(top, "change the filter section").format(lang=lang)
            raise InputError(f"the filter kept no {lang} record of {total}{why}: {fix} in {config}, {rerun}")
        splits = _split_counts(corpus / lang)
        missing = [split for split in SPLITS if not splits[split]]
        if missing:
            have = ", ".join(f"{split} {splits[split]}" for split in SPLITS)
            fix = f"add text for {lang}"
            if missing[0] != "train":
                fix += f" or raise sources: {missing[0]}_fraction"
            raise InputError(f"{lang} has no {missing[0]} record ({kept} kept: {have}); later steps need train, dev "
                             f"and test records of every language: {fix}, {rerun}")  # fmt: skip
        lost = {reason: n for reason, n in rejected.items() if reason not in DUPLICATE_REASONS}
        line = f"{lang}: kept {kept} of {total} (train {splits['train']}, dev {splits['dev']}, test {splits['test']})"
        if rejected:
            line += f"; rejected {_reasons(rejected)}"
        if sum(lost.values()) > WARN_SHARE * total:
            log.warning("%s; see %s for each record's reason", line, corpus / "rejected")
        else:
            log.info(line)
        out[lang] = {"kept": kept, "input": total, "rejected": rejected, "splits": dict(splits)}
    return out

"""The corpus filter: normalize, language-ID, script-check, quality-filter and dedup records into per-language shards.

Every record ends in exactly one place: `<out>/<lang>/part-00000.jsonl`, or `<out>/rejected/<reason>.jsonl` with
`reject_reason` and `detail`. So `input == kept + rejected + duplicates`, always, and stats.json says so.

Stage one (per input shard, datatrove tasks) runs `build_filters`; stage two (per language) applies the LID
threshold (`auto`: from that language's scores) and exact + MinHash dedup. The entry point, `run_filter`, lives
with the steps it runs: `polytune.corpus.steps`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from polytune.config import FilterConfig
from polytune.corpus.base import BaseFilter, Verdict, unpack
from polytune.corpus.langid import LidBackend, Prediction, combine, get_backend
from polytune.corpus.quality import (
    LengthFilter,
    MinWordsFilter,
    NonLetterFilter,
    RepeatedWordsFilter,
    RepetitionFilter,
    ScriptFilter,
    TextNormalizer,
    load_rules,
    normalize_text,
)
from polytune.errors import LanguageCodeError
from polytune.langcodes import match, normalize, same_language

__all__ = [
    "BaseFilter", "LanguageFilter", "LengthFilter", "TextNormalizer", "Verdict", "apply_filters", "build_filters",
    "normalize_text", "reconciliation",
]  # fmt: skip

DUPLICATE_REASONS = ("duplicate", "near_duplicate")
SCORE_DECIMALS = 4  # lid_score / lid_topk precision in the output


class LanguageFilter(BaseFilter):
    """Language ID in batches; sets `lid_score`, `lid_topk`, `lid_mixed`, `lid_label` (the key the backend
    answered) and `lang`: the wanted key of `langs` the answer counts for, else the declared lang, else the answer.

    Languages compare by the matching rule of polytune.langcodes: py3langid's `sw` (swa_Latn) counts for a wanted
    or declared swh_Latn, which stays the record's key. Reasons: `bad_lang` (the declared lang is not a language
    code), `lid_unknown` (the model's label is not a language), `lid_disagreement` (an `agree` ensemble whose
    backends differ), `lang_mismatch` (declared lang differs from LID), `lang_not_wanted` (outside `langs`).
    The score threshold is applied per language later.

    `closed_set`: the backends choose among `langs` only, their scores renormalized over them (see `closed_topk`).
    """

    name = "language"

    def __init__(
        self,
        backend: LidBackend,
        langs: Iterable[str] = (),
        topk: int = 3,
        mixed_margin: float = 0.2,
        second: LidBackend | None = None,
        ensemble: str = "fallback",
        closed_set: bool = False,
    ) -> None:
        self.backend, self.langs, self.topk, self.mixed_margin = backend, list(langs), topk, mixed_margin
        self.second, self.ensemble, self.closed_set = second, ensemble, closed_set
        # The mixed flag needs the runner-up only when p1 - p2 <= margin, i.e. (two-way scores) p1 <= (1 + m) / 2.
        for step in (backend, second):
            if step is not None and step.runner_ups_below < 1.0:
                step.runner_ups_below = min(1.0, (1 + mixed_margin) / 2 + 1e-4)

    def filter_batch(self, records: list[dict[str, Any]]) -> list[Verdict]:
        texts = [r["text"] for r in records]
        k = max(2, self.topk)  # the 2nd-best score is needed for the mixed-language flag
        first = self._predict(self.backend, texts, k)
        if self.second is None:
            return [self._judge(r, top, "") for r, top in zip(records, first, strict=True)]
        second = self._predict(self.second, texts, k)
        names = (self.backend.name, self.second.name)
        verdicts = []
        for record, a, b in zip(records, first, second, strict=True):
            top, refusal = combine(a, b, self.ensemble, self.backend.knows, names)
            verdicts.append(self._judge(record, top, refusal))
        return verdicts

    def _predict(self, backend: LidBackend, texts: list[str], k: int) -> list[list[Prediction]]:
        if not self.closed_set:
            return backend.predict_topk(texts, k, decimals=SCORE_DECIMALS)  # rounded once per batch, in C
        every = backend.predict_topk(texts, max(k, len(backend.languages)))
        wanted = {key: match(key, self.langs) for key in backend.languages}  # once per batch, not per label and text
        return [closed_topk(row, wanted, k) for row in every]

    def _judge(self, record: dict[str, Any], top: list[Prediction], refusal: str) -> Verdict:
        lang, score = top[0] if top else (None, 0.0)
        record["lid_score"] = score
        # The (key, p) pairs as they are: JSON writes them as [key, p]; no per-record copy when k == topk.
        record["lid_topk"] = top if len(top) <= self.topk else top[: self.topk]
        if len(top) > 1 and top[1][0] is not None and score - top[1][1] <= self.mixed_margin:
            record["lid_mixed"] = True
        declared = record.get("lang")
        if declared:
            try:
                declared = record["lang"] = normalize(str(declared))
            except LanguageCodeError as exc:
                return False, "bad_lang", str(exc)
        if refusal:
            return False, "lid_disagreement", refusal
        if lang is None:
            return False, "lid_unknown", "the LID model's label is not a language"
        record["lid_label"] = lang
        if declared and not same_language(declared, lang):
            return False, "lang_mismatch", f"declared {declared}, LID says {lang} ({score:.3f})"
        record["lang"] = declared or lang
        if self.langs:
            wanted = match(record["lang"], self.langs)
            if wanted is None:
                return False, "lang_not_wanted", f"{record['lang']} is not in {sorted(self.langs)}"
            record["lang"] = wanted
        return True


def closed_topk(row: list[Prediction], wanted: dict[str | None, str | None], k: int) -> list[Prediction]:
    """The k best wanted languages in a backend's full ranking, probabilities renormalized over them; `wanted` maps a
    backend key to the wanted key it counts for (None: not wanted). Keys counting for one wanted key add up; [] when
    no wanted language has any probability.

    Example: closed_topk([("ron_Latn", .999), ("fra_Latn", .0008), ("eng_Latn", .0002)], {"fra_Latn": "fra_Latn",
    "eng_Latn": "eng_Latn"}, 2) -> [("fra_Latn", 0.8), ("eng_Latn", 0.2)]
    """
    mass: dict[str, float] = {}
    for key, p in row:
        lang = wanted.get(key)
        if lang is not None:
            mass[lang] = mass.get(lang, 0.0) + p
    total = sum(mass.values())
    if total <= 0:
        return []
    best = sorted(mass.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [(key, round(p / total, SCORE_DECIMALS)) for key, p in best]


def build_filters(cfg: FilterConfig) -> list[BaseFilter]:
    """Stage one, in order: normalize (+ rules), length, non-letter, repeated words, language, script, min words,
    repetition (Gopher's repeated lines and n-grams).

    Cheap language-independent checks run before LID, so the model never sees what they drop.

    Raises:
        ModelError: an LID model is missing or corrupt.
        ConfigError: the rules file is invalid.
    """
    steps: list[BaseFilter] = [
        TextNormalizer(cfg.normalization, cfg.whitespace, load_rules(cfg.rules)),
        LengthFilter(cfg.min_chars, cfg.max_chars),
    ]
    if cfg.max_non_letter is not None:
        steps.append(NonLetterFilter(cfg.max_non_letter))
    if cfg.repetition:
        steps.append(RepeatedWordsFilter())
    second = get_backend(cfg.second_backend, cfg.second_model) if cfg.second_backend else None
    if cfg.backend == "vote":
        from polytune.corpus.lid_vote import vote_backend

        backend = vote_backend(cfg.voters, cfg.vote_weights)
    else:
        backend = get_backend(cfg.backend, cfg.model)
    steps.append(LanguageFilter(backend, cfg.langs, cfg.topk, cfg.mixed_margin, second, cfg.ensemble, cfg.closed_set))
    if cfg.script_check:
        steps.append(ScriptFilter())
    if cfg.min_words:
        steps.append(MinWordsFilter(cfg.min_words))
    if cfg.repetition:
        steps.append(RepetitionFilter())
    return steps


def apply_filters(
    filters: list[BaseFilter], records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str, str]]]:
    """Run a batch through every filter: (survivors, [(record, reason, detail) for each drop])."""
    dropped = []
    for step in filters:
        if not records:
            break
        kept = []
        for record, verdict in zip(records, step.filter_batch(records), strict=True):
            if verdict is True:  # most records, most filters: skip unpacking
                kept.append(record)
                continue
            ok, reason, detail = unpack(verdict, step.name)
            if ok:
                kept.append(record)
            else:
                dropped.append((record, reason, detail))
        records = kept
    return records, dropped


def reconciliation(stats: dict[str, Any]) -> str:
    """One line that proves nothing was lost.

    Example: "input 6 = kept 3 + rejected 2 (empty: 1, too_short: 1) + duplicates 1 (duplicate: 1)"
    """
    rejected = {r: n for r, n in stats["rejected"].items() if r not in DUPLICATE_REASONS}
    duplicates = {r: n for r, n in stats["rejected"].items() if r in DUPLICATE_REASONS}
    line = f"input {stats['input']} = kept {stats['kept']} + rejected {sum(rejected.values())}"
    if rejected:
        line += f" ({', '.join(f'{r}: {n}' for r, n in sorted(rejected.items()))})"
    line += f" + duplicates {sum(duplicates.values())}"
    if duplicates:
        line += f" ({', '.join(f'{r}: {n}' for r, n in sorted(duplicates.items()))})"
    return line

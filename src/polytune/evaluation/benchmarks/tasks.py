"""Benchmark task types: how a benchmark's rows become polytune records, and what scores them. Each class is one row
of `registry.TABLES["benchmark_tasks"]`; a benchmark's `_benchmark.yaml` names its row (`task:`).

A task fills `records` (a language's rows -> records per corpus folder, in the layout the rest of polytune reads:
`id`, `lang`, `split`, `text`, the label column) and may change `label_field`, `parts` and its flags. The records
keep every column of the dataset beside these, so a prompt may read any of them.

| task | benchmarks | with a task adapter | a decoder base without one |
| --- | --- | --- | --- |
| classification | SIB-200, XNLI | sequence classification | log-likelihood of each label's continuation |
| multiple_choice | Belebele | sequence classification over `text` | log-likelihood of each answer letter |
| translation | FLORES-200 (both directions) | seq2seq / causal_lm | greedy generation from the prompt |
| ner | WikiANN | token classification | (none: needs a tagger) |
| retrieval | Tatoeba | (none) | the retrieval probe (mean-pooled hidden states) |

No torch here. Example: Classification().records(spec, "nya_Latn", entry, rows, "test", "", None)["nya_Latn"][0]
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import yaml

from polytune.errors import InputError
from polytune.evaluation.benchmarks.spec import BenchmarkSpec, LanguageEntry
from polytune.langcodes import display_name
from polytune.prompts import render_prompt

Rows = Callable[[str, str], list[dict[str, Any]]]  # (dataset config, hub split) -> rows, class ids as names


def record_id(spec: BenchmarkSpec, row: dict[str, Any], n: int) -> str:
    """A row's id: the spec's `id` template over its columns, else its number in the split.

    Example: record_id(spec_with_id("{index_id}"), {"index_id": 1523}, 0) -> "1523"
    """
    return str(n) if spec.id is None else render_prompt(spec.id, {**row, "id": row.get("id", n)})


class BenchmarkTask:
    """A benchmark task type (subclasses fill `records` and may change `label_field`, `parts` and the flags).

    Attributes:
        zero_shot: how a decoder base answers without a task adapter: "loglik_choice", "prompted_generation", or None.
        ceiling: the source language's own score is the ceiling the targets are read against.
        probe: scored by the retrieval probe from the records alone (no predictions).
        paired: every record pairs a language with the source language (which is then no language of its own).
    """

    name = ""
    zero_shot: str | None = None
    ceiling = True
    probe = False
    paired = False

    def parts(self, spec: BenchmarkSpec) -> list[str]:
        """The reports a run writes: one ("") unless the task has several (translation: one per direction)."""
        return [""]

    def records(self, spec: BenchmarkSpec, lang: str, entry: LanguageEntry, rows: Rows, split: str, part: str,
                source: LanguageEntry | None) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
        """Records per corpus folder (a language key) for language `lang` (its `entry`) and polytune `split`."""
        raise NotImplementedError

    def label_field(self, spec: BenchmarkSpec) -> str | None:
        """The record field holding the gold label (None: nothing is predicted)."""
        return spec.label


class Classification(BenchmarkTask):
    """One label per row (SIB-200's category, XNLI's entailment/neutral/contradiction)."""

    name = "classification"
    zero_shot = "loglik_choice"

    def records(self, spec, lang, entry, rows, split, part, source):
        out = []
        for n, row in enumerate(rows(entry.config, spec.splits[split])):
            label = str(row[spec.label])
            if spec.labels and label not in spec.labels:
                raise InputError(f"{spec.name} {entry.config} {spec.splits[split]} row {n}: {spec.label} {label!r} is "
                                 f"not one of {spec.labels}; is the data a copy of {spec.dataset}?")  # fmt: skip
            text = render_prompt(spec.text, row) if spec.text else str(row["text"])
            out.append({**row, "id": record_id(spec, row, n), "lang": lang, "split": split, "text": text,
                        spec.label: label})  # fmt: skip
        return {lang: out}


class MultipleChoice(Classification):
    """A question with numbered answers (Belebele: a FLORES passage, a question, mc_answer1..4, correct_answer_num)."""

    name = "multiple_choice"


class NamedEntities(BenchmarkTask):
    """Tags per token (WikiANN / PAN-X: tokens, ner_tags as IOB2 names). `text` holds the tokens themselves, so a
    tagger reads exactly the dataset's words."""

    name = "ner"

    def records(self, spec, lang, entry, rows, split, part, source):
        out = []
        for n, row in enumerate(rows(entry.config, spec.splits[split])):
            tags = [str(t) for t in row[spec.label]]
            out.append({**row, "id": record_id(spec, row, n), "lang": lang, "split": split,
                        "text": list(row["tokens"]), spec.label: tags})  # fmt: skip
        return {lang: out}


def _names() -> dict[str, str]:
    """What prompts call a language where its speakers' name differs (polytune's data/translation.yaml)."""
    data = yaml.safe_load(resources.files("polytune").joinpath("data/translation.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in ((data or {}).get("names") or {}).items()}


class Translation(BenchmarkTask):
    """Sentences aligned across languages by id (FLORES-200), in both directions with the source language. The records
    are those `polytune pairs` writes, so a translation task adapter of `polytune run` reads them as they are."""

    name = "translation"
    zero_shot = "prompted_generation"
    ceiling = False
    paired = True

    def parts(self, spec):
        return list(spec.directions)

    def records(self, spec, lang, entry, rows, split, part, source):
        if source is None:
            raise InputError(f"{spec.name} needs its source language {spec.source} to pair {lang} with")
        hub, names = spec.splits[split], _names()
        theirs = {record_id(spec, r, n): r for n, r in enumerate(rows(source.config, hub))}
        into_target = part == "into_target"
        reads, writes = (source.lang, lang) if into_target else (lang, source.lang)
        out = []
        for n, row in enumerate(rows(entry.config, hub)):
            rid = record_id(spec, row, n)
            if rid not in theirs:
                continue
            mine, other = render_prompt(spec.text, row), render_prompt(spec.text, theirs[rid])
            text, target = (other, mine) if into_target else (mine, other)
            out.append({"id": rid, "lang": lang, "split": split, "text": text, "target": target, "source_lang": reads,
                        "target_lang": writes, "source_name": names.get(reads) or display_name(reads),
                        "target_name": names.get(writes) or display_name(writes)})  # fmt: skip
        if not out:
            raise InputError(f"{spec.name}: no {entry.config} sentence shares an id with {source.config}; is the data "
                             f"a copy of {spec.dataset}?")  # fmt: skip
        return {lang: out}

    def label_field(self, spec):
        return "target"


class Retrieval(BenchmarkTask):
    """Pairs of translations within one config (Tatoeba: sentence1 in the language, sentence2 its English): the
    targets under the language, the English under the source language with the same ids (prefixed by the config, so
    each language's candidates are its own pairs only), scored by the retrieval probe."""

    name = "retrieval"
    ceiling = False
    probe = True

    def records(self, spec, lang, entry, rows, split, part, source):
        targets, sources = [], []
        for n, row in enumerate(rows(entry.config, spec.splits[split])):
            rid = f"{entry.config}:{record_id(spec, row, n)}"
            targets.append({"id": rid, "lang": lang, "split": split, "text": render_prompt(spec.text, row)})
            sources.append({"id": rid, "lang": spec.source, "split": split,
                            "text": render_prompt(spec.source_text, row)})  # fmt: skip
        return {lang: targets, str(spec.source): sources}

    def label_field(self, spec):
        return None

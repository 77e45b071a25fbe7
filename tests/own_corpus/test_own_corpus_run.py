"""End to end, from the outside: `polytune run` on a newcomer's own files with the README's own-corpus config.

The corpus (tests/own_corpus/corpus.py) holds 276 verses each of English, French and German, 42 of Spanish, and
junk, a blank line, an empty text, duplicates, a line in the wrong language and a broken JSON line. Before issue 25
the run stopped at the broken line; without it, the self-trained LID model dropped all 42 Spanish verses and
balance failed with "language spa_Latn has no shard (did you mean 'fra_Latn'?)".
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import yaml
from tests.own_corpus.conftest import run_cli
from tests.own_corpus.corpus import BROKEN_LINE, ENGLISH_IN_GERMAN, GERMAN_IN_FRENCH, JUNK

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def readme_config() -> dict:
    """The YAML block of the README's "Your own corpus" section."""
    section = README[README.index("## Your own corpus") :]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_own_corpus_runs_end_to_end_and_keeps_every_language(workdir, tiny_bert, caplog):
    config = readme_config()
    assert config["sources"]["files"]["eng_Latn"] == "data/eng.jsonl"  # one path, not a list, as a user writes it
    config["base"] = str(tiny_bert)
    config["target_langs"].append("spa_Latn")  # the language with few lines
    config["sources"]["files"]["spa_Latn"] = "data/spa.jsonl"
    config |= {"balance": {"budget": 200}, "tokenizer": {"add": 20, "vocab_size": 200},
               "analyze": {"max_records": 50}, "language_adapter": {"max_steps": 1, "batch_size": 4, "max_length": 32}}
    config["task_adapter"] |= {"max_steps": 2, "batch_size": 8, "max_length": 32}
    config["evaluation"] |= {"max_records": 10, "bootstrap": 50}
    (workdir / "mine.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    caplog.set_level(logging.INFO, logger="polytune.run_checks")

    code, out, err = run_cli(["run", "mine.yaml"])
    assert code == 0, err
    run = workdir / "runs" / "mine"

    # sources: the broken line is a counted reject with its place, and the run went on
    assert json.loads((run / "raw" / "manifest.json").read_text())["rejected"] == {"fra_Latn": {"malformed_json": 1}}
    (broken,) = _records(run / "raw" / "rejected" / "malformed_json.jsonl")
    assert broken["line"] == BROKEN_LINE and f"fra.jsonl:{BROKEN_LINE}: malformed JSON" in broken["detail"]

    # filter: every language kept (276 clean verses each, 42 Spanish), the planted lines rejected for their reason
    stats = json.loads((run / "corpus" / "stats.json").read_text())
    assert stats["input"] == stats["kept"] + sum(stats["rejected"].values())
    kept = stats["per_lang"]
    assert min(kept["eng_Latn"], kept["fra_Latn"], kept["deu_Latn"]) >= 270 and kept["spa_Latn"] == 42, kept
    rejected = stats["per_lang_rejected"]
    assert rejected["eng_Latn"]["repeated_words"] == 1 and rejected["fra_Latn"]["duplicate"] == 2
    assert rejected["deu_Latn"]["empty"] == 1
    reasons = {r["text"]: r["reject_reason"] for name in ("repeated_words", "lang_mismatch")
               for r in _records(run / "corpus" / "rejected" / f"{name}.jsonl")}  # fmt: skip
    assert reasons == {JUNK: "repeated_words", GERMAN_IN_FRENCH: "lang_mismatch", ENGLISH_IN_GERMAN: "lang_mismatch"}
    french = {r["id"]: r for r in _records(run / "corpus" / "fra_Latn" / "part-00000.jsonl")}
    assert french["MAT.7.10"]["lang"] == "fra_Latn"  # langid reads it as Romanian; the run's own model does not
    assert all(r["split"] in ("train", "dev", "test") for r in french.values())

    # the user is told, per language, what was kept and why the rest went
    said = [r.getMessage() for r in caplog.records if r.name == "polytune.run_checks"]
    assert any(m.startswith("spa_Latn: kept 42 of 42 (train ") for m in said), said
    assert any(m.startswith("fra_Latn: kept ") and "duplicate: 2" in m for m in said), said

    # and the run got to the end: a report for every target language
    report = json.loads((run / "report" / "report.json").read_text())
    assert sorted(report["languages"]) == ["deu_Latn", "fra_Latn", "spa_Latn"]
    assert (run / "report" / "report.md").is_file()

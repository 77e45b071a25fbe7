"""Issue 25, "your own corpus, first time": one test per finding, each through the CLI, each failing before its fix.

Findings 7 (errors before work) are the table of tests/own_corpus/test_own_corpus_bad_inputs.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.own_corpus.conftest import run_cli
from tests.own_corpus.corpus import BROKEN_LINE, JUNK

import polytune
from polytune.cli.main import build_parser
from polytune.errors import ConfigError
from polytune.pipeline import plan

SRC = Path(polytune.__file__).parent  # the package under test, wherever it is installed from


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run_config(workdir: Path, base: Path, **sections) -> Path:
    config = {"workdir": "runs/mine", "base": str(base), "source_lang": "eng_Latn", "target_langs": ["fra_Latn"],
              "sources": {"files": {"eng_Latn": "data/eng.jsonl", "fra_Latn": "data/fra.jsonl"}}, **sections}
    path = workdir / "mine.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# 1. polytune run threw away whole languages of a small corpus; the backend could not be chosen
def test_1_own_lid_model_keeps_every_language_of_a_small_corpus(workdir):
    # 30 verses per language: with fastText's 5 epochs every score fell under 0.5 and the filter kept 0 of 90
    lines = Path("data/fra.jsonl").read_text().splitlines()
    Path("data/fra.jsonl").write_text("".join(line + "\n" for line in lines if line.endswith("}")))  # no bad line
    files = [f"--file={lang}=data/{lang}.jsonl" for lang in ("eng", "fra", "deu")]
    assert run_cli(["sources", *files, "--out", "raw", "--max-records", "30"])[0] == 0
    assert run_cli(["lid", "train", "--input", "raw", "--out", "lid.bin"])[0] == 0
    code, out, err = run_cli(["filter", "raw", "--out", "corpus", "--backend", "fasttext", "--model", "lid.bin",
                              "--langs", "eng", "fra", "deu", "--threshold", "0.5"])  # fmt: skip
    assert code == 0, err
    kept = json.loads(Path("corpus/stats.json").read_text())["per_lang"]
    assert {lang: n >= 27 for lang, n in kept.items()} == {"deu_Latn": True, "eng_Latn": True, "fra_Latn": True}, out


def test_1_run_config_chooses_the_lid_backend(workdir, tiny_bert):
    raw = yaml.safe_load(_run_config(workdir, tiny_bert, filter={"backend": "langid", "threshold": 0.3}).read_text())
    steps = {step.name: step.config for step in plan(raw)}
    assert "lid" not in steps and steps["filter"].backend == "langid" and steps["filter"].threshold == 0.3
    raw["filter"] = {"backend": "fasttext", "model": "lid.176.bin"}  # a model of one's own: nothing to train
    steps = {step.name: step.config for step in plan(raw)}
    assert "lid" not in steps and steps["filter"].model == "lid.176.bin"
    raw["lid"] = {"epoch": 5}  # settings of a model the filter would not use are an error, not ignored
    with pytest.raises(ConfigError, match="lid: the filter does not use the LID model the run trains"):
        plan(raw)
    del raw["filter"]  # the default: the run trains a model on the corpus and filters with it
    steps = {step.name: step.config for step in plan(raw)}
    assert steps["filter"].backend == "fasttext" and steps["filter"].model == "runs/mine/lid/model.bin"


@pytest.mark.slow
def test_1_run_stops_before_training_when_the_filter_empties_a_language(workdir, tiny_bert):
    # French verses declared as German: langid rejects every one as lang_mismatch. The run used to go on to balance
    # and fail there with "language deu_Latn has no shard ... (did you mean 'fra_Latn'?)".
    config = _run_config(workdir, tiny_bert, filter={"backend": "langid"})
    raw = yaml.safe_load(config.read_text())
    raw["target_langs"] = ["deu_Latn"]
    raw["sources"]["files"] = {"eng_Latn": "data/eng.jsonl", "deu_Latn": "data/spa.jsonl"}
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, _, err = run_cli(["run", "mine.yaml"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(r"kept no deu_Latn record of 42 \(lang_mismatch: \d+", err), err
    assert "check that the files of deu_Latn hold deu_Latn, or choose filter: backend" in err
    assert "rerun `polytune run mine.yaml`" in err
    assert not (workdir / "runs" / "mine" / "mix").exists()  # nothing after the filter ran


@pytest.mark.slow
def test_1_run_stops_before_training_when_a_language_lacks_a_split(workdir, tiny_bert):
    config = _run_config(workdir, tiny_bert, filter={"backend": "langid"})
    raw = yaml.safe_load(config.read_text())
    raw["sources"]["dev_fraction"] = 0.0  # no record is given dev, and the files name no split
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, _, err = run_cli(["run", "mine.yaml"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(r"eng_Latn has no dev record \(\d+ kept: train \d+, dev 0, test \d+\)", err), err
    assert "add text for eng_Latn or raise sources: dev_fraction, then rerun `polytune run mine.yaml`" in err


# 2. `files: {eng_Latn: data/eng.jsonl}` was read letter by letter ("input not found: d"; "/" walked the root)
def test_2_sources_files_take_one_path_relative_or_absolute(workdir, tiny_bert):
    config = _run_config(workdir, tiny_bert)
    raw = yaml.safe_load(config.read_text())
    raw["sources"]["files"]["fra_Latn"] = str(workdir / "data" / "fra.jsonl")  # absolute, still one string
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    code, _, err = run_cli(["run", str(config), "--only", "sources"])
    assert code == 0, err
    counts = json.loads((workdir / "runs" / "mine" / "raw" / "manifest.json").read_text())["counts"]
    assert counts == {"eng_Latn": 277, "fra_Latn": 279}  # 276 verses + the junk line; + 2 duplicates + 1 German


# 3. text without a split reached balance and was skipped silently ("deu_Latn 1 available ... 82.00 !")
def test_3_filter_gives_records_without_a_split_one_and_balance_mixes_them(workdir):
    lines = [json.loads(line)["text"] for line in Path("data/deu.jsonl").read_text().splitlines() if line.strip()]
    Path("deu.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")  # plain text straight to filter
    code, out, err = run_cli(["filter", "deu.txt", "--out", "corpus", "--langs", "deu", "--threshold", "0"])
    assert code == 0, err
    assert "records without a split got one from their text's hash" in out
    records = _records(Path("corpus/deu_Latn/part-00000.jsonl"))
    splits = {s: sum(r["split"] == s for r in records) for s in ("train", "dev", "test")}
    assert min(splits.values()) > 0 and sum(splits.values()) == len(records), splits
    code, out, err = run_cli(["balance", "--input", "corpus", "--out", "mix"])
    assert code == 0, err
    assert json.loads(Path("mix/mix.json").read_text())["langs"]["deu_Latn"]["available"] == splits["train"]


def test_3_balance_says_when_records_have_no_split(workdir, caplog):
    shard = workdir / "corpus" / "deu_Latn" / "part-00000.jsonl"
    shard.parent.mkdir(parents=True)
    rows = [{"id": str(i), "text": f"Im Anfang schuf Gott {i}", **({"split": "train"} if i == 0 else {})}
            for i in range(20)]  # fmt: skip
    shard.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    caplog.set_level(logging.WARNING)
    assert run_cli(["balance", "--input", "corpus", "--out", "mix"])[0] == 0
    assert "deu_Latn: 19 of 20 records have no split" in caplog.text and "polytune filter" in caplog.text


# 4. one malformed JSON line stopped `sources` (and so `run`) with exit 2
def test_4_sources_rejects_a_bad_line_like_the_filter(workdir):
    code, out, err = run_cli(["sources", "--file", "fra=data/fra.jsonl", "--out", "raw"])
    assert code == 0, err
    assert "fra_Latn\t279 records" in out
    (reject,) = _records(Path("raw/rejected/malformed_json.jsonl"))
    assert reject["reject_reason"] == "malformed_json" and reject["line"] == BROKEN_LINE
    assert reject["detail"].startswith(f"data/fra.jsonl:{BROKEN_LINE}: malformed JSON")
    manifest = json.loads(Path("raw/manifest.json").read_text())
    assert manifest["counts"] == {"fra_Latn": 279} and manifest["rejected"] == {"fra_Latn": {"malformed_json": 1}}


# 5. short junk was kept (lid_score 0.9994); langid read a French verse (MAT.7.10) as Romanian
def test_5_short_repeated_junk_is_rejected(workdir):
    code, _, err = run_cli(["filter", "data/eng.jsonl", "--out", "corpus", "--langs", "eng", "--threshold", "0"])
    assert code == 0, err
    (junk,) = _records(Path("corpus/rejected/repeated_words.jsonl"))
    assert junk["text"] == JUNK and junk["detail"] == "8 words, 1 distinct"


def test_5_closed_set_lets_langid_choose_among_the_wanted_languages(workdir):
    lines = [line for line in Path("data/fra.jsonl").read_text().splitlines() if '"MAT.7.' in line]
    Path("fra.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")  # no `lang`: LID decides
    langs = ["--langs", "eng", "fra", "deu", "--threshold", "0"]
    assert run_cli(["filter", "fra.jsonl", "--out", "open", *langs])[0] == 0
    (lost,) = _records(Path("open/rejected/lang_not_wanted.jsonl"))
    assert lost["id"] == "MAT.7.10" and lost["lid_label"] if "lid_label" in lost else lost["detail"].startswith("ron")
    assert run_cli(["filter", "fra.jsonl", "--out", "closed", "--closed-set", *langs])[0] == 0
    kept = {r["id"]: r for r in _records(Path("closed/fra_Latn/part-00000.jsonl"))}
    assert kept["MAT.7.10"]["lid_topk"][0][0] == "fra_Latn" and len(kept) == len(lines)


# 6. a hint named a command that does not exist (`polytune corpus`)
def test_6_every_command_a_message_names_exists():
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    named = {m.group(1) for path in SRC.rglob("*.py")
             for m in re.finditer(r"`polytune ([a-z][a-z-]*)", path.read_text(encoding="utf-8"))}  # fmt: skip
    assert named and not named - commands, f"messages name commands that do not exist: {sorted(named - commands)}"


# 8. every command's summary was printed twice: on stdout, then as an INFO line on stderr
@pytest.mark.slow
def test_8_a_summary_is_printed_once(workdir):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "polytune.cli.main", "filter", "data/eng.jsonl", "--out", "corpus",
                           "--langs", "eng", "--threshold", "0"], capture_output=True, text=True, env=env,
                          timeout=300, check=True)  # fmt: skip
    line = proc.stdout.splitlines()[0]
    assert line.startswith("input 277 = kept ")
    assert (proc.stdout + proc.stderr).count(line) == 1, proc.stderr


# 7. a library's message was cut mid-word ("(3) an equ"); the rest of finding 7 is test_own_corpus_bad_inputs.py
def test_7_a_library_message_is_cut_at_its_first_line_and_a_word():
    from polytune.errors import short_reason

    message = "Couldn't instantiate the backend tokenizer from one of: \n(1) a `tokenizers` library serialization"
    assert short_reason(ValueError(message)) == "Couldn't instantiate the backend tokenizer from one of:"
    assert short_reason(ValueError("word " * 50), limit=22) == "word word word word ..."

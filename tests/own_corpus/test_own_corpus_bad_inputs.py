"""Issue 25, finding 7: bad inputs of a first run are refused before any work, in one line that names the thing, the
cause and a command that exists; exit code 2; nothing left behind (no output, no work or temp folder, input intact).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from tests.own_corpus.conftest import run_cli


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def _config(files: dict, targets: list[str], base: Path) -> str:
    raw = {"workdir": "runs/mine", "base": str(base), "target_langs": targets,
           "sources": {"files": {lang: [path] for lang, path in files.items()}}}  # fmt: skip
    Path("mine.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    return "mine.yaml"


@pytest.fixture(scope="module")
def task_adapter(tmp_path_factory, synthetic_corpus, tiny_bert) -> Path:
    out = tmp_path_factory.mktemp("task") / "task"
    code, _, err = run_cli(["adapt", "task", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--lang",
                            "eng_Latn", "--out", str(out), "--max-steps", "1", "--batch-size", "4",
                            "--max-length", "16"])  # fmt: skip
    assert code == 0, err
    return out


# (case, argv builder: (base, corpus, task adapter) -> (argv, the output that must not appear), expected message)
CASES = [
    ("filter --out is a file", lambda b, c, t: (["filter", "data/fra.jsonl", "--out", "data/eng.jsonl"],
                                                "data/.eng.jsonl.work"),
     "--out data/eng.jsonl is a file; give a folder path"),
    ("run a folder", lambda b, c, t: (["run", "data"], "runs"),
     "config data is a folder, not a YAML file; give the config file, e.g. `polytune run examples/demo.yaml`"),
    ("fastText model is a folder", lambda b, c, t: (["filter", "data/eng.jsonl", "--out", "out", "--backend",
                                                     "fasttext", "--model", "data"], "out"),
     "fastText model data is a folder; give the model file inside it (.bin/.ftz), or train one with `polytune lid"),
    ("tokenizer is a folder without one", lambda b, c, t: (["adapt", "language", "--base", str(b), "--input", str(c),
                                                            "--lang", "nya", "--tokenizer", "data", "--out", "la",
                                                            "--max-steps", "1"], "la"),
     "no tokenizer in data: the folder holds none of tokenizer.json"),
    ("a language the corpus lacks", lambda b, c, t: (["balance", "--input", str(c), "--out", "mix", "--langs", "spa"],
                                                     "mix"),
     "language spa_Latn has no shard under {corpus} (languages present: ara_Arab, eng_Latn, nya_Latn)"),
    ("adapter for a language the corpus lacks", lambda b, c, t: (["adapt", "language", "--base", str(b), "--input",
                                                                  str(c), "--lang", "spa", "--out", "la"], "la"),
     "no spa_Latn records under {corpus}: expected the folder {corpus}/spa_Latn (languages present: ara_Arab, "
     "eng_Latn, nya_Latn); build the corpus with `polytune filter`"),
    ("eval with a language adapter missing", lambda b, c, t: (["eval", "--base", str(b), "--task-adapter", str(t),
                                                               "--input", str(c), "--langs", "nya", "ara",
                                                               "--system", "task-only", "--system",
                                                               "LA=missing/{lang}", "--out", "report"], "report"),
     "language adapter folder missing/nya_Latn for nya_Latn not found"),
    ("run: a file that is not there", lambda b, c, t: (["run", _config({"eng_Latn": "data/eng.jsonl",
                                                                        "fra_Latn": "data/fr.jsonl"},
                                                                       ["fra_Latn"], b)], "runs"),
     "sources: files of fra_Latn: input not found: data/fr.jsonl (check the path)"),
    ("run: a target language without a file", lambda b, c, t: (["run", _config({"eng_Latn": "data/eng.jsonl"},
                                                                                ["fra_Latn"], b)], "runs"),
     "fra_Latn is in source_lang/target_langs but sources gives no text for it (sources: eng_Latn); add it under "
     "sources: files"),
]


@pytest.mark.parametrize(("case", "build", "expected"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_is_refused_before_work_in_one_line(workdir, tiny_bert, synthetic_corpus, task_adapter, case,
                                                      build, expected):  # fmt: skip
    argv, output = build(tiny_bert, synthetic_corpus, task_adapter)
    before = _digest(workdir / "data")
    code, out, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("polytune: error: "), err
    assert expected.format(corpus=synthetic_corpus) in lines[0], lines[0]
    assert not (workdir / output).exists(), f"{output} was written"
    assert not list(workdir.glob(".*")) and not list((workdir / "data").glob(".*")), "work or temp files were left"
    assert _digest(workdir / "data") == before

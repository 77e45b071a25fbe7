"""Determinism: the same inputs, config and seed give byte-identical outputs, stage by stage and end to end.

Each command runs twice at the same output path (the first output moved aside), so manifests that record the
output path compare equal too; only a manifest's recorded command line is ignored (see conftest.digest).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


def _filter_argv(corpus: Path, out: Path) -> list[str]:
    return ["filter", str(corpus / "nya_Latn"), str(corpus / "ara_Arab"), "--out", str(out), "--backend", "langid",
            "--threshold", "0", "--tasks", "2"]


STAGES = {
    "balance": lambda c, b, o: ["balance", "--input", str(c), "--out", str(o), "--budget", "300", "--seed", "3"],
    "augment": lambda c, b, o: ["augment", str(c), "--out", str(o), "--op", "word_swap=0.5", "--seed", "3"],
    "tokenizer-train": lambda c, b, o: ["tokenizer", "train", "--input", str(c), "--out", str(o),
                                        "--vocab-size", "120"],
    "tokenizer-extend": lambda c, b, o: ["tokenizer", "extend", "--base", str(b), "--input", str(c), "--out",
                                         str(o), "--add", "20", "--vocab-size", "150"],
    "tokenizer-analyze": lambda c, b, o: ["tokenizer", "analyze", "--tokenizer", f"base={b}", "--input", str(c),
                                          "--out", str(o), "--split", "train"],
    "adapt-language": lambda c, b, o: ["adapt", "language", "--base", str(b), "--input", str(c), "--lang",
                                       "nya_Latn", "--out", str(o), "--max-steps", "3", "--batch-size", "4",
                                       "--max-length", "24"],
    "adapt-task": lambda c, b, o: ["adapt", "task", "--base", str(b), "--input", str(c), "--out", str(o),
                                   "--max-steps", "3", "--batch-size", "4", "--max-length", "24"],
}


def _twice(cli, digest, argv_of, tmp: Path) -> tuple[dict, dict]:
    out = tmp / "out"
    runs = []
    for n in range(2):
        code, _, err = cli(argv_of(out))
        assert code == 0, err
        runs.append(digest(out))
        shutil.move(out, tmp / f"run{n}")
    return runs[0], runs[1]


@pytest.mark.parametrize(
    "stage", [pytest.param(s, marks=pytest.mark.slow) if s.startswith("adapt") else s for s in STAGES]
)
def test_same_config_and_seed_give_the_same_bytes(tmp_path, synthetic_corpus, tiny_bert, cli, digest, stage):
    first, second = _twice(cli, digest, lambda o: STAGES[stage](synthetic_corpus, tiny_bert, o), tmp_path)
    assert first == second, sorted(k for k in first if first[k] != second.get(k))


@pytest.mark.slow
def test_filter_gives_the_same_bytes_twice_and_for_any_workers(tmp_path, synthetic_corpus, cli, digest):
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / "out"
        assert cli([*_filter_argv(synthetic_corpus, out), "--workers", workers])[0] == 0
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["config"].pop("workers") == int(workers)  # the only field allowed to differ
        (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        outs.append(digest(out))
        shutil.move(out, tmp_path / f"w{workers}")
    assert outs[0] == outs[1], sorted(k for k in outs[0] if outs[0][k] != outs[1].get(k))


@pytest.mark.slow
def test_reduced_pipeline_twice_gives_identical_files(tmp_path, minilm_path, digest):
    """The reduced demo config of tests/test_pipeline.py, run twice: every file of every stage is identical."""
    from tests.test_pipeline import MINI, _write

    from polytune.pipeline import run_pipeline

    config = _write(tmp_path, MINI)
    states = []
    for n in range(2):
        result = run_pipeline(config)
        assert set(result["steps"].values()) == {"ran"}
        states.append(digest(tmp_path / "run"))
        shutil.move(tmp_path / "run", tmp_path / f"run{n}")
    differing = sorted(k for k in states[0] if states[0][k] != states[1].get(k))
    assert states[0].keys() == states[1].keys() and not differing, differing
    assert json.loads((tmp_path / "run1" / "report" / "report.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_adapter_bytes_do_not_depend_on_the_process_hash_seed(tmp_path, synthetic_corpus, tiny_bert):
    import os
    import subprocess
    import sys

    configs = []
    for seed in ("0", "1"):
        out = tmp_path / f"hs{seed}"
        argv = [a if a != "OUT" else str(out) for a in STAGES["adapt-language"](synthetic_corpus, tiny_bert, "OUT")]
        argv[argv.index("--max-steps") + 1] = "1"
        env = {**os.environ, "PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        subprocess.run([sys.executable, "-m", "polytune.cli.main", "--quiet", *argv], env=env, check=True,
                       capture_output=True)
        configs.append((out / "adapter_config.json").read_bytes())
    assert configs[0] == configs[1]

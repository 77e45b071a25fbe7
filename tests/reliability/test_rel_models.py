"""Models from strangers: adapters, packs and extended tokenizers made for another base, and vocab-size mismatches.

Each is refused with exit code 2 and one line that names both bases' config hashes, and nothing is written.
"""

from __future__ import annotations

import json

import pytest
from tests.conftest import make_tiny_bert


@pytest.fixture(scope="module")
def other_bert(tmp_path_factory, synthetic_corpus):
    """A second tiny BERT with a smaller vocabulary (150): another base, with another config hash."""
    lines = (synthetic_corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    return make_tiny_bert(tmp_path_factory.mktemp("other_bert"), [json.loads(x)["text"] for x in lines], 150)


@pytest.fixture(scope="module")
def built(tmp_path_factory, synthetic_corpus, tiny_bert, other_bert, cli):
    """A task adapter, an extended tokenizer per base, a language adapter and its pack, all on `tiny_bert`."""
    root = tmp_path_factory.mktemp("built")
    small = ["--max-steps", "1", "--batch-size", "4", "--max-length", "16"]
    steps = [
        ["adapt", "task", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out", str(root / "task"),
         *small],
        *[["tokenizer", "extend", "--base", str(base), "--input", str(synthetic_corpus), "--out", str(root / name),
           "--add", "5", "--vocab-size", "80", "--langs", "nya_Latn"]
          for name, base in (("tok", tiny_bert), ("tok-other", other_bert))],
        ["adapt", "language", "--base", str(tiny_bert), "--tokenizer", str(root / "tok"), "--input",
         str(synthetic_corpus), "--lang", "nya_Latn", "--out", str(root / "la"), *small],
        ["pack", "build", str(root / "la"), "--out", str(root / "pack")],
    ]
    for argv in steps:
        code, _, err = cli(argv)
        assert code == 0, (argv, err)
    return root


def _refused(result, out, *needles):
    code, _, err = result
    line = err.strip().splitlines()[-1] if err.strip() else ""
    assert code == 2, err
    assert line.startswith("polytune: error: ") and not err.count("polytune: error:") > 1, err
    for needle in needles:
        assert needle in line, line
    if out is not None:
        assert not out.exists()


def _hash(base):
    from polytune.models import config_hash

    return config_hash(str(base))[:12]


@pytest.mark.slow
def test_task_adapter_on_another_base_names_both_hashes(tmp_path, built, synthetic_corpus, tiny_bert, other_bert, cli):
    out = tmp_path / "report"
    argv = ["eval", "--base", str(other_bert), "--task-adapter", str(built / "task"), "--input",
            str(synthetic_corpus), "--langs", "nya_Latn", "--out", str(out), "--max-records", "5", "--bootstrap", "10"]
    _refused(cli(argv), out, _hash(tiny_bert), _hash(other_bert))


@pytest.mark.slow
def test_pack_on_another_base_names_both_hashes(built, tiny_bert, other_bert, cli):
    _refused(cli(["pack", "verify", "--base", str(other_bert), str(built / "pack")]), None,
             _hash(tiny_bert), _hash(other_bert))


@pytest.mark.slow
def test_tokenizer_extended_from_a_larger_base_is_refused(tmp_path, built, synthetic_corpus, other_bert, cli):
    out = tmp_path / "la"
    argv = ["adapt", "language", "--base", str(other_bert), "--tokenizer", str(built / "tok"), "--input",
            str(synthetic_corpus), "--lang", "nya_Latn", "--out", str(out), "--max-steps", "1"]
    _refused(cli(argv), out, "another base")


@pytest.mark.slow
def test_tokenizer_extended_from_a_smaller_base_is_refused(tmp_path, built, synthetic_corpus, tiny_bert, cli):
    out = tmp_path / "la"
    argv = ["adapt", "language", "--base", str(tiny_bert), "--tokenizer", str(built / "tok-other"), "--input",
            str(synthetic_corpus), "--lang", "nya_Latn", "--out", str(out), "--max-steps", "1"]
    _refused(cli(argv), out, "another base")

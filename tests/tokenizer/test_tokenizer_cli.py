"""`polytune tokenizer extend|analyze|train` through the real entry point."""

from __future__ import annotations

import json

import pytest

from polytune.cli import main as cli


@pytest.fixture
def run(monkeypatch, capsys):
    # Only this module's subcommands: the CLI must not depend on other stages being importable here.
    monkeypatch.setattr(cli, "SUBCOMMAND_MODULES", ("tokenizer",))

    def _run(*argv: str):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def test_extend_then_analyze(run, tmp_path, tiny_bert, synthetic_corpus):
    out = tmp_path / "ext"
    code, stdout, _ = run("--quiet", "tokenizer", "extend", "--base", tiny_bert, "--input", synthetic_corpus,
                          "--out", out, "--langs", "nya_Latn", "--add", "40", "--vocab-size", "300")  # fmt: skip
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0] == f"added 40 pieces: vocab 400 -> 440 ({out})"
    summary = json.loads((out / "extension.json").read_text())["fertility"]["nya_Latn"]
    assert f"  fertility nya_Latn: {summary['before']:.3f} -> {summary['after']:.3f}" in lines
    assert any(line.startswith("  eng_Latn words tokenized differently: ") for line in lines)

    code, stdout, _ = run("--quiet", "tokenizer", "analyze", "--tokenizer", f"base={tiny_bert}",
                          "--tokenizer", f"ext={out}", "--input", synthetic_corpus, "--out", tmp_path / "rep",
                          "--langs", "nya_Latn", "eng_Latn", "--max-records", "10")  # fmt: skip
    assert code == 0
    assert stdout == (tmp_path / "rep" / "fertility.md").read_text()
    lines = stdout.splitlines()
    assert lines[:4] == ["### Tokens per word / UNK rate", "", "| language | base | ext |", "| --- | --- | --- |"]
    assert [line.split(" |")[0] for line in lines[4:6]] == ["| eng_Latn", "| nya_Latn"]
    check = json.loads((tmp_path / "rep" / "fertility.json").read_text())["extension"]["ext"]
    assert (check["base"], check["added"], check["unreachable"]) == ("base", 40, 0)
    assert set(check["retokenized"]) == {"eng_Latn", "nya_Latn"} and check["retokenized"]["nya_Latn"] > 0
    assert "- unreachable pieces: 0 of 40 added" in lines


def test_jargon_then_extend_with_it(run, tmp_path, tiny_bert):
    domain = tmp_path / "domain.txt"
    domain.write_text("the glomerulonephritis and the nephrotoxicity said\n" * 6 + "the king\n", encoding="utf-8")
    general = tmp_path / "general.txt"
    general.write_text("the king said and the lord\n" * 20, encoding="utf-8")
    code, stdout, _ = run("--quiet", "tokenizer", "jargon", "--base", tiny_bert, "--domain", domain,
                          "--general", general, "--out", tmp_path / "jar")  # fmt: skip
    assert code == 0
    first = f"2 terms in {tmp_path / 'jar'}/jargon.txt (review, then: tokenizer extend --jargon)"
    assert stdout.splitlines()[0] == first
    terms = (tmp_path / "jar" / "jargon.txt").read_text(encoding="utf-8").split()
    assert sorted(terms) == ["glomerulonephritis", "nephrotoxicity"]  # "the", "said": general words
    data = json.loads((tmp_path / "jar" / "jargon.json").read_text())
    assert [t["saved"] for t in data["terms"]] == sorted((t["saved"] for t in data["terms"]), reverse=True)
    assert all(t["count"] == 6 and t["general_count"] == 0 and t["tokens"] >= 2 for t in data["terms"])

    corpus = tmp_path / "mix.jsonl"
    corpus.write_text(json.dumps({"lang": "nya_Latn", "text": "kuna mu ndi " * 30}) + "\n", encoding="utf-8")
    code, stdout, _ = run("--quiet", "tokenizer", "extend", "--base", tiny_bert, "--input", corpus, "--out",
                          tmp_path / "ext", "--add", "20", "--vocab-size", "30", "--normalizer", "keep-accents",
                          "--jargon", tmp_path / "jar" / "jargon.txt")  # fmt: skip
    assert code == 0
    assert "  normalizer: BertNormalizer strip_accents -> false (NFC first)" in stdout.splitlines()
    from tokenizers import Tokenizer

    new = Tokenizer.from_file(str(tmp_path / "ext" / "tokenizer.json"))
    assert new.encode("the nephrotoxicity of glomerulonephritis").tokens[2:5] == [
        "nephrotoxicity", "of", "glomerulonephritis"]  # fmt: skip
    assert new.encode("Tiếng").tokens[1:-1] != ["tieng"]  # accents kept


def test_train(run, tmp_path, synthetic_corpus):
    code, stdout, _ = run("--quiet", "tokenizer", "train", "--input", synthetic_corpus, "--out", tmp_path / "spm",
                          "--vocab-size", "200", "--model-type", "bpe", "--langs", "ara_Arab")  # fmt: skip
    assert code == 0
    assert stdout.startswith("trained bpe SentencePiece: ")
    assert (tmp_path / "spm" / "spm.model").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extend", "--base", "{tmp}/nowhere", "--input", "{corpus}", "--out", "{tmp}/o"], "tokenizer not found"),
        (["extend", "--base", "{bert}", "--input", "{tmp}/missing", "--out", "{tmp}/o"], "input not found"),
        (["extend", "--base", "{bert}", "--input", "{corpus}", "--out", "{tmp}/o", "--add", "0"], "add must be"),
        (["extend", "--base", "{bert}", "--input", "{corpus}", "--out", "{tmp}/o", "--langs", "xx!"], "'xx!'"),
        (["analyze", "--tokenizer", "base", "--input", "{corpus}", "--out", "{tmp}/o"], "NAME=VALUE"),
        (["analyze", "--tokenizer", "a={bert}", "--input", "{corpus}", "--out", "{tmp}/o", "--split", "x"], "split"),
        (["train", "--input", "{corpus}", "--out", "{tmp}/o", "--vocab-size", "5"], "vocab_size=5"),
        (["extend", "--base", "{bert}", "--input", "{corpus}", "--out", "{tmp}/o", "--jargon", "{tmp}/no.txt"],
         "jargon list unreadable"),
        (["jargon", "--base", "{bert}", "--domain", "{tmp}/missing", "--out", "{tmp}/o"], "input not found"),
        (["jargon", "--base", "{bert}", "--domain", "{corpus}", "--out", "{tmp}/o", "--top", "0"], "top must be"),
        (["analyze", "--tokenizer", "a={bert}", "--input", "{corpus}", "--out", "{tmp}/o", "--jargon", "{tmp}/x"],
         "jargon list unreadable"),
    ],
)
def test_bad_input_exits_2_with_one_line(run, tmp_path, tiny_bert, synthetic_corpus, argv, message):
    argv = [a.format(tmp=tmp_path, corpus=synthetic_corpus, bert=tiny_bert) for a in argv]
    code, stdout, stderr = run("--quiet", "tokenizer", *argv)
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("polytune: error: ") and message in stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag", [False, True])
def test_extend_guard_names_flag_reaches_the_config(run, tmp_path, tiny_bert, synthetic_corpus, flag):
    out = tmp_path / "ext"
    argv = ["--quiet", "tokenizer", "extend", "--base", tiny_bert, "--input", synthetic_corpus, "--out", out,
            "--langs", "nya_Latn", "--add", "10", "--vocab-size", "300"]  # fmt: skip
    argv += ["--guard-names"] if flag else []
    code, _, _ = run(*argv)
    assert code == 0
    assert json.loads((out / "manifest.json").read_text())["config"]["guard_names"] is flag

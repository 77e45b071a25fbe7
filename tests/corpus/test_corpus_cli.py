"""CLI: `polytune sources | filter | lid train | balance` print their summaries; bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

from polytune.cli.main import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("polytune: error: ")
    return err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["sources", "--bible", "swh_Latn=h", "--out", "{tmp}/o"], "'h' (Swahili Union Version 1997) is restricted"),
        (["sources", "--bible", "fra_Latn=k", "--out", "{tmp}/o"], "'k' is eng_Latn, not fra_Latn"),
        (["sources", "--bible", "eng_Latn", "--out", "{tmp}/o"], "--bible: expected NAME=VALUE"),
        (["sources", "--file", "en:{tmp}/x.txt", "--out", "{tmp}/o"], "--file: expected LANG=PATH"),
        (["sources", "--out", "{tmp}/o"], "give at least one of 'bible' or 'files'"),
        (["sources", "--bible", "xx1=k", "--out", "{tmp}/o"], "'xx1' is not a language code"),
        (["filter", "{tmp}/missing.jsonl", "--out", "{tmp}/o"], "input not found"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--backend", "fasttext"], "backend fasttext needs model"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--backend", "fasttext", "--model", "{tmp}/m.bin"],
         "fastText model not found"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--threshold", "2"], "threshold must be between 0 and 1"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--normalization", "NFD"], "normalization must be one of"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--threshold", "high"], "threshold must be a number"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--threshold", "xx1=0.3"], "'xx1' is not a language code"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--executor", "slurm"], "executor must be one of"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--rules", "{tmp}/r.yaml"], "rules file not found"),
        (["filter", "{tmp}/in.txt", "--out", "{tmp}/o", "--second-backend", "fasttext"], "second_backend fasttext"),
        (["lid", "train", "--input", "{tmp}/in.txt", "--out", "{tmp}/m.bin", "--split", "all"], "has no 'lang'"),
        (["lid", "train", "--input", "{tmp}/in.txt", "--out", "{tmp}/m.bin", "--lr", "0"], "lr must be a positive"),
        (["balance", "--input", "{tmp}/nowhere", "--out", "{tmp}/o"], "not a folder"),
        (["balance", "--input", "{tmp}", "--out", "{tmp}/o", "--temperature", "-1"], "temperature must be"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, needle):
    (tmp_path / "in.txt").write_text("For God so loved the world\n", encoding="utf-8")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert needle in _one_error_line(capsys)
    assert not (tmp_path / "o").exists() and not (tmp_path / "m.bin").exists()


def test_pipeline_of_commands(tmp_path, capsys, bible_packages):
    raw, model, corpus, mix = (str(tmp_path / name) for name in ("raw", "lid.bin", "corpus", "mix"))
    assert (
        main(["sources", "--bible", "eng_Latn=k", "--bible", "ny=chichewa", "--out", raw, "--max-records", "400"]) == 0
    )
    assert "wrote 800 records in 2 languages" in capsys.readouterr().out
    assert main(["lid", "train", "--input", raw, "--out", model, "--bucket", "20000", "--split", "all"]) == 0
    assert "2 languages, 800 lines" in capsys.readouterr().out
    argv = ["filter", raw, "--out", corpus, "--backend", "fasttext", "--model", model, "--langs", "eng_Latn,nya_Latn"]
    assert main([*argv, "--min-chars", "5", "--no-dedup"]) == 0
    out = capsys.readouterr().out
    stats = json.loads((tmp_path / "corpus" / "stats.json").read_text())
    assert out.splitlines()[0].startswith(f"input 800 = kept {stats['kept']} + rejected ")
    assert "threshold 0.5" in out.splitlines()[1]
    assert "duplicate" not in stats["rejected"] and stats["kept"] > 780
    assert (
        main(["balance", "--input", corpus, "--out", mix, "--temperature", "1", "--budget", "100", "--split", "all"])
        == 0
    )
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["lang", "available", "probability", "taken", "epochs"]
    assert [line.split()[0] for line in table[1:3]] == ["eng_Latn", "nya_Latn"]
    assert table[-1].startswith("mixture of 100 records")


def test_filter_wrong_text_field_exits_2(tmp_path, capsys):
    """No record has the field: exit 2 naming the fields seen; a record that lacks it among good ones is a reject."""
    records = [{"id": str(i), "body": "For God so loved the world, that he gave his only Son."} for i in range(3)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code = main(["filter", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "has a string 'text' field (fields seen: body, id); pass --text-field" in _one_error_line(capsys)
    assert not (tmp_path / "o").exists() and not (tmp_path / ".o.work").exists()
    assert main(["filter", str(tmp_path / "in.jsonl"), "--out", str(tmp_path / "o"), "--text-field", "body"]) == 0

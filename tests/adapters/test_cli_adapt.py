"""`polytune adapt`: a summary line on success; exit 2 with one line on stderr for bad input."""

from __future__ import annotations

import pytest

from polytune.cli.main import main


def test_adapt_language_prints_summary(tmp_path, tiny_bert, synthetic_corpus, capsys):
    out = tmp_path / "la"
    rc = main(
        [
            "--quiet",
            "adapt",
            "language",
            "--base",
            str(tiny_bert),
            "--input",
            str(synthetic_corpus),
            "--lang",
            "ny",
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
        ]
    )
    assert rc == 0 and (out / "adapter_model.safetensors").is_file()
    line = capsys.readouterr().out.strip()
    assert line.startswith("language adapter nya_Latn: 2 steps") and str(out) in line


def test_adapt_task_prints_summary(tmp_path, tiny_bert, synthetic_corpus, capsys):
    rc = main(
        [
            "--quiet",
            "adapt",
            "task",
            "--base",
            str(tiny_bert),
            "--input",
            str(synthetic_corpus),
            "--out",
            str(tmp_path / "t"),
            "--max-steps",
            "2",
            "--batch-size",
            "4",
        ]
    )
    assert rc == 0
    assert "task adapter (genre, 8 labels, eng_Latn): 2 steps" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--lang", "xx-not"], "is not a known language"),
        (["--lang", "amh"], "no amh_Ethi records"),
        (["--lang", "ny", "--max-steps", "0"], "max_steps must be a positive"),
    ],
)
def test_adapt_bad_input_exits_2(tmp_path, tiny_bert, synthetic_corpus, capsys, extra, match):
    rc = main(
        [
            "adapt",
            "language",
            "--base",
            str(tiny_bert),
            "--input",
            str(synthetic_corpus),
            "--out",
            str(tmp_path / "x"),
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and match in err and len(err.splitlines()) == 1


def test_adapt_language_head_warmup_flag(tmp_path, tiny_bert, synthetic_corpus):
    import json

    firsts = {}
    for warm in (0, 3):
        out = tmp_path / f"la{warm}"
        args = ["--quiet", "adapt", "language", "--base", str(tiny_bert), "--input", str(synthetic_corpus),
                "--lang", "ny", "--out", str(out), "--max-steps", "2", "--batch-size", "4",
                "--head-warmup-steps", str(warm)]  # fmt: skip
        assert main(args) == 0
        meta = json.loads((out / "manifest.json").read_text())
        assert meta["config"]["head_warmup_steps"] == warm
        firsts[warm] = meta["losses"]["train_first"]
    assert firsts[3] != firsts[0]  # the adapter's first step sees the warmed-up head

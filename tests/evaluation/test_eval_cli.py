"""`polytune eval score` and the `polytune eval` grammar, through the real CLI entry point."""

from __future__ import annotations

import argparse
import json

import pytest

from polytune.cli import evaluate, main
from polytune.cli.options import config_defaults
from polytune.config import EvalConfig, SystemConfig

# Right (1) / wrong (0) marks per system and language; nya: 4/8 vs 7/8, ara: 2/6 vs 5/6 right.
MARKS = {"task-only": {"nya_Latn": "11000011", "ara_Arab": "100100"},
         "vocab+la": {"nya_Latn": "11111011", "ara_Arab": "111110"}}  # fmt: skip


def write_predictions(root):
    for system, per_lang in MARKS.items():
        for lang, marks in per_lang.items():
            folder = root / "predictions" / system
            folder.mkdir(parents=True, exist_ok=True)
            gold = ["law", "gospels", "history"]
            rows = [
                {"id": f"GEN.{i}.1", "lang": lang, "label": gold[i % 3], "pred": gold[i % 3] if m == "1" else "other"}
                for i, m in enumerate(marks)
            ]
            (folder / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def only_eval(monkeypatch):
    # Other stages' CLI modules are not needed here; main() keeps its real error handling.
    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))


def test_score_writes_a_report(tmp_path, capsys):
    run = write_predictions(tmp_path / "run")
    argv = ["eval", "score", "--predictions", str(run), "--out", str(tmp_path / "rep"), "--baseline", "task-only"]
    assert main.main([*argv, "--bootstrap", "100", "--seed", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"report: {tmp_path / 'rep'}/report.md (2 languages, baseline task-only)"
    assert out[1] == "  average task-only: accuracy 41.7, macro_f1 " + out[1].split("macro_f1 ")[1]
    assert "Δaccuracy +43.8" in out[2]
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert (report["seed"], report["n_resamples"], report["baseline"]) == (3, 100, "task-only")
    assert (tmp_path / "rep" / "report.md").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "score", "--predictions", "{tmp}/nowhere", "--out", "{tmp}/rep"], "predictions folder not found"),
        (["eval", "score", "--predictions", "{tmp}/run", "--out", "{tmp}/rep", "--baseline", "nope"], "baseline"),
        (["eval", "score", "--predictions", "{tmp}/run", "--out", "{tmp}/rep", "--bootstrap", "0"], "n_resamples"),
        (["eval", "--out", "{tmp}/rep"], "missing --base, --input, --task-adapter (or --retrieval / --intrinsic)"),
        (
            ["eval", "--base", "m", "--task-adapter", "t", "--input", "i", "--out", "o", "--system", "a b"],
            "system name must be",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    write_predictions(tmp_path / "run")
    assert main.main([a.format(tmp=tmp_path) for a in argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("polytune: error:") and message in err[0]
    assert not (tmp_path / "rep").exists()


def test_run_grammar():
    parser = argparse.ArgumentParser()
    evaluate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["eval", "--base", "m", "--task-adapter", "t", "--input", "c", "--out", "o", "--langs", "ny", "ar",
         "--system", "task-only", "--system", "la+vocab=runs/la/{lang}", "--baseline", "task-only",
         "--max-records", "50", "--bootstrap", "200"]
    )  # fmt: skip
    assert args.handler is evaluate._run
    # flags left out are None; the values used are the given ones, else EvalConfig's defaults (cli/options.py)
    used = config_defaults(args, EvalConfig, ("langs", "max_records", "bootstrap", "seed", "split"))
    assert tuple(used.values()) == (["ny", "ar"], 50, 200, 13, "test") and args.seed is None
    assert args.system == ["task-only", "la+vocab=runs/la/{lang}"]
    score = parser.parse_args(["eval", "score", "--predictions", "p", "--out", "o", "--seed", "4"])
    used = config_defaults(score, EvalConfig, ("seed", "bootstrap"))
    assert score.handler is evaluate._score and (score.predictions, used["seed"], used["bootstrap"]) == ("p", 4, 1000)


def test_system_specs_become_configs():
    systems = evaluate.systems_from_specs(["task-only", "la+vocab=runs/la/{lang}"])
    assert systems == [SystemConfig(name="task-only"), SystemConfig(name="la+vocab", lang_adapter="runs/la/{lang}")]
    cfg = EvalConfig(base="m", task_adapter="t", input="c", out="o", systems=systems)
    assert cfg.baseline == "task-only"


@pytest.mark.parametrize(
    "hyp_lines, message",
    [
        (["a", "b"], "no eng_Latn hypothesis for id '3'"),  # one line short
        (["a", "b", "c", "d"], "4 eng_Latn hypotheses for 3 references (first without a reference: id '4')"),
    ],
)
def test_text_files_of_another_length_are_refused_and_nothing_is_written(tmp_path, capsys, hyp_lines, message):
    """A hypothesis file shifted by a line must not be scored on its first lines (sacrebleu refuses both too)."""
    (tmp_path / "ref.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "good.txt").write_text("a\nb\nc\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("".join(f"{line}\n" for line in hyp_lines), encoding="utf-8")
    out = tmp_path / "rep"
    argv = ["eval", "score", "--refs", str(tmp_path / "ref.txt"), "--hyp", f"good={tmp_path / 'good.txt'}",
            "--hyp", f"bad={tmp_path / 'hyp.txt'}", "--lang", "eng_Latn", "--out", str(out)]  # fmt: skip
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()  # the good system was not written either

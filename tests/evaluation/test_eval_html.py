"""The full report: extras beside the scores, CIs, self-comparison, HTML, `polytune report` and scoring TSV/JSONL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.evaluation.test_eval_report import write_predictions

from polytune.cli import main
from polytune.evaluation.compare import compare_runs
from polytune.evaluation.report import build_report


@pytest.fixture
def run(tmp_path) -> Path:
    """A run folder as the pipeline lays it out: report/predictions, analysis/fertility.json, corpus/manifest.json."""
    root = tmp_path / "demo"
    write_predictions(root / "report")
    (root / "analysis").mkdir()
    fert = {"results": {"nya_Latn": {"base": {"fertility": 2.97}, "extended": {"fertility": 1.98}}}}
    (root / "analysis" / "fertility.json").write_text(json.dumps(fert), encoding="utf-8")
    (root / "corpus").mkdir()
    counts = {"counts": {"per_lang": {"nya_Latn": 30000, "ara_Arab": 5000}}}
    (root / "corpus" / "manifest.json").write_text(json.dumps(counts), encoding="utf-8")
    return root


def _report(run: Path, out: Path, **kw) -> dict:
    return build_report(
        run / "report", out, baseline="task-only", n_resamples=200, seed=3, fertility=run / "analysis" /
        "fertility.json", corpus=run / "corpus", **kw,
    )  # fmt: skip


def test_extras_tiers_fairness_and_cis(run, tmp_path):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"nya_Latn": {"tier": 1, "seen": False}}), encoding="utf-8")
    report = _report(run, tmp_path / "out", lang_info=info)
    nya, ara = report["results"]["nya_Latn"], report["results"]["ara_Arab"]
    assert (nya["script"], nya["tier"], nya["seen"], nya["corpus_size"]) == ("Latin", 1, False, 30000)
    assert nya["fertility"] == {"base": 2.97, "extended": 1.98} and ara["fertility"] is None
    assert (ara["tier"], ara["seen"]) == (5, None)  # built-in Joshi class; "seen" only when told
    assert report["by_tier"]["1"]["languages"] == ["nya_Latn"]
    assert report["by_tier"]["5"]["scores"]["vocab+la"]["accuracy"]["score"] == pytest.approx(100 * 5 / 6)
    fair = report["fairness"]["task-only"]["accuracy"]
    assert (fair["best"], fair["worst"]) == ("nya_Latn", "ara_Arab")
    assert fair["gap"] == pytest.approx(50 - 100 / 3) and fair["std"] == pytest.approx(fair["gap"] / 2)
    tables = [*report["results"].values(), report["average"], *report["by_tier"].values()]
    for table in tables:
        for per_metric in table["scores"].values():
            for entry in per_metric.values():
                assert entry["ci"][0] - 1e-9 <= entry["score"] <= entry["ci"][1] + 1e-9
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| nya_Latn | Chichewa | Latin | 1 | no | 8 | 2.97→1.98 |" in md
    assert "## Fairness across languages" in md and "| task-only | accuracy | nya_Latn 50.0 | ara_Arab 33.3 |" in md
    assert sorted(report["inputs"])[0] == "task-only/ara_Arab.jsonl" and len(report["inputs"]) == 4


def test_html_is_self_contained_and_deterministic(run, tmp_path):
    for name in ("a", "b"):
        _report(run, tmp_path / name)
    html = (tmp_path / "a" / "report.html").read_text(encoding="utf-8")
    assert html == (tmp_path / "b" / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # nothing loaded from elsewhere
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4  # accuracy and macro-F1: bars and gain vs corpus size each
    assert all(len(i) > 1000 for i in images)
    # The average Δ accuracy, (37.5 + 50) / 2, significant: its cell (score, Δ under it) is marked.
    assert re.search(r'<td class="sig num">[0-9.]+ \[[0-9., ]+\]<span class="sub">Δ \+43\.8 \[', html)
    assert "nya_Latn" in html and "2.97→1.98" in html and "metric:macro_f1" in html


def test_a_system_compared_with_itself_is_not_significant(run, tmp_path):
    report = compare_runs([run, run / "report"], tmp_path / "cmp", n_resamples=200)
    assert report["baseline"] == "demo:task-only"
    assert "demo-2:task-only" in report["systems"]
    for lang in report["languages"]:
        for entry in report["results"][lang]["deltas"]["demo-2:task-only"].values():
            assert entry["delta"] == 0.0 and entry["p_value"] == 1.0
    assert report["results"]["nya_Latn"]["fertility"] == {"base": 2.97, "extended": 1.98}


def test_report_cli(run, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main.main(["report", str(run), str(run / "report"), "--out", str(out), "--bootstrap", "50"]) == 0
    assert "report: " in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"report.json", "report.md", "report.html", "manifest.json"}
    assert main.main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no predictions/ in" in err[0]


def test_eval_score_from_tsv_and_jsonl(tmp_path, capsys):
    refs = tmp_path / "refs.tsv"
    refs.write_text("id\tlang\ttext\n1\teng\tthe cat sat on the mat\n2\teng\tit is raining\n"
                    "1\tzh\t我今天去学校。\n", encoding="utf-8")  # fmt: skip
    hyp_a = tmp_path / "a.tsv"
    hyp_a.write_text("lang\tid\thyp\neng\t2\tit rains\neng\t1\tthe cat sat\nzh\t1\t我去学校。\n", encoding="utf-8")
    hyp_b = tmp_path / "b.jsonl"
    rows = [("eng", "1", "the cat sat on the mat"), ("eng", "2", "it is raining"), ("zh", "1", "我今天去学校。")]
    hyp_b.write_text("".join(json.dumps({"lang": lg, "id": i, "pred": t}) + "\n" for lg, i, t in rows), "utf-8")
    out = tmp_path / "rep"
    argv = ["eval", "score", "--refs", str(refs), "--hyp", f"a={hyp_a}", "--hyp", f"b={hyp_b}", "--out", str(out)]
    assert main.main([*argv, "--bootstrap", "50"]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"] == ["bleu", "chrf", "chrf_pp", "ter", "exact_match"]  # chosen from the labels
    assert report["languages"] == ["eng_Latn", "zho_Hans"]
    assert report["results"]["zho_Hans"]["scores"]["b"]["bleu"]["score"] == pytest.approx(100.0)
    assert report["results"]["eng_Latn"]["scores"]["b"]["exact_match"]["score"] == 100.0
    assert (out / "predictions" / "a" / "eng_Latn.jsonl").is_file()
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\ttext\n1\thello\n", encoding="utf-8")
    assert main.main(["eval", "score", "--refs", str(bad), "--hyp", str(hyp_a), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs 'lang'" in err[-1]


def test_ner_predictions_report_equals_seqeval(tmp_path):
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["O", "B-ORG"]]
    systems = {"a": [["B-PER", "I-PER", "O"], ["O", "O"], ["O", "B-ORG"]], "b": [["B-PER", "O", "O"], *gold[1:]]}
    for name, pred in systems.items():
        (tmp_path / name).mkdir()
        rows = [
            {"id": i, "lang": "swh_Latn", "label": g, "pred": p}
            for i, (g, p) in enumerate(zip(gold, pred, strict=True))
        ]
        (tmp_path / name / "swh_Latn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    report = build_report(tmp_path, tmp_path / "out", n_resamples=50)
    assert report["metrics"] == ["ner_f1", "exact_match"]
    for name, pred in systems.items():
        expected = 100 * f1_score(gold, pred, mode="strict", scheme=IOB2)
        assert report["results"]["swh_Latn"]["scores"][name]["ner_f1"]["score"] == pytest.approx(expected)

"""`polytune eval --benchmark` end to end on local copies of the benchmarks (benchmark_data.py): a tiny decoder base
answering by itself (log-likelihood choice, generation both ways) and a tiny BERT with task adapters (classification
with its source-language ceiling, NER) or none (Tatoeba retrieval). Each test checks the report's numbers against
what the predictions files hold, scored independently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_data import belebele, flores200, sib200, tatoeba, tiny_decoder, wikiann

from polytune.config import EvalConfig, TaskAdapterConfig

pytestmark = pytest.mark.slow  # tiny models, real predictions


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    for build in (sib200, belebele, flores200, wikiann, tatoeba):
        build(root / build.__name__)
    return root


@pytest.fixture(scope="module")
def decoder(tmp_path_factory) -> Path:
    return tiny_decoder(tmp_path_factory.mktemp("decoder"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _eval(argv: list[str], capsys) -> tuple[int, str]:
    from polytune.cli import main

    code = main.main(["eval", *argv, "--bootstrap", "50"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_continuation_log_probabilities_are_those_of_a_plain_forward_pass(decoder, monkeypatch):
    import torch

    from polytune.evaluation.predict import zero_shot
    from polytune.evaluation.predict.lm import load_lm
    from polytune.evaluation.predict.zero_shot import continuation_logprobs

    model, tok, _ = load_lm(str(decoder))
    pairs = [("P: kuna ndi\nAnswer:", " A"), ("", " the lord"), ("the king said " * 30, " unto")]

    def by_hand(context: str, continuation: str, keep: int) -> float:
        ids, cont = tok(context, add_special_tokens=False)["input_ids"], tok(continuation)["input_ids"]
        ids = [0, *ids[len(ids) - min(len(ids), keep - 1 - len(cont)):]]  # bos, then the context's end
        with torch.no_grad():
            logp = model(torch.tensor([ids + cont])).logits[0].log_softmax(-1)
        return float(sum(logp[len(ids) - 1 + i, t] for i, t in enumerate(cont)))

    batched = continuation_logprobs(model, tok, pairs, batch_size=3, max_length=40)
    alone = [continuation_logprobs(model, tok, [p], batch_size=1, max_length=40)[0] for p in pairs]
    assert batched == pytest.approx(alone, abs=1e-4)  # padding changes nothing
    assert batched == pytest.approx([by_hand(c, x, 40) for c, x in pairs], abs=1e-4)  # the long one kept its end
    monkeypatch.setattr(zero_shot, "LOGITS_BUDGET", 1)  # a batch over the logits budget goes one row at a time
    assert continuation_logprobs(model, tok, pairs, batch_size=3, max_length=40) == pytest.approx(batched, abs=1e-4)


def test_belebele_on_a_decoder_base_picks_the_likeliest_letter(decoder, copies, tmp_path, capsys):
    from polytune.evaluation.benchmarks import load_benchmark
    from polytune.evaluation.predict.lm import load_lm
    from polytune.evaluation.predict.zero_shot import continuation_logprobs
    from polytune.prompts import render_prompt

    out = tmp_path / "bb"
    code, printed = _eval(["--benchmark", "belebele", "--benchmark-path", str(copies / "belebele"),
                           "--base", str(decoder), "--out", str(out), "--langs", "nya"], capsys)  # fmt: skip
    assert code == 0, printed
    assert f"report: {out}/report.md (1 language, baseline base)" in printed
    report = json.loads((out / "report.json").read_text())
    rows = _rows(out / "predictions" / "base" / "nya_Latn.jsonl")
    records = {r["id"]: r for r in _rows(out / "benchmark-data" / "nya_Latn" / "test.jsonl")}
    model, tok, _ = load_lm(str(decoder))
    spec = load_benchmark("belebele")
    for row in rows:  # the letter with the highest log-probability after the rendered prompt
        context = render_prompt(spec.prompt, records[row["id"]])
        scores = continuation_logprobs(model, tok, [(context, f" {x}") for x in "ABCD"], 4, 1024)
        assert row["pred"] == str(1 + max(range(4), key=scores.__getitem__))
        assert row["label"] == records[row["id"]]["correct_answer_num"]
    right = sum(r["label"] == r["pred"] for r in rows)
    assert report["results"]["nya_Latn"]["scores"]["base"]["accuracy"]["score"] == pytest.approx(100 * right / 8)
    ceiling = report["extra"]["ceiling"]  # the base on the source language, English
    assert ceiling["lang"] == "eng_Latn" and ceiling["n"] == 8 and (out / "ceiling" / "report.json").is_file()
    assert report["extra"]["benchmark"]["answered_by"] == "loglik_choice"
    assert report["extra"]["benchmark"]["configs"] == {"nya_Latn": "nya_Latn"}
    assert "Zero-shot / eng_Latn ceiling" in (out / "report.md").read_text(encoding="utf-8")
    assert json.loads((out / "manifest.json").read_text())["config"]["benchmark"] == "belebele"


def test_sib200_topics_are_scored_per_byte(decoder, copies, tmp_path):
    from polytune.evaluation.benchmarks import load_benchmark, run_benchmark
    from polytune.evaluation.predict.lm import load_lm
    from polytune.evaluation.predict.zero_shot import continuation_logprobs
    from polytune.prompts import render_prompt

    cfg = EvalConfig(base=str(decoder), out=tmp_path / "sib", benchmark="sib200", langs=["swh_Latn"],
                     benchmark_path=str(copies / "sib200"), bootstrap=50, max_records=5)  # fmt: skip
    report = run_benchmark(cfg)
    spec, (model, tok, _) = load_benchmark("sib200"), load_lm(str(decoder))
    for row in _rows(tmp_path / "sib" / "predictions" / "base" / "swh_Latn.jsonl"):
        record = next(r for r in _rows(tmp_path / "sib" / "benchmark-data" / "swh_Latn" / "test.jsonl")
                      if r["id"] == row["id"])  # fmt: skip
        pairs = [(render_prompt(spec.prompt, record), spec.choices[t]) for t in spec.labels]
        summed = continuation_logprobs(model, tok, pairs, 7, 256)
        scores = [s / len(c.encode()) for s, (_, c) in zip(summed, pairs, strict=True)]
        assert row["pred"] == spec.labels[max(range(7), key=scores.__getitem__)]
    assert report["results"]["swh_Latn"]["n"] == 5 and report["metrics"] == ["accuracy", "macro_f1"]


def test_flores_is_translated_both_ways_and_scored_with_sacrebleu(decoder, copies, tmp_path):
    import sacrebleu

    from polytune.evaluation.benchmarks import run_benchmark

    cfg = EvalConfig(base=str(decoder), out=tmp_path / "fl", benchmark="flores200", langs=["nya_Latn"],
                     benchmark_path=str(copies / "flores200"), bootstrap=50, max_new_tokens=6)  # fmt: skip
    summary = run_benchmark(cfg)
    assert sorted(summary["parts"]) == ["into_source", "into_target"]
    for part, report in summary["parts"].items():
        assert report["metrics"] == ["bleu", "chrf", "chrf_pp"] and report["languages"] == ["nya_Latn"]
        rows = _rows(tmp_path / "fl" / part / "predictions" / "base" / "nya_Latn.jsonl")
        rows.sort(key=lambda r: int(r["id"]))
        assert all("\n" not in r["pred"] for r in rows)  # the first line of what the base wrote
        chrf = sacrebleu.corpus_chrf([r["pred"] for r in rows], [[r["label"] for r in rows]]).score
        assert report["results"]["nya_Latn"]["scores"]["base"]["chrf"]["score"] == pytest.approx(chrf)
    refs = {r["id"]: r["label"] for r in _rows(tmp_path / "fl" / "into_source" / "predictions" / "base" /
                                                "nya_Latn.jsonl")}  # fmt: skip
    english = _rows(tmp_path / "fl" / "benchmark-data" / "into_target" / "nya_Latn" / "test.jsonl")
    assert refs == {r["id"]: r["text"] for r in english}  # into English: the English sentences are the references
    page = (tmp_path / "fl" / "report.md").read_text(encoding="utf-8")
    assert "## eng_Latn → each language (into_target)" in page and "## each language → eng_Latn (into_source)" in page


@pytest.fixture(scope="module")
def sib_adapter(tmp_path_factory, tiny_bert, copies) -> Path:
    from polytune.adapters import train_task_adapter
    from polytune.evaluation.benchmarks import export_benchmark

    root = tmp_path_factory.mktemp("sib-task")
    export_benchmark("sib200", ["eng_Latn"], root / "corpus", ["train", "dev"], str(copies / "sib200"))
    cfg = TaskAdapterConfig(base=str(tiny_bert), input=root / "corpus", lang="eng_Latn", out=root / "adapter",
                            label_field="category", max_steps=3)  # fmt: skip
    train_task_adapter(cfg)
    return root / "adapter"


def test_an_encoder_with_a_task_adapter_is_read_against_its_english_ceiling(tiny_bert, sib_adapter, copies,
                                                                            tmp_path, capsys):  # fmt: skip
    out = tmp_path / "enc"
    code, printed = _eval(["--benchmark", "sib200", "--benchmark-path", str(copies / "sib200"), "--base",
                           str(tiny_bert), "--task-adapter", str(sib_adapter), "--out", str(out), "--langs",
                           "nya_Latn", "swa_Latn"], capsys)  # fmt: skip
    assert code == 0, printed
    report = json.loads((out / "report.json").read_text())
    assert report["languages"] == ["nya_Latn", "swa_Latn"] and report["systems"] == ["task-only"]
    for lang in report["languages"]:
        rows = _rows(out / "predictions" / "task-only" / f"{lang}.jsonl")
        right = sum(r["label"] == r["pred"] for r in rows)
        assert report["results"][lang]["scores"]["task-only"]["accuracy"]["score"] == pytest.approx(100 * right / 14)
    assert report["extra"]["ceiling"]["lang"] == "eng_Latn"  # the task adapter on its own language's test split
    assert report["extra"]["benchmark"]["answered_by"] == "task adapter"
    assert report["extra"]["benchmark"]["configs"] == {"nya_Latn": "nya_Latn", "swa_Latn": "swh_Latn"}


def test_wikiann_is_scored_with_seqeval_from_a_taggers_predictions(tiny_bert, copies, tmp_path):
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from polytune.adapters import train_task_adapter
    from polytune.evaluation.benchmarks import export_benchmark, run_benchmark

    export_benchmark("wikiann", ["eng_Latn"], tmp_path / "corpus", ["train", "dev"], str(copies / "wikiann"))
    train_task_adapter(TaskAdapterConfig(base=str(tiny_bert), input=tmp_path / "corpus", lang="eng_Latn",
                                         out=tmp_path / "tagger", task="token_classification", text_field="tokens",
                                         label_field="ner_tags", max_steps=3))  # fmt: skip
    report = run_benchmark(EvalConfig(base=str(tiny_bert), task_adapter=str(tmp_path / "tagger"), out=tmp_path / "r",
                                      benchmark="wikiann", benchmark_path=str(copies / "wikiann"),
                                      langs=["swh_Latn"], bootstrap=50))  # fmt: skip
    rows = _rows(tmp_path / "r" / "predictions" / "task-only" / "swh_Latn.jsonl")
    expected = 100 * f1_score([r["label"] for r in rows], [r["pred"] for r in rows], mode="strict", scheme=IOB2)
    assert report["results"]["swh_Latn"]["scores"]["task-only"]["ner_f1"]["score"] == pytest.approx(expected)
    assert report["extra"]["ceiling"]["lang"] == "eng_Latn"


def test_tatoeba_is_the_retrieval_probe_within_each_languages_pairs(tiny_bert, copies, tmp_path):
    from polytune.evaluation.benchmarks import run_benchmark

    report = run_benchmark(EvalConfig(base=str(tiny_bert), out=tmp_path / "t", benchmark="tatoeba",
                                      benchmark_path=str(copies / "tatoeba"), langs=["swh", "deu"],
                                      bootstrap=50))  # fmt: skip
    section = report["retrieval"]
    assert section["source_lang"] == "eng_Latn" and sorted(section["results"]) == ["deu_Latn", "swh_Latn"]
    for lang in ("swh_Latn", "deu_Latn"):
        rows = _rows(tmp_path / "t" / "probes" / "retrieval" / "base" / f"{lang}.jsonl")
        assert len(rows) == section["results"][lang]["n"] == 10  # its own 10 pairs, not the other language's
        hits = sum(1.0 / (1 + r["t2s_ties"]) if r["t2s"] == 1 else 0.0 for r in rows)
        assert section["results"][lang]["scores"]["base"]["t2s@1"]["score"] == pytest.approx(10 * hits)


@pytest.mark.parametrize(("which", "argv", "message"), [
    ("bert", ["--benchmark", "sib200"], "the base answers by itself, which takes a decoder (causal LM)"),
    ("decoder", ["--benchmark", "wikiann"], "benchmark wikiann (ner) needs a task adapter"),
    ("decoder", ["--benchmark", "xnli", "--langs", "nya"], "xnli has no nya_Latn; its 15 languages: arb_Arab"),
    ("decoder", ["--benchmark", "tatoeba", "--source-lang", "fra_Latn"], "pairs every language with eng_Latn"),
])  # fmt: skip
def test_who_answers_must_fit_the_benchmark(which, argv, message, tiny_bert, decoder, tmp_path, capsys):
    base = tiny_bert if which == "bert" else decoder
    code, printed = _eval([*argv, "--base", str(base), "--out", str(tmp_path / "o")], capsys)
    lines = [x for x in printed.splitlines() if x.startswith("polytune: error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], printed
    assert not (tmp_path / "o").exists()  # refused before any data or model

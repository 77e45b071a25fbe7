"""BLEU/chrF/chrF++/TER intervals are sacrebleu's own: equal to `corpus_score(..., n_bootstrap=n)` for the same
inputs (its seed, its draws, its estimate), recorded in the signature, and containing the point estimate."""

from __future__ import annotations

import json
import random

import pytest
from sacrebleu.metrics import BLEU, CHRF, TER

from polytune.evaluation import stats
from polytune.evaluation.metrics import get_metric
from polytune.evaluation.report import build_report

SACREBLEU = {
    "bleu": lambda lang: BLEU(tokenize="zh") if lang == "zho_Hans" else BLEU(),
    "chrf": lambda lang: CHRF(),
    "chrf_pp": lambda lang: CHRF(word_order=2),
    "ter": lambda lang: TER(asian_support=lang == "zho_Hans"),
}


def _texts(lang: str, n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    if lang == "zho_Hans":
        chars = list("我们你他她是的在有不这人中大为上个国和地到以说时要就出会可也对生能而子那得")
        refs = ["".join(rng.choices(chars, k=rng.randint(6, 20))) for _ in range(n)]
        noisy = {s: ["".join(c if rng.random() > p else rng.choice(chars) for c in r) for r in refs]
                 for s, p in (("base", 0.4), ("tuned", 0.2))}  # fmt: skip
    else:
        words = [f"{lang[:3]}{i}" for i in range(200)]
        refs = [" ".join(rng.choices(words, k=rng.randint(4, 15))) for _ in range(n)]
        noisy = {s: [" ".join(w if rng.random() > p else rng.choice(words) for w in r.split()) for r in refs]
                 for s, p in (("base", 0.4), ("tuned", 0.2))}  # fmt: skip
    return {"ref": refs, **noisy}


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("sb")
    data = {"swh_Latn": _texts("swh_Latn", 60, 1), "zho_Hans": _texts("zho_Hans", 45, 2)}
    for lang, texts in data.items():
        for system in ("base", "tuned"):
            rows = [
                {"id": str(i), "label": r, "pred": h}
                for i, (r, h) in enumerate(zip(texts["ref"], texts[system], strict=True))
            ]
            (root / "pred" / system).mkdir(parents=True, exist_ok=True)
            (root / "pred" / system / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    report = build_report(root / "pred", root / "out", baseline="base", metrics=list(SACREBLEU), n_resamples=300)
    return data, report


@pytest.mark.parametrize("metric", list(SACREBLEU))
@pytest.mark.parametrize("lang", ["swh_Latn", "zho_Hans"])
@pytest.mark.parametrize("system", ["base", "tuned"])
def test_interval_equals_sacrebleus_own(scored, metric, lang, system):
    data, report = scored
    expected = SACREBLEU[metric](lang).corpus_score(data[lang][system], [data[lang]["ref"]], n_bootstrap=300)
    entry = report["results"][lang]["scores"][system][metric]
    assert entry["ci"] == [float(expected._mean - expected._ci), float(expected._mean + expected._ci)]  # exact
    assert entry["mean"] == float(expected._mean)
    assert entry["score"] == pytest.approx(expected.score, abs=1e-9)
    low, high = entry["ci"]
    assert low <= entry["score"] <= high and high > low


def test_signatures_record_sacrebleus_bootstrap_and_seed(scored):
    _, report = scored
    assert report["ci_methods"] == {m: "sacrebleu" for m in SACREBLEU}
    for metric in SACREBLEU:
        assert "|bs:300|seed:12345|" in report["signatures"][metric]
    assert "|bs:300|seed:12345|" in report["lang_signatures"]["zho_Hans"]["bleu"]
    assert "tok:zh" in report["lang_signatures"]["zho_Hans"]["bleu"]


def test_sacrebleu_seed_from_the_environment_and_across_blocks(monkeypatch):
    texts = _texts("eng_Latn", 80, 3)
    metric = get_metric("bleu")
    st = metric.statistics(texts["ref"], texts["tuned"])
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    monkeypatch.setattr(stats, "_BLOCK_CELLS", 80 * 33)  # 33 resamples per block: the draws span many blocks
    ours = stats.sacrebleu_intervals(metric, {"s": st}, 250)["s"]
    expected = BLEU().corpus_score(texts["tuned"], [texts["ref"]], n_bootstrap=250)
    assert ours["ci"] == (float(expected._mean - expected._ci), float(expected._mean + expected._ci))
    assert "|seed:7|" in metric.signature()


def test_other_confidence_uses_the_same_draws_as_percentiles():
    texts = _texts("eng_Latn", 80, 4)
    metric = get_metric("chrf")
    st = {"s": metric.statistics(texts["ref"], texts["base"])}
    point = metric.compute(texts["ref"], texts["base"])
    wide = stats.sacrebleu_intervals(metric, st, 400, 0.95)["s"]
    low, high = stats.sacrebleu_intervals(metric, st, 400, 0.5)["s"]["ci"]
    assert wide["ci"][0] < low <= point <= high < wide["ci"][1]


def test_cli_on_text_files_equals_sacrebleu_confidence(tmp_path, capsys, monkeypatch):
    """`polytune eval score --refs r.txt --hyp a=h.txt` keeps the files' line order (ids 1..25, not "1", "10", "11"),
    so its interval is the one `sacrebleu r.txt -i h.txt --confidence` prints."""
    from polytune.cli import main

    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))
    texts = _texts("eng_Latn", 25, 5)
    for name, lines in (("r.txt", texts["ref"]), ("a.txt", texts["base"]), ("b.txt", texts["tuned"])):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["eval", "score", "--refs", str(tmp_path / "r.txt"), "--lang", "eng", "--hyp", f"a={tmp_path / 'a.txt'}"]
    argv += ["--hyp", f"b={tmp_path / 'b.txt'}", "--out", str(tmp_path / "rep"), "--metrics", "bleu", "chrf"]
    assert main.main([*argv, "--bootstrap", "200"]) == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    for system, metric in (("a", BLEU()), ("b", CHRF())):
        got = report["results"]["eng_Latn"]["scores"][system][metric.__class__.__name__.lower()]
        expected = metric.corpus_score(texts["base" if system == "a" else "tuned"], [texts["ref"]], n_bootstrap=200)
        assert got["ci"] == [float(expected._mean - expected._ci), float(expected._mean + expected._ci)]


def test_an_interval_over_float32_scores_and_a_plain_zero():
    """A chrF resample with no character n-gram scores a Python 0.0 beside float32 scores; the interval still forms
    (it raised "don't know how to coerce float and float32" on a translation run with empty hypotheses)."""
    import numpy as np

    from polytune.evaluation.stats import _one_number_type, sacrebleu_interval

    mixed = _one_number_type([np.float32(2.5), 0.0, np.float32(1.5)] * 20)
    assert all(isinstance(v, np.float32) for v in mixed)
    low, high, mean = sacrebleu_interval(mixed)
    assert low <= mean <= high and mean == pytest.approx(4 / 3, rel=1e-6)
    assert _one_number_type([1.0, 2.0]) == [1.0, 2.0]

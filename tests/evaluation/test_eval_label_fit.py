"""A metric that does not fit the labels is one InputError naming the metric, the kind of labels and the metrics
that fit, never a raw TypeError: a table over every metric x label kind, the detection of kinds, and the CLI."""

from __future__ import annotations

import json

import pytest

from polytune.cli import main
from polytune.errors import InputError
from polytune.evaluation.metrics import available_metrics, get_metric, label_kind

SENTENCES = [f"the {w} went to the market on day {i}" for i, w in enumerate("abcdefghijklmn")]
KINDS = {
    "class labels": (["pos", "neg", "pos", "neu"], ["pos", "pos", "neg", "neu"]),
    "free text": (SENTENCES, [s.replace("market", "shop") for s in SENTENCES]),
    "tag lists": ([["B-PER", "I-PER", "O"], ["O", "B-LOC"]], [["B-PER", "O", "O"], ["O", "B-LOC"]]),
    "a mix of tag lists and strings": ([["B-PER", "O"], "pos"], [["B-PER", "O"], "pos"]),
    "numbers": ([0.5, 1.5, 2.0, 3.25], [0.4, 1.7, 2.1, 3.0]),
}
# Written out by hand (not read from the metrics' own `fits`), so a wrong `fits` makes this table fail.
FITS = {
    "accuracy": {"class labels"},
    "micro_f1": {"class labels"},
    "macro_f1": {"class labels"},
    "bleu": {"class labels", "free text"},
    "chrf": {"class labels", "free text"},
    "chrf_pp": {"class labels", "free text"},
    "ter": {"class labels", "free text"},
    "exact_match": {"class labels", "free text", "tag lists"},
    "ner_f1": {"tag lists"},
    "pearson": {"numbers"},
    "spearman": {"numbers"},
    "rmse": {"numbers"},
}


def test_the_table_covers_every_metric():
    assert sorted(FITS) == available_metrics()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", sorted(FITS))
def test_metric_by_label_kind(name, kind):
    labels, preds = KINDS[kind]
    assert label_kind(labels) == kind
    metric = get_metric(name)
    if kind in FITS[name]:
        assert 0 <= metric.compute(labels, preds) <= 100
        assert metric.statistics(labels, preds).shape[0] == len(labels)
        return
    fitting = sorted(m for m, kinds in FITS.items() if kind in kinds)
    for call in (metric.compute, metric.statistics):
        with pytest.raises(InputError) as info:
            call(labels, preds)
        message = str(info.value)
        assert f"metric {name!r} does not fit {kind}" in message
        assert message.endswith(f"metrics that fit {kind}: {', '.join(fitting) or 'none; make every label one kind'}")


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        (["sports news", "world news"] * 20, "class labels"),  # multi-word, but repeated: classes
        ([f"lang{i}" for i in range(300)], "class labels"),  # many distinct single words (LID codes)
        (SENTENCES[:6], "class labels"),  # too few to call free text; every string metric fits
        (SENTENCES, "free text"),
        # Sentences of a script written without spaces: long, distinct.
        ([f"我们今天去学校然后回家吃饭看书写字睡觉第{i}天的早上和晚上都很好" for i in range(12)], "free text"),
        ([1, 2, 1], "class labels"),
    ],
)
def test_label_kinds(labels, kind):
    assert label_kind(labels) == kind


def test_predictions_of_another_shape_are_refused():
    with pytest.raises(InputError, match="labels are strings but a prediction is \"\\['B-PER'\\]\""):
        get_metric("accuracy").compute(["pos", "neg"], ["pos", ["B-PER"]])
    with pytest.raises(InputError, match="labels are tag lists but a prediction is 'PER'"):
        get_metric("exact_match").compute([["B-PER"], ["O"]], [["B-PER"], "PER"])


def test_cli_accuracy_on_ner_tags_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(main, "SUBCOMMAND_MODULES", ("evaluate",))
    folder = tmp_path / "pred" / "tagger"
    folder.mkdir(parents=True)
    rows = [
        {"id": str(i), "label": lab, "pred": pred}
        for i, (lab, pred) in enumerate(zip(*KINDS["tag lists"], strict=True))
    ]
    (folder / "nya_Latn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["eval", "score", "--predictions", str(tmp_path / "pred"), "--out", str(tmp_path / "rep")]
    assert main.main([*argv, "--metrics", "accuracy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "polytune: error: nya_Latn, system tagger: metric 'accuracy' does not fit tag lists "
        "(labels like \"['B-PER', 'I-PER', 'O']\"); metrics that fit tag lists: exact_match, ner_f1"
    ]
    assert not (tmp_path / "rep").exists()
    assert main.main([*argv, "--metrics", "ner_f1"]) == 0

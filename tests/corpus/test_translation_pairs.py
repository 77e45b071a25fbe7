"""`polytune pairs`: translation records paired by id, per direction, with prompt names from data."""

from __future__ import annotations

import json

import pytest

from polytune.config import PairsConfig
from polytune.corpus.translation import language_name, pair_records, prompt_data, write_pairs
from polytune.errors import ConfigError, InputError

SOURCE = {"a": {"id": "a", "text": "In the beginning", "split": "train"},
          "b": {"id": "b", "text": "God said", "split": "test"},
          "c": {"id": "c", "text": "Let there be light", "split": "dev"}}  # fmt: skip
TARGET = {"a": {"id": "a", "text": "Pachiyambi", "split": "train"},
          "b": {"id": "b", "text": "Mulungu anati", "split": "test"},
          "c": {"id": "c", "text": "Pakhale kuwala", "split": "train"},  # another split than its source: dropped
          "d": {"id": "d", "text": "Ndipo", "split": "train"}}  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "reads", "writes", "first"),
    [("into_target", "English", "Chichewa", ("In the beginning", "Pachiyambi")),
     ("into_source", "Chichewa", "English", ("Pachiyambi", "In the beginning"))],
)  # fmt: skip
def test_pairs_table(direction, reads, writes, first):
    records, counts = pair_records(TARGET, SOURCE, "nya_Latn", "eng_Latn", direction, {"nya_Latn": "Chichewa"})
    assert counts == {"train": 1, "dev": 0, "test": 1, "unpaired": 1, "split_mismatch": 1}
    assert [(r["id"], r["split"]) for r in records] == [("a", "train"), ("b", "test")]
    assert (records[0]["text"], records[0]["target"]) == first
    assert (records[0]["source_name"], records[0]["target_name"]) == (reads, writes)


def test_names_come_from_the_data_file_and_fall_back_to_display_names(tmp_path):
    data = prompt_data()
    assert "{text}" in data["template"] and data["names"]["nya_Latn"] == "Chichewa"
    assert language_name("vie_Latn", data["names"]) == "Vietnamese"
    own = tmp_path / "mine.yaml"
    own.write_text('template: "{source_name} -> {target_name}: {text} =>"\nnames: {nya: Chinyanja}\n')
    assert prompt_data(own) == {"template": "{source_name} -> {target_name}: {text} =>",
                                "names": {"nya_Latn": "Chinyanja"}}  # fmt: skip
    own.write_text("names: []\n")
    with pytest.raises(ConfigError, match="needs a `template:` string"):
        prompt_data(own)


def test_write_pairs_both_directions(tmp_path, synthetic_corpus):
    cfg = PairsConfig(input=synthetic_corpus, out=tmp_path / "pairs", langs=["nya", "ara"], max_train_records=20)
    result = write_pairs(cfg)
    assert set(result["counts"]) == {"into_target", "into_source"}
    rows = [json.loads(x) for x in (tmp_path / "pairs" / "into_source" / "ara_Arab" / "part-00000.jsonl").open()]
    splits = [r["split"] for r in rows]
    assert splits.count("train") == 20 and splits.count("test") == result["counts"]["into_source"]["ara_Arab"]["test"]
    assert all(r["target_lang"] == "eng_Latn" and r["source_lang"] == "ara_Arab" for r in rows)
    meta = json.loads((tmp_path / "pairs" / "manifest.json").read_text())
    assert meta["template"] == result["template"] and meta["counts"] == result["counts"]


def _cli(argv, capsys):
    from polytune.cli.main import main

    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_pairs_bad_input_is_one_line(tmp_path, synthetic_corpus, capsys):
    def cli(argv):
        return _cli(argv, capsys)

    code, _, err = cli(["pairs", "--input", str(synthetic_corpus), "--out", str(tmp_path / "p"), "--langs", "swh"])
    assert code == 2 and "no records of swh_Latn" in err and "polytune filter" in err and not (tmp_path / "p").exists()
    code, _, err = cli(["pairs", "--input", str(synthetic_corpus), "--out", str(tmp_path / "p"), "--langs",
                        "eng_Latn"])  # fmt: skip
    assert code == 2 and "is also a target" in err
    code, out, _ = cli(["pairs", "--print-template"])
    assert code == 0 and "{source_name}" in out


def test_pairs_need_shared_ids(tmp_path, synthetic_corpus):
    lonely = tmp_path / "corpus"
    for lang in ("eng_Latn", "nya_Latn"):
        (lonely / lang).mkdir(parents=True)
        rows = [json.loads(x) for x in (synthetic_corpus / lang / "part-00000.jsonl").open()]
        with open(lonely / lang / "part-00000.jsonl", "w") as fh:
            for row in rows:
                fh.write(json.dumps({**row, "id": f"{lang}-{row['id']}"}) + "\n")
    with pytest.raises(InputError, match="0 train and 0 test pairs with eng_Latn"):
        write_pairs(PairsConfig(input=lonely, out=tmp_path / "p", langs=["nya"]))
    assert not (tmp_path / "p").exists()

"""The standard benchmarks as data: their per-language YAML, the key each language maps to, and the records their
rows become, loaded through the product's own `load_dataset` call from local copies in each dataset's published
layout (benchmark_data.py). No model here: these tests are fast."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from benchmark_data import NER, NLI, TOPICS, belebele, flores200, sib200, tatoeba, wikiann, xnli

from polytune.config import EvalConfig, benchmark_names
from polytune.errors import ConfigError, InputError
from polytune.evaluation.benchmarks import benchmark_languages, export_benchmark, load_benchmark, resolve_languages
from polytune.evaluation.benchmarks.data import ENV, dataset_path
from polytune.langcodes import normalize

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "polytune" / "data" / "benchmarks"
# The languages each benchmark maps to a key (the datasets' configs less the few without a key of their own: see
# tools/benchmark_languages.py): SIB-200 205 - ajp_Arab, Belebele 122, FLORES-200 204 - ajp_Arab, XNLI 15,
# WikiANN 176 - be-x-old, eml, map-bms, simple, Tatoeba 112 - ber, kzj, tzl.
COUNTS = {"sib200": 204, "belebele": 122, "flores200": 203, "xnli": 15, "wikiann": 172, "tatoeba": 109}


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    for build in (sib200, belebele, flores200, xnli, wikiann, tatoeba):
        build(root / build.__name__)
    return root


def test_every_benchmark_is_a_folder_of_yaml_with_a_language_file_per_config():
    assert benchmark_names() == tuple(sorted(COUNTS))
    for name, count in COUNTS.items():
        spec = load_benchmark(name)
        keys = benchmark_languages(name)
        assert len(keys) == count, name
        configs = []
        for key in keys:
            data = yaml.safe_load((DATA / name / f"{key}.yaml").read_text(encoding="utf-8"))
            assert data["lang"] == key == normalize(key)  # a key of its own, path-safe, xxx_Scrp
            configs.append(data["config"])
        assert len(set(configs)) == len(configs), name  # no config read twice
        assert spec.source in keys or name == "tatoeba"  # the source language is a language of the benchmark


def test_the_language_files_are_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("benchmark_languages", ROOT / "tools" / "benchmark_languages.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    fresh = tool.write(tmp_path)
    for name, files in fresh.items():
        assert sorted(p.name for p in files) == sorted(f"{k}.yaml" for k in benchmark_languages(name))
        assert all(p.read_text(encoding="utf-8") == (DATA / name / p.name).read_text(encoding="utf-8") for p in files)


@pytest.mark.parametrize(("name", "asked", "key", "config"), [
    ("sib200", "nya", "nya_Latn", "nya_Latn"),
    ("sib200", "swa_Latn", "swa_Latn", "swh_Latn"),  # the macrolanguage finds its one member
    ("belebele", "zh-Hant", "zho_Hant", "zho_Hant"),
    ("flores200", "ny", "nya_Latn", "nya_Latn"),
    ("xnli", "sw", "swa_Latn", "sw"),
    ("xnli", "ara_Arab", "ara_Arab", "ar"),  # XNLI's Arabic is Modern Standard Arabic, arb_Arab
    ("wikiann", "swh_Latn", "swh_Latn", "sw"),  # and the member finds the macrolanguage
    ("wikiann", "yue", "yue_Hant", "zh-yue"),
    ("tatoeba", "cmn", "cmn_Hans", "cmn-eng"),
])  # fmt: skip
def test_a_language_finds_its_config_by_the_matching_rule(name, asked, key, config):
    entries = resolve_languages(load_benchmark(name), [asked])
    assert list(entries) == [key] and entries[key].config == config


@pytest.mark.parametrize(("name", "asked", "message"), [
    ("sib200", "ara_Arab", "ara_Arab matches several sib200 languages (acm_Arab, acq_Arab, aeb_Arab, apc_Arab, "
                           "arb_Arab, ars_Arab, ary_Arab, arz_Arab); give one of them"),
    ("xnli", "nya_Latn", "xnli has no nya_Latn; its 15 languages: arb_Arab, bul_Cyrl,"),
    ("tatoeba", "eng_Latn", "tatoeba has no eng_Latn"),
])  # fmt: skip
def test_a_language_a_benchmark_lacks_is_one_line(name, asked, message):
    with pytest.raises(ConfigError) as err:
        resolve_languages(load_benchmark(name), [asked])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_an_unknown_benchmark_says_did_you_mean():
    with pytest.raises(ConfigError, match=r"benchmark must be one of .*got 'sib-200' \(did you mean 'sib200'\?\)"):
        EvalConfig(base="b", out="o", benchmark="sib-200")
    with pytest.raises(ConfigError, match="give input .* or a benchmark"):
        EvalConfig(base="b", out="o", task_adapter="t")
    with pytest.raises(ConfigError, match="a benchmark and a suite both choose the test data"):
        EvalConfig(base="b", out="o", benchmark="xnli", suite=ROOT / "eval" / "suites")


def _records(folder: Path, lang: str, split: str = "test") -> list[dict]:
    return [json.loads(x) for x in (folder / lang / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_sib200_rows_become_records_with_topic_names_and_flores_ids(copies, tmp_path):
    out = export_benchmark("sib200", ["eng_Latn", "swa_Latn"], tmp_path, path=str(copies / "sib200"))[""]
    assert sorted(p.name for p in (out / "swa_Latn").iterdir()) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    rows = (copies / "sib200" / "data" / "swh_Latn" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]
    records = _records(out, "swa_Latn")
    assert [(r["id"], r["category"], r["text"]) for r in records] == [tuple(row.split("\t")) for row in rows]
    assert {r["category"] for r in records} == set(TOPICS) and {r["split"] for r in records} == {"test"}
    assert [r["id"] for r in _records(out, "eng_Latn")] == [r["id"] for r in records]  # one sentence, every language
    made = json.loads((tmp_path / "manifest.json").read_text())["benchmark"]
    assert made["configs"] == {"eng_Latn": "eng_Latn", "swa_Latn": "swh_Latn"} and made["hub_id"] == "Davlan/sib200"
    assert made["hub_splits"] == {"train": "train", "dev": "validation", "test": "test"}


def test_xnli_labels_are_class_names_and_the_text_holds_both_sentences(copies, tmp_path):
    out = export_benchmark("xnli", ["sw"], tmp_path, splits=["test"], path=str(copies / "xnli"))[""]
    records = _records(out, "swa_Latn")
    assert [r["label"] for r in records] == [NLI[i % 3] for i in range(len(records))]
    assert all(r["text"] == f"{r['premise']}\n{r['hypothesis']}" for r in records)


def test_wikiann_tags_are_iob2_names_one_per_token(copies, tmp_path):
    out = export_benchmark("wikiann", ["swh_Latn"], tmp_path, splits=["test"], path=str(copies / "wikiann"))[""]
    records = _records(out, "swh_Latn")
    assert all(r["text"] == r["tokens"] and len(r["ner_tags"]) == len(r["tokens"]) for r in records)
    assert {t for r in records for t in r["ner_tags"]} == {"O", "B-PER", "B-ORG", "B-LOC"} <= set(NER)


def test_belebele_keeps_every_column_and_the_answer_number(copies, tmp_path):
    out = export_benchmark("belebele", ["nya_Latn"], tmp_path, path=str(copies / "belebele"))[""]
    records = _records(out, "nya_Latn")
    assert [r["correct_answer_num"] for r in records] == [str(i % 4 + 1) for i in range(len(records))]
    assert [r["id"] for r in records] == [str(i) for i in range(len(records))]  # the question's row
    assert records[0]["ds"].startswith("2023-05-03") and records[0]["mc_answer4"]  # a timestamp becomes text


def test_flores_pairs_each_language_with_the_source_in_both_directions(copies, tmp_path):
    parts = export_benchmark("flores200", ["nya_Latn"], tmp_path, splits=["test"], path=str(copies / "flores200"))
    assert sorted(parts) == ["into_source", "into_target"]
    eng = {r["id"]: r["sentence"] for r in _records_from_parquet(copies / "flores200" / "eng_Latn")}
    nya = {r["id"]: r["sentence"] for r in _records_from_parquet(copies / "flores200" / "nya_Latn")}
    into = _records(parts["into_target"], "nya_Latn")
    assert [(r["text"], r["target"]) for r in into] == [(eng[i], nya[i]) for i in sorted(eng)]
    assert into[0]["source_name"] == "English" and into[0]["target_name"] == "Chichewa"  # names of the prompt
    back = _records(parts["into_source"], "nya_Latn")
    assert [(r["text"], r["target"], r["target_lang"]) for r in back] == [(nya[i], eng[i], "eng_Latn")
                                                                         for i in sorted(eng)]  # fmt: skip


def _records_from_parquet(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(next(folder.glob("devtest-*.parquet"))).to_pylist()


def test_tatoeba_puts_each_pair_on_both_sides_with_one_id(copies, tmp_path):
    out = export_benchmark("tatoeba", ["swh_Latn", "deu"], tmp_path, path=str(copies / "tatoeba"))[""]
    targets, english = _records(out, "swh_Latn"), _records(out, "eng_Latn")
    assert [r["id"] for r in targets] == [f"swh-eng:{i}" for i in range(10)]
    assert {r["id"] for r in english} == {f"{c}-eng:{i}" for c in ("swh", "deu") for i in range(10)}


def test_a_copy_without_a_column_of_the_benchmark_is_refused(copies, tmp_path):
    broken = tmp_path / "copy"
    sib200(broken, langs=("nya_Latn",))
    for path in (broken / "data" / "nya_Latn").glob("*.tsv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(x.replace("category", "topic", 1) for x in lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        export_benchmark("sib200", ["nya_Latn"], tmp_path / "out", path=str(broken))
    assert "config 'nya_Latn' has no column category (columns: index_id, topic, text)" in str(err.value)
    assert "Davlan/sib200" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_class_names_that_differ_from_the_benchmark_are_refused(tmp_path):
    from benchmark_data import parquet, readme
    from datasets import ClassLabel, Features, Value

    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=["yes", "maybe", "no"])})  # fmt: skip
    parquet(tmp_path / "sw" / "test-00000-of-00001.parquet", [{"premise": "a", "hypothesis": "b", "label": 0}],
             features)  # fmt: skip
    readme(tmp_path, {"sw": {"test": "sw/test-*"}})
    with pytest.raises(InputError, match=r"names its label classes \['yes', 'maybe', 'no'\], the benchmark "
                                         r"\['entailment', 'neutral', 'contradiction'\]"):  # fmt: skip
        export_benchmark("xnli", ["sw"], tmp_path / "out", splits=["test"], path=str(tmp_path))


def test_where_the_data_comes_from(copies, tmp_path, monkeypatch):
    spec = load_benchmark("sib200")
    monkeypatch.delenv(ENV, raising=False)
    assert dataset_path(spec) == "Davlan/sib200" and dataset_path(spec, "me/sib-fork") == "me/sib-fork"
    assert dataset_path(spec, str(copies / "sib200")) == str(copies / "sib200")
    monkeypatch.setenv(ENV, str(copies))
    assert dataset_path(spec) == str(copies / "sib200")  # $POLYTUNE_BENCHMARKS/<name> when it exists
    with pytest.raises(InputError, match="benchmark_path ./nowhere is not a folder"):
        dataset_path(spec, "./nowhere")


def test_offline_and_not_cached_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(InputError) as err:
        export_benchmark("xnli", ["sw"], tmp_path, splits=["test"])  # the hub, which tests cannot reach
    message = str(err.value)
    assert message.startswith("benchmark xnli: cannot load facebook/xnli config 'sw' split 'test' (")
    assert "set benchmark_path to a local copy of facebook/xnli" in message and "\n" not in message


def test_a_run_config_evaluates_on_a_benchmark(tmp_path):
    from polytune.pipeline import plan

    raw = {"workdir": str(tmp_path / "w"), "base": "some/base", "source_lang": "eng_Latn",
           "target_langs": ["nya_Latn"], "sources": {"files": {"eng_Latn": "e.txt", "nya_Latn": "n.txt"}},
           "task_adapter": {"label_field": "category"},
           "evaluation": {"benchmark": "sib200", "benchmark_path": str(tmp_path / "copy")}}  # fmt: skip
    step = plan(raw)[-1]
    assert step.function == "polytune.evaluation.benchmarks:run_benchmark"
    assert step.config.benchmark == "sib200" and step.config.langs == ["nya_Latn"]

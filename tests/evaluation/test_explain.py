"""`polytune explain`: Integrated Gradients completeness, words aligned to pieces for the three tokenizer families,
attention rollout, deterministic and atomic outputs, per-language summaries, and bad input as one line, exit 2.

A tiny BERT built from a config carries a task adapter trained for a few steps on the synthetic corpus, and a
nya_Latn language adapter on an extended tokenizer (new pieces from tests/adapters/conftest.py).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import PreTrainedTokenizerFast

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, SystemConfig, TaskAdapterConfig
from polytune.evaluation import explain_page
from polytune.evaluation.predict.attribution import baseline_ids, integrated_gradients, rollout_maps, word_pieces
from polytune.evaluation.predict.explain import ExplainConfig, explain
from polytune.models import load_classifier

TESTS = Path(__file__).resolve().parents[1]


def _conftest(name: str):
    """A sibling conftest module (tokenizer builders, the extended tokenizer) loaded by path."""
    spec = importlib.util.spec_from_file_location(f"explain_{name}", TESTS / name / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def systems(tmp_path_factory, tiny_bert, synthetic_corpus):
    root = tmp_path_factory.mktemp("explain")
    ext = _conftest("adapters").make_extended_tokenizer(tiny_bert, root / "ext")
    train_task_adapter(TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, out=root / "task",
                                         max_steps=20, batch_size=8, max_eval_records=16, learning_rate=0.005))
    train_language_adapter(LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="nya",
                                                 out=root / "la" / "nya_Latn", tokenizer=str(ext), max_steps=2,
                                                 batch_size=8, max_eval_records=8))  # fmt: skip
    return root


def _cfg(tiny_bert, corpus, root, out, **kw) -> ExplainConfig:
    options = dict(langs=["nya_Latn"], max_records=6, n_steps=16, record_ids=["B1.1.1"],
                   systems=[SystemConfig(name="task-only"),
                            SystemConfig(name="la", lang_adapter=str(root / "la" / "{lang}"))])
    return ExplainConfig(base=str(tiny_bert), task_adapter=str(root / "task"), input=corpus, out=out,
                         **{**options, **kw})  # fmt: skip


def test_ig_completeness(tiny_bert, systems):
    """Attributions sum to logit(input) - logit(baseline) of the target class: within 1e-3 of it (and 1% of it)
    with 200 Gauss-Legendre steps; the tolerance covers float32 sums over 2 layers."""
    model, tokenizer, _ = load_classifier(str(tiny_bert), systems / "task")
    enc = tokenizer(["kunandi ndi mbetha the lord said", "the king"], padding=True, return_tensors="pt",
                    return_special_tokens_mask=True)
    special = enc.pop("special_tokens_mask").bool() | (enc["attention_mask"] == 0)
    base = baseline_ids(enc["input_ids"], special, tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(**enc).logits
        base_logits = model(**{**enc, "input_ids": base}).logits
    target = logits.argmax(-1)
    attr, delta = integrated_gradients(model, dict(enc), base, target, n_steps=200, internal_batch_size=400)
    expected = (logits - base_logits).gather(1, target[:, None])[:, 0]
    assert torch.allclose(attr.sum(-1), expected, atol=1e-3, rtol=1e-2)
    assert delta.abs().max() < 1e-3
    assert (base[special] == enc["input_ids"][special]).all() and (base[~special] == tokenizer.pad_token_id).all()


def _tokenizers(tiny_bert, corpus) -> dict[str, PreTrainedTokenizerFast]:
    lines = (corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    builders = _conftest("tokenizer")
    return {
        "wordpiece": PreTrainedTokenizerFast.from_pretrained(str(tiny_bert)),
        "unigram": PreTrainedTokenizerFast(tokenizer_object=builders.unigram_tokenizer(texts)),
        "bytelevel": PreTrainedTokenizerFast(tokenizer_object=builders.byte_level_tokenizer(texts)),
    }


@pytest.mark.parametrize("family", ["wordpiece", "unigram", "bytelevel"])
def test_words_aligned_to_pieces(tiny_bert, synthetic_corpus, family):
    """Every word gets the pieces that spell it, whatever the family; a word of many pieces still gets one entry."""
    tok = _tokenizers(tiny_bert, synthetic_corpus)[family]
    text = "sonkingpeodaylord ndi  the lord, said"  # letters the English tokenizers know, in an unseen word
    enc = tok(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    words = word_pieces(text, enc["offset_mapping"], enc["special_tokens_mask"])
    assert [w for w, _ in words] == text.split()
    pieces = [p for _, positions in words for p in positions]
    non_special = [i for i, s in enumerate(enc["special_tokens_mask"]) if not s]
    assert sorted(pieces) == non_special  # every piece in exactly one word, no special token in any
    for word, positions in words:
        spelled = tok.decode([enc["input_ids"][p] for p in positions]).replace(" ", "").replace("##", "")
        assert spelled.lower() == word.lower() or "[UNK]" in spelled or "<unk>" in spelled
    assert len(words[0][1]) > 2  # the long unseen word is split in several pieces, summed into one word


def test_word_pieces_table():
    # [CLS] kuna ##ndi the [SEP]; a lone space piece belongs to the word after it.
    assert word_pieces("kunandi the", [(0, 0), (0, 4), (4, 7), (8, 11), (0, 0)], [1, 0, 0, 0, 1]) == [
        ("kunandi", [1, 2]), ("the", [3])]
    assert word_pieces("a  b", [(0, 1), (1, 2), (2, 3), (3, 4)], [0, 0, 0, 0]) == [("a", [0]), ("b", [1, 2, 3])]


def test_rollout_rows_sum_to_one():
    torch.manual_seed(0)
    layers = [torch.rand(2, 5, 5).softmax(-1) for _ in range(3)]
    result = rollout_maps(layers)
    assert torch.allclose(result.sum(-1), torch.ones(5), atol=1e-6)
    assert (result >= 0).all()


def test_explain_writes_summaries_deterministically(tmp_path, tiny_bert, synthetic_corpus, systems):
    first = explain(_cfg(tiny_bert, synthetic_corpus, systems, tmp_path / "a", rollout=True))
    written = {name: (tmp_path / "a" / name).read_bytes() for name in ("explain.json", "explain.html")}
    explain(_cfg(tiny_bert, synthetic_corpus, systems, tmp_path / "a", rollout=True))
    for name, data in written.items():
        assert (tmp_path / "a" / name).read_bytes() == data  # same inputs, same bytes
    plain, extended = first["results"]["task-only"]["nya_Latn"], first["results"]["la"]["nya_Latn"]
    assert plain["summary"]["new_vocab_share"] == 0  # the base vocabulary has no new entries
    assert 0 < extended["summary"]["new_vocab_share"] < 1  # the extension's pieces (ku, ndi, ...) carry some mass
    assert extended["base_vocab_size"] < extended["vocab_size"]
    ids = [r["id"] for r in plain["records"]]  # six spread over the split, plus the record asked for by id
    assert "B1.1.1" in ids and len(ids) == 6 + (ids.index("B1.1.1") == 6)
    grid = torch.tensor(extended["attention"]["B1.1.1"]["map"])
    assert torch.allclose(grid.sum(-1), torch.ones(len(grid)), atol=1e-5)
    for record in plain["records"]:
        total = sum(w["score"] for w in record["words"])
        assert total == pytest.approx(record["logit_diff"], abs=0.05 + 0.05 * abs(record["logit_diff"]))
    page = (tmp_path / "a" / "explain.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "<script" not in page and "http" not in page


def test_outputs_are_written_atomically(tmp_path, monkeypatch):
    """A failure while rendering leaves the previous outputs whole; nothing half-written appears beside them."""
    explanation = {"settings": {"n_steps": 4, "baseline": "pad"}, "results": {}}
    explain_page.write_outputs(tmp_path, explanation, {"seed": 0}, [])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(explain_page, "render_page", broken)
    with pytest.raises(RuntimeError):
        explain_page.write_outputs(tmp_path, {**explanation, "settings": {"n_steps": 8}}, {"seed": 0}, [])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(("extra", "message"), [
    (["--langs", "xx_bogus"], "language"),
    (["--langs", "vie_Latn"], "no vie_Latn records"),
    (["--layer", "7"], "layer 7 is out of range"),
    (["--head", "5"], "head 5 is out of range"),
    (["--record-ids", "nope"], "nope"),
])  # fmt: skip
def test_bad_input_is_one_line_exit_2(tmp_path, tiny_bert, synthetic_corpus, systems, capsys, extra, message):
    argv = ["explain", "--base", str(tiny_bert), "--task-adapter", str(systems / "task"), "--input",
            str(synthetic_corpus), "--out", str(tmp_path / "out"), "--langs", "nya_Latn", "--max-records", "2",
            "--n-steps", "2", *extra]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_not_a_classifier_is_refused(tmp_path, tiny_bert, synthetic_corpus, systems, capsys):
    meta = json.loads((systems / "task" / "manifest.json").read_text())
    fake = tmp_path / "tagger"
    fake.mkdir()
    for f in (systems / "task").iterdir():
        (fake / f.name).write_bytes(f.read_bytes())
    (fake / "manifest.json").write_text(json.dumps({**meta, "task": "token_classification"}))
    argv = ["explain", "--base", str(tiny_bert), "--task-adapter", str(fake), "--input", str(synthetic_corpus),
            "--out", str(tmp_path / "out"), "--langs", "nya_Latn"]
    assert main(argv) == 2
    assert "not a classifier" in capsys.readouterr().err

"""Aligned language adapters on the tiny BERT: learning, a frozen teacher, no test pairs, weights, determinism."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file

from polytune.adapters import train_language_adapter
from polytune.adapters.objectives.align import AlignLoss, PairCollator, contrastive, pool, states
from polytune.adapters.parallel import corpus_pairs, file_pairs, load_pairs
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig
from polytune.errors import ConfigError, InputError
from polytune.io import iter_records
from polytune.models import load_mlm, load_tokenizer
from polytune.tune.metrics import metric_for


def _cfg(base, corpus, out, **kw):
    kw = {"lang": "nya", "objective": "align", "max_steps": 25, "batch_size": 8, "learning_rate": 1e-2,
          "max_eval_records": 24, "max_train_records": 80, "align_loss": "mse", **kw}  # fmt: skip
    return LanguageAdapterConfig(base=str(base), input=corpus, out=out, **kw)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def aligned(tmp_path_factory, tiny_bert, synthetic_corpus):
    weights = tiny_bert / "model.safetensors"
    before = _sha(weights)
    out = tmp_path_factory.mktemp("align") / "nya_Latn"
    return out, train_language_adapter(_cfg(tiny_bert, synthetic_corpus, out)), before


def test_align_loss_decreases(aligned):
    out, summary, _ = aligned
    losses = json.loads((out / "manifest.json").read_text())["losses"]["train"]
    assert len(losses) == 25 and sum(losses[-5:]) < sum(losses[:5])
    assert summary["dev_loss_after"] < summary["dev_loss_before"]
    assert summary["objective"] == "align" and 0 <= summary["dev_retrieval_after"] <= 1
    # what `polytune tune` reads for its label-free retrieval metric is in an aligned adapter's summary
    assert metric_for("language_adapter", "dev_retrieval_acc1", objectives=frozenset({"align"})).final in summary


def test_align_manifest_counts_pairs(aligned):
    out, summary, _ = aligned
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["adapter"] == "language" and meta["objective"] == "align" and meta["objectives"] == {"align": 1.0}
    assert meta["source_lang"] == "eng_Latn" and meta["counts"]["excluded_test"] == 50
    assert summary["train_records"] == 80 and meta["counts"]["train_pairs"] == 140


def test_teacher_is_the_frozen_base(aligned, tiny_bert):
    from peft import PeftModel

    out, _, before = aligned
    assert _sha(tiny_bert / "model.safetensors") == before
    tokenizer = load_tokenizer(str(tiny_bert))
    batch = tokenizer(["the lord said unto the king", "son of the day"], padding=True, return_tensors="pt")
    base = load_mlm(str(tiny_bert)).eval()
    adapted = PeftModel.from_pretrained(load_mlm(str(tiny_bert)), out).eval()
    with torch.no_grad():
        expected = states(base, batch["input_ids"], batch["attention_mask"])
        with adapted.disable_adapter():
            assert torch.allclose(states(adapted, batch["input_ids"], batch["attention_mask"]), expected)
        assert not torch.allclose(states(adapted, batch["input_ids"], batch["attention_mask"]), expected, atol=1e-4)


def test_align_adapter_packs(aligned, tiny_bert, tmp_path):
    from polytune.adapters.packs import build_pack, verify_pack

    build_pack(aligned[0], tmp_path / "pack")
    assert verify_pack(tmp_path / "pack", str(tiny_bert))["base_ok"]


def test_corpus_pairs_never_touch_the_test_split(synthetic_corpus):
    pairs, counts = corpus_pairs(synthetic_corpus, "nya_Latn", "eng_Latn", ("train", "dev"))
    test_ids = {r["id"] for r in iter_records(synthetic_corpus / "eng_Latn") if r["split"] == "test"}
    used = {p["id"] for rows in pairs.values() for p in rows}
    assert used and not used & test_ids
    assert counts == {"train_pairs": 140, "dev_pairs": 50, "excluded_test": 50}


def test_pairs_file_drops_test_records(synthetic_corpus, tmp_path):
    records = {lang: [r for r in iter_records(synthetic_corpus / lang) if r["split"] == "test"][:2]
               for lang in ("eng_Latn", "nya_Latn")}  # fmt: skip
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text(f"{records['eng_Latn'][0]['text']}\tsomething new\nfresh source\t{records['nya_Latn'][1]['text']}\n"
                   "a clean source\ta clean target\n", encoding="utf-8")  # fmt: skip
    kept, counts = file_pairs(tsv, synthetic_corpus, "nya_Latn", "eng_Latn")
    assert [(p["source"], p["target"]) for p in kept] == [("a clean source", "a clean target")]
    assert counts == {"train_pairs": 1, "excluded_test": 2}
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(json.dumps({"id": records["nya_Latn"][0]["id"], "source": "x y", "target": "z w"}) + "\n"
                     + json.dumps({"source": "p q", "target": "r s"}) + "\n", encoding="utf-8")  # fmt: skip
    kept, counts = file_pairs(jsonl, synthetic_corpus, "nya_Latn", "eng_Latn")
    assert [p["target"] for p in kept] == ["r s"] and counts["excluded_test"] == 1


@pytest.mark.parametrize(
    ("text", "match"),
    [("only one field\n", "expected 'source<TAB>target'"), ("a\tb\tc\n", "got 3 field"), ("", "no translation pairs")],
)
def test_bad_pairs_file(synthetic_corpus, tmp_path, text, match):
    path = tmp_path / "bad.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        load_pairs(synthetic_corpus, "nya_Latn", "eng_Latn", path)


def test_no_source_language_is_one_clear_error(synthetic_corpus):
    with pytest.raises(InputError, match="share an id with a vie_Latn record"):
        load_pairs(synthetic_corpus, "nya_Latn", "vie_Latn", None)


def test_pool_table():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 5.0], [9.0, 9.0]]])
    attention = torch.tensor([[1, 1, 0]])
    assert pool(hidden, attention, "first").tolist() == [[1.0, 1.0]]
    assert pool(hidden, attention, "mean").tolist() == [[2.0, 3.0]]


def test_contrastive_prefers_the_true_pairs():
    vectors = torch.eye(4)
    assert float(contrastive(vectors, vectors, 0.05)) < 1e-3
    assert float(contrastive(vectors, vectors[[1, 0, 3, 2]], 0.05)) > 10


def _batch(tiny_bert, synthetic_corpus, mlm=True, seed=0):
    tokenizer = load_tokenizer(str(tiny_bert))
    texts = [r["text"] for r in iter_records(synthetic_corpus / "nya_Latn")][:6]
    ids = tokenizer(texts, truncation=True, max_length=24)["input_ids"]
    teachers = {"first": torch.randn(6, 32, generator=torch.Generator().manual_seed(1)),
                "mean": torch.randn(6, 32, generator=torch.Generator().manual_seed(2))}  # fmt: skip
    collator = PairCollator(tokenizer, teachers, mlm, 0.15, seed)
    return collator([{"input_ids": x, "pair": i, "position": i} for i, x in enumerate(ids)]), tokenizer


def test_collator_masks_each_text_and_is_seeded(tiny_bert, synthetic_corpus):
    batch, tokenizer = _batch(tiny_bert, synthetic_corpus)
    masked = batch["labels"] != -100
    assert masked.any(dim=1).all()  # every text has a masked token
    assert torch.equal(batch["labels"][masked], batch["input_ids"][masked])
    assert not torch.isin(batch["labels"][masked], torch.tensor(tokenizer.all_special_ids)).any()
    again, _ = _batch(tiny_bert, synthetic_corpus)
    assert torch.equal(again["mlm_input_ids"], batch["mlm_input_ids"])
    assert batch["teacher_mean"].shape == (6, 32)


@pytest.mark.parametrize(("align", "mlm"), [(1.0, 0.0), (0.0, 1.0), (1.0, 0.5), (2.0, 0.25)])
def test_objective_weights_mix_linearly(tiny_bert, synthetic_corpus, align, mlm):
    batch, _ = _batch(tiny_bert, synthetic_corpus)
    model = load_mlm(str(tiny_bert)).eval()

    def mean(weights):
        loss = AlignLoss(weights, ("first", "mean"), "both", 0.05)
        return float(loss.combine(loss.sums(model, batch), loss.units(batch)))

    with torch.no_grad():
        parts = {name: mean({name: 1.0}) for name in ("align", "mlm")}
        mixed = mean({"align": align, "mlm": mlm})
    assert mixed == pytest.approx(align * parts["align"] + mlm * parts["mlm"], rel=1e-5)


def test_mixed_embedding_first_is_deterministic(tmp_path, tiny_bert, synthetic_corpus, extended_tokenizer):
    kw = {"objectives": {"align": 1.0, "mlm": 0.5}, "objective": "auto", "tokenizer": str(extended_tokenizer),
          "embedding_steps": 3, "max_steps": 4, "align_loss": "both"}  # fmt: skip
    runs = [train_language_adapter(_cfg(tiny_bert, synthetic_corpus, tmp_path / f"r{i}", **kw)) for i in range(2)]
    assert runs[0]["embedding_steps"] == 3 and runs[0]["objective"] == "align+mlm" and runs[0]["new_tokens"] == 6
    first, second = (load_file(tmp_path / f"r{i}" / "adapter_model.safetensors") for i in range(2))
    assert set(first) == set(second) and all(torch.equal(first[k], second[k]) for k in first)
    assert any("trainable_tokens_delta" in k for k in first)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"objectives": {"algn": 1.0}}, "unknown objective 'algn' in objectives \\(did you mean 'align'"),
        ({"objectives": "align=1,clm=1"}, "unknown objective 'clm'"),
        ({"objectives": {"align": 0}}, "at least one weight must be positive"),
        ({"objectives": {"mlm": 1.0}}, "objective 'align' is not among objectives"),
        ({"align_loss": "cosine"}, "align_loss must be one of"),
        ({"align_pooling": "cls"}, "align_pooling must be one of"),
        ({"objective": "aling"}, "objective must be one of"),
    ],
)
def test_bad_align_config(tmp_path, tiny_bert, synthetic_corpus, kw, match):
    with pytest.raises(ConfigError, match=match):
        _cfg(tiny_bert, synthetic_corpus, tmp_path / "x", **kw)


def test_cli_unknown_objective_is_one_line_exit_2(tmp_path, tiny_bert, synthetic_corpus, capsys):
    rc = main(["adapt", "language", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--lang", "nya",
               "--out", str(tmp_path / "x"), "--objectives", "align=1,foo=0.5"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "unknown objective 'foo'" in err
    assert not (tmp_path / "x").exists()

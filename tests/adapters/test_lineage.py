"""Re-fine-tuning with lineage (`--from`): a child continues its parent's loss, its manifest names the parent,
`pack verify` prints the chain, and new data that repeats the parent's test records is refused."""

from __future__ import annotations

import json
import shutil

import pytest

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.lineage import text_hash, weights_hash
from polytune.adapters.packs import build_pack, sha256, verify_pack
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig

pytestmark = pytest.mark.slow

COMMON = {"batch_size": 8, "max_eval_records": 16, "max_length": 32, "learning_rate": 2e-2, "save_every": 0}


@pytest.fixture(scope="module")
def family(tmp_path_factory, tiny_bert, synthetic_corpus, extended_tokenizer):
    """A parent language adapter (extended vocabulary) and a child continued from it on the same data."""
    root = tmp_path_factory.mktemp("lineage")
    common = {"base": str(tiny_bert), "input": synthetic_corpus, "lang": "nya", **COMMON}
    parent = train_language_adapter(LanguageAdapterConfig(out=root / "parent", tokenizer=str(extended_tokenizer),
                                                          max_steps=30, **common))  # fmt: skip
    # A learning rate of 1e-9 leaves the weights as loaded: the child's dev loss before training is the parent's.
    child = train_language_adapter(LanguageAdapterConfig(out=root / "child", from_adapter=str(root / "parent"),
                                                         max_steps=1, **{**common, "learning_rate": 1e-9}))
    return root, parent, child


def test_the_child_continues_where_the_parent_ended_not_from_a_fresh_start(family):
    """Dev loss on the same masked dev batches: the child starts at the parent's end (its LoRA, new rows and MLM
    head loaded exactly), not at the fresh start the parent began from."""
    _, parent, child = family
    assert parent["dev_loss_before"] - parent["dev_loss_after"] > 0.1  # the parent learned: a fresh start differs
    assert child["dev_loss_before"] == pytest.approx(parent["dev_loss_after"], abs=1e-4)
    assert child["new_tokens"] == parent["new_tokens"] > 0  # the parent's new rows came along


def test_the_manifest_names_parent_data_and_changes(family, synthetic_corpus):
    root, _, _ = family
    meta = json.loads((root / "child" / "manifest.json").read_text(encoding="utf-8"))
    lineage = meta["lineage"]
    assert lineage["parent"]["hash"] == sha256(root / "parent" / "adapter_model.safetensors")
    assert lineage["changed"] == {"learning_rate": [2e-2, 1e-9], "max_steps": [30, 1],
                                  "tokenizer": [meta["lineage"]["changed"]["tokenizer"][0], None]}
    assert lineage["data_added"]["train_records"] == meta["counts"]["train_records"]
    assert [c["hash"] for c in lineage["chain"]] == [lineage["parent"]["hash"]]
    test = [json.loads(x) for x in (synthetic_corpus / "nya_Latn" / "part-00000.jsonl").read_text().splitlines()]
    test = [r for r in test if r["split"] == "test"]
    assert meta["test_records"]["ids"] == sorted(r["id"] for r in test)
    assert set(meta["test_records"]["text_hashes"]) == {text_hash(r["text"]) for r in test}


def test_pack_verify_shows_the_chain(family, tiny_bert, synthetic_corpus, capsys):
    root, _, _ = family
    build_pack(root / "child", root / "child-pack")
    train_language_adapter(LanguageAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="nya",
                                                 out=root / "grandchild", from_adapter=str(root / "child-pack"),
                                                 max_steps=2, **COMMON))  # fmt: skip
    build_pack(root / "grandchild", root / "grandchild-pack")
    chain = verify_pack(root / "grandchild-pack")["lineage"]
    assert [c["hash"] for c in chain] == [weights_hash(root / "child-pack"), weights_hash(root / "parent")]
    assert [c["status"] for c in chain] == ["verified", "verified"]
    assert main(["pack", "verify", str(root / "grandchild-pack")]) == 0
    out = capsys.readouterr().out
    assert out.count("<- parent") == 2 and weights_hash(root / "parent")[:12] in out


def test_new_data_repeating_the_parents_test_records_is_refused(family, tiny_bert, synthetic_corpus, tmp_path, capsys):
    root, _, _ = family
    corpus = tmp_path / "new"
    shutil.copytree(synthetic_corpus / "nya_Latn", corpus / "nya_Latn")
    path = corpus / "nya_Latn" / "part-00000.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    leaked = next(r for r in rows if r["split"] == "test")
    rows.append({**leaked, "id": "NEW.1.1", "split": "train", "text": leaked["text"].upper()})  # same text, new id
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code = main(["--quiet", "adapt", "language", "--base", str(tiny_bert), "--input", str(corpus), "--lang", "nya",
                 "--out", str(tmp_path / "child"), "--from", str(root / "parent"), "--max-steps", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "repeat test records of the parent" in err and "NEW.1.1" in err
    assert not (tmp_path / "child").exists()


def test_a_task_adapter_continues_its_classifier(tmp_path, tiny_bert, synthetic_corpus):
    """A child trained at lr 1e-9 predicts as its parent does (LoRA + classifier loaded); a fresh one does not."""
    import torch

    from polytune.models import load_classifier

    common = {"base": str(tiny_bert), "input": synthetic_corpus, **COMMON}
    train_task_adapter(TaskAdapterConfig(out=tmp_path / "p", max_steps=10, **common))
    low = {**common, "learning_rate": 1e-9}
    train_task_adapter(TaskAdapterConfig(out=tmp_path / "c", from_adapter=str(tmp_path / "p"), max_steps=1, **low))
    train_task_adapter(TaskAdapterConfig(out=tmp_path / "fresh", max_steps=1, **{**low, "seed": 5}))
    logits = {}
    for name in ("p", "c", "fresh"):
        model, tok, _ = load_classifier(str(tiny_bert), tmp_path / name)
        with torch.no_grad():
            logits[name] = model(**tok(["the lord said", "ku na mu"], padding=True, return_tensors="pt")).logits
    assert torch.allclose(logits["c"], logits["p"], atol=1e-4)
    assert not torch.allclose(logits["fresh"], logits["p"], atol=1e-2)
    meta = json.loads((tmp_path / "c" / "manifest.json").read_text(encoding="utf-8"))
    assert meta["lineage"]["parent"]["hash"] == weights_hash(tmp_path / "p")


def test_an_aligned_adapter_continues_with_its_rows_head_and_lineage(tmp_path, tiny_bert, synthetic_corpus,
                                                                     extended_tokenizer, capsys):  # fmt: skip
    """align + mlm with an extended vocabulary: the child (lr 1e-9) starts at the parent's dev loss, keeps its new
    rows and saved MLM head, names it in `lineage`; pairs whose target repeats a parent test record are refused."""
    common = {"base": str(tiny_bert), "input": synthetic_corpus, "lang": "nya",
              "objectives": {"align": 1.0, "mlm": 0.5}, "max_train_records": 64, **COMMON}  # fmt: skip
    parent = train_language_adapter(LanguageAdapterConfig(out=tmp_path / "parent", tokenizer=str(extended_tokenizer),
                                                          max_steps=20, **common))  # fmt: skip
    child = train_language_adapter(LanguageAdapterConfig(out=tmp_path / "child", from_adapter=str(tmp_path / "parent"),
                                                         max_steps=1, **{**common, "learning_rate": 1e-9}))
    assert parent["dev_loss_before"] - parent["dev_loss_after"] > 0.01
    assert child["dev_loss_before"] == pytest.approx(parent["dev_loss_after"], abs=1e-3)
    assert child["new_tokens"] == parent["new_tokens"] > 0 and (tmp_path / "child" / "mlm_head.safetensors").is_file()
    meta = json.loads((tmp_path / "child" / "manifest.json").read_text(encoding="utf-8"))
    assert meta["lineage"]["parent"]["hash"] == weights_hash(tmp_path / "parent")
    assert meta["objectives"] == {"align": 1.0, "mlm": 0.5} and meta["test_records"]["ids"]

    corpus = tmp_path / "new"
    shutil.copytree(synthetic_corpus, corpus)
    path = corpus / "nya_Latn" / "part-00000.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    leaked = next(r for r in rows if r["split"] == "test")
    english = next(r for r in (json.loads(x) for x in (corpus / "eng_Latn" / "part-00000.jsonl").read_text(
        encoding="utf-8").splitlines()) if r["split"] == "train")  # fmt: skip
    rows.append({**leaked, "id": english["id"], "split": "train"})  # a test text paired under a train id
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code = main(["--quiet", "adapt", "language", "--base", str(tiny_bert), "--input", str(corpus), "--lang", "nya",
                 "--objective", "align", "--out", str(tmp_path / "leaky"), "--from", str(tmp_path / "parent"),
                 "--max-steps", "1", "--max-train-records", "100000"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "repeat test records of the parent" in err
    assert not (tmp_path / "leaky").exists()

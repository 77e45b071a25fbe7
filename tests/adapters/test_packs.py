"""Language packs: build, verify, load through load_classifier; corrupt, extra and foreign-base packs are refused."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.adapters.packs import build_pack, verify_pack
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig
from polytune.errors import ModelError
from polytune.models import config_hash, load_classifier


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_bert, synthetic_corpus, extended_tokenizer):
    root = tmp_path_factory.mktemp("pack")
    common = {"base": str(tiny_bert), "input": synthetic_corpus, "batch_size": 8, "max_eval_records": 16}
    train_language_adapter(
        LanguageAdapterConfig(lang="nya", out=root / "la", tokenizer=str(extended_tokenizer), max_steps=5, **common)
    )
    train_task_adapter(TaskAdapterConfig(out=root / "task", max_steps=3, **common))
    build_pack(root / "la", root / "pack")
    return root


def test_pack_holds_files_hashes_rows_and_base(adapters, tiny_bert, extended_tokenizer):
    pack = adapters / "pack"
    meta = json.loads((pack / "manifest.json").read_text())
    info = meta["pack"]
    assert info["format"] == "polytune-pack/1"
    assert info["base_config_hash"] == config_hash(str(tiny_bert)) and info["base"] == str(tiny_bert)
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "extension.json",
            "new_rows.safetensors"} <= set(info["files"])
    assert meta["adapter"] == "language" and meta["lang"] == "nya_Latn"
    rows = load_file(pack / "new_rows.safetensors")
    added = json.loads((extended_tokenizer / "extension.json").read_text())["added"]
    assert rows["ids"].tolist() == [a["id"] for a in added] and rows["rows"].shape == (len(added), 32)
    assert verify_pack(pack, str(tiny_bert))["base_ok"] is True


def test_pack_build_is_deterministic(adapters, tmp_path):
    build_pack(adapters / "la", tmp_path / "again")
    for name in json.loads((adapters / "pack" / "manifest.json").read_text())["pack"]["files"]:
        assert (tmp_path / "again" / name).read_bytes() == (adapters / "pack" / name).read_bytes(), name


def test_pack_loads_like_its_adapter(adapters, tiny_bert):
    import torch

    texts = ["ndi kuchita chinthu", "the word of the lord"]
    outputs = []
    for la in (adapters / "la", adapters / "pack"):
        model, tok, _ = load_classifier(str(tiny_bert), adapters / "task", la)
        with torch.no_grad():
            outputs.append(model(**tok(texts, padding=True, return_tensors="pt")).logits)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: (p / "tokenizer.json").write_text("{}"), "does not match its sha256"),
        (lambda p: (p / "new_rows.safetensors").unlink(), "new_rows.safetensors is missing"),
        (lambda p: (p / "stray.bin").write_bytes(b"x"), "stray.bin is not part of the pack"),
    ],
)
def test_damaged_pack_is_refused(adapters, tmp_path, tiny_bert, damage, match):
    pack = shutil.copytree(adapters / "pack", tmp_path / "pack")
    damage(pack)
    with pytest.raises(ModelError, match=match):
        verify_pack(pack)
    with pytest.raises(ModelError, match=match):  # loading verifies too
        load_classifier(str(tiny_bert), adapters / "task", pack)


def test_pack_on_another_base_names_both_hashes(adapters, tmp_path, tiny_bert):
    other = shutil.copytree(tiny_bert, tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    config["intermediate_size"] = config["intermediate_size"] * 2
    (other / "config.json").write_text(json.dumps(config))
    ours, theirs = config_hash(str(tiny_bert)), config_hash(str(other))
    with pytest.raises(ModelError, match=f"config hash {ours}.*config hash {theirs}"):
        verify_pack(adapters / "pack", str(other))


def test_pack_of_a_task_adapter_is_refused(adapters, tmp_path):
    with pytest.raises(ModelError, match="only language adapters are packed"):
        build_pack(adapters / "task", tmp_path / "p")


def test_cli_pack_build_and_verify(adapters, tmp_path, tiny_bert, capsys):
    assert main(["pack", "build", str(adapters / "la"), "--out", str(tmp_path / "p")]) == 0
    assert "new rows" in capsys.readouterr().out
    assert main(["pack", "verify", str(tmp_path / "p"), "--base", str(tiny_bert)]) == 0
    assert "files verified; matches base" in capsys.readouterr().out
    (tmp_path / "p" / "adapter_config.json").write_text("{}")
    assert main(["pack", "verify", str(tmp_path / "p")]) == 2
    assert "adapter_config.json does not match" in capsys.readouterr().err

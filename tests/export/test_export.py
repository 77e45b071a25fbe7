"""`polytune export` on a tiny llama built from a config, with a byte-level BPE tokenizer trained here.

The language adapter and the causal_lm task adapter are trained by polytune itself (a few steps: enough to move
every LoRA matrix and the new rows away from zero). The reference the export must match is peft computing the
adapters on the fly (unmerged), so a wrong merge, a lost new row or a bad save shows up as a logit difference.

Tolerances (float32 throughout): the merged folder vs peft unmerged within 1e-4 (merging reorders float sums);
the GGUF in F32 read back by transformers within 1e-5 (the same numbers, q/k rows permuted and back); in F16
within 0.05 (weights rounded to 11 significant bits; measured 6.2e-3 here; merged vs unmerged 4.3e-6, F32 0.0).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from polytune.adapters import train_language_adapter, train_task_adapter
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, TaskAdapterConfig, TokenizerExtendConfig
from polytune.errors import ModelError
from polytune.export import export_model
from polytune.export.gguf_llama import vocabulary
from polytune.tokenizer import extend_tokenizer

MERGED_TOL, GGUF_F32_TOL, GGUF_F16_TOL = 1e-4, 1e-5, 5e-2
CHAT = "{% for m in messages %}<|endoftext|>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
NYA = ["mulungu analenga zakumwamba ndi dziko", "kuna ndi mundu wa kuchita", "the lord said unto the king"]


def _texts(corpus, lang):
    lines = (corpus / lang / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines]


def _llama(folder, texts, tied, kind="llama"):
    """A 2-layer decoder (4 query heads over 2 key/value heads) over a byte-level BPE tokenizer of `texts`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHAT
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    ids = {"bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(fast), n_embd=32, n_layer=1, n_head=2, **ids))
    else:
        config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                             initializer_range=0.2, tie_word_embeddings=tied, **ids)
        model = LlamaForCausalLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def bases(tmp_path_factory, synthetic_corpus):
    """A tied llama (as SmolLM2), an untied one, and a GPT-2, all over English-only byte-level BPE."""
    root = tmp_path_factory.mktemp("bases")
    texts = [r["text"] for r in _texts(synthetic_corpus, "eng_Latn")]
    return {"tied": _llama(root / "tied", texts, tied=True), "untied": _llama(root / "untied", texts, tied=False),
            "gpt2": _llama(root / "gpt2", texts, tied=True, kind="gpt2")}


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, synthetic_corpus, bases):
    """On the tied llama: an extended tokenizer (Chichewa pieces), a language adapter with new rows, and a
    causal_lm task adapter."""
    root = tmp_path_factory.mktemp("adapters")
    base = str(bases["tied"])
    extend_tokenizer(TokenizerExtendConfig(base=base, input=synthetic_corpus, out=root / "tok", langs=["nya_Latn"],
                                           add=24, vocab_size=200))
    la = root / "la"
    train_language_adapter(LanguageAdapterConfig(
        base=base, input=synthetic_corpus, out=la, lang="nya", tokenizer=str(root / "tok"), max_steps=6,
        batch_size=8, learning_rate=5e-2, max_eval_records=16, target_modules=["q_proj", "k_proj", "v_proj"]))
    answers = root / "answers"
    (answers / "eng_Latn").mkdir(parents=True)
    rows = [{**r, "answer": "so be it"} for r in _texts(synthetic_corpus, "eng_Latn")]
    (answers / "eng_Latn" / "part-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = root / "task"
    train_task_adapter(TaskAdapterConfig(
        base=base, input=answers, out=task, task="causal_lm", label_field="answer", prompt="{text}\nAnswer:",
        max_steps=6, batch_size=8, learning_rate=5e-2, max_eval_records=16,
        target_modules=["q_proj", "o_proj", "down_proj"]))
    return {"tok": root / "tok", "la": la, "task": task}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, bases, adapters):
    root = tmp_path_factory.mktemp("exported")
    full = export_model(str(bases["tied"]), root / "full", lang_adapter=adapters["la"],
                        task_adapter=adapters["task"], gguf="f32")
    la_only = export_model(str(bases["tied"]), root / "la", lang_adapter=adapters["la"], gguf="f16")
    return {"full": root / "full", "la": root / "la", "summary": full, "la_summary": la_only}


def _ids(folder):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    return tok(NYA, return_tensors="pt", padding=True)


def _logits(model, batch):
    import torch

    with torch.no_grad():
        return model(**batch).logits.float()


def _unmerged(base, la, task=None):
    """peft's own composition without merging the last adapter: the reference for the merged export."""
    from peft import PeftModel

    from polytune.models import load_clm, merge_language_adapter, resize_embeddings

    model = load_clm(str(base))
    if task is None:  # the language adapter itself stays unmerged
        from polytune.models import load_tokenizer

        resize_embeddings(model, len(load_tokenizer(str(la))))
        return PeftModel.from_pretrained(model, str(la)).eval()
    model, _ = merge_language_adapter(model, str(base), la)
    return PeftModel.from_pretrained(model, str(task)).eval()


def test_new_pieces_are_in_the_exported_tokenizer_with_their_ids(exported, adapters):
    from transformers import AutoTokenizer

    added = json.loads((adapters["tok"] / "extension.json").read_text())["added"]
    tok = AutoTokenizer.from_pretrained(exported["full"])
    assert len(added) >= 5 and all(tok.convert_tokens_to_ids(a["token"]) == a["id"] for a in added)
    batch = _ids(exported["full"])
    base_size = json.loads((adapters["tok"] / "extension.json").read_text())["base_vocab_size"]
    assert int(batch["input_ids"].max()) >= base_size  # the test texts use new pieces
    assert exported["summary"]["new_tokens"] == len(tok) - base_size > 0
    assert tok.chat_template == CHAT  # the base's template carried over


@pytest.mark.parametrize("which", ["full", "la"])
def test_exported_logits_equal_the_unmerged_composition(exported, bases, adapters, which):
    from transformers import AutoModelForCausalLM

    reference = _unmerged(bases["tied"], adapters["la"], adapters["task"] if which == "full" else None)
    batch = _ids(exported[which])
    ours = AutoModelForCausalLM.from_pretrained(exported[which]).eval()
    plain = AutoModelForCausalLM.from_pretrained(bases["tied"]).eval()
    diff = float((_logits(ours, batch) - _logits(reference, batch)).abs().max())
    assert diff <= MERGED_TOL, diff
    # ...and the adapters changed something: the same ids through the bare base (new rows clipped) differ a lot
    known = batch["input_ids"].clamp(max=plain.config.vocab_size - 1)
    moved = float((_logits(ours, batch)[..., : plain.config.vocab_size]
                   - _logits(plain, {"input_ids": known, "attention_mask": batch["attention_mask"]})).abs().max())
    assert moved > 100 * MERGED_TOL


def test_exported_folder_loads_with_transformers_alone(exported, tmp_path):
    import numpy as np
    from transformers import AutoModelForCausalLM

    code = textwrap.dedent(f"""
        import json, sys
        import numpy as np, torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tok = AutoTokenizer.from_pretrained({str(exported["full"])!r})
        model = AutoModelForCausalLM.from_pretrained({str(exported["full"])!r}).eval()
        batch = tok({NYA!r}, return_tensors="pt", padding=True)
        with torch.no_grad():
            np.save({str(tmp_path / "logits.npy")!r}, model(**batch).logits.numpy())
        print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & {{"peft", "polytune"}})))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    ours = AutoModelForCausalLM.from_pretrained(exported["full"]).eval()
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), _logits(ours, _ids(exported["full"])).numpy(),
                               atol=1e-6)
    files = {p.name for p in exported["full"].iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "manifest.json", "gguf"} <= files
    assert not any(name.endswith((".bin", ".pt")) for name in files)
    record = json.loads((exported["full"] / "manifest.json").read_text())
    assert record["stage"] == "export" and len(record["lang_adapter"]["weights_sha256"]) == 64
    assert record["gguf"]["type"] == "F32" and record["task_adapter"]["path"].endswith("task")


@pytest.mark.parametrize("which,name,tol", [("full", "model-f32.gguf", GGUF_F32_TOL),
                                            ("la", "model-f16.gguf", GGUF_F16_TOL)])
def test_gguf_round_trips_through_transformers(exported, which, name, tol):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = exported[which]
    back = AutoModelForCausalLM.from_pretrained(folder / "gguf", gguf_file=name, dtype=torch.float32).eval()
    tok_back = AutoTokenizer.from_pretrained(folder / "gguf", gguf_file=name)
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok_back(NYA)["input_ids"] == tok(NYA)["input_ids"]  # new pieces and merges survive
    assert tok_back.get_vocab() == tok.get_vocab() and tok_back.chat_template == CHAT
    batch = _ids(folder)
    ours = AutoModelForCausalLM.from_pretrained(folder).eval()
    diff = float((_logits(back, batch) - _logits(ours, batch)).abs().max())
    assert diff <= tol, diff


def test_untied_llama_gguf_writes_its_output_matrix(bases, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    export_model(str(bases["untied"]), tmp_path / "out", gguf="f32")
    back = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "gguf", gguf_file="model-f32.gguf",
                                                dtype=torch.float32)
    ours = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert not back.config.tie_word_embeddings
    assert torch.equal(back.lm_head.weight, ours.lm_head.weight)
    batch = _ids(tmp_path / "out")
    assert float((_logits(back.eval(), batch) - _logits(ours.eval(), batch)).abs().max()) <= GGUF_F32_TOL


def _refused(args, tmp_path, capsys, match):
    out = tmp_path / "out"
    assert main(["export", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))  # nothing half-written


def test_missing_adapter_folder_is_one_line(bases, tmp_path, capsys):
    _refused(["--base", str(bases["tied"]), "--lang-adapter", str(tmp_path / "nope")], tmp_path, capsys,
             "language adapter folder not found")


def test_adapter_made_on_another_base_is_refused(bases, adapters, tmp_path, capsys):
    _refused(["--base", str(bases["untied"]), "--lang-adapter", str(adapters["la"])], tmp_path, capsys,
             "was made for base")
    _refused(["--base", str(bases["untied"]), "--task-adapter", str(adapters["task"])], tmp_path, capsys,
             "was made for base")


def test_non_decoder_and_non_llama_bases_are_refused(tiny_bert, bases, tmp_path, capsys):
    _refused(["--base", str(tiny_bert), "--gguf"], tmp_path, capsys, "writes decoder (causal-LM) models")
    _refused(["--base", str(bases["gpt2"]), "--gguf"], tmp_path, capsys, "llama-architecture decoders")


def test_a_folder_that_is_not_an_export_is_never_replaced(bases, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="not a polytune export"):
        export_model(str(bases["tied"]), mine)
    assert (mine / "notes.txt").read_text() == "keep me"


def test_cli_prints_the_folder_and_a_rerun_replaces_the_export(bases, adapters, tmp_path, capsys):
    out = tmp_path / "served"
    for _ in range(2):
        assert main(["export", "--base", str(bases["tied"]), "--lang-adapter", str(adapters["la"]),
                     "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"exported: {out}" in printed and "new tokens" in printed and "GGUF" not in printed
    assert not (out / "gguf").exists()


def test_permute_puts_rotary_halves_in_llama_cpp_order():
    import numpy as np

    from polytune.export.gguf_llama import permute

    rows = np.arange(8, dtype=np.float32)[:, None]  # two heads of four rows
    assert permute(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_vocabulary_pads_spare_rows_and_refuses_ids_beyond_them(bases):
    import gguf
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bases["tied"])
    tokens, types, merges = vocabulary(tok, len(tok) + 2)
    assert tokens[-2:] == [f"[PAD{len(tok)}]", f"[PAD{len(tok) + 1}]"] and types[-1] == gguf.TokenType.UNUSED
    assert tokens[0] == "<|endoftext|>" and types[0] == gguf.TokenType.CONTROL and merges and " " in merges[0]
    with pytest.raises(ModelError, match="only 10 embedding rows"):
        vocabulary(tok, 10)

"""Language adapters for encoder-decoders: the denoising objective (span corruption), its collator, and an
encoder-decoder language adapter composed under a seq2seq task adapter, end to end through `polytune eval`.

The tiny T5s are built from configs over word-level tokenizers (tests/adapters/test_task_types.py); one has T5's
sentinels `<extra_id_N>` in its vocabulary, the other none (so it trains by span deletion).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from tests.adapters.test_task_types import (  # noqa: F401  (fixtures used by name)
    _eval,
    _word_tokenizer,
    _write,
    answer_corpus,
    generators,
    t5_adapter,
)

from polytune.adapters import train_language_adapter
from polytune.adapters.objectives.denoise import DenoiseCollator, corrupt, noise_mask, sentinel_ids
from polytune.cli.main import main
from polytune.config import LanguageAdapterConfig, SystemConfig
from polytune.errors import ConfigError

KINGS = ("david", "saul", "solomon")
SENTINELS = tuple(f"<extra_id_{i}>" for i in range(8))
T5_MODULES = ["q", "k", "v", "o", "wi", "wo"]


# ---------------------------------------------------------------- the corruption itself (fast)


@pytest.mark.parametrize(
    "mode, fill, expected",
    [
        ("sentinel", [99, 98], ([5, 99, 7, 98, 1], [99, 6, 98, 8, 1])),
        ("mask", [4], ([5, 4, 7, 4, 1], [5, 6, 7, 8, 1])),
        ("delete", [], ([5, 7, 1], [5, 6, 7, 8, 1])),
    ],
)
def test_corrupt_table(mode, fill, expected):
    assert corrupt([5, 6, 7, 8], [False, True, False, True], mode, 1, fill) == expected


def test_corrupt_joins_adjacent_noise_into_one_span():
    assert corrupt([5, 6, 7, 8], [False, True, True, False], "sentinel", 1, [99]) == ([5, 99, 8, 1], [99, 6, 7, 1])


@pytest.mark.parametrize("length", [1, 2, 3, 10, 31, 64])
@pytest.mark.parametrize("density, mean", [(0.15, 3.0), (0.5, 1.0), (0.3, 8.0)])
def test_noise_mask_density_and_spans(length, density, mean):
    gen = torch.Generator().manual_seed(length)
    mask = noise_mask(length, density, mean, gen, max_spans=100)
    assert len(mask) == length and any(mask)
    if length > 1:
        assert not all(mask) and not mask[0]  # kept tokens first, as in T5
        assert sum(mask) == min(max(1, round(length * density)), length - 1)
    starts = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
    assert starts == max(1, min(round(sum(mask) / mean), sum(mask), length - sum(mask))) or length == 1
    assert noise_mask(length, density, mean, torch.Generator().manual_seed(length), 100) == mask  # seeded


def test_noise_mask_caps_spans_at_the_sentinels():
    mask = noise_mask(200, 0.5, 1.0, torch.Generator().manual_seed(0), max_spans=3)
    assert sum(1 for i, m in enumerate(mask) if m and not mask[i - 1]) == 3


class _Tok:
    """The two things the collator reads off a tokenizer."""

    def __init__(self, vocab: dict[str, int], mask_token_id=None):
        self.vocab, self.mask_token_id = vocab, mask_token_id

    def get_vocab(self):
        return self.vocab


@pytest.mark.parametrize(
    "vocab, mask_id, mode",
    [({"a": 5, "<extra_id_0>": 90, "<extra_id_1>": 89}, None, "sentinel"), ({"a": 5}, 4, "mask"), ({"a": 5}, None,
                                                                                                     "delete")],
)  # fmt: skip
def test_collator_picks_the_scheme_the_tokenizer_allows(vocab, mask_id, mode):
    collator = DenoiseCollator(_Tok(vocab, mask_id), 0.15, 3.0, 0, eos=1, pad=0)
    assert collator.mode == mode
    assert sentinel_ids(_Tok(vocab)) == ([90, 89] if mode == "sentinel" else [])


def test_corruption_depends_on_the_example_not_its_batch_and_labels_pad_with_ignore():
    """Each text is corrupted from a generator seeded by its stream position: the same text at the same position is
    corrupted alike in a batch of four or alone (what 2 processes of 2 vs 1 process of 4 need), and the positions
    of the batch draw different spans (the texts are identical here, so only the draws differ)."""
    tok = _Tok({"<extra_id_0>": 99, "<extra_id_1>": 98, "<extra_id_2>": 97})
    examples = [{"input_ids": list(range(10, 24)), "position": p} for p in (0, 1, 2, 3)]
    collator = DenoiseCollator(tok, 0.3, 2.0, 7, eos=1, pad=0)
    together = collator(examples)
    for row, example in enumerate(examples):
        alone = collator([example])
        width = int(alone["attention_mask"].sum())
        assert torch.equal(together["input_ids"][row, :width], alone["input_ids"][0, :width])
    assert len({tuple(row.tolist()) for row in together["input_ids"]}) > 1
    labels = together["labels"]
    assert (labels[0, labels[0] != -100] != 0).all()
    again = DenoiseCollator(tok, 0.3, 2.0, 8, eos=1, pad=0)(examples)  # another seed, other draws
    assert not torch.equal(again["input_ids"], together["input_ids"])


def test_denoise_config_keys_are_checked():
    with pytest.raises(ConfigError, match="objective"):
        LanguageAdapterConfig(input="in.jsonl", out="out", base="x", lang="eng", objective="denoising")
    with pytest.raises(ConfigError, match="mean_span_length"):
        LanguageAdapterConfig(
            input="in.jsonl", out="out", base="x", lang="eng", objective="denoise", mean_span_length=0
        )


# ---------------------------------------------------------------- training on tiny T5s (slow)


@pytest.fixture(scope="module")
def kings(tmp_path_factory) -> tuple[Path, Path]:
    """A corpus of one sentence pattern (learnable reconstruction) and a 1-layer T5 with sentinels over its words."""
    from transformers import T5Config, T5ForConditionalGeneration

    rng, rows = random.Random(0), []
    for i in range(96):
        rows.append({"id": f"k{i}", "text": f"and king {rng.choice(KINGS)} said unto the people of israel",
                     "split": "dev" if i % 6 == 0 else "train"})  # fmt: skip
    root = tmp_path_factory.mktemp("kings")
    corpus = _write(root / "corpus", rows)
    tok = _word_tokenizer(root / "t5", [r["text"] for r in rows] + [" ".join(SENTINELS)])
    torch.manual_seed(0)
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=1, num_heads=2,
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, initializer_factor=3.0)  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(root / "t5")
    return corpus, root / "t5"


def _extend(base: Path, out: Path, words: list[str]) -> Path:
    """The base word-level tokenizer plus `words`, with extension.json (each new word's base ids: <unk>)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    data = json.loads((base / "tokenizer.json").read_text(encoding="utf-8"))
    vocab, added = data["model"]["vocab"], []
    size = len(vocab)
    for word in words:
        vocab[word] = len(vocab)
        added.append({"id": vocab[word], "token": word, "piece": word, "base_ids": [2], "saved": 1})
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), pad_token="<pad>",
                                  eos_token="</s>", unk_token="<unk>", bos_token="<s>")  # fmt: skip
    tok.save_pretrained(out)
    extension = {"base": str(base), "base_vocab_size": size, "family": "wordlevel", "vocab_size": len(tok),
                 "added": added}  # fmt: skip
    (out / "extension.json").write_text(json.dumps(extension), encoding="utf-8")
    return out


@pytest.mark.slow
def test_denoise_loss_falls_and_new_rows_train(kings, tmp_path):
    """auto picks denoise for T5; sentinel span corruption of a fixed pattern is learned; the new rows train."""
    from safetensors.torch import load_file

    corpus, t5 = kings
    tokenizer = _extend(t5, tmp_path / "tok", ["jerusalem", "zion"])
    rows = [json.loads(x) for x in (corpus / "eng_Latn" / "part-00000.jsonl").open()]
    for r in rows:  # the new words in the text, so their rows get gradients
        r["text"] = r["text"].replace("israel", "zion jerusalem")
    corpus = _write(tmp_path / "corpus", rows)
    out = tmp_path / "la"
    s = train_language_adapter(LanguageAdapterConfig(
        base=str(t5), input=corpus, lang="eng", out=out, tokenizer=str(tokenizer), max_steps=24, batch_size=16,
        learning_rate=3e-2, target_modules=T5_MODULES, max_eval_records=16))  # fmt: skip
    assert s["objective"] == "denoise" and s["new_tokens"] == 2
    assert s["dev_loss_after"] < 0.3 * s["dev_loss_before"], s
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["objective"] == "denoise" and meta["losses"]["train_last"] < meta["losses"]["train_first"]
    weights = load_file(str(out / "adapter_model.safetensors"))
    rows = [v for k, v in weights.items() if "token_adapter" in k or "trainable_tokens" in k]
    assert rows and any(float(v.abs().sum()) > 0 for v in rows), sorted(weights)
    lora = [k for k in weights if "lora_A" in k]  # LoRA on both stacks, cross-attention included
    assert any(k.startswith("base_model.model.encoder.") for k in lora)
    assert any("decoder." in k and "EncDecAttention" in k for k in lora)


@pytest.mark.slow
def test_encdec_language_adapter_under_a_seq2seq_task_adapter(
    generators, t5_adapter, answer_corpus, tmp_path  # noqa: F811 (fixtures imported from test_task_types)
):  # fmt: skip
    """A T5 without sentinels or mask token trains by span deletion; merged under the seq2seq task adapter it
    changes the outputs, and `polytune eval` reports its BLEU/chrF deltas against task-only."""
    from polytune.models import load_task_model

    la = tmp_path / "la" / "eng_Latn"
    s = train_language_adapter(LanguageAdapterConfig(
        base=str(generators["t5"]), input=answer_corpus, lang="eng", out=la, max_steps=4, batch_size=8,
        learning_rate=1e-2, max_eval_records=8, target_modules=["q", "v"]))  # fmt: skip
    assert s["objective"] == "denoise"
    ids = torch.tensor([[4, 5, 6, 7]])
    logits = {}
    for name, path in (("task-only", None), ("la", la)):
        model, _, labels, meta = load_task_model(str(generators["t5"]), t5_adapter[0], path)
        assert meta["task"] == "seq2seq" and labels is None
        logits[name] = model(input_ids=ids, decoder_input_ids=torch.tensor([[0, 4]])).logits
    assert not torch.allclose(logits["task-only"], logits["la"])
    systems = [SystemConfig(name="task-only"), SystemConfig(name="la", lang_adapter=str(tmp_path / "la" / "{lang}"))]
    report = _eval(generators["t5"], t5_adapter[0], answer_corpus, tmp_path / "eval", systems, max_records=6,
                   max_new_tokens=8)  # fmt: skip
    assert report["systems"] == ["task-only", "la"] and report["metrics"][:2] == ["bleu", "chrf"]
    deltas = report["results"]["eng_Latn"]["deltas"]["la"]
    assert "bleu" in deltas and "chrf" in deltas
    rows = [json.loads(x) for x in (tmp_path / "eval" / "predictions" / "la" / "eng_Latn.jsonl").open()]
    assert len(rows) == 6 and all(isinstance(r["pred"], str) for r in rows)


@pytest.mark.slow
def test_cli_language_adapter_takes_target_modules_and_objective(kings, tmp_path, capsys):
    """`adapt language --target-modules`: modules the base lacks are one error line; T5's own names train."""
    corpus, t5 = kings
    argv = ["--quiet", "adapt", "language", "--base", str(t5), "--input", str(corpus), "--lang", "eng", "--out",
            str(tmp_path / "la"), "--max-steps", "2", "--batch-size", "4", "--max-train-records", "8"]  # fmt: skip
    assert main([*argv, "--target-modules", "query", "value"]) == 2  # BERT's names: a T5 has no such modules
    # The one line is the last: transformers' "Loading weights" bar reaches stderr before it despite --quiet.
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("polytune: error:") and "check target_modules" in last and not (tmp_path / "la").exists()
    assert main([*argv, "--target-modules", "q", "o", "--objective", "denoise"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("language adapter eng_Latn: 2 steps (denoise)") and "dev loss" in line
    config = json.loads((tmp_path / "la" / "adapter_config.json").read_text())
    assert sorted(config["target_modules"]) == ["o", "q"]

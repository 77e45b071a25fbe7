"""The probes on real (tiny) models: masked-LM and next-token losses against hand computation, seeded masks,
embeddings, and `polytune eval --retrieval --intrinsic` end to end with and without a task adapter."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")

from polytune.config import EvalConfig, SystemConfig  # noqa: E402
from polytune.evaluation.predict.lm import (  # noqa: E402
    clm_losses,
    draw_masks,
    embed,
    load_lm,
    masked_losses,
    mlm_losses,
)


def make_lang_adapter(base, out, seed=0, new_tokens=()):
    """A language adapter as `polytune adapt language` saves one (LoRA on the MLM model, tokenizer, manifest), with
    random non-zero LoRA weights so it changes the model: training one is not what these tests are about.
    `new_tokens` extend the vocabulary, their rows trainable as polytune trains them (peft trainable tokens)."""
    from peft import LoraConfig, get_peft_model

    from polytune.models import config_hash, load_mlm, load_tokenizer, tokenizer_hash

    torch.manual_seed(seed)
    model, tokenizer = load_mlm(str(base)), load_tokenizer(str(base))
    new_ids = None
    if new_tokens:
        tokenizer.add_tokens(list(new_tokens))
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        new_ids = tokenizer.convert_tokens_to_ids(list(new_tokens))
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False,
                        trainable_token_indices=new_ids)  # fmt: skip
    get_peft_model(model, config).save_pretrained(str(out), save_embedding_layers=False)
    tokenizer.save_pretrained(str(out))
    meta = {"adapter": "language", "base": str(base), "base_config_hash": config_hash(str(base)),
            "tokenizer_hash": tokenizer_hash(tokenizer)}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(meta), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def lm(tiny_bert):
    return load_lm(str(tiny_bert))


TEXTS = ["the lord said unto the king", "and the people", "son of the day and the king of peo ple"]


def test_mlm_loss_equals_hand_computed_cross_entropy(lm):
    model, tokenizer, objective = lm
    assert objective == "mlm"
    ids = tokenizer(TEXTS)["input_ids"]
    masks = [[1, 3], [2], [1, 2, 5]]
    got = masked_losses(model, ids, masks, tokenizer.mask_token_id, tokenizer.pad_token_id, batch_size=2)
    for row, positions, (nll, n) in zip(ids, masks, got, strict=True):
        masked = torch.tensor([[tokenizer.mask_token_id if j in positions else t for j, t in enumerate(row)]])
        logp = torch.log_softmax(model(input_ids=masked).logits[0].detach().double(), -1)
        expected = -sum(float(logp[j, row[j]]) for j in positions)
        assert n == len(positions) and nll == pytest.approx(expected, rel=1e-5)


def test_seeded_masks_skip_special_tokens_and_cover_every_record(lm):
    _, tokenizer, _ = lm
    enc = tokenizer(TEXTS + ["day"], return_special_tokens_mask=True)
    draw = [draw_masks(enc["input_ids"], enc["special_tokens_mask"], 0.15, torch.Generator().manual_seed(s))
            for s in (5, 5, 6)]  # fmt: skip
    assert draw[0] == draw[1] and draw[0] != draw[2]
    for positions, flags in zip(draw[0], enc["special_tokens_mask"], strict=True):
        assert positions and all(not flags[p] for p in positions)


def test_mlm_losses_do_not_depend_on_the_batch_size(lm):
    model, tokenizer, _ = lm
    one = mlm_losses(model, tokenizer, TEXTS, 0.3, seed=1, batch_size=1, max_length=32)
    three = mlm_losses(model, tokenizer, TEXTS, 0.3, seed=1, batch_size=3, max_length=32)
    assert [n for _, n in one] == [n for _, n in three]
    assert [x for x, _ in one] == pytest.approx([x for x, _ in three], rel=1e-5)


def test_clm_loss_scores_every_token_after_a_start_token_and_counts_bytes(tiny_bert):
    """The decoder probe: NLL of every token of the text after the tokenizer's start token (so a base and an extended
    tokenizer score the same text), the model's own loss times the tokens, and the UTF-8 bytes covered."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from polytune.models import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_bert))
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2)).eval()
    got = clm_losses(model, tokenizer, TEXTS, batch_size=2, max_length=32)
    start = tokenizer.cls_token_id  # a BERT tokenizer: no bos or eos
    for text, (nll, n, size) in zip(TEXTS, got, strict=True):
        ids = torch.tensor([[start, *tokenizer(text, add_special_tokens=False)["input_ids"]]])
        assert n == ids.shape[1] - 1 and size == len(text.encode("utf-8"))
        assert nll == pytest.approx(float(model(input_ids=ids, labels=ids).loss.detach()) * n, rel=1e-5)
    text = "in the beginning god created the heaven"
    truncated = clm_losses(model, tokenizer, [text], 1, max_length=3)
    kept = tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:2])  # the text two tokens hold
    assert truncated[0][1] == 2 and truncated[0][2] == len(kept.encode("utf-8")) < len(text)


def test_embeddings_pool_the_chosen_layer_whatever_the_batch(lm):
    model, tokenizer, _ = lm
    a = embed(model, tokenizer, TEXTS, layer=1, batch_size=1, max_length=32)
    b = embed(model, tokenizer, TEXTS, layer=1, batch_size=3, max_length=32)
    assert a.shape == (3, 32) and a == pytest.approx(b, abs=1e-5)
    enc = tokenizer(TEXTS[:1], return_tensors="pt")
    states = model.bert(**enc, output_hidden_states=True).hidden_states[2]
    last = embed(model, tokenizer, TEXTS[:1], layer=2, batch_size=1, max_length=32)
    assert last[0] == pytest.approx(states[0].mean(0).detach().numpy(), abs=1e-5)


@pytest.fixture(scope="module")
def corpus_with_gaps(tmp_path_factory, synthetic_corpus):
    """The synthetic corpus with three English test verses removed: their nya/ara counterparts have no pair."""
    root = tmp_path_factory.mktemp("gaps") / "corpus"
    shutil.copytree(synthetic_corpus, root)
    path = root / "eng_Latn" / "part-00000.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    gone = [r["id"] for r in rows if r["split"] == "test"][:3]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] not in gone), encoding="utf-8")
    return root


def probe_config(base, corpus, out, adapters, **kw):
    systems = [SystemConfig(name="base"), SystemConfig(name="la", lang_adapter=str(adapters / "{lang}")),
               SystemConfig(name="vocab+la", lang_adapter=str(adapters / "ext" / "{lang}"))]  # fmt: skip
    options = dict(langs=["nya_Latn", "ara_Arab"], retrieval=True, intrinsic=True, source_lang="eng_Latn",
                   bootstrap=200, max_records=30, systems=systems, baseline="base")  # fmt: skip
    return EvalConfig(base=str(base), input=corpus, out=out, **{**options, **kw})


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("la")
    for i, lang in enumerate(["nya_Latn", "ara_Arab"]):
        make_lang_adapter(tiny_bert, root / lang, seed=i)
        make_lang_adapter(tiny_bert, root / "ext" / lang, seed=i, new_tokens=["kuna", "ndimu", "الله"])
    return root


@pytest.mark.slow
def test_probes_alone_score_a_language_adapter_without_task_adapter(tmp_path, tiny_bert, corpus_with_gaps, adapters):
    from polytune.evaluation.run import run_eval

    report = run_eval(probe_config(tiny_bert, corpus_with_gaps, tmp_path / "a", adapters, max_records=None))
    assert report["metrics"] == [] and report["systems"] == ["base", "la", "vocab+la"]
    retrieval = report["retrieval"]
    assert retrieval["layer"] == 1 and retrieval["n_layers"] == 2 and retrieval["source_lang"] == "eng_Latn"
    for lang in ("nya_Latn", "ara_Arab"):
        r = retrieval["results"][lang]
        assert r["skipped"] == 3 and r["n"] == 47  # 50 test verses, 3 without their English verse
        for system in ("base", "la", "vocab+la"):
            for measure in ("t2s@1", "t2s@10", "s2t@1", "s2t@10"):
                entry = r["scores"][system][measure]
                assert entry["ci"][0] <= entry["score"] <= entry["ci"][1]
        assert set(r["deltas"]["la"]) == set(r["deltas"]["vocab+la"]) == {"t2s@1", "t2s@10", "s2t@1", "s2t@10"}
        intrinsic = report["intrinsic"]["results"][lang]
        assert intrinsic["n"] == 50 and intrinsic["scores"]["base"]["loss"] != intrinsic["scores"]["la"]["loss"]
        assert intrinsic["tokens"]["base"] == intrinsic["tokens"]["la"]  # one vocabulary: the same masked tokens
        assert "loss" in intrinsic["deltas"]["vocab+la"]
    md = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    assert "## Retrieval acc@1, target → eng_Latn" in md and "## Intrinsic: LM loss" in md
    again = run_eval(probe_config(tiny_bert, corpus_with_gaps, tmp_path / "b", adapters, max_records=None))
    for kind in ("retrieval", "intrinsic"):
        for name in ("base/nya_Latn.jsonl", "la/ara_Arab.jsonl"):
            first = (tmp_path / "a" / "probes" / kind / name).read_text()
            assert first == (tmp_path / "b" / "probes" / kind / name).read_text()
    assert again["intrinsic"]["average"] == report["intrinsic"]["average"]


@pytest.mark.slow
def test_probes_sit_beside_task_metrics(tmp_path, tiny_bert, synthetic_corpus, adapters):
    from polytune.adapters import train_task_adapter
    from polytune.config import TaskAdapterConfig
    from polytune.evaluation.run import run_eval

    task = tmp_path / "task"
    train_task_adapter(TaskAdapterConfig(base=str(tiny_bert), input=synthetic_corpus, lang="eng_Latn", out=task,
                                         max_steps=2))  # fmt: skip
    cfg = probe_config(tiny_bert, synthetic_corpus, tmp_path / "rep", adapters, task_adapter=str(task),
                       intrinsic=False, max_records=12)  # fmt: skip
    report = run_eval(cfg)
    assert report["metrics"] == ["accuracy", "macro_f1"] and "retrieval" in report and "intrinsic" not in report
    assert report["retrieval"]["results"]["nya_Latn"]["n"] == 12
    cfg = probe_config(tiny_bert, synthetic_corpus, tmp_path / "rep", adapters, task_adapter=str(task),
                       retrieval=False, intrinsic=False, max_records=12)  # fmt: skip
    assert "retrieval" not in run_eval(cfg)  # the probes of the earlier run are gone, not reported again


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--source-lang", "swh"], "source language swh_Latn is not in the corpus"),
        (["--source-lang", "eng", "--retrieval-layer", "3"], "retrieval_layer 3 is out of range"),
        (["--source-lang", "eng", "--retrieval-depth", "1.5"], "retrieval_depth must be"),
        ([], "retrieval needs source_lang"),
    ],
)
def test_bad_probe_input_exits_2_with_one_line(tmp_path, tiny_bert, synthetic_corpus, capsys, extra, message):
    from polytune.cli import main

    argv = ["eval", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out", str(tmp_path / "rep"),
            "--langs", "nya", "--retrieval", *extra]  # fmt: skip
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("polytune: error:") and message in err[0]
    assert not (tmp_path / "rep").exists()


def test_eval_without_task_adapter_or_probe_is_a_config_error(tmp_path, tiny_bert, synthetic_corpus, capsys):
    from polytune.cli import main

    argv = ["eval", "--base", str(tiny_bert), "--input", str(synthetic_corpus), "--out", str(tmp_path / "rep")]
    assert main.main(argv) == 2
    assert "--task-adapter (or --retrieval / --intrinsic)" in capsys.readouterr().err

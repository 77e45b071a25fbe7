"""Task adapters beyond classification: token classification (NER), seq2seq and causal-LM generation, end to end.

Tiny models are built from configs (a 2-layer BERT, a 1-layer T5 and GPT-2) with tokenizers trained on synthetic
text; the tasks are learnable patterns (entity names -> tags, a fixed answer), so training must beat the
untrained start and decoding must give the expected strings.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from polytune.adapters import train_task_adapter
from polytune.adapters.data import align_labels, causal_dataset, pad_collator, words_and_tags
from polytune.cli.main import main
from polytune.config import EvalConfig, TaskAdapterConfig
from polytune.errors import ConfigError, InputError
from polytune.evaluation.predict.tasks import generate_causal, generate_seq2seq
from polytune.evaluation.run import run_eval
from polytune.evaluation.scoring import choose_metrics
from polytune.prompts import decoder_special_ids, prompt_ids

ANSWER = "so be it amen"  # four words: BLEU needs a 4-gram to be non-zero
PEOPLE, SURNAMES, PLACES = ("Ashley", "Gideon", "Ruth"), ("Fordson", "Hale"), ("Sidon", "Gath", "Shiloh")
WORDS = ("the", "lord", "said", "unto", "king", "people", "day", "and", "of", "son")


def _write(root: Path, rows: list[dict]) -> Path:
    (root / "eng_Latn").mkdir(parents=True, exist_ok=True)
    with open(root / "eng_Latn" / "part-00000.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    return root


def _ner_rows(n: int = 240, seed: int = 0) -> list[dict]:
    """Sentences of plain words with a person (B-PER [I-PER]) and a place (B-LOC) at random positions."""
    rng, rows = random.Random(seed), []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 8))]
        tags = ["O"] * len(words)
        person = [rng.choice(PEOPLE)] + ([rng.choice(SURNAMES)] if rng.random() < 0.5 else [])
        at = rng.randint(0, len(words))
        words[at:at] = person
        tags[at:at] = ["B-PER"] + ["I-PER"] * (len(person) - 1)
        at = rng.randint(0, len(words))
        words.insert(at, rng.choice(PLACES))
        tags.insert(at, "B-LOC")
        split = "test" if i % 6 == 0 else "dev" if i % 6 == 1 else "train"
        rows.append({"id": f"s{i}", "text": " ".join(words), "ner_tags": tags, "split": split})
    return rows


@pytest.fixture(scope="module")
def ner_corpus(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("ner"), _ner_rows())


# Whole words, and pieces that split some names and the alignment example into several subwords.
PIECES = ("ashley", "gideon", "ruth", "ford", "##son", "hale", "sid", "##on", "gath", "shi", "##loh", "king", "##s",
          "##day", "lord", "##ple")  # fmt: skip


@pytest.fixture(scope="module")
def ner_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT over a fixed WordPiece vocabulary (a trained one orders tied pieces differently per run)."""
    import string

    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    letters = [*string.ascii_lowercase, *(f"##{c}" for c in string.ascii_lowercase)]
    names = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *PIECES, *letters]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(names)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.BertPreTokenizer(), decoders.WordPiece()
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                             cls_token="[CLS]", mask_token="[MASK]")  # fmt: skip
    folder = tmp_path_factory.mktemp("ner_bert")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def answer_corpus(tmp_path_factory, synthetic_corpus) -> Path:
    """The synthetic English verses, each with the fixed answer in an `answer` field."""
    lines = (synthetic_corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    return _write(tmp_path_factory.mktemp("answers"), [{**json.loads(x), "answer": ANSWER} for x in lines])


def _word_tokenizer(folder: Path, texts: list[str]):
    """A T5-style word-level tokenizer (<pad> 0, </s> 1, <unk> 2, <s> 3; '</s>' appended) over the words of `texts`.

    Word-level and built from a sorted vocabulary, so it is the same in every run (a trained Unigram is not).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for t in texts for w in t.split()})
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", "<s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.WhitespaceSplit(), decoders.WordPiece(prefix="##")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   bos_token="<s>")  # fmt: skip
    fast.save_pretrained(folder)
    return fast


@pytest.fixture(scope="module")
def generators(tmp_path_factory, answer_corpus) -> dict[str, Path]:
    """A 1-layer T5 and a 1-layer GPT-2 over one word-level tokenizer. A larger init than the default lets logits of
    so tiny a model get confident (GPT-2's std 0.02 with a tied head caps every logit near 0)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    lines = (answer_corpus / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(x)["text"] + f"\nAnswer: {ANSWER}" for x in lines]
    root = tmp_path_factory.mktemp("generators")
    out = {}
    for kind in ("t5", "gpt2"):
        tok = _word_tokenizer(root / kind, texts)
        torch.manual_seed(0)
        if kind == "t5":
            config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=1, num_heads=2,
                              decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                              initializer_factor=3.0)  # fmt: skip
            T5ForConditionalGeneration(config).save_pretrained(root / kind)
        else:
            config = GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, initializer_range=0.3,
                                bos_token_id=3, eos_token_id=1, pad_token_id=0)  # fmt: skip
            GPT2LMHeadModel(config).save_pretrained(root / kind)
        out[kind] = root / kind
    return out


# ---------------------------------------------------------------- data: alignment, labels, validation (fast)


def test_first_subword_alignment_table(ner_bert):
    """Hand-checked: 'Kingsday' splits into king ##s ##day; only 'king' carries B-PER; specials get -100."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ner_bert)
    words, tags = ["Kingsday", "said", "unto", "Lordple", "."], ["B-PER", "O", "O", "B-LOC", "O"]
    enc = tok(words, is_split_into_words=True)
    ids = {"O": 0, "B-LOC": 1, "B-PER": 2}
    labels = align_labels(enc.word_ids(), [ids[t] for t in tags])
    table = list(zip(tok.convert_ids_to_tokens(enc["input_ids"]), labels, strict=True))
    assert table == [("[CLS]", -100), ("king", 2), ("##s", -100), ("##day", -100), ("said", 0), ("unto", 0),
                     ("lord", 1), ("##ple", -100), ("[UNK]", 0), ("[SEP]", -100)]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "scheme", "match"),
    [
        ({"id": "r7", "text": "Ann sang", "tags": ["B-PER"]}, "IOB2", "record r7: 2 words .* but 1 tags"),
        ({"id": "r8", "text": "Ann sang", "tags": ["S-PER", "O"]}, "IOB2", "record r8: tag 'S-PER' is not IOB2"),
        ({"id": "r9", "text": "Ann sang", "tags": ["PER", "O"]}, "BIOES", "tag 'PER' is not BIOES"),
        ({"id": "r10", "text": "Ann sang", "tags": "B-PER O"}, "IOB2", "must be a list of strings"),
    ],
)
def test_tagging_records_are_checked(record, scheme, match):
    with pytest.raises(InputError, match=match):
        words_and_tags(record, "text", "tags", scheme)


def test_bioes_and_pre_split_words_pass():
    record = {"words": ["Ann", "Lee", "sang"], "tags": ["B-PER", "E-PER", "O"]}
    assert words_and_tags(record, "words", "tags", "BIOES") == (["Ann", "Lee", "sang"], ["B-PER", "E-PER", "O"])


def test_causal_labels_cover_the_answer_only(generators):
    """Prompt tokens (and bos) are -100; the labels spell the answer followed by eos."""
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(generators["gpt2"])
    bos, eos, pad = decoder_special_ids(tok, AutoConfig.from_pretrained(generators["gpt2"]))
    assert (bos, eos, pad) == (3, 1, 0)
    prompt = prompt_ids(tok, "the lord said\nAnswer:", bos)
    data = causal_dataset(tok, [prompt], [ANSWER], eos, max_length=64)
    ids, labels = data[0]["input_ids"], data[0]["labels"]
    assert ids[: len(prompt)] == prompt and labels[: len(prompt)] == [-100] * len(prompt)
    assert labels[len(prompt) :] == ids[len(prompt) :] and labels[-1] == eos
    assert tok.decode(labels[len(prompt) :], skip_special_tokens=True) == ANSWER
    batch = pad_collator(pad)([data[0], {"input_ids": [5, 6], "labels": [-100, 6]}])
    assert batch["labels"][1].tolist() == [-100, 6] + [-100] * (len(ids) - 2)
    assert batch["attention_mask"][1].sum() == 2 and batch["input_ids"][1, 2:].eq(pad).all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"task": "seq2sq"}, "did you mean 'seq2seq'"),
        ({"task": "token_classification", "tag_scheme": "BIOSE"}, "did you mean 'BIOES'"),
        ({"task": "causal_lm", "prompt": "Answer:"}, "needs {field} placeholders"),
        ({"task": "seq2seq", "class_weights": "w.json"}, "class_weights weigh labels of classification"),
    ],
)
def test_task_config_errors(tiny_bert, kw, match):
    with pytest.raises(ConfigError, match=match):
        TaskAdapterConfig(input="in.jsonl", out="out", base=str(tiny_bert), **kw)


def test_eval_generation_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="num_beams must be a positive number"):
        EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path, num_beams=0)
    with pytest.raises(ConfigError, match="no_repeat_ngram_size must be a whole number"):
        EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path, no_repeat_ngram_size=2.5)
    for bad in (0, -1.2, "1.2", True):
        with pytest.raises(ConfigError, match="repetition_penalty must be a number above 0"):
            EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path, repetition_penalty=bad)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {"do_sample": False, "num_beams": 1, "max_new_tokens": 8, "pad_token_id": 0, "eos_token_id": 1}),
        ({"repetition_penalty": 1.0}, {}),
        ({"repetition_penalty": 1.3}, {"repetition_penalty": 1.3}),
        ({"no_repeat_ngram_size": 3}, {"no_repeat_ngram_size": 3}),
        ({"num_beams": 4, "length_penalty": 0.6}, {"num_beams": 4, "length_penalty": 0.6}),
    ],
)
def test_generation_options_table(tmp_path, settings, expected):
    from polytune.models.generation import generation_options

    cfg = EvalConfig(base="b", task_adapter="t", input=tmp_path, out=tmp_path, max_new_tokens=8, **settings)
    options = generation_options(cfg, 0, 1)
    assert {k: options[k] for k in expected} == expected
    assert ("repetition_penalty" in options) == (settings.get("repetition_penalty", 1.0) != 1.0)


def test_repetition_penalty_breaks_a_greedy_loop(generators):
    """The tiny GPT-2 loops under greedy decoding; a penalty makes it repeat fewer of the tokens it already wrote."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(generators["gpt2"])
    model = AutoModelForCausalLM.from_pretrained(generators["gpt2"]).eval()
    prompts = ["the lord said unto the people", "and the son of the king said\nAnswer:"]
    settings = dict(batch_size=2, max_length=32, num_beams=1, max_new_tokens=12, length_penalty=1.0,
                    no_repeat_ngram_size=0)  # fmt: skip
    plain = generate_causal(model, tok, prompts, SimpleNamespace(**settings))
    penalized = generate_causal(model, tok, prompts, SimpleNamespace(**settings, repetition_penalty=5.0))

    def repeats(texts):
        return sum(len(t.split()) - len(set(t.split())) for t in texts)

    assert repeats(plain) > 0 and repeats(penalized) < repeats(plain), (plain, penalized)


def test_choose_metrics_by_task_and_for_long_unspaced_text():
    aligned = {"cmn_Hans": {"labels": ["我们明天一起去北京看望朋友和家人，然后回到上海继续工作和学习。"], "preds": {}}}
    assert choose_metrics(aligned)[:2] == ["bleu", "chrf"]
    assert choose_metrics({"x": {"labels": ["yes", "no"], "preds": {}}}, task="causal_lm")[:2] == ["bleu", "chrf"]
    assert choose_metrics({"x": {"labels": ["yes", "no"], "preds": {}}}) == ["accuracy", "macro_f1"]


# ---------------------------------------------------------------- bad input through the CLI: exit 2, one line


def _adapt(base, corpus, out, *extra):
    return ["--quiet", "adapt", "task", "--base", str(base), "--input", str(corpus), "--out", str(out),
            "--max-steps", "2", "--batch-size", "4", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("which", "extra", "match"),
    [
        ("bert", ["--task", "seq2seq", "--label-field", "answer"], "needs an encoder-decoder base .* bert"),
        ("t5", ["--task", "causal_lm", "--label-field", "answer"], "needs a decoder-only base .* t5"),
        ("bert", ["--task", "token_classification", "--label-field", "answer"], "must be a list of strings"),
        ("bert", ["--task", "token_clasification"], "did you mean 'token_classification'"),
    ],
)
def test_adapt_bad_task_input_exits_2(tmp_path, capsys, tiny_bert, generators, answer_corpus, which, extra, match):
    base = tiny_bert if which == "bert" else generators[which]
    assert main(_adapt(base, answer_corpus, tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and __import__("re").search(match, err), err
    assert not (tmp_path / "out").exists()


def test_ner_record_with_mismatched_tags_is_named(tmp_path, capsys, tiny_bert):
    rows = _ner_rows(12)
    rows[2]["ner_tags"] = rows[2]["ner_tags"][:-1]  # a train record (i % 6 == 2)
    corpus = _write(tmp_path / "c", rows)
    assert main(_adapt(tiny_bert, corpus, tmp_path / "out", "--task", "token_classification",
                       "--label-field", "ner_tags")) == 2  # fmt: skip
    assert "record s2:" in capsys.readouterr().err and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- generation mechanics on untrained bases (fast)


def _greedy_by_hand(model, input_ids, eos, steps, encoder_decoder):
    """Reference greedy decoding: append the argmax token until eos or `steps` tokens."""
    import torch

    with torch.no_grad():
        if encoder_decoder:
            out = [model.config.decoder_start_token_id]
            for _ in range(steps):
                logits = model(input_ids=torch.tensor([input_ids]), decoder_input_ids=torch.tensor([out])).logits
                out.append(int(logits[0, -1].argmax()))
                if out[-1] == eos:
                    break
            return out[1:]
        out = list(input_ids)
        for _ in range(steps):
            out.append(int(model(input_ids=torch.tensor([out])).logits[0, -1].argmax()))
            if out[-1] == eos:
                break
        return out[len(input_ids) :]


@pytest.mark.parametrize("kind", ["t5", "gpt2"])
def test_batched_greedy_equals_one_by_one_and_a_hand_loop(generators, kind):
    """Left/right padding in batches changes nothing; num_beams=1 is greedy decoding."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(generators[kind])
    loader = AutoModelForSeq2SeqLM if kind == "t5" else AutoModelForCausalLM
    model = loader.from_pretrained(generators[kind]).eval()
    prompts = ["the lord said unto the people", "king", "and the son of the king said\nAnswer:"]
    settings = dict(max_length=32, num_beams=1, max_new_tokens=6, length_penalty=1.0, no_repeat_ngram_size=0)
    run = generate_seq2seq if kind == "t5" else generate_causal
    batched = run(model, tok, prompts, SimpleNamespace(batch_size=3, **settings))
    assert batched == run(model, tok, prompts, SimpleNamespace(batch_size=1, **settings))
    for prompt, text in zip(prompts, batched, strict=True):
        ids = tok(prompt)["input_ids"] if kind == "t5" else prompt_ids(tok, prompt, tok.bos_token_id)
        expected = _greedy_by_hand(model, ids, 1, 6, kind == "t5")
        assert text == tok.decode(expected, skip_special_tokens=True).strip()
    beams = run(model, tok, prompts, SimpleNamespace(batch_size=3, **{**settings, "num_beams": 3}))
    assert len(beams) == 3 and all(isinstance(t, str) for t in beams)


# ---------------------------------------------------------------- trained adapters, end to end (slow)


def _task_cfg(base, corpus, out, **kw):
    kw = {"max_steps": 40, "batch_size": 16, "learning_rate": 3e-2, "max_eval_records": 32, **kw}
    return TaskAdapterConfig(base=str(base), input=corpus, out=out, **kw)


def _eval(base, adapter, corpus, out, systems=None, **kw):
    cfg = EvalConfig(base=str(base), task_adapter=str(adapter), input=corpus, out=out, langs=["eng_Latn"],
                     systems=systems or [], bootstrap=50, batch_size=8, **kw)  # fmt: skip
    return run_eval(cfg)


@pytest.fixture(scope="module")
def ner_adapter(tmp_path_factory, ner_bert, ner_corpus):
    out = tmp_path_factory.mktemp("ner_adapter") / "ner"
    cfg = _task_cfg(ner_bert, ner_corpus, out, task="token_classification", label_field="ner_tags",
                    learning_rate=1e-1)  # fmt: skip
    return out, train_task_adapter(cfg)


@pytest.mark.slow
def test_ner_adapter_learns_the_tags(ner_adapter):
    out, s = ner_adapter
    assert s["labels"] == ["O", "B-LOC", "B-PER", "I-PER"]
    assert s["dev_loss_after"] < 0.5 * s["dev_loss_before"]
    # Untrained, the head tags at random: about a quarter of the tags right and an entity F1 near 0.
    assert s["dev_f1"] > 0.85 and s["dev_tag_accuracy"] > 0.95
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["task"] == "token_classification" and meta["tag_scheme"] == "IOB2"
    assert json.loads((out / "labels.json").read_text()) == s["labels"]


@pytest.mark.slow
def test_ner_eval_writes_one_tag_per_word_and_scores_entity_f1(ner_adapter, ner_bert, ner_corpus, tmp_path):
    report = _eval(ner_bert, ner_adapter[0], ner_corpus, tmp_path)  # label field and task from the manifest
    rows = [json.loads(x) for x in (tmp_path / "predictions" / "task-only" / "eng_Latn.jsonl").open()]
    assert len(rows) == 40 and all(len(r["pred"]) == len(r["label"]) for r in rows)
    source = {r["id"]: r for r in _ner_rows()}
    assert all(len(r["pred"]) == len(source[r["id"]]["text"].split()) for r in rows)
    assert report["metrics"][0] == "ner_f1"
    assert report["results"]["eng_Latn"]["scores"]["task-only"]["ner_f1"]["score"] > 80


@pytest.fixture(scope="module")
def t5_adapter(tmp_path_factory, generators, answer_corpus):
    out = tmp_path_factory.mktemp("t5_adapter") / "s2s"
    cfg = _task_cfg(generators["t5"], answer_corpus, out, task="seq2seq", label_field="answer", learning_rate=5e-2,
                    target_modules=["q", "k", "v", "o", "wi", "wo"])  # fmt: skip
    return out, train_task_adapter(cfg)


@pytest.fixture(scope="module")
def gpt2_adapter(tmp_path_factory, generators, answer_corpus):
    out = tmp_path_factory.mktemp("gpt2_adapter") / "clm"
    cfg = _task_cfg(generators["gpt2"], answer_corpus, out, task="causal_lm", label_field="answer",
                    prompt="{text}\nAnswer:", target_modules=["c_attn", "c_proj", "c_fc"])  # fmt: skip
    return out, train_task_adapter(cfg)


# Known since polytune's own training loop replaced Trainer (2026-12-01): the tiny T5 halves its dev loss but
# answers "so be so be ..." (also at lr 1e-2 x 80 steps); GPT-2 still answers exactly. Open, under investigation.
T5_EXACT = pytest.mark.xfail(reason="tiny T5 seq2seq answers not exact after the loop rewrite (issue 13 note)",
                             strict=False)


@pytest.mark.slow
@pytest.mark.parametrize("which", [pytest.param("t5", marks=T5_EXACT), "gpt2"])
def test_generation_adapter_learns_and_eval_scores_bleu_chrf(which, t5_adapter, gpt2_adapter, generators,
                                                             answer_corpus, tmp_path):  # fmt: skip
    out, s = t5_adapter if which == "t5" else gpt2_adapter
    assert s["dev_loss_after"] < 0.5 * s["dev_loss_before"]
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["task"] == ("seq2seq" if which == "t5" else "causal_lm") and not (out / "labels.json").exists()
    report = _eval(generators[which], out, answer_corpus, tmp_path, max_records=12, max_new_tokens=8)
    rows = [json.loads(x) for x in (tmp_path / "predictions" / "task-only" / "eng_Latn.jsonl").open()]
    assert all(r["label"] == ANSWER for r in rows) and sum(r["pred"] == ANSWER for r in rows) >= 10
    assert report["metrics"][:2] == ["bleu", "chrf"]
    scores = report["results"]["eng_Latn"]["scores"]["task-only"]
    assert scores["chrf"]["score"] > 80 and scores["bleu"]["score"] > 80


@pytest.mark.slow
def test_cli_eval_beam_search_on_a_causal_adapter(gpt2_adapter, generators, answer_corpus, tmp_path, capsys):
    rc = main(
        [
            "--quiet",
            "eval",
            "--base",
            str(generators["gpt2"]),
            "--task-adapter",
            str(gpt2_adapter[0]),
            "--input",
            str(answer_corpus),
            "--out",
            str(tmp_path),
            "--langs",
            "eng_Latn",
            "--max-records",
            "6",
            "--num-beams",
            "3",
            "--max-new-tokens",
            "8",
            "--no-repeat-ngram-size",
            "3",
            "--bootstrap",
            "20",
        ]
    )
    assert rc == 0 and "bleu" in capsys.readouterr().out  # fmt: skip
    manifest = json.loads((tmp_path / "predictions" / "manifest.json").read_text())
    assert manifest["task"] == "causal_lm" and manifest["config"]["num_beams"] == 3


@pytest.mark.slow
def test_language_adapter_composes_under_a_generation_task_adapter(gpt2_adapter, generators, answer_corpus, tmp_path):
    """A decoder's CLM language adapter is merged under the causal task adapter, as for classifiers (MAD-X)."""
    import torch

    from polytune.adapters import train_language_adapter
    from polytune.config import LanguageAdapterConfig, SystemConfig
    from polytune.models import load_task_model

    la = tmp_path / "la" / "eng_Latn"
    train_language_adapter(LanguageAdapterConfig(
        base=str(generators["gpt2"]), input=answer_corpus, lang="eng", out=la, max_steps=4, batch_size=8,
        learning_rate=1e-2, max_eval_records=8, target_modules=["c_attn"]))  # fmt: skip
    ids = torch.tensor([[4, 5, 6, 7]])
    logits = {
        name: load_task_model(str(generators["gpt2"]), gpt2_adapter[0], path)[0](input_ids=ids).logits
        for name, path in (("task-only", None), ("la", la))
    }
    assert not torch.allclose(logits["task-only"], logits["la"])  # the language adapter's LoRA is in
    systems = [SystemConfig(name="task-only"), SystemConfig(name="la", lang_adapter=str(tmp_path / "la" / "{lang}"))]
    report = _eval(generators["gpt2"], gpt2_adapter[0], answer_corpus, tmp_path / "eval", systems, max_records=6)
    assert report["systems"] == ["task-only", "la"] and "chrf" in report["results"]["eng_Latn"]["deltas"]["la"]


def test_cli_adapt_causal_task_prints_dev_loss_and_keeps_the_prompt(tmp_path, capsys, generators, answer_corpus):
    out = tmp_path / "clm"
    rc = main(_adapt(generators["gpt2"], answer_corpus, out, "--task", "causal_lm", "--label-field", "answer",
                     "--prompt", "{text}\\nAnswer:", "--target-modules", "c_attn"))  # fmt: skip
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("task adapter (answer, causal_lm, eng_Latn): 2 steps") and "dev loss" in line
    meta = json.loads((out / "manifest.json").read_text())
    assert meta["prompt"] == "{text}\nAnswer:" and meta["special_ids"] == {"bos": 3, "eos": 1, "pad": 0}


@pytest.mark.parametrize("kind", ["t5", "gpt2"])
def test_own_loss_equals_the_models_loss_and_smoothing_raises_it(generators, kind):
    """The custom loss (used for label smoothing) shifts causal labels and feeds seq2seq labels as the model does."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from polytune.adapters.losses import TokenCrossEntropy, batch_mean
    from polytune.adapters.objectives.lm import CausalLMLoss

    loader = AutoModelForSeq2SeqLM if kind == "t5" else AutoModelForCausalLM
    model = loader.from_pretrained(generators[kind]).eval()
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]),
        "labels": torch.tensor([[-100, 6, 7, 1], [11, 1, -100, -100]]),
    }
    options = {"feed_labels": True} if kind == "t5" else {"shift": True}
    with torch.no_grad():
        ours = batch_mean(TokenCrossEntropy(None, 0.0, **options), model, batch)
        smoothed = batch_mean(TokenCrossEntropy(None, 0.1, **options), model, batch)
        assert torch.allclose(ours, model(**batch).loss, atol=1e-5)
        if kind == "gpt2":  # the language adapters' fast path: the output layer on labeled positions only
            assert torch.allclose(batch_mean(CausalLMLoss(), model, batch), model(**batch).loss, atol=1e-5)
    assert not torch.allclose(smoothed, ours)  # smoothing enters the loss

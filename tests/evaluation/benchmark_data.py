"""Small local copies of the six benchmarks in each dataset's published layout (the hub repository's files: a
README.md whose `configs:` name each config's data files per split, and the files themselves: TSV for SIB-200,
JSONL for Belebele, parquet with the `datasets` features for FLORES-200, XNLI, WikiANN and Tatoeba), so the tests
load them through the very `load_dataset` call the product makes. Nothing is downloaded; the text is synthetic.

The layouts follow the dataset cards polytune's definitions cite (`version:` in each _benchmark.yaml): columns,
config names, split names and class-label names are the hub's; only the number of rows is small.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import yaml

SYLLABLES = {
    "eng": ["the", "and", "lord", "said", "un", "to", "king", "of", "peo", "ple", "ing", "ed", "son", "day"],
    "nya": ["ku", "na", "mu", "lu", "ngu", "ndi", "wa", "ka", "nda", "mbe", "chi", "zi", "ye", "tha"],
    "swh": ["ha", "ki", "ta", "wa", "ni", "mba", "ya", "za", "li", "ma", "ku", "pa", "shi", "ndu"],
}
TOPICS = ["entertainment", "geography", "health", "politics", "science/technology", "sports", "travel"]
NER = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
NLI = ["entailment", "neutral", "contradiction"]


def sentence(rng: random.Random, lang: str, n: int = 8, marker: str = "") -> str:
    syl = SYLLABLES[lang[:3]]
    words = ["".join(rng.choice(syl) for _ in range(rng.randint(1, 3))) for _ in range(n)]
    return " ".join(([marker] if marker else []) + words)


def readme(root: Path, configs: dict[str, dict[str, str]], info: list[dict[str, Any]] | None = None) -> None:
    """README.md with the `configs:` block load_dataset reads (config -> {split: data file pattern})."""
    meta: dict[str, Any] = {"configs": [{"config_name": name, "data_files": [{"split": s, "path": p}
                                                                              for s, p in splits.items()]}
                                        for name, splits in configs.items()]}  # fmt: skip
    if info:
        meta["dataset_info"] = info
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n# local copy\n",
                                    encoding="utf-8")  # fmt: skip


def parquet(path: Path, rows: list[dict[str, Any]], features: Any) -> None:
    from datasets import Dataset

    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows, features=features).to_parquet(str(path))


def sib200(root: Path, langs=("eng_Latn", "nya_Latn", "swh_Latn"), n_test: int = 14, n_train: int = 28) -> Path:
    """Davlan/sib200: data/<config>/{train,dev,test}.tsv (splits train, validation, test), columns index_id,
    category, text. Each topic has a marker word per language, so a classifier can learn it."""
    configs = {}
    for lang in langs:
        rng = random.Random(lang)
        markers = {t: f"{SYLLABLES[lang[:3]][i]}{SYLLABLES[lang[:3]][-1 - i]}" for i, t in enumerate(TOPICS)}
        sizes = {"train": n_train, "dev": 7, "test": n_test}
        offset = {"train": 0, "dev": 1000, "test": 2000}
        for split, n in sizes.items():
            lines = ["index_id\tcategory\ttext"]
            for i in range(n):
                topic = TOPICS[i % len(TOPICS)]
                lines.append(f"{offset[split] + i}\t{topic}\t{sentence(rng, lang, marker=markers[topic])}")
            path = root / "data" / lang / f"{split}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        configs[lang] = {"train": f"data/{lang}/train.tsv", "validation": f"data/{lang}/dev.tsv",
                         "test": f"data/{lang}/test.tsv"}  # fmt: skip
    readme(root, configs)
    return root


def belebele(root: Path, langs=("eng_Latn", "nya_Latn"), n: int = 8) -> Path:
    """facebook/belebele: data/<config>.jsonl as split test; link, question_number, flores_passage, question,
    mc_answer1..4, correct_answer_num ("1".."4"), dialect, ds."""
    configs = {}
    for lang in langs:
        rng = random.Random(f"bb{lang}")
        rows = []
        for i in range(n):
            rows.append({"link": f"https://en.wikibooks.org/wiki/P{i // 2}", "question_number": i % 2 + 1,
                         "flores_passage": sentence(rng, lang, 20), "question": sentence(rng, lang, 6) + "?",
                         **{f"mc_answer{k}": sentence(rng, lang, 3) for k in range(1, 5)},
                         "correct_answer_num": str(i % 4 + 1), "dialect": lang, "ds": "2023-05-03"})  # fmt: skip
        path = root / "data" / f"{lang}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        configs[lang] = {"test": f"data/{lang}.jsonl"}
    readme(root, configs)
    return root


def flores200(root: Path, langs=("eng_Latn", "nya_Latn", "swh_Latn"), n: int = 6) -> Path:
    """facebook/flores: <config>/{dev,devtest}-00000-of-00001.parquet; id (int32), URL, domain, topic, has_image,
    has_hyperlink, sentence. Sentence `id` is shared by every language's translation."""
    from datasets import Features, Value

    features = Features({"id": Value("int32"), "URL": Value("string"), "domain": Value("string"),
                         "topic": Value("string"), "has_image": Value("int32"), "has_hyperlink": Value("int32"),
                         "sentence": Value("string")})  # fmt: skip
    configs = {}
    for lang in langs:
        rng = random.Random(f"fl{lang}")
        for split, size in (("dev", 4), ("devtest", n)):
            rows = [{"id": i + 1, "URL": f"https://en.wikinews.org/wiki/{i}", "domain": "wikinews", "topic": "news",
                     "has_image": 0, "has_hyperlink": 0, "sentence": sentence(rng, lang, 6)}
                    for i in range(size)]  # fmt: skip
            parquet(root / lang / f"{split}-00000-of-00001.parquet", rows, features)
        configs[lang] = {"dev": f"{lang}/dev-*", "devtest": f"{lang}/devtest-*"}
    readme(root, configs)
    return root


def xnli(root: Path, configs=("en", "sw"), n: int = 9) -> Path:
    """facebook/xnli: <config>/{train,validation,test}-00000-of-00001.parquet; premise, hypothesis, label
    (ClassLabel entailment, neutral, contradiction)."""
    from datasets import ClassLabel, Features, Value

    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=NLI)})  # fmt: skip
    table = {}
    for config in configs:
        rng = random.Random(f"x{config}")
        lang = "eng" if config == "en" else "swh"
        for split, size in (("train", n), ("validation", 3), ("test", n)):
            rows = [{"premise": sentence(rng, lang), "hypothesis": sentence(rng, lang, 4), "label": i % 3}
                    for i in range(size)]  # fmt: skip
            parquet(root / config / f"{split}-00000-of-00001.parquet", rows, features)
        table[config] = {s: f"{config}/{s}-*" for s in ("train", "validation", "test")}
    readme(root, table)
    return root


def wikiann(root: Path, configs=("en", "sw"), n: int = 10) -> Path:
    """unimelb-nlp/wikiann: <config>/{validation,test,train}-00000-of-00001.parquet; tokens, ner_tags (a sequence of
    ClassLabel O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC), langs, spans."""
    from datasets import ClassLabel, Features, List, Value

    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=NER)),
                         "langs": List(Value("string")), "spans": List(Value("string"))})  # fmt: skip
    table = {}
    for config in configs:
        rng = random.Random(f"w{config}")
        lang = "eng" if config == "en" else "swh"
        for split, size in (("validation", 3), ("test", n), ("train", n)):
            rows = []
            for i in range(size):
                words = sentence(rng, lang, 5).split()
                tags = [0] * len(words)
                tags[i % 5] = (1, 3, 5)[i % 3]  # one entity per sentence: PER, ORG or LOC
                rows.append({"tokens": words, "ner_tags": tags, "langs": [config] * len(words),
                             "spans": [f"{NER[tags[i % 5]][2:]}: {words[i % 5]}"]})  # fmt: skip
            parquet(root / config / f"{split}-00000-of-00001.parquet", rows, features)
        table[config] = {s: f"{config}/{s}-*" for s in ("validation", "test", "train")}
    readme(root, table)
    return root


def tatoeba(root: Path, configs=("swh-eng", "deu-eng"), n: int = 10) -> Path:
    """mteb/tatoeba-bitext-mining: <config>/test-00000-of-00001.parquet; sentence1 (the language), sentence2 (its
    English)."""
    from datasets import Features, Value

    features = Features({"sentence1": Value("string"), "sentence2": Value("string")})
    table = {}
    for config in configs:
        rng = random.Random(f"t{config}")
        lang = "swh" if config == "swh-eng" else "nya"  # syllables of some language
        rows = [{"sentence1": sentence(rng, lang, 5), "sentence2": sentence(rng, "eng", 5)} for _ in range(n)]
        parquet(root / config / "test-00000-of-00001.parquet", rows, features)
        table[config] = {"test": f"{config}/test-*"}
    readme(root, table)
    return root


BUILDERS = {"sib200": sib200, "belebele": belebele, "flores200": flores200, "xnli": xnli, "wikiann": wikiann,
            "tatoeba": tatoeba}  # fmt: skip


def all_copies(root: Path) -> Path:
    """Every benchmark under `root/<name>` (the layout $POLYTUNE_BENCHMARKS reads)."""
    for name, build in BUILDERS.items():
        build(root / name)
    return root


def tiny_decoder(folder: Path, seed: int = 0) -> Path:
    """A 1-layer Llama over a byte-level BPE tokenizer trained on the copies' syllables (the shape of SmolLM2's)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(seed)
    texts = [sentence(rng, lang) for _ in range(100) for lang in SYLLABLES]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")  # fmt: skip
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True, bos_token_id=0,
                         eos_token_id=0, pad_token_id=0, max_position_embeddings=2048)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder

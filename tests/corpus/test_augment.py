"""Text augmentation: each operation, lexicons (TSV and FreeDict TEI), ratios, determinism, the manifest, and the
property that no augmented record can land in dev/test."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytune.cli.main import main
from polytune.config import AugmentConfig
from polytune.corpus.augment import replace_words, run_augment, shuffle_sentences, swap_words
from polytune.corpus.lexicon import load_lexicon
from polytune.errors import ConfigError, InputError

TEI = Path(__file__).parent / "data" / "tiny-eng-nya.tei"


def test_text_operations():
    rng = random.Random(0)
    shuffled = shuffle_sentences("One two. Three four! Five six?", rng)
    assert sorted(shuffled.split()) == sorted("One two. Three four! Five six?".split())
    assert shuffled != "One two. Three four! Five six?"
    assert shuffle_sentences("Only one sentence here.", rng) is None
    assert shuffle_sentences("A b. C d.", rng) == "C d. A b."  # two sentences: the only other order
    swapped = swap_words("a b c d e f", random.Random(1), prob=0.3)
    assert sorted(swapped.split()) == list("abcdef") and swapped != "a b c d e f"
    assert swap_words("alone", rng) is None and swap_words("same same", rng) is None
    table = {"big": ["large"], "dog": ["hound"]}
    assert replace_words("The Big dog, the BIG cat.", table, random.Random(0), prob=1.0) == \
        "The Large hound, the LARGE cat."  # case follows the word replaced; punctuation stays  # fmt: skip
    assert replace_words("No match here", table, rng) is None
    one = replace_words("big big big big", table, random.Random(3), prob=0.01)
    assert one.split().count("large") == 1  # at least one replacement even when prob picks none


def test_lexicons(tmp_path):
    assert load_lexicon(TEI) == {"god": ["Mulungu"], "king": ["mfumu", "mwini"], "people": ["anthu"],
                                 "day": ["tsiku"]}  # fmt: skip
    tsv = tmp_path / "syn.tsv"
    tsv.write_text("# synonyms\nBig\tlarge\thuge\nbig\tgreat\nsmall\tsmall\n", encoding="utf-8")
    assert load_lexicon(tsv) == {"big": ["large", "huge", "great"]}  # merged; self-synonyms dropped
    for content, needle in (("big large\n", "expected word<TAB>alternative"), ("# nothing\n", "no entries")):
        tsv.write_text(content, encoding="utf-8")
        with pytest.raises(InputError, match=needle):
            load_lexicon(tsv)
    (tmp_path / "bad.tei").write_text("<TEI><entry><orth>x</orth></TEI>", encoding="utf-8")
    with pytest.raises(InputError, match="malformed TEI"):
        load_lexicon(tmp_path / "bad.tei")
    with pytest.raises(InputError, match="lexicon not found"):
        load_lexicon(tmp_path / "missing.tsv")


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(out.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def test_run_augment_on_a_corpus(tmp_path, synthetic_corpus):
    ops = [{"name": "word_swap", "ratio": 2}, {"name": "code_switch", "ratio": 0.5, "params": {"dictionary": str(TEI),
           "prob": 0.5}}, {"name": "sentence_shuffle", "ratio": 1}]  # fmt: skip
    cfg = AugmentConfig(input=synthetic_corpus, out=tmp_path / "a", ops=ops, langs=["eng", "nya"], seed=5)
    counts = run_augment(cfg)
    rows = _records(tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["ara_Arab", "eng_Latn", "manifest.json", "nya_Latn"]
    assert counts["records"] == 720 and counts["sources"] == 280  # 140 train records in each of eng, nya
    made = Counter(r.get("augmented_by") for r in rows)
    assert made["word_swap"] == counts["word_swap"] and counts["word_swap"] + counts["word_swap.skipped"] == 560
    assert 0 < made["code_switch"] < 140  # ratio 0.5 over 280 sources; only English has dictionary words
    assert {r["lang"] for r in rows if r.get("augmented_by") == "code_switch"} == {"eng_Latn"}
    assert counts["sentence_shuffle.skipped"] == 280 and "sentence_shuffle" not in made  # one sentence per verse
    assert not any(r.get("augmented_by") for r in rows if r["lang"] == "ara_Arab")
    aug = next(r for r in rows if r.get("augmented_by") == "code_switch")
    source = next(r for r in rows if r["id"] == aug["source_id"] and r["lang"] == aug["lang"])
    assert aug["id"] == f"{source['id']}#code_switch.0" and aug["genre"] == source["genre"]
    assert any(word in aug["text"].split() for word in ("Mulungu", "mfumu", "mwini", "anthu", "tsiku"))
    info = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert [(o["name"], o["ratio"]) for o in info["ops"]] == [("word_swap", 2), ("code_switch", 0.5),
                                                             ("sentence_shuffle", 1)]  # fmt: skip
    assert info["counts"] == counts and str(TEI) in info["inputs"]
    first = {p: p.read_bytes() for p in sorted((tmp_path / "a").rglob("*.jsonl"))}
    run_augment(cfg)
    assert {p: p.read_bytes() for p in sorted((tmp_path / "a").rglob("*.jsonl"))} == first
    run_augment(AugmentConfig(input=synthetic_corpus, out=tmp_path / "b", ops=ops, langs=["eng", "nya"], seed=6))
    assert _records(tmp_path / "b") != rows


SPLITS = st.sampled_from(["train", "dev", "test", None])
WORDS = st.lists(st.sampled_from(["big", "dog", "ran", "home", "fast", "."]), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    splits=st.lists(SPLITS, min_size=1, max_size=30),
    words=st.lists(WORDS, min_size=30, max_size=30),
    ratios=st.tuples(st.floats(0.1, 3), st.floats(0.1, 3), st.floats(0.1, 3)),
    seed=st.integers(0, 10**6),
)
def test_no_augmented_record_can_land_in_dev_or_test(splits, words, ratios, seed):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows = [{"id": f"r{i}", "lang": "eng_Latn", "text": " ".join(w), **({"split": s} if s else {})}
                for i, (s, w) in enumerate(zip(splits, words, strict=False))]  # fmt: skip
        rows.append({"id": "seed", "lang": "eng_Latn", "text": "big dog ran. home fast.", "split": "train"})
        rows.append({"id": "old", "lang": "eng_Latn", "text": "big dog", "split": "train", "augmented_by": "x",
                     "source_id": "seed"})  # fmt: skip
        (root / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        (root / "syn.tsv").write_text("big\tlarge\ndog\thound\n", encoding="utf-8")
        ops = [{"name": "word_swap", "ratio": ratios[0]}, {"name": "sentence_shuffle", "ratio": ratios[1]},
               {"name": "synonyms", "ratio": ratios[2], "params": {"lexicon": str(root / "syn.tsv")}}]  # fmt: skip
        counts = run_augment(AugmentConfig(input=root / "in.jsonl", out=root / "out", ops=ops, seed=seed))
        out = _records(root / "out")
    train_ids = {r["id"] for r in rows if r.get("split") == "train" and "augmented_by" not in r}
    new = [r for r in out if r["id"] not in {x["id"] for x in rows}]
    assert len(out) == len(rows) + len(new)
    assert [r for r in out if r["id"] in {x["id"] for x in rows}] == rows  # originals: unchanged, every split
    for record in new:
        assert record["split"] == "train" and record["source_id"] in train_ids and record["augmented_by"]
    assert not [r for r in out if r.get("split") != "train" and "augmented_by" in r]
    assert sum(counts.get(op["name"], 0) for op in ops) == len(new)


def test_errors(tmp_path, synthetic_corpus):
    def cfg(ops, **kw):
        return AugmentConfig(input=synthetic_corpus, out=tmp_path / "x", ops=ops, **kw)

    with pytest.raises(ConfigError, match="did you mean 'word_swap'"):
        cfg([{"name": "word_swp"}])
    with pytest.raises(ConfigError, match="at least one operation"):
        cfg([])
    with pytest.raises(ConfigError, match="word_swap ratio must be a positive"):
        cfg([{"name": "word_swap", "ratio": 0}])
    with pytest.raises(ConfigError, match="synonyms needs lexicon"):
        run_augment(cfg([{"name": "synonyms"}]))
    with pytest.raises(ConfigError, match="unknown parameter 'prb'"):
        run_augment(cfg([{"name": "word_swap", "params": {"prb": 0.1}}]))
    with pytest.raises(InputError, match="no train records to augment"):
        run_augment(cfg([{"name": "word_swap"}], langs=["vie"]))
    assert not (tmp_path / "x").exists()


def test_text_operations_never_import_torch(tmp_path, synthetic_corpus):
    import subprocess

    code = ("import sys; from pathlib import Path; from polytune.config import AugmentConfig;"
            "from polytune.corpus.augment import run_augment;"
            f"run_augment(AugmentConfig(input=Path({str(synthetic_corpus)!r}), out=Path({str(tmp_path / 'o')!r}),"
            "ops=[{'name': 'word_swap'}])); print('torch' in sys.modules)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_cli(tmp_path, capsys, synthetic_corpus):
    syn = tmp_path / "syn.tsv"
    syn.write_text("ku\tmu\n", encoding="utf-8")
    argv = ["augment", str(synthetic_corpus), "--out", str(tmp_path / "a"), "--langs", "nya_Latn"]
    assert main([*argv, "--op", "word_swap=0.5", "--op", "synonyms=1", "--param", f"synonyms.lexicon={syn}",
                 "--param", "synonyms.prob=0.3"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["word_swap", "ratio", "0.5"] and lines[1].split()[:3] == ["synonyms", "ratio", "1"]
    assert lines[-1].startswith("720 records (140 train sources) + ")
    cases = [(["--op", "word_swap"], "--op: expected NAME=VALUE"),
             (["--op", "word_swap=1", "--param", "synonyms.prob=1"], "for an --op given (word_swap)"),
             (["--op", "synonyms=1", "--param", "synonyms.lexicon=nowhere.tsv"], "lexicon not found"),
             (["--op", "word_swap=1", "--param", "word_swap.prob=2"], "prob must be in (0, 1]")]  # fmt: skip
    for bad, needle in cases:
        assert main([*argv, *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err

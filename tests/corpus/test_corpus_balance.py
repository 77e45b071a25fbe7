"""Balance: temperature weights computed by hand, the taken/epochs invariant, determinism, warnings, errors."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytune.config import BalanceConfig
from polytune.corpus.balance import plan, run_balance, temperature_weights
from polytune.errors import ConfigError, InputError

SIZES = {"big": 900, "mid": 90, "small": 10}


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (1.0, {"big": 0.9, "mid": 0.09, "small": 0.01}),
        # n^(1/3.33): 900 -> 7.712, 90 -> 3.862, 10 -> 1.997; total 13.571
        (3.33, {"big": 0.5683, "mid": 0.2846, "small": 0.1471}),
        # n^2: 810000, 8100, 100; total 818200
        (0.5, {"big": 0.98998, "mid": 0.0098998, "small": 0.00012222}),
        (1e9, {"big": 1 / 3, "mid": 1 / 3, "small": 1 / 3}),
    ],
)
def test_temperature_weights_by_hand(temperature, expected):
    weights = temperature_weights(SIZES, temperature)
    assert weights == pytest.approx(expected, rel=1e-3)
    assert sum(weights.values()) == pytest.approx(1.0)


def test_weights_edge_cases():
    assert temperature_weights({"a": 5, "b": 0}, 2.0) == {"a": 1.0, "b": 0.0}
    assert temperature_weights({"a": 10**9, "b": 1}, 0.001) == {"a": 1.0, "b": 0.0}  # no overflow
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="temperature"):
            temperature_weights(SIZES, bad)
    with pytest.raises(ConfigError, match="sizes"):
        temperature_weights({"a": 0}, 1.0)


@given(
    sizes=st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 10**6), min_size=2),
    low=st.floats(0.2, 5),
    factor=st.floats(1.01, 10),
)
def test_weights_sum_to_one_keep_order_and_flatten_with_temperature(sizes, low, factor):
    cold, hot = temperature_weights(sizes, low), temperature_weights(sizes, low * factor)
    assert sum(cold.values()) == pytest.approx(1.0) and sum(hot.values()) == pytest.approx(1.0)
    order = sorted(sizes, key=sizes.get)
    assert [cold[k] for k in order] == sorted(cold[k] for k in order)  # a bigger language never gets less
    assert max(hot.values()) <= max(cold.values()) + 1e-12  # a higher temperature is flatter


def test_plan_taken_and_epochs():
    rows = plan(SIZES, SIZES, 3000, "temperature", temperature=1e9)
    assert {k: r["taken"] for k, r in rows.items()} == {"big": 1000, "mid": 1000, "small": 1000}
    assert {k: r["epochs"] for k, r in rows.items()} == pytest.approx({"big": 1000 / 900, "mid": 1000 / 90,
                                                                       "small": 100.0})  # fmt: skip
    rows = plan(SIZES, SIZES, 1000, "temperature", temperature=1.0)
    assert {k: r["taken"] for k, r in rows.items()} == {"big": 900, "mid": 90, "small": 10}


def _mixture(folder: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((folder / "mixture").iterdir()) for line in p.read_text().splitlines()]


def _corpus(root: Path, sizes: dict[str, int]) -> Path:
    """A filtered-corpus folder: train records plus a few test records that balance must ignore."""
    for lang, n in sizes.items():
        (root / lang).mkdir(parents=True)
        rows = [{"id": f"{lang}.{i}", "lang": lang, "text": f"{lang} text {i}", "split": "train"} for i in range(n)]
        rows += [{"id": f"{lang}.t{i}", "lang": lang, "text": "held out", "split": "test"} for i in range(3)]
        (root / lang / "part-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return root


@pytest.mark.parametrize(("temperature", "budget"), [(1.0, 500), (3.33, 500), (100.0, 600)])
def test_mixture_epochs_invariant(tmp_path, temperature, budget):
    sizes = {"eng_Latn": 400, "nya_Latn": 40, "ara_Arab": 4}
    corpus = _corpus(tmp_path / "corpus", sizes)
    mix = run_balance(BalanceConfig(input=corpus, out=tmp_path / "mix", temperature=temperature, budget=budget))
    rows = _mixture(tmp_path / "mix")
    assert {r["split"] for r in rows} == {"train"}
    per_lang = Counter(r["lang"] for r in rows)
    for lang, n in sizes.items():
        entry = mix["langs"][lang]
        assert entry["available"] == n and per_lang[lang] == entry["taken"]
        assert entry["epochs"] == pytest.approx(entry["taken"] / n)
        repeats = Counter(r["id"] for r in rows if r["lang"] == lang)
        whole = entry["taken"] // n
        # Every record is taken `whole` times, and a seeded sample of them once more.
        assert set(repeats.values()) <= {whole, whole + 1}
        assert sum(repeats.values()) == entry["taken"]
        if entry["taken"] >= n:
            assert len(repeats) == n
    assert json.loads((tmp_path / "mix" / "mix.json").read_text()) == mix
    assert mix["temperature"] == temperature and mix["budget"] == budget


def test_mixture_is_deterministic_and_shuffled_by_the_seed(tmp_path):
    corpus = _corpus(tmp_path / "corpus", {"eng_Latn": 50, "nya_Latn": 5})
    cfg = BalanceConfig(input=corpus, out=tmp_path / "a", temperature=2.0)
    run_balance(cfg)
    first = _files(tmp_path / "a")
    run_balance(cfg)
    assert _files(tmp_path / "a") == first
    assert sorted(first) == ["manifest.json", "mix.json", "mixture/part-00000.jsonl"]
    run_balance(BalanceConfig(input=corpus, out=tmp_path / "b", temperature=2.0, seed=14))
    other = (tmp_path / "b" / "mixture" / "part-00000.jsonl").read_bytes()
    assert other != first["mixture/part-00000.jsonl"] and sorted(other.splitlines()) != []
    langs = [json.loads(line)["lang"] for line in first["mixture/part-00000.jsonl"].splitlines()]
    assert langs != sorted(langs)  # interleaved, not one language after another
    assert json.loads(first["mix.json"])["budget"] == 55  # default budget: everything available


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_warns_when_a_language_repeats_too_often(tmp_path, caplog):
    corpus = _corpus(tmp_path / "corpus", {"eng_Latn": 100, "nya_Latn": 2})
    with caplog.at_level(logging.WARNING, logger="polytune.corpus.balance"):
        mix = run_balance(BalanceConfig(input=corpus, out=tmp_path / "m", temperature=50.0, max_epochs=5))
    assert mix["langs"]["nya_Latn"]["epochs"] > 5
    assert [r.getMessage().split()[0] for r in caplog.records] == ["nya_Latn"]


def test_langs_subset_and_errors(tmp_path, synthetic_corpus):
    mix = run_balance(BalanceConfig(input=synthetic_corpus, out=tmp_path / "m", langs=["nya", "ara"], budget=100))
    assert list(mix["langs"]) == ["ara_Arab", "nya_Latn"]
    assert [r["taken"] for r in mix["langs"].values()] == [50, 50]
    with pytest.raises(InputError, match="vie_Latn has no shard"):
        run_balance(BalanceConfig(input=synthetic_corpus, out=tmp_path / "x", langs=["vie"]))
    with pytest.raises(InputError, match="not a folder"):
        run_balance(BalanceConfig(input=tmp_path / "missing", out=tmp_path / "x"))
    empty = tmp_path / "empty"
    (empty / "eng_Latn").mkdir(parents=True)
    (empty / "eng_Latn" / "part-00000.jsonl").write_text(json.dumps({"text": "a", "split": "test"}) + "\n")
    with pytest.raises(InputError, match="no records of split 'train'"):
        run_balance(BalanceConfig(input=empty, out=tmp_path / "x"))
    assert not (tmp_path / "x").exists()

"""Sampling strategies: UniMax (with the cap redistribution case), uniform, manual, alpha, share bounds, computed by
hand; budgets in characters and tokens; the CLI's table and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polytune.cli.main import main
from polytune.config import BalanceConfig
from polytune.corpus.balance import run_balance
from polytune.corpus.sampling import allocate, apportion, clamp_shares, manual_weights, plan, unimax_allocation
from polytune.errors import ConfigError, InputError


@pytest.mark.parametrize(
    ("sizes", "budget", "epochs", "expected"),
    [
        # no cap binds: the budget is spread evenly
        ({"a": 1000, "b": 500, "c": 400}, 900, 4, {"a": 300, "b": 300, "c": 300}),
        # c capped at 2 x 10 = 20; b gets (600 - 20) / 2 = 290, capped at 200; a takes the remaining 380
        ({"a": 1000, "b": 100, "c": 10}, 600, 2, {"a": 380, "b": 200, "c": 20}),
        # cascade: d 15 (cap), c 150 (cap of 1985 / 3), b 900 (cap of 1835 / 2), a the remaining 935
        ({"a": 10000, "b": 300, "c": 50, "d": 5}, 2000, 3, {"a": 935, "b": 900, "c": 150, "d": 15}),
        # every language capped: the mixture is smaller than the budget (110 of 1000)
        ({"a": 100, "b": 10}, 1000, 1, {"a": 100, "b": 10}),
        # an empty language gets nothing
        ({"a": 50, "b": 0}, 40, 1, {"a": 40, "b": 0}),
    ],
)
def test_unimax_by_hand(sizes, budget, epochs, expected):
    assert unimax_allocation(sizes, budget, epochs) == pytest.approx(expected)


@given(
    sizes=st.dictionaries(st.sampled_from("abcdefg"), st.integers(1, 10**5), min_size=1),
    budget=st.integers(1, 10**6),
    epochs=st.floats(0.1, 20),
)
def test_unimax_invariants(sizes, budget, epochs):
    alloc = unimax_allocation(sizes, budget, epochs)
    assert sum(alloc.values()) == pytest.approx(min(budget, epochs * sum(sizes.values())), rel=1e-9)
    assert all(alloc[k] <= epochs * sizes[k] * (1 + 1e-9) for k in sizes)  # the epoch cap holds
    uncapped = [alloc[k] for k in sizes if alloc[k] < epochs * sizes[k] * (1 - 1e-9)]
    # as uniform as possible: the uncapped languages share equally, and no capped one got more than they did
    if uncapped:
        assert max(uncapped) == pytest.approx(min(uncapped))
        assert max(alloc.values()) <= max(uncapped) * (1 + 1e-9)


def test_plan_unimax_epochs_and_probabilities():
    sizes = {"a": 10000, "b": 300, "c": 50, "d": 5}
    rows = plan(sizes, sizes, 2000, "unimax", epochs=3)
    assert {k: r["taken"] for k, r in rows.items()} == {"a": 935, "b": 900, "c": 150, "d": 15}
    assert {k: r["probability"] for k, r in rows.items()} == pytest.approx(
        {"a": 0.4675, "b": 0.45, "c": 0.075, "d": 0.0075})  # fmt: skip
    assert max(r["epochs"] for r in rows.values()) == 3.0
    # when every language is capped the probabilities are shares of what was allocated
    rows = plan({"a": 100, "b": 10}, {"a": 100, "b": 10}, 1000, "unimax", epochs=1)
    assert [rows["a"]["probability"], rows["b"]["probability"]] == pytest.approx([100 / 110, 10 / 110])


@pytest.mark.parametrize(
    ("strategy", "options", "expected"),
    [
        ("uniform", {}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
        ("proportional", {}, {"a": 0.6, "b": 0.3, "c": 0.1}),
        ("manual", {"weights": {"a": 1, "b": 1, "c": 2}}, {"a": 0.25, "b": 0.25, "c": 0.5}),
        # max 0.4 for a; b and c keep their 3:1 ratio in the remaining 0.6
        ("proportional", {"high": {"a": 0.4}}, {"a": 0.4, "b": 0.45, "c": 0.15}),
        # min 0.3 for c; a and b keep 2:1 in the remaining 0.7
        ("proportional", {"low": {"c": 0.3}}, {"a": 0.7 * 2 / 3, "b": 0.7 / 3, "c": 0.3}),
        # p ∝ n^0.5: sqrt 600, 300, 100 = 24.49, 17.32, 10 (total 51.81)
        ("temperature", {"temperature": 2.0}, {"a": 0.4727, "b": 0.3343, "c": 0.1930}),
    ],
)
def test_strategies_by_hand(strategy, options, expected):
    alloc = allocate({"a": 600, "b": 300, "c": 100}, 1000, strategy, **options)
    assert {k: v / 1000 for k, v in alloc.items()} == pytest.approx(expected, rel=1e-3)


def test_weight_and_bound_errors():
    with pytest.raises(ConfigError, match="lack b"):
        manual_weights({"a": 1, "b": 1}, {"a": 1})
    with pytest.raises(ConfigError, match="weights name z, which is not mixed"):
        manual_weights({"a": 1}, {"a": 1, "z": 1})
    with pytest.raises(ConfigError, match="cannot hold together"):
        clamp_shares({"a": 0.5, "b": 0.5}, {"a": 0.6, "b": 0.6}, {})
    with pytest.raises(ConfigError, match="cannot hold together"):
        clamp_shares({"a": 0.5, "b": 0.5}, {}, {"a": 0.3, "b": 0.3})
    assert apportion({"a": 1.5, "b": 1.5, "c": 1.0}, {}) == {"a": 2, "b": 1, "c": 1}
    with pytest.raises(ConfigError, match="strategy manual needs weights"):
        BalanceConfig(input=".", out="o", strategy="manual")
    with pytest.raises(ConfigError, match="unit tokens needs tokenizer"):
        BalanceConfig(input=".", out="o", unit="tokens")
    with pytest.raises(ConfigError, match=r"min_share\[nya_Latn\] must be between 0 and 1"):
        BalanceConfig(input=".", out="o", min_share={"ny": 2})


def _corpus(root: Path, texts: dict[str, list[str]]) -> Path:
    for lang, rows in texts.items():
        (root / lang).mkdir(parents=True)
        lines = [json.dumps({"id": f"{lang}.{i}", "lang": lang, "text": t, "split": "train"}) for i, t in
                 enumerate(rows)]  # fmt: skip
        (root / lang / "part-00000.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _word_tokenizer(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "x": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder.mkdir()
    tok.save(str(folder / "tokenizer.json"))
    return folder


def test_budget_in_chars_and_tokens(tmp_path):
    # eng: 10 records of 10 chars (2 words); nya: 10 records of 99 chars (20 words)
    corpus = _corpus(tmp_path / "c", {"eng_Latn": ["abcd efghi"] * 10, "nya_Latn": [" ".join(["abcd"] * 20)] * 10})
    mix = run_balance(BalanceConfig(input=corpus, out=tmp_path / "m", strategy="uniform", unit="chars", budget=200))
    rows = mix["langs"]
    assert (rows["eng_Latn"]["size"], rows["nya_Latn"]["size"]) == (100, 990)
    assert (rows["eng_Latn"]["taken"], rows["nya_Latn"]["taken"]) == (10, 1)  # 100 chars each: 1 and 0.1 epochs
    tokenizer = _word_tokenizer(tmp_path / "tok")
    mix = run_balance(BalanceConfig(input=corpus, out=tmp_path / "t", strategy="proportional", unit="tokens",
                                    tokenizer=str(tokenizer), budget=110))  # fmt: skip
    rows = mix["langs"]
    assert (rows["eng_Latn"]["size"], rows["nya_Latn"]["size"]) == (20, 200)
    assert (rows["eng_Latn"]["taken"], rows["nya_Latn"]["taken"]) == (5, 5)  # half an epoch each
    with pytest.raises(InputError, match="cannot read tokenizer"):
        run_balance(BalanceConfig(input=corpus, out=tmp_path / "x", unit="tokens", tokenizer=str(tmp_path)))


def test_alpha_is_one_over_temperature(tmp_path, synthetic_corpus):
    a = run_balance(BalanceConfig(input=synthetic_corpus, out=tmp_path / "a", alpha=0.5, budget=100))
    b = run_balance(BalanceConfig(input=synthetic_corpus, out=tmp_path / "b", temperature=2.0, budget=100))
    assert a["langs"] == b["langs"] and a["temperature"] == 2.0


def test_cli_unimax_table_flags_and_errors(tmp_path, capsys):
    corpus = _corpus(tmp_path / "c", {"eng_Latn": ["some text"] * 100, "nya_Latn": ["mawu"] * 4})
    argv = ["balance", "--input", str(corpus), "--out", str(tmp_path / "m"), "--budget", "100"]
    assert main([*argv, "--strategy", "unimax", "--unimax-epochs", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["lang", "available", "probability", "taken", "epochs"]
    assert table[1].split() == ["eng_Latn", "100", "0.9200", "92", "0.92"]
    assert table[2].split() == ["nya_Latn", "4", "0.0800", "8", "2.00"]
    assert main([*argv, "--strategy", "uniform", "--max-epochs", "5"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["nya_Latn", "4", "0.5000", "50", "12.50", "!"]
    for bad, needle in ((["--weight", "nya=x"], "expected LANG=NUMBER"), (["--strategy", "zipf"], "strategy must be"),
                        (["--strategy", "manual", "--weight", "nya=1"], "lack eng_Latn")):  # fmt: skip
        assert main([*argv, *bad]) == 2
        assert needle in capsys.readouterr().err

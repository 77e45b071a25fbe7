"""Property tests (hypothesis): language-code normalization is idempotent and can never produce a path; the filter
reconciles every input line; tokenizers round-trip before and after extension; sampler invariants hold."""

from __future__ import annotations

import json
import math
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytune.errors import LanguageCodeError
from polytune.langcodes import KEY_RE, is_key, normalize

KNOWN = ["en", "ny", "nya", "ar", "sw", "swh", "pt-BR", "zh-Hant-TW", "pt_BR", "__label__en", "__label__swh_Latn",
         "nya_Latn", "srp_Cyrl", "amh", "vi", "ja", "ko", "th", "ru", "hi"]
PATHY = st.sampled_from(["/", "\\", "..", ".", "\x00", "~", ":", " "])
# Codes as users and models write them, damaged at random: letters, digits, separators, path characters.
CODES = st.one_of(
    st.sampled_from(KNOWN),
    st.text(alphabet=string.ascii_letters + string.digits + "-_./\\:~ \x00", max_size=20),
    st.builds(lambda a, b, c: a + b + c, st.sampled_from(KNOWN), PATHY, st.sampled_from(KNOWN + ["x", ""])),
    st.text(max_size=12),
)


def _try(code: str) -> str | None:
    try:
        return normalize(code)
    except LanguageCodeError:  # the only error a bad code may raise
        return None


@settings(max_examples=400, deadline=None)
@given(CODES)
def test_normalize_is_idempotent_and_never_yields_a_path(code):
    key = _try(code)
    if key is None:
        return
    assert KEY_RE.match(key) and is_key(key)
    assert not any(c in key for c in "/\\.:~ \x00")
    assert normalize(key) == key  # idempotent: a key normalizes to itself


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KNOWN), PATHY, st.text(alphabet=string.ascii_letters + "./", min_size=1, max_size=6))
def test_codes_carrying_path_characters_are_refused(code, sep, tail):
    assert _try(code + sep + tail) is None or sep in "-_"  # any "/", "\\", "..", ":" ... is refused


def test_known_spellings_agree():
    assert {normalize(c) for c in ("ny", "nya", "__label__ny", "nya_Latn", "NY")} == {"nya_Latn"}
    assert normalize("pt-BR") == normalize("pt_BR") == "por_Latn"


# --- the filter's reconciliation: every input line lands exactly once (kept, rejected or duplicate) -------------

SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Habari ya asubuhi rafiki yangu, natumaini uko salama leo.",
    "Le petit chat dort tranquillement sur le canapé du salon.",
    "يذهب الأطفال إلى المدرسة كل صباح مع أصدقائهم",
    "Mwana wa munthu anapita ku msika kukagula nsomba ndi chimanga.",
]
JUNK_LINES = ["not json", "{broken", '{"id": 1, "text": ', "[1, 2"]
ODD_TEXTS = ["", "   ", "hi", "!!!! ???? #### $$$$ %%%%", "a" * 80, "ok ok ok ok ok ok ok ok ok ok ok ok ok ok"]
# A line is a record whose text is a sentence, an odd text, or a copy of an earlier line's text; or junk.
LINES = st.lists(st.one_of(st.sampled_from(SENTENCES), st.sampled_from(ODD_TEXTS), st.integers(0, 30),
                           st.sampled_from(JUNK_LINES).map(lambda j: ("junk", j))), min_size=1, max_size=14)


def _write_lines(path, items) -> list[str]:
    """Write the generated lines as JSONL; return the record id each line must come out under."""
    texts, lines, ids = [], [], []
    for n, item in enumerate(items, 1):
        if isinstance(item, tuple):
            lines.append(item[1])
            ids.append(f"{path.name}:{n}")  # junk is rejected under its file and line number
            continue
        text = texts[item % len(texts)] if isinstance(item, int) and texts else item if isinstance(item, str) else ""
        texts.append(text)
        lines.append(json.dumps({"id": f"r{n}", "text": text}, ensure_ascii=False))
        ids.append(f"r{n}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=LINES)
def test_filter_reconciles_every_input_line_exactly_once(tmp_path_factory, items):
    from polytune.config import FilterConfig
    from polytune.corpus.filters import reconciliation
    from polytune.corpus.steps import run_filter

    root = tmp_path_factory.mktemp("rec")
    expected = _write_lines(root / "in.jsonl", items)
    stats = run_filter(FilterConfig(inputs=[str(root / "in.jsonl")], out=root / "out", threshold=0))
    out_ids = [json.loads(line)["id"] for shard in sorted((root / "out").rglob("*.jsonl"))
               for line in shard.read_text(encoding="utf-8").splitlines()]
    assert Counter(out_ids) == Counter(expected)  # nothing lost, nothing doubled
    assert stats["input"] == len(expected) == stats["kept"] + sum(stats["rejected"].values())
    assert reconciliation(stats).startswith(f"input {len(expected)} = kept {stats['kept']} + ")


# --- tokenizer round-trips before and after vocabulary extension ------------------------------------------------


@pytest.fixture(scope="module")
def tokenizers_pair(tmp_path_factory, tiny_bert, synthetic_corpus):
    from tokenizers import Tokenizer

    from polytune.config import TokenizerExtendConfig
    from polytune.io import iter_records
    from polytune.tokenizer.extend import extend_tokenizer

    out = tmp_path_factory.mktemp("ext") / "tok"
    extend_tokenizer(TokenizerExtendConfig(base=str(tiny_bert), input=synthetic_corpus, out=out,
                                           langs=["nya_Latn", "ara_Arab"], add=120, vocab_size=400))
    alphabets = {}
    for lang in ("eng_Latn", "nya_Latn", "ara_Arab"):
        alphabets[lang] = sorted({c for r in iter_records(synthetic_corpus / lang) for c in r["text"]} - {" "})
    base = Tokenizer.from_file(str(tiny_bert / "tokenizer.json"))
    return base, Tokenizer.from_file(str(out / "tokenizer.json")), alphabets


def _words(alphabet: list[str]):
    return st.lists(st.text(st.sampled_from(alphabet), min_size=1, max_size=10), min_size=1, max_size=6)


def _round_trips(tokenizer, normalizer_of, text: str) -> None:
    normalized = " ".join(normalizer_of.normalizer.normalize_str(text).split())
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False).ids) == normalized


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_base_tokenizer_round_trips_on_its_alphabet_and_extension_keeps_its_ids(tokenizers_pair, data):
    base, extended, alphabets = tokenizers_pair
    text = " ".join(data.draw(_words(alphabets["eng_Latn"])))
    _round_trips(base, base, text)
    _round_trips(extended, base, text)  # after extension too, with the base's normalizer
    for i in base.encode(text, add_special_tokens=False).ids + extended.encode(text, add_special_tokens=False).ids:
        if i < base.get_vocab_size():
            assert extended.id_to_token(i) == base.id_to_token(i)  # a base id means the same piece after extension


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_extended_tokenizer_round_trips_on_the_extended_alphabet(tokenizers_pair, data):
    base, extended, alphabets = tokenizers_pair
    letters = sorted(set(alphabets["eng_Latn"]) | set(alphabets["nya_Latn"]) | set(alphabets["ara_Arab"]))
    text = data.draw(st.sampled_from([" ", "  ", " \t "])).join(data.draw(_words(letters)))
    _round_trips(extended, base, text)
    assert base.get_vocab() == {t: i for t, i in extended.get_vocab().items() if i < base.get_vocab_size()}


# --- sampler invariants -------------------------------------------------------------------------------------------

SIZES = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 10**6), min_size=1,
                        max_size=6).filter(lambda s: any(s.values()))


@settings(max_examples=200, deadline=None)
@given(SIZES, st.floats(0.05, 50), st.floats(0.05, 50))
def test_temperature_sums_to_one_is_proportional_at_one_and_flattens_as_it_rises(sizes, t1, t2):
    from polytune.corpus.sampling import temperature_weights

    low, high = sorted((t1, t2))
    p_low, p_high = temperature_weights(sizes, low), temperature_weights(sizes, high)
    assert math.isclose(sum(p_low.values()), 1.0, rel_tol=1e-9) and math.isclose(sum(p_high.values()), 1.0,
                                                                                  rel_tol=1e-9)
    total = sum(sizes.values())
    assert all(math.isclose(p, sizes[k] / total, rel_tol=1e-9, abs_tol=1e-12)
               for k, p in temperature_weights(sizes, 1.0).items())
    live = [k for k, n in sizes.items() if n > 0]
    assert all(p_low[k] == 0 for k in sizes if k not in live)
    # Flatter: for any two languages, the larger one's lead shrinks (never grows) as the temperature rises.
    for a in live:
        for b in live:
            if sizes[a] > sizes[b]:
                assert p_high[a] / p_high[b] <= p_low[a] / p_low[b] * (1 + 1e-9)
                assert p_high[a] / p_high[b] >= 1 - 1e-9


@settings(max_examples=200, deadline=None)
@given(SIZES, st.floats(1, 10**7), st.sampled_from([0.5, 1, 2, 4, 10]))
def test_unimax_never_exceeds_the_epoch_cap_and_spends_what_it_can(sizes, budget, epochs):
    from polytune.corpus.sampling import plan, unimax_allocation

    units = unimax_allocation(sizes, budget, epochs)
    assert all(units[k] <= epochs * n * (1 + 1e-9) for k, n in sizes.items())
    assert math.isclose(sum(units.values()), min(budget, epochs * sum(sizes.values())), rel_tol=1e-9)
    assert unimax_allocation(dict(sizes), budget, epochs) == units  # a pure function: same in, same out
    rows = plan(sizes, sizes, budget, "unimax", epochs=epochs)  # record units: taken records per language
    assert all(row["taken"] <= math.ceil(epochs * row["available"] - 1e-9) for row in rows.values()), rows


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 500), st.integers(0, 2000), st.integers(0, 2**32))
def test_balance_multiplicities_are_deterministic_and_add_up(available, taken, seed):
    import random

    from polytune.corpus.balance import _multiplicities

    passes, extra = _multiplicities(available, taken, random.Random(seed))
    assert (passes, extra) == _multiplicities(available, taken, random.Random(seed))
    assert passes * available + sum(extra.values()) == taken
    assert all(0 <= i < available for i in extra) and len(extra) < available

"""The filter: normalization, length, LID verdicts, dedup, bad lines; kept + rejected == input, always."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytune.config import FilterConfig
from polytune.corpus.filters import (
    BaseFilter,
    LengthFilter,
    TextNormalizer,
    apply_filters,
    normalize_text,
    reconciliation,
)
from polytune.corpus.steps import run_filter
from polytune.errors import InputError, ModelError

EN = "For God so loved the world, that he gave his only begotten Son."
FR = "Car Dieu a tant aimé le monde qu'il a donné son Fils unique."


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _line(**fields) -> bytes:
    return (json.dumps(fields, ensure_ascii=False) + "\n").encode("utf-8")


@pytest.mark.parametrize(
    ("text", "form", "expected"),
    [("  a \t b\n\nc  ", "NFC", "a b c"), ("e\u0301t\u00e9", "NFC", "\u00e9t\u00e9"), ("e\u0301", "none", "e\u0301"),
     ("\ufb01ne \uff21", "NFKC", "fine A"), ("\ufb01ne", "NFC", "\ufb01ne"), ("a\x00b\x07c\x7f\x9fd", "NFC", "abcd"),
     ("\ufeffhi", "NFC", "hi"), ("a\ud800b", "NFC", "ab"), ("a\x1cb\x85c\u00a0d", "NFC", "a b c d"),
     ("\u0645\u200c\u06cc", "NFC", "\u0645\u200c\u06cc"), ("", "NFC", "")],
)  # fmt: skip
def test_normalize_text_table(text, form, expected):
    assert normalize_text(text, form) == expected


@pytest.mark.parametrize(
    ("text", "verdict"),
    [("", (False, "empty")), ("abc", (False, "too_short")), ("abcd", True), ("abcdefgh", True),
     ("abcdefghi", (False, "too_long"))],
)  # fmt: skip
def test_length_filter_table(text, verdict):
    result = LengthFilter(min_chars=4, max_chars=8).filter({"text": text})
    assert (result if result is True else result[:2]) == verdict


def _filter(tmp_path: Path, inputs: list[Path], **options) -> tuple[dict, Path]:
    out = tmp_path / "out"
    return run_filter(FilterConfig(inputs=[str(p) for p in inputs], out=out, min_chars=10, **options)), out


def test_every_reason_is_counted_and_written_with_its_detail(tmp_path):
    data = tmp_path / "mixed.jsonl"
    data.write_bytes(
        _line(id="a", text=EN, lang="en")  # kept as eng_Latn
        + _line(id="b", text=FR)  # no declared lang: LID decides (fra_Latn)
        + _line(id="c", text="  " + EN.replace(" ", "  ") + " ", lang="eng_Latn")  # same after normalization
        + _line(id="d", text=EN, lang="fr")  # declared French, LID says English
        + _line(id="e", text="short", lang="en")
        + _line(id="f", text="   ", lang="en")
        + _line(id="g", text=EN, lang="not a code!")
        + b"\xff\xfe broken bytes\n"
        + b"{not json\n"
        + _line(id="h", body="no text field")
        + _line(id="i", text=7)
        + b"\n\n"  # blank lines are not records
        + _line(id="j", text="Ибо так возлюбил Бог мир, что отдал Сына Своего.")  # not in langs
    )
    stats, out = _filter(tmp_path, [data], langs=["eng_Latn", "fra_Latn"])
    assert {k: stats[k] for k in ("input", "kept", "duplicates", "per_lang", "rejected")} == {
        "input": 12, "kept": 2, "duplicates": 1, "per_lang": {"eng_Latn": 1, "fra_Latn": 1},
        "rejected": {"bad_lang": 1, "duplicate": 1, "empty": 1, "invalid_utf8": 1, "lang_mismatch": 1,
                     "lang_not_wanted": 1, "malformed_json": 1, "no_text": 2, "too_short": 1},
    }  # fmt: skip
    assert stats["per_lang_rejected"]["eng_Latn"] == {"duplicate": 1, "too_short": 1, "empty": 1}
    assert stats["thresholds"] == {"eng_Latn": 0.5, "fra_Latn": 0.5} and stats["scores"]["eng_Latn"]["n"] == 2
    assert json.loads((out / "stats.json").read_text()) == stats
    eng = _rows(out / "eng_Latn" / "part-00000.jsonl")
    assert [(r["id"], r["lang"]) for r in eng] == [("a", "eng_Latn")] and 0.9 < eng[0]["lid_score"] <= 1
    assert eng[0]["lid_topk"][0] == ["eng_Latn", eng[0]["lid_score"]] and len(eng[0]["lid_topk"]) == 3
    assert eng[0]["dup_cluster_size"] == 2  # c was the same text
    assert _rows(out / "fra_Latn" / "part-00000.jsonl")[0]["id"] == "b"
    rejected = {p.stem: _rows(p) for p in (out / "rejected").glob("*.jsonl")}
    assert rejected["duplicate"][0]["detail"] == "same text as a"
    assert rejected["lang_mismatch"][0]["detail"].startswith("declared fra_Latn, LID says eng_Latn")
    assert rejected["invalid_utf8"][0]["detail"] == f"{data}:8: not valid UTF-8 at byte 0"
    assert rejected["malformed_json"][0]["line"] == 9 and rejected["malformed_json"][0]["text"] == "{not json"
    assert sorted(r["detail"].split(": ", 1)[1] for r in rejected["no_text"]) == [
        "'text' is int, not a string", "no 'text' field"
    ]  # fmt: skip
    assert all(r["reject_reason"] == reason for reason, rows in rejected.items() for r in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == stats and manifest["stage"] == "filter"
    assert reconciliation(stats).startswith("input 12 = kept 2 + rejected 9 (bad_lang: 1, empty: 1,")
    assert reconciliation(stats).endswith(" + duplicates 1 (duplicate: 1)")


def test_threshold_and_no_dedup(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(f"{EN}\n{EN}\n12345 67890\n", encoding="utf-8")  # digits: langid falls back to its prior
    stats, _ = _filter(tmp_path, [data], threshold=0.9, dedup=False, near_dedup=False, max_non_letter=None)
    assert stats["kept"] == 2 and stats["rejected"] == {"low_lid_score": 1}


def test_fasttext_backend_keeps_chichewa_that_langid_cannot_know(tmp_path, raw_verses, lid_model):
    verses = tmp_path / "nya.jsonl"
    verses.write_text("".join((raw_verses / "nya_Latn.jsonl").read_text(encoding="utf-8").splitlines(True)[:300]))
    stats, out = _filter(tmp_path, [verses], backend="fasttext", model=str(lid_model))
    assert stats["per_lang"]["nya_Latn"] > 0.97 * stats["input"]
    assert set(stats["per_lang"]) == {"nya_Latn"}
    # langid has no Chichewa: declared nya_Latn verses mostly come out as mismatches.
    stats2, _ = _filter(tmp_path / "b", [verses], backend="langid")
    assert stats2["rejected"]["lang_mismatch"] > 0.9 * stats2["input"]


def test_output_is_byte_identical_on_rerun_and_atomic_on_failure(tmp_path, raw_verses, lid_model):
    inputs = [raw_verses / "ara_Arab.jsonl", raw_verses / "vie_Latn.jsonl"]
    _, out = _filter(tmp_path, inputs, backend="fasttext", model=str(lid_model))
    first = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    _filter(tmp_path, inputs, backend="fasttext", model=str(lid_model))
    assert {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == first
    with pytest.raises(ModelError):
        _filter(tmp_path, inputs, backend="fasttext", model=str(tmp_path / "missing.bin"))
    assert {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary or work folder left behind


def test_no_records_is_input_error(tmp_path):
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no records"):
        _filter(tmp_path, [blank])
    with pytest.raises(InputError, match="input not found"):
        _filter(tmp_path, [tmp_path / "missing.jsonl"])
    assert not (tmp_path / "out").exists()


# Lines: real sentences (duplicated on purpose), arbitrary text, blanks, and invalid UTF-8 byte strings.
_LINES = st.lists(
    st.one_of(
        st.sampled_from([EN, FR, "", "   ", "short"]),
        st.text(max_size=40),
        st.binary(max_size=12).map(lambda b: b"\xff" + b),
    ),
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, as_json=st.booleans())
def test_kept_plus_rejected_equals_input(lines, as_json):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.jsonl" if as_json else "in.txt")
        chunks = []
        for item in lines:
            if isinstance(item, bytes):
                chunks.append(item.replace(b"\n", b" ") + b"\n")
            elif as_json:
                chunks.append(_line(text=item))
            else:
                chunks.append(item.replace("\n", " ").replace("\r", " ").encode("utf-8", "surrogatepass") + b"\n")
        path.write_bytes(b"".join(chunks))
        records = [c for c in chunks if c.strip()]
        try:
            stats = run_filter(FilterConfig(inputs=[str(path)], out=Path(tmp) / "out", min_chars=3))
        except InputError:
            assert not records  # only blank lines: nothing to filter
            return
        out = Path(tmp) / "out"
        assert stats["input"] == len(records)
        assert stats["input"] == stats["kept"] + sum(stats["rejected"].values())
        rejected = stats["rejected"]
        assert stats["duplicates"] == rejected.get("duplicate", 0) + rejected.get("near_duplicate", 0)
        kept = {p.parent.name: len(_rows(p)) for p in out.glob("*/part-00000.jsonl")}
        assert kept == stats["per_lang"] and sum(kept.values()) == stats["kept"]
        assert {p.stem: len(_rows(p)) for p in (out / "rejected").glob("*.jsonl")} == stats["rejected"]
        texts = [r["text"] for p in out.glob("*/part-00000.jsonl") for r in _rows(p)]
        assert all(len(t) >= 3 and t == normalize_text(t) for t in texts)
        for lang in kept:  # dedup: no text twice within a language; cluster sizes add up to what was seen
            shard = _rows(out / lang / "part-00000.jsonl")
            assert len({r["text"].casefold() for r in shard}) == len(shard)
            dup = stats["per_lang_rejected"].get(lang, {})
            assert sum(r["dup_cluster_size"] for r in shard) == len(shard) + dup.get("duplicate", 0) + dup.get(
                "near_duplicate", 0
            )


def test_lone_surrogates_from_json_escapes_are_written_back_as_escapes(tmp_path):
    data = tmp_path / "s.jsonl"
    data.write_bytes(b'{"id": "s", "lang": "en", "note": "\\udc00", "text": "' + EN.encode() + b'\\ud800"}\n')
    stats, out = _filter(tmp_path, [data])
    assert stats["kept"] == 1
    raw = (out / "eng_Latn" / "part-00000.jsonl").read_bytes()
    assert b'"note": "\\udc00"' in raw
    assert json.loads(raw)["text"] == EN  # the surrogate is removed from the text itself


class _NoDigits(BaseFilter):
    """A user-defined filter, the way later issues add steps: only `filter` and a name."""

    name = "no_digits"

    def filter(self, record):
        return not any(ch.isdigit() for ch in record["text"])


class _Weird(BaseFilter):
    name = "weird"

    def filter(self, record):
        return (False, "../Bad Reason!", "reasons become safe file names") if "x" in record["text"] else True


def test_custom_filters_plug_into_the_driver():
    records = [{"id": "1", "text": "abc 1", "lang": "eng_Latn"}, {"id": "2", "text": " ab ", "lang": "eng_Latn"},
               {"id": "3", "text": "xy", "lang": "eng_Latn"}]  # fmt: skip
    kept, dropped = apply_filters([TextNormalizer(), _NoDigits(), _Weird()], records)
    assert kept == [{"id": "2", "text": "ab", "lang": "eng_Latn"}]
    assert [(r["id"], reason, detail) for r, reason, detail in dropped] == [
        ("1", "no_digits", ""), ("3", "bad_reason", "reasons become safe file names")
    ]  # fmt: skip

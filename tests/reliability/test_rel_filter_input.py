"""The filter is where raw text enters: a bad line is a reject with its line number and the run goes on.

Nothing is lost: every input line is either a kept record or a reject, and `input = kept + rejected` holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ENG = ["the lord said unto the king of the people", "and the son of the king said the day is done",
       "the people said unto the lord the king is good", "and the king went to the people on that day"]
BIG = 5_000_000  # the issue asks for 50 MB; 5 MB keeps the suite fast (50 MB was measured by hand, see the note)


def _jsonl(texts: list[str]) -> list[bytes]:
    return [json.dumps({"id": f"r{i}", "text": t, "lang": "eng_Latn"}).encode() + b"\n" for i, t in enumerate(texts)]


def _input(kind: str) -> tuple[bytes, str | None, int]:
    """(file bytes, the reason its bad line must be rejected for, the bad line's number)."""
    good = _jsonl(ENG)
    middle = {
        "invalid_utf8": (b'{"id": "bad", "text": "caf\xe9 au lait \xff"}\n', "invalid_utf8"),
        "nul": (b'{"id": "bad", "text": "nul \x00 byte"}\n', "malformed_json"),
        "malformed": (b'{"id": "bad", "text": "unterminated\n', "malformed_json"),
        "wrong_field": (b'{"id": "bad", "body": "the lord said unto the king"}\n', "no_text"),
        "not_a_string": (b'{"id": "bad", "text": ["a", "b"]}\n', "no_text"),
        "large_line": (json.dumps({"id": "bad", "text": "the king " * (BIG // 9)}).encode() + b"\n", None),
    }
    if kind == "bom":
        return b"\xef\xbb\xbf" + b"".join(good), None, 0
    if kind == "crlf":
        return b"".join(good).replace(b"\n", b"\r\n"), None, 0
    line, reason = middle[kind]
    return b"".join(good[:2]) + line + b"".join(good[2:]), reason, 3 if reason else 0


KINDS = ("invalid_utf8", "nul", "malformed", "wrong_field", "not_a_string", "large_line", "bom", "crlf")


def _filter(cli, inp: Path, out: Path):
    return cli(["filter", str(inp), "--out", str(out), "--backend", "langid", "--langs", "eng_Latn",
                "--threshold", "0", "--min-chars", "5", "--no-repetition"])


@pytest.mark.parametrize("kind", KINDS)
def test_bad_line_is_rejected_with_its_line_number_and_the_run_goes_on(tmp_path, cli, kind):
    data, reason, line_no = _input(kind)
    inp = tmp_path / "web.jsonl"
    inp.write_bytes(data)
    code, _, err = _filter(cli, inp, tmp_path / "out")
    assert code == 0, err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    lines = len([x for x in data.split(b"\n") if x.strip()])
    assert stats["input"] == lines == stats["kept"] + sum(stats["rejected"].values())  # nothing lost
    assert stats["kept"] == len(ENG) + (kind == "large_line")  # every good record kept, BOM/CRLF ones included
    if kind == "large_line":  # kept whole (no --max-chars given), not truncated
        kept = (tmp_path / "out" / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8").splitlines()
        assert max(len(json.loads(x)["text"]) for x in kept) >= BIG - 9
    if reason:
        rejects = (tmp_path / "out" / "rejected" / f"{reason}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(rejects) == 1 and json.loads(rejects[0])["line"] == line_no
        assert f"web.jsonl:{line_no}" in json.loads(rejects[0])["detail"] + json.loads(rejects[0])["id"]


def test_a_txt_file_with_a_nul_byte_and_bad_bytes_loses_nothing(tmp_path, cli):
    inp = tmp_path / "raw.txt"
    inp.write_bytes(b"\n".join([ENG[0].encode(), b"nul \x00 in the lord said text", b"\xff\xfe", ENG[1].encode()]))
    code, _, err = _filter(cli, inp, tmp_path / "out")
    assert code == 0, err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    assert stats["input"] == 4 == stats["kept"] + sum(stats["rejected"].values())
    assert stats["rejected"].get("invalid_utf8") == 1
    kept = (tmp_path / "out" / "eng_Latn" / "part-00000.jsonl").read_text(encoding="utf-8")
    assert "\x00" not in kept  # control characters are removed before LID


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_input_is_refused_and_nothing_is_written(tmp_path, cli, content):
    inp = tmp_path / "empty.jsonl"
    inp.write_bytes(content)
    code, _, err = _filter(cli, inp, tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_rerun_over_an_existing_output_keeps_it_until_the_new_one_is_complete(tmp_path, cli, digest):
    inp = tmp_path / "web.jsonl"
    inp.write_bytes(b"".join(_jsonl(ENG)))
    assert _filter(cli, inp, tmp_path / "out")[0] == 0
    before = digest(tmp_path / "out")
    inp.write_bytes(b"")  # the next run fails: the previous output must survive unchanged
    assert _filter(cli, inp, tmp_path / "out")[0] == 2
    assert digest(tmp_path / "out") == before

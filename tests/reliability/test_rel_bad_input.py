"""The bad-input matrix: every CLI command against damaged data, configs, language codes and models.

Each row must end with exit code 2, exactly one line on stderr (`polytune: error: ...`), no output folder, and the
input left byte-for-byte as it was. The filter is the exception by design: it is where raw text enters, so a bad
line there is a reject with its line number and the run goes on (tested in test_rel_filter_input.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GOOD_LINE = {"id": "X.1.1", "lang": "eng_Latn", "text": "the lord said", "genre": "law", "split": "train"}


def _damaged_corpus(tmp: Path, corpus: Path, kind: str) -> Path:
    """A copy of the corpus whose eng_Latn shard is damaged as `kind`."""
    dst = tmp / f"in-{kind}"
    if kind == "empty":  # a corpus whose only shard is empty
        (dst / "eng_Latn").mkdir(parents=True)
        (dst / "eng_Latn" / "part-00000.jsonl").write_bytes(b"")
        return dst
    shutil.copytree(corpus, dst)
    shard = dst / "eng_Latn" / "part-00000.jsonl"
    lines = shard.read_bytes().splitlines(keepends=True)
    bad = {
        "invalid_utf8": b'{"id": "B", "text": "caf\xe9 \xff", "split": "train"}\n',
        "nul": b'{"id": "B", "text": "a\x00b", "split": "train"}\n',
        "malformed": b'{"id": "B", "text": "unterminated\n',
    }
    if kind == "wrong_field":
        shard.write_bytes(b"".join(lines).replace(b'"text"', b'"txt"'))
    else:
        shard.write_bytes(b"".join(lines[:10]) + bad[kind] + b"".join(lines[10:]))
    return dst


def _data_argv(command: str, inp: Path, out: Path, bert: Path) -> list[str]:
    return {
        "balance": ["balance", "--input", str(inp), "--out", str(out), "--budget", "30"],
        "tokenizer-extend": ["tokenizer", "extend", "--base", str(bert), "--input", str(inp), "--out", str(out),
                             "--add", "5", "--vocab-size", "80"],
        "tokenizer-train": ["tokenizer", "train", "--input", str(inp), "--out", str(out), "--vocab-size", "80"],
        "tokenizer-analyze": ["tokenizer", "analyze", "--tokenizer", f"base={bert}", "--input", str(inp),
                              "--out", str(out), "--split", "train"],
        "augment": ["augment", str(inp), "--out", str(out), "--op", "word_swap=0.5"],
        "class-weights": ["class-weights", "--input", str(inp), "--out", str(out), "--label-field", "genre"],
        "adapt-language": ["adapt", "language", "--base", str(bert), "--input", str(inp), "--lang", "eng_Latn",
                           "--out", str(out), "--max-steps", "1", "--batch-size", "2", "--max-length", "16"],
    }[command]


DATA_COMMANDS = ("balance", "tokenizer-extend", "tokenizer-train", "tokenizer-analyze", "augment", "class-weights",
                 "adapt-language")
DAMAGE = ("invalid_utf8", "nul", "malformed", "wrong_field", "empty")
EXPECTED = {"invalid_utf8": "not valid UTF-8", "nul": ":11: malformed JSON", "malformed": ":11: malformed JSON",
            "wrong_field": "no 'text' field", "empty": "no "}


def _assert_refused(result, out: Path, expected: str = "") -> None:
    code, _, err = result
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("polytune: error: "), err
    assert expected in lines[0], lines[0]
    assert not out.exists(), f"{out} was written"
    assert not list(out.parent.glob(f".{out.name}*")), "temporary files were left beside the output"


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_damaged_shard_is_refused_with_one_line(tmp_path, synthetic_corpus, tiny_bert, cli, digest, command, damage):
    inp = _damaged_corpus(tmp_path, synthetic_corpus, damage)
    before = digest(inp)
    out = tmp_path / "out"
    _assert_refused(cli(_data_argv(command, inp, out, tiny_bert)), out, EXPECTED[damage])
    assert digest(inp) == before  # nothing lost: the input is untouched


@pytest.mark.parametrize("variant", ["bom", "crlf"])
@pytest.mark.parametrize("command", ("balance", "tokenizer-train", "class-weights"))
def test_bom_and_crlf_read_like_the_clean_file(tmp_path, synthetic_corpus, tiny_bert, cli, digest, command, variant):
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    shutil.copytree(synthetic_corpus, clean)
    shutil.copytree(synthetic_corpus, dirty)
    for shard in dirty.glob("*/part-00000.jsonl"):
        data = shard.read_bytes()
        shard.write_bytes(b"\xef\xbb\xbf" + data if variant == "bom" else data.replace(b"\n", b"\r\n"))
    results = [cli(_data_argv(command, inp, tmp_path / f"out-{inp.name}", tiny_bert)) for inp in (clean, dirty)]
    assert [r[0] for r in results] == [0, 0], results
    a, b = digest(tmp_path / "out-clean"), digest(tmp_path / "out-dirty")
    assert {k for k in a if k != "manifest.json"} == {k for k in b if k != "manifest.json"}
    assert all(a[k] == b[k] for k in a if "manifest" not in k), "BOM/CRLF changed the output"


BAD_LANGS = ("../x", "en/..", "xx", "/etc")


@pytest.mark.parametrize("code", BAD_LANGS)
@pytest.mark.parametrize("command", ("balance", "tokenizer-extend", "tokenizer-train", "augment", "class-weights",
                                     "filter", "adapt-language"))
def test_path_like_or_unknown_language_codes_are_refused(tmp_path, synthetic_corpus, tiny_bert, cli, command, code):
    out = tmp_path / "out"
    if command == "filter":
        argv = ["filter", str(synthetic_corpus), "--out", str(out), "--backend", "langid", "--langs", code]
    elif command == "adapt-language":
        argv = _data_argv(command, synthetic_corpus, out, tiny_bert)
        argv[argv.index("--lang") + 1] = code
    else:
        argv = [*_data_argv(command, synthetic_corpus, out, tiny_bert), "--langs", code]
    _assert_refused(cli(argv), out, repr(code))
    assert not (tmp_path / "x").exists() and not (tmp_path / "en").exists()


def _broken_model(tmp: Path, bert: Path, kind: str) -> Path:
    model = tmp / f"model-{kind}"
    if kind == "missing":
        return model
    shutil.copytree(bert, model)
    weights = model / "model.safetensors"
    if kind == "corrupt_tokenizer":
        (model / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "Wor', encoding="utf-8")
    elif kind == "truncated_safetensors":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif kind == "corrupt_safetensors":
        weights.write_bytes(b"\x00" * 64 + weights.read_bytes()[64:])
    elif kind == "pickle_only":  # the weights only as a pickle: refused, safetensors only
        import torch
        from safetensors.torch import load_file

        torch.save(load_file(weights), model / "pytorch_model.bin")
        weights.unlink()
    return model


MODEL_CASES = [
    *[("tokenizer-extend", d) for d in ("missing", "corrupt_tokenizer")],
    *[("tokenizer-analyze", d) for d in ("missing", "corrupt_tokenizer")],
    *[("adapt-language", d) for d in ("missing", "corrupt_tokenizer", "pickle_only")],
    ("adapt-language", "truncated_safetensors"),
    ("adapt-language", "corrupt_safetensors"),
]


@pytest.mark.parametrize(("command", "damage"), MODEL_CASES)
def test_missing_or_corrupt_models_are_refused(tmp_path, synthetic_corpus, tiny_bert, cli, command, damage):
    model = _broken_model(tmp_path, tiny_bert, damage)
    out = tmp_path / "out"
    _assert_refused(cli(_data_argv(command, synthetic_corpus, out, model)), out, str(model))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("workdir: [unclosed", "bad YAML"),
        ("\ufeffworkdir: W\nseed: 1\ntarget_langs: [ny]\nbsae: y\n", "did you mean 'base'"),  # BOM read as none
        ("workdir: W\nseed: 1\nbase: b\nsource_lang: en\ntarget_langs: ['../x']\n", "is not a language code"),
        ("workdir: W\nbase: b\nsource_lang: en\ntarget_langs: [ny]\nsources: {bible: {eng_Latn: k}}\n"
         "balance: {tempreature: 2}\n",
         "did you mean 'temperature'"),
    ],
)
def test_bad_run_configs_are_refused(tmp_path, cli, text, expected):
    config = tmp_path / "run.yaml"
    config.write_text(text.replace("W", str(tmp_path / "w")), encoding="utf-8")
    _assert_refused(cli(["run", str(config)]), tmp_path / "w", expected)


def test_unknown_option_values_say_did_you_mean(tmp_path, synthetic_corpus, cli):
    out = tmp_path / "out"
    argv = ["balance", "--input", str(synthetic_corpus), "--out", str(out), "--strategy", "temprature"]
    _assert_refused(cli(argv), out, "did you mean 'temperature'")
    argv = ["augment", str(synthetic_corpus), "--out", str(out), "--op", "word_swpa=0.5"]
    _assert_refused(cli(argv), out, "did you mean 'word_swap'")


def test_bad_rules_yaml_is_refused(tmp_path, synthetic_corpus, cli):
    rules, out = tmp_path / "rules.yaml", tmp_path / "out"
    rules.write_text("'*': [ {pattern: '(' , replace: x}\n", encoding="utf-8")
    _assert_refused(cli(["filter", str(synthetic_corpus), "--out", str(out), "--backend", "langid",
                         "--rules", str(rules)]), out)


@pytest.mark.parametrize("damage", ["truncated_safetensors", "corrupt_safetensors"])
def test_corrupt_weights_end_in_one_line_and_exit_2(tmp_path, synthetic_corpus, tiny_bert, cli, damage):
    out = tmp_path / "out"
    model = _broken_model(tmp_path, tiny_bert, damage)
    _assert_refused(cli(_data_argv("adapt-language", synthetic_corpus, out, model)), out, "safetensors")


def test_an_output_path_under_a_file_is_one_line_not_a_traceback(tmp_path, synthetic_corpus, cli):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    out = blocker / "out"
    code, _, err = cli(["balance", "--input", str(synthetic_corpus), "--out", str(out), "--budget", "30"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(blocker) in err, err
    assert blocker.read_text(encoding="utf-8") == "not a folder"

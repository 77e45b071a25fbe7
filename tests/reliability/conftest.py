"""Fixtures for the reliability suite: a CLI runner and a tree digest (the corpus and tiny BERT come from tests/).

Everything is built from configs in temporary folders (nothing is downloaded); sizes are kept small for 2 cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import pytest

from polytune.cli.main import main


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--quiet", *argv])
        except SystemExit as exc:  # argparse usage errors exit here
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def _file_digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith("manifest.json"):
        # The command line a manifest records is the only field allowed to differ between equal runs
        # (`polytune ...` from a shell, none from a library call); every other byte must match.
        manifest = json.loads(data)
        manifest.pop("command", None)
        data = json.dumps(manifest, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _file_digest(p) for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def cli():
    """`cli(argv) -> (exit code, stdout, stderr)`: runs `polytune --quiet ARGV` in this process."""
    return _run_cli


@pytest.fixture(scope="session")
def digest():
    """`digest(folder) -> {relative path: sha256}`: a whole tree's state (manifests without their command line)."""
    return _tree_digest

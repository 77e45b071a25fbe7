"""The README documents every config key and every CLI command, so docs cannot silently drift from the code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from polytune.cli.main import build_parser
from polytune.pipeline import GLOBALS, SECTIONS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_config_key_is_documented(section):
    assert f"`{section}:`" in README
    missing = [f.name for f in dataclasses.fields(SECTIONS[section]) if f"| `{f.name}` |" not in README]
    assert not missing, f"README config reference lacks {section}: {missing}"


@pytest.mark.parametrize("key", GLOBALS)
def test_every_top_level_key_is_documented(key):
    assert f"| `{key}` |" in README


def _commands(parser, prefix=()):
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            yield (*prefix, name)
            yield from _commands(sub, (*prefix, name))


def test_every_cli_command_has_an_example():
    commands = [" ".join(c) for c in _commands(build_parser())]
    leaves = [c for c in commands if not any(o.startswith(c + " ") for o in commands)]
    missing = [c for c in leaves if f"polytune {c} " not in README]
    assert not missing, f"README has no example of: {missing}"
    assert "make demo" in README and "make test" in README

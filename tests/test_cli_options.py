"""CLI flags come from the config dataclasses: every generated default is None, so the dataclass default is the only
default. (Every command the README and the docs show parses: tests/test_docs.py.)"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from polytune import config as C
from polytune.cli.adapt import FLAGS as ADAPT_FLAGS
from polytune.cli.main import build_parser
from polytune.cli.options import config_options, generated_fields


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in action.choices.items():
            yield (*prefix, name), sub
            yield from _commands(sub, (*prefix, name))


GENERATED = {" ".join(path): sub for path, sub in _commands(build_parser()) if generated_fields(sub._defaults)}


def test_the_simple_command_groups_are_generated():
    assert {"balance", "class-weights", "filter", "sources", "lid train", "lid eval", "augment", "tokenizer extend",
            "tokenizer jargon", "tokenizer analyze", "tokenizer train", "eval", "eval score", "report", "explain",
            "adapt language", "adapt task"} <= set(GENERATED)  # fmt: skip


@pytest.mark.parametrize("command", sorted(GENERATED))
def test_every_generated_flag_defaults_to_none_and_names_its_field(command):
    parser = GENERATED[command]
    by_dest = {a.dest: a for a in parser._actions}
    for cls_name, names in generated_fields(parser._defaults).items():
        cls = getattr(C, cls_name)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert names and set(names) <= set(fields)
        for name in names:
            action = by_dest[name]
            assert action.default is None, (command, name)
            flag = ADAPT_FLAGS.get(name) if command.startswith("adapt") else None
            flags = {flag} if flag else {"--" + name.replace("_", "-"), "--no-" + name.replace("_", "-")}
            assert flags & set(action.option_strings), (command, name)
            assert fields[name].metadata["help"].replace("%", "%%")[:30] in (action.help or ""), (command, name)


def test_a_flag_not_given_leaves_the_dataclass_default():
    args = build_parser().parse_args(["balance", "--input", "corpus", "--out", "mix", "--budget", "30"])
    options = config_options(args, C.BalanceConfig)
    assert options == {"input": "corpus", "out": "mix", "budget": 30}
    cfg = C.BalanceConfig(**options)
    assert (cfg.temperature, cfg.strategy, cfg.seed, cfg.shard_records) == (3.0, "temperature", 13, 100000)
    args = build_parser().parse_args(["filter", "raw", "--out", "o", "--no-dedup", "--tasks", "4"])
    assert config_options(args, C.FilterConfig) == {"out": "o", "dedup": False, "tasks": 4}


def test_the_help_reads_the_default_from_the_dataclass(monkeypatch):
    field = {f.name: f for f in dataclasses.fields(C.BalanceConfig)}["shard_records"]
    monkeypatch.setattr(field, "default", 4242)
    assert "(default 4242)" in _balance_help()


def _balance_help() -> str:
    sub = dict((" ".join(p), s) for p, s in _commands(build_parser()))["balance"]
    return " ".join(sub.format_help().split())


def _tiny(default: int) -> type:
    @dataclasses.dataclass
    class Tiny:
        path: Path = C._help("where")
        size: int = C._help("how many", default=default)
        strict: bool = C._help("refuse odd sizes", default=True)
        names: list[str] = C._help("which", default_factory=list)

    return Tiny


@pytest.mark.parametrize("default", [7, 9])
def test_the_dataclass_default_is_the_only_default(default):
    cls, parser = _tiny(default), argparse.ArgumentParser()
    from polytune.cli.options import add_config_flags

    assert add_config_flags(parser, cls) == ["path", "size", "strict", "names"]
    assert cls(**config_options(parser.parse_args(["--path", "p"]), cls)).size == default
    assert f"(default {default})" in " ".join(parser.format_help().split())
    args = parser.parse_args(["--path", "p", "--size", "3", "--no-strict", "--names", "a", "b"])
    assert config_options(args, cls) == {"path": "p", "size": 3, "strict": False, "names": ["a", "b"]}
    with pytest.raises(SystemExit):  # a field without a default is a required flag
        parser.parse_args(["--size", "3"])

"""The docs cannot drift from the code: the site builds offline with --strict, the config and CLI reference are what
the code generates, every `polytune ...` command shown parses, demo figures equal their report JSON, and the README
stays a landing page."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from polytune.cli.main import build_parser
from polytune.pipeline import GLOBALS, SECTIONS, plan

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = {DOCS / "reference" / "config.md", DOCS / "reference" / "cli.md"}
GLOBAL_FLAGS = ("--debug", "--quiet", "--allow-pickle")


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def written_pages() -> list[Path]:
    """Every Markdown page a person wrote that the README or the site shows (generated pages excluded)."""
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", ROOT / "benchmarks" / "README.md"]
    return pages + [p for p in sorted(DOCS.rglob("*.md")) if p not in GENERATED]


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- the site ---------------------------------------------------------------------------------------------------


def test_the_site_builds_offline_with_strict(tmp_path):
    """mkdocs build --strict: a broken link, a missing anchor, a page outside the nav or a failed include fails."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True and config["theme"]["font"] is False  # no web fonts
    assert config["plugins"] == ["search"]  # nothing that fetches at build time (social cards, privacy, optimize)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "config" / "index.html").is_file()


# --- the generated reference ------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", sorted(GENERATED), ids=_rel)
def test_the_committed_reference_is_what_the_code_generates(page):
    fresh = _tool("config_reference").pages()[page]
    assert page.read_text(encoding="utf-8") == fresh, f"{_rel(page)} is stale: run tools/config_reference.py"


def _config_rows() -> dict[str, dict[str, str]]:
    """Section (or 'top-level') -> {key: meaning} from the tables of docs/reference/config.md."""
    rows: dict[str, dict[str, str]] = {}
    section = None
    for line in (DOCS / "reference" / "config.md").read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"## (?:`(\w+):`|Top-level keys)", line)
        if heading:
            section = heading[1] or "top-level"
            rows[section] = {}
        elif section and (row := re.fullmatch(r"\| `(\w+)` \|(.*)\|", line)):
            rows[section][row[1]] = row[2].rsplit("|", 1)[-1].strip()
    return rows


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_config_key_has_its_row_in_its_section(section):
    """A key counts as documented only by a row of its own section's table, with a meaning."""
    rows = _config_rows().get(section, {})
    keys = [f.name for f in dataclasses.fields(SECTIONS[section])]
    assert list(rows) == keys, (
        f"config reference, {section}: missing {set(keys) - set(rows)}, extra {set(rows) - set(keys)}"
    )
    assert all(rows.values()), [k for k, v in rows.items() if not v]


def test_every_top_level_key_has_its_row():
    rows = _config_rows()["top-level"]
    assert list(rows) == list(GLOBALS) and all(rows.values())


def test_every_command_and_flag_is_in_the_cli_reference():
    text = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"^## `polytune ([^`]+)`\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    tool = _tool("config_reference")
    for path, _, sub in tool.commands(build_parser()):
        block = blocks.get(" ".join(path))
        assert block is not None, f"no section for polytune {' '.join(path)}"
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in ("-h", "--help") or f"`{flag}`" in block, f"polytune {' '.join(path)}: {flag}"


# --- commands shown in the docs --------------------------------------------------------------------------------

COMMAND = re.compile(
    r"^(?:[A-Z_]+=\S*\s+)*(?:\$\s+)?(?:\.venv/bin/)?polytune (.*)$|(?:^|\s)-m polytune\.cli\.main (.*)$"
)
SKIP_FENCES = ("python", "json", "text")


def _blocks(text: str):
    """(line number, fence language, line) of every line inside a fenced code block."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
        elif fence is not None:
            yield number, fence, line


def block_commands(path: Path) -> list[tuple[str, str]]:
    """(where, command line after `polytune`) of every polytune command in a page's code blocks.

    Continuation lines (a trailing backslash) are joined; in YAML blocks a comment `# polytune ...` counts.
    """
    found, pending, start = [], "", 0
    for number, fence, line in _blocks(path.read_text(encoding="utf-8")):
        if fence in SKIP_FENCES:
            continue
        if fence == "yaml":
            match = re.match(r"\s*#\s*polytune (.*)", line)
            if match:
                found.append((f"{_rel(path)}:{number}", match[1]))
            continue
        start = start if pending else number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        match = COMMAND.search(line)
        if match:
            found.append((f"{_rel(path)}:{start}", match[1] if match[1] is not None else match[2]))
    return found


def _tokens(command: str) -> tuple[list[str], bool]:
    """The arguments of a command line (comments, pipes and redirections cut; `[...]` optional parts kept) and
    whether it elides arguments with `...`."""
    tokens = []
    for token in shlex.split(command, comments=True):
        if token in ("&&", "|", ">", ">>", ";", "&", "||"):
            break
        tokens.append(token)
    elided = any(t in ("...", "…") for t in tokens)
    tokens = [t.lstrip("[").rstrip("]") for t in tokens if t not in ("...", "…")]
    return [t for t in tokens if t], elided


def _command_path(tokens: list[str]) -> tuple[list[str], object, list[object]]:
    """The subcommand words at the start of `tokens`, the innermost parser, and every parser on the way."""
    parser = build_parser()
    parsers, words = [parser], []
    for token in tokens:
        if token in GLOBAL_FLAGS and not words:
            continue
        choices = {}
        for action in parser._actions:
            if action.choices and isinstance(action.choices, dict):
                choices = action.choices
        if token not in choices:
            break
        words.append(token)
        parser = choices[token]
        parsers.append(parser)
    return words, parser, parsers


def _unknown_flags(tokens: list[str], parsers: list) -> list[str]:
    known = {flag for p in parsers for a in p._actions for flag in a.option_strings}
    return [t.split("=")[0] for t in tokens if t.startswith("--") and t.split("=")[0] not in known]


@cache
def all_block_commands() -> tuple[tuple[str, str], ...]:
    return tuple(c for page in written_pages() for c in block_commands(page))


def test_the_docs_show_commands():
    assert len(all_block_commands()) > 100


@pytest.mark.parametrize("where, command", all_block_commands(), ids=[w for w, _ in all_block_commands()])
def test_every_command_in_the_docs_parses(where, command):
    """The real parser on each command line: a renamed or removed flag, or a wrong value type, fails here."""
    tokens, elided = _tokens(command)
    words, _, parsers = _command_path(tokens)
    assert words, f"{where}: 'polytune {command}' names no command"
    if elided:  # `...`: the command and every flag it names must exist
        assert not _unknown_flags(tokens, parsers), f"{where}: unknown flags {_unknown_flags(tokens, parsers)}"
        return
    try:
        args = build_parser().parse_args(tokens)
    except SystemExit as exc:  # argparse: an unknown or malformed flag, a missing required one
        pytest.fail(f"{where}: polytune {command}: argparse exit {exc.code}")
    assert callable(args.handler)


INLINE = re.compile(r"`(?:\.venv/bin/)?polytune ([^`]+)`")


def inline_commands() -> list[tuple[str, str]]:
    """(where, command) of every `polytune ...` code span outside code blocks (a span may wrap onto the next line)."""
    found = []
    for page in written_pages():
        text = re.sub(
            r"^```.*?^```", lambda m: "\n" * m[0].count("\n"), page.read_text(encoding="utf-8"), flags=re.S | re.M
        )
        for match in INLINE.finditer(text):
            found.append((f"{_rel(page)}:{text.count(chr(10), 0, match.start()) + 1}", " ".join(match[1].split())))
    return found


@pytest.mark.parametrize("where, command", inline_commands(), ids=[w for w, _ in inline_commands()])
def test_every_inline_command_names_a_real_command_and_its_flags(where, command):
    """`polytune adapt language|task --from X` in the text: each alternative is a command, each flag is its own."""
    first = command.split()[0]
    if first.isupper() or first in ("...", "…"):  # documented placeholders: `polytune COMMAND --help`, `polytune ...`
        return
    tokens, _ = _tokens(command.replace("\\|", "|"))
    for alternative in _alternatives(tokens):
        words, _, parsers = _command_path(alternative)
        assert words, f"{where}: 'polytune {command}' names no command"
        assert not _unknown_flags(alternative, parsers), f"{where}: {_unknown_flags(alternative, parsers)}"


def _alternatives(tokens: list[str]) -> list[list[str]]:
    """`adapt language|task` -> [adapt language], [adapt task] (only the command words have alternatives)."""
    head = next((i for i, t in enumerate(tokens) if "|" in t and not t.startswith("-")), None)
    if head is None:
        return [tokens]
    return [tokens[:head] + [choice] + tokens[head + 1 :] for choice in tokens[head].split("|")]


def _leaves() -> list[str]:
    commands = [" ".join(p) for p, _, _ in _tool("config_reference").commands(build_parser())]
    return [c for c in commands if not any(o.startswith(c + " ") for o in commands)]


def test_every_cli_command_has_an_example_that_parses():
    shown = set()
    for _, command in all_block_commands():
        tokens, elided = _tokens(command)
        if not elided:
            shown.add(" ".join(_command_path(tokens)[0]))
    missing = [c for c in _leaves() if c not in shown]
    assert not missing, f"the docs show no example of: {missing}"


# --- figures from the demos -------------------------------------------------------------------------------------


def test_demo_figures_are_written_from_their_report_json():
    tool = _tool("report_tables")
    blocks = {}
    for page in tool.files():
        text = page.read_text(encoding="utf-8")
        assert tool.render(text) == text, f"{_rel(page)}: a demo table differs from its JSON (tools/report_tables.py)"
        for kind, json_path in re.findall(r"<!-- report-table: (\w+) (\S+) -->", text):
            blocks.setdefault(json_path, []).append((_rel(page), kind))
    reports = {_rel(p) for p in (ROOT / "benchmarks" / "results").glob("demo*_report_*.json")}
    assert reports and reports <= set(blocks), f"a demo report no page quotes: {reports - set(blocks)}"
    readme = [json_path for json_path, where in blocks.items() if ("README.md", "classification") in where]
    assert len(readme) >= 2, "the README shows the MiniLM and the multilingual demo's tables"


def test_a_report_table_is_not_empty():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tables = re.findall(r"<!-- report-table: \w+ \S+ -->\n(.*?)<!-- /report-table -->", text, re.S)
    assert tables and all(t.count("\n| ") >= 4 for t in tables)  # header, rule, languages, average


# --- the README -------------------------------------------------------------------------------------------------


def test_the_readme_is_a_landing_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    for needed in ("make demo", "make test", "make demo-llm", "## Your own corpus", "docs/tutorial/llm.md"):
        assert needed in text, needed


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"])
def test_relative_links_outside_the_site_resolve(page):
    """The site's links are checked by mkdocs --strict; these pages are read on the forge too."""
    path = ROOT / page
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = [t for t in re.findall(r"\]\(([^)\s]+)\)", text)
              if not re.match(r"[a-z]+:|#", t) and not (path.parent / t.split("#")[0]).exists()]  # fmt: skip
    assert not broken, broken


def test_the_own_corpus_config_in_the_readme_plans_a_run():
    """tests/own_corpus runs it end to end (slow); here every section of it is validated, fast."""
    from tests.own_corpus.test_own_corpus_run import readme_config

    config = readme_config()
    steps = [step.name for step in plan(config)]
    assert steps[:3] == ["sources", "lid", "filter"] and steps[-1] == "evaluation"
    assert set(config["sources"]["files"]) == {config["source_lang"], *config["target_langs"]}


USER_PAGES = [p for p in written_pages() if p.name not in ("CHANGELOG.md", "changelog.md", "benchmarks.md")
              and "benchmarks" not in p.parts]  # fmt: skip


@pytest.mark.parametrize("page", USER_PAGES, ids=_rel)
def test_user_docs_keep_no_dated_notes(page):
    """A dated measurement goes to the changelog; a date in a file name (a report JSON) is a name, not a note."""
    dates = re.findall(r"(?<![\w-])20\d\d-[01]\d-[0-3]\d(?![\w-]|\.json)", page.read_text(encoding="utf-8"))
    assert not dates, f"{_rel(page)}: {dates}; move dated notes to CHANGELOG.md"

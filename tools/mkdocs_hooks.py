"""MkDocs hook (mkdocs.yml `hooks:`): pages may include Markdown that lives outside docs/, written once.

A line `<!-- include: PATH -->` in a docs page is replaced by the file PATH (relative to the repository root), and
`<!-- include: PATH#NAME -->` by the part of it between `<!-- section: NAME -->` and `<!-- /section: NAME -->`.
So the README's quickstart and result tables, CONTRIBUTING.md, CHANGELOG.md and benchmarks/README.md each have one
source and still read right where they are. Links in the included text are rewritten for the page: a link to a
docs page becomes relative to the including page; a link to any other file of the repository (a script, a JSON
result) becomes its path in code, since the site does not carry it. A missing file or section fails the build.

Example: `<!-- include: README.md#own-corpus -->` in docs/tutorial/own-corpus.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

INCLUDE = re.compile(r"^<!-- include: (?P<path>[^#\s]+)(?:#(?P<name>[\w-]+))? -->$", re.M)
LINK = re.compile(r"(?P<bang>!?)\[(?P<label>[^\]]*)\]\((?P<target>[^)\s]+)\)")
SECTION = "<!-- section: {} -->"
SECTION_END = "<!-- /section: {} -->"


class IncludeError(ValueError):
    """An include names a file or section that does not exist."""


def section(text: str, name: str, where: str) -> str:
    """The text between a section's start and end markers (without them).

    Example: section("a\\n<!-- section: x -->\\nb\\n<!-- /section: x -->\\n", "x", "f") -> "b\\n"
    """
    start, end = SECTION.format(name), SECTION_END.format(name)
    if text.count(start) != 1 or text.count(end) != 1:
        raise IncludeError(f"{where}: expected one {start!r} and one {end!r}")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def rewrite_links(text: str, source: Path, page: Path, root: Path, docs: Path) -> str:
    """Links of text written at `source`, made right for the docs page `page` (both absolute paths)."""

    def one(match: re.Match) -> str:
        target = match["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match[0]  # a URL, an anchor of the same page, a site path: unchanged
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        if resolved.is_relative_to(docs.resolve()):
            new = os.path.relpath(resolved, page.parent.resolve()).replace(os.sep, "/")
            return f"{match['bang']}[{match['label']}]({new}{'#' + anchor if anchor else ''})"
        shown = resolved.relative_to(root.resolve()).as_posix() if resolved.is_relative_to(root.resolve()) else path
        label = match["label"]
        return label if label.strip("`") == shown or label.startswith("`") else f"{label} (`{shown}`)"

    return LINK.sub(one, text)


def expand(markdown: str, page: Path, root: Path, docs: Path) -> str:
    """Every include line of a page replaced by the text it names."""

    def one(match: re.Match) -> str:
        source = root / match["path"]
        if not source.is_file():
            raise IncludeError(f"{page}: include of a missing file {match['path']}")
        text = source.read_text(encoding="utf-8")
        if match["name"]:
            text = section(text, match["name"], match["path"])
        return rewrite_links(text, source, page, root, docs).rstrip("\n")

    return INCLUDE.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001 - MkDocs calls hooks by keyword
    root = Path(config["config_file_path"]).parent
    docs = Path(config["docs_dir"])
    return expand(markdown, docs / page.file.src_path, root, docs)

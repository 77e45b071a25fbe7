"""The rules of the house (../shared/DESIGN.md), read from the source: no import circles, no stage importing another
stage, torch/transformers/peft imported only in adapters/, models/, zoo/ and evaluation/predict/.

Every `import` statement counts, also those inside functions (a lazy import is still a dependency: it only moves
the moment the circle bites). Imports under `if TYPE_CHECKING:` do not run and are not counted.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "polytune"
STAGES = ("corpus", "tokenizer", "adapters", "evaluation")
HEAVY = ("torch", "transformers", "peft", "accelerate")
HEAVY_ALLOWED = ("polytune.adapters", "polytune.models", "polytune.zoo", "polytune.evaluation.predict")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(
    tree: ast.AST, module: str, is_package: bool, known: frozenset[str] = frozenset()
) -> list[tuple[str, int]]:
    """(imported module, line) for every import statement outside `if TYPE_CHECKING:` blocks.

    `from a.b import c` imports the module a.b.c when that is one of `known`, else the name c of a.b.
    """
    out: list[tuple[str, int]] = []
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node)
            for child in node.body for n in ast.walk(child)}  # fmt: skip
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((sub if sub in known else base, node.lineno))
    return out


@cache
def edges() -> dict[str, dict[str, int]]:
    """module -> {polytune module it imports: first line}; `from a.b import c` counts a.b (and a.b.c if a module)."""
    known = modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets: dict[str, int] = {}
        for target, line in _imported(tree, name, path.name == "__init__.py", frozenset(known)):
            if target in known and target != name:
                targets.setdefault(target, line)
        graph[name] = targets
    return graph


def heavy_imports() -> list[tuple[str, str, int]]:
    out = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target, line in _imported(tree, name, path.name == "__init__.py"):
            if target.split(".")[0] in HEAVY:
                out.append((name, target, line))
    return out


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_circles_finds_a_planted_circle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}, "e": {}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b": 1}, "b": {}}) == []


def test_relative_imports_resolve() -> None:
    tree = ast.parse("from . import base\nfrom ..io import read_json\nfrom .text import x\n")
    known = frozenset({"polytune.evaluation.metrics.base"})
    got = [t for t, _ in _imported(tree, "polytune.evaluation.metrics", is_package=True, known=known)]
    assert "polytune.evaluation.metrics.base" in got
    assert "polytune.evaluation.io" in got
    assert "polytune.evaluation.metrics.text" in got
    assert "polytune.evaluation.metrics" not in got  # `from . import base` depends on the submodule, not the face


def test_the_scan_sees_the_package() -> None:
    graph = edges()
    assert len(graph) > 100  # every module of src/polytune
    assert "polytune.errors" in graph["polytune.config.base"]  # a plain top-level import is an edge


def test_no_import_circles() -> None:
    found = circles(edges())
    assert not found, "import circles (break each by moving the shared part down):\n" + "\n".join(
        " <-> ".join(c) for c in found
    )


def test_stages_never_import_each_other() -> None:
    crossings = [
        f"{module} imports {target} (line {line})"
        for module, targets in edges().items()
        for target, line in targets.items()
        if stage_of(module) and stage_of(target) and stage_of(module) != stage_of(target)
    ]
    assert not crossings, "stages hand off through files and io/langcodes/config types:\n" + "\n".join(crossings)


@pytest.mark.parametrize("lib", HEAVY)
def test_heavy_libraries_only_where_design_allows(lib: str) -> None:
    outside = [
        f"{module}:{line} imports {target}"
        for module, target, line in heavy_imports()
        if target.split(".")[0] == lib and not module.startswith(HEAVY_ALLOWED)
    ]
    assert not outside, f"{lib} is imported only in {', '.join(HEAVY_ALLOWED)}:\n" + "\n".join(outside)


def test_models_imports_no_stage() -> None:
    """models/ is below every stage: loading and composition that training and prediction share."""
    up = [
        f"{module} imports {target}"
        for module, targets in edges().items()
        if module == "polytune.models" or module.startswith("polytune.models.")
        for target in targets
        if stage_of(target) or target.startswith(("polytune.pipeline", "polytune.cli", "polytune.tune"))
    ]
    assert not up, "\n".join(up)

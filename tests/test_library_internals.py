"""polytune uses libraries through their public APIs only, so a new release cannot break it silently.

A source scan (like the safe-loading scan): no class under src/ may subclass a class of transformers, peft,
accelerate, datasets, sacrebleu or torch and override a `_`-prefixed method of it, or a public method that is not a
documented extension point; no code reads a `_`-prefixed attribute of a library object or assigns to a library's
attributes (monkey-patching). transformers 5.24 changed `DataCollatorForLanguageModeling.create_rng`, which a
subclass here overrode: `make demo` and `make test` broke on every fresh install. This test finds the next one.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "polytune"
WATCHED = ("transformers", "peft", "accelerate", "datasets", "sacrebleu", "torch", "datatrove")
# Public methods each library documents as the ones to implement in a subclass.
EXTENSION_POINTS = {
    "torch.nn.Module": {"forward", "extra_repr"},
    "transformers.TrainerCallback": {"on_" + e for e in ("init_end", "train_begin", "train_end", "epoch_begin",
                                                         "epoch_end", "step_begin", "step_end", "log", "evaluate",
                                                         "save", "substep_end", "predict", "prediction_step")},
    "datatrove.pipeline.filters.base_filter.BaseFilter": {"filter"},
    "datatrove.pipeline.base.PipelineStep": {"run"},
}


# Internals used on purpose. sacrebleu's per-segment statistics used to be read from its private methods; polytune
# computes them itself now (evaluation/metrics/sacrebleu_stats.py), so none of sacrebleu's is listed.
PINNED = {
    "_SubParsersAction": "argparse's subparsers type, in annotations only (stdlib)",
}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported_names(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted origin, for every import of a watched library anywhere in the module."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in WATCHED:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in WATCHED:
                    root = alias.name.split(".")[0]
                    names[alias.asname or root] = alias.name if alias.asname else root
    return names


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


def _resolve(dotted: str) -> type | None:
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return None


def _allowed(base: type, method: str) -> bool:
    for owner, methods in EXTENSION_POINTS.items():
        cls = _resolve(owner)
        if cls is not None and issubclass(base, cls) and method in methods:
            return True
    return False


def library_overrides() -> list[str]:
    """`file:line Class.method overrides library.Base.method` for every forbidden override."""
    found = []
    for path, tree in _modules():
        imported = _imported_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for base_node in node.bases:
                dotted = _dotted(base_node)
                head = dotted.split(".")[0] if dotted else None
                if head not in imported:
                    continue
                origin = imported[head] + dotted[len(head):]
                base = _resolve(origin)
                if base is None:
                    continue
                for item in node.body:
                    if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) or not hasattr(base, item.name):
                        continue
                    dunder = item.name.startswith("__") and item.name.endswith("__")
                    if dunder or _allowed(base, item.name):
                        continue
                    found.append(f"{path.relative_to(SRC)}:{item.lineno} {node.name}.{item.name} overrides "
                                 f"{origin}.{item.name}")  # fmt: skip
    return found


def _own_private_names(trees: list[ast.AST]) -> set[str]:
    """Every `_name` polytune defines itself: functions, classes, assigned names and attributes, arguments."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
    return {n for n in names if n.startswith("_")}


def private_uses() -> list[str]:
    """`file:line` for reads of a `_name` that polytune does not define (a library's internals), and for
    assignments to an attribute of an imported library module (monkey-patching)."""
    modules = list(_modules())
    own = _own_private_names([tree for _, tree in modules])
    found = []
    for path, tree in modules:
        imported = _imported_names(tree)
        for node in ast.walk(tree):
            private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__")
            if private and node.attr not in own and node.attr not in PINNED:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} reads {_dotted(node.value) or '...'}.{node.attr}")
            by_name = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                "getattr", "hasattr", "setattr") and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
            name = node.args[1].value if by_name else None
            if isinstance(name, str) and name.startswith("_") and not name.endswith("__") and name not in own:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.func.id}(..., {name!r})")
            if isinstance(node, ast.Assign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    root = _dotted(target.value) if isinstance(target, ast.Attribute) else None
                    if root and root.split(".")[0] in imported and imported[root.split(".")[0]].count(".") == 0:
                        found.append(f"{path.relative_to(SRC)}:{node.lineno} patches {root}.{target.attr}")
    return found


def test_no_module_overrides_a_library_method_that_is_not_an_extension_point():
    assert library_overrides() == []


def test_no_module_reads_library_internals_or_patches_a_library():
    assert private_uses() == []


SCAN_CASES = [
    ("from transformers import DataCollatorForLanguageModeling\n"
     "class C(DataCollatorForLanguageModeling):\n    def create_rng(self):\n        pass\n", 1, 0),
    ("from transformers import Trainer\nclass T(Trainer):\n    def _save(self, out=None):\n        pass\n", 1, 0),
    ("from transformers import TrainerCallback\nclass C(TrainerCallback):\n    def on_log(self, *a, **k):\n"
     "        pass\n    def helper(self):\n        pass\n", 0, 0),
    ("import torch\nclass M(torch.nn.Module):\n    def forward(self, x):\n        return x\n", 0, 0),
    ("from sacrebleu.metrics.base import Score\ns = Score('x', 1.0)\ns.estimate_ci([s])\nm = s._mean\n", 0, 1),
    ("class Own:\n    def __init__(self):\n        self._state = 1\nx = Own()._state\n", 0, 0),
    ("def f(tokenizer):\n    return getattr(tokenizer, '_tokenizer', None)\n", 0, 1),
    ("import transformers\ntransformers.Trainer = object\n", 0, 1),
]


@pytest.mark.parametrize("source, overrides, private", SCAN_CASES)
def test_the_scan_finds_what_it_is_meant_to_find(tmp_path, monkeypatch, source, overrides, private):
    """The scan itself, on sources that do (and do not) reach into a library: it cannot pass vacuously."""
    package = tmp_path / "polytune"
    package.mkdir()
    (package / "case.py").write_text(source, encoding="utf-8")
    monkeypatch.setitem(globals(), "SRC", package)
    assert (len(library_overrides()), len(private_uses())) == (overrides, private)

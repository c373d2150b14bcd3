"""The portable modules (the training loop, the kernels, the data code the exported script
copies) import only the standard library, numpy, torch and each other: never the app's
modules (the rest of builder, graph, widgets) nor Qt. The exporter copies their source, so
they must also be plain definitions it can copy, with names the script's own code leaves
free."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys

import pytest

from builder.export.model import SCRIPT_NAMES
from builder.export.source import (
    PORTABLE_DATA,
    Copier,
    kernel_modules,
    parse,
    portable_modules,
)
from builder.training import procedures

MODULES = portable_modules()
# scikit-learn makes some built-in datasets; its loaders import it where they need it.
LAZY = {
    "builder.data.generated": {"sklearn"},
    "builder.data.sklearn_data": {"sklearn"},
    "builder.training.kernels.som_outputs": {"matplotlib"},  # a SOM's optional PNGs
}


def _imports(module: str) -> list[tuple[str, bool]]:
    """Every module ``module`` imports, and whether the import is at its top level."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    top = {id(node) for node in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: a relative import"
            out.append((node.module or "", id(node) in top))
    return out


def test_the_portable_modules_are_the_loop_the_kernels_and_the_data_code():
    assert "builder.training.loop" in MODULES
    assert {"builder.data.splits", "builder.data.augmentation"} <= set(PORTABLE_DATA)
    for spec in procedures.PROCEDURES.values():  # every procedure's kernel is portable
        assert spec.kernel in kernel_modules(), spec.id
    assert {"builder.training.kernels.supervised", "builder.training.kernels.losses"} <= set(
        kernel_modules()
    )


@pytest.mark.parametrize("module", MODULES)
def test_imports_only_the_stdlib_numpy_torch_and_each_other(module):
    bad = []
    for name, at_top in _imports(module):
        top = name.split(".")[0]
        if name == "__future__" or top in sys.stdlib_module_names or top in ("numpy", "torch"):
            continue
        if name in MODULES:
            continue
        if not at_top and top in LAZY.get(module, set()):
            continue
        bad.append(name)
    assert not bad, f"{module} imports {bad}: only the standard library, numpy, torch and" + (
        " the other portable modules (builder.export.source) may be imported"
    )


@pytest.mark.parametrize("module", MODULES)
def test_holds_only_imports_and_definitions(module):
    """The exporter copies definitions (functions, classes, constants): anything else at the
    top level (a loop, a registration, a condition) would not reach the script."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    allowed = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
    )
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        assert docstring or isinstance(node, allowed), f"{module}:{node.lineno}"


@pytest.mark.parametrize("module", MODULES)
def test_every_definition_can_be_copied_and_leaves_the_scripts_names_free(module):
    parsed = parse(module)
    names = set(parsed.defines)
    assert not names & SCRIPT_NAMES, f"{module} defines {names & SCRIPT_NAMES}"
    copier = Copier(SCRIPT_NAMES)
    blocks = copier.take((module, d.names[0]) for d in parsed.definitions)
    code = "\n\n\n".join(b.code for b in blocks)
    ast.parse(code)
    assert "builder" not in {n.module.split(".")[0] for n in _from_imports(code)}
    assert set(copier.imports) <= set(copier.taken)


def _from_imports(code: str) -> list[ast.ImportFrom]:
    return [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ImportFrom) and n.module]


def test_an_app_import_is_refused():
    """Code that reaches the app (here the trainer) is not copied into a script."""
    from builder.export.source import NotPortableError

    with pytest.raises(NotPortableError, match=r"builder\.training\.\w+ imports .*: not portable"):
        Copier(()).take([("builder.training.trainer", "pick_device")])

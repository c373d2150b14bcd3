"""Import direction (widgets -> builder -> graph) and the security rules, checked on the
source (every import statement, also inside functions) and at run time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"}
FORBIDDEN = {
    "graph": QT | {"torch", "builder", "widgets", "numpy"},
    "builder": QT | {"widgets"},
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction_in_source(package):
    files = _modules(package)
    assert files, f"{package}/ has no modules"
    bad = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files
        for name in _imports(path) & FORBIDDEN[package]
    }
    assert not bad, sorted(bad)


def test_import_direction_at_run_time():
    code = (
        "import sys, pkgutil, importlib, graph, builder\n"
        "for pkg in (graph, builder):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in ('PySide6', 'pyqtgraph', 'widgets') if n in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    code = "import sys, graph, graph.project_file, graph.document\nprint('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def _calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


@pytest.mark.parametrize("package", ["graph", "builder", "widgets"])
def test_no_pickle_eval_or_unsafe_torch_load(package):
    problems = []
    for path in _modules(package):
        rel = path.relative_to(ROOT)
        if {"pickle", "marshal", "shelve", "dill"} & _imports(path):
            problems.append(f"{rel}: imports a pickle-like module")
        for call in _calls(path):
            func = call.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if isinstance(func, ast.Name) and name in {"eval", "exec"}:
                problems.append(f"{rel}:{call.lineno}: calls {name}")
            if (
                name == "load"
                and isinstance(func, ast.Attribute)
                and getattr(func.value, "id", "") == "torch"
            ):
                kw = {k.arg: k.value for k in call.keywords}
                if not (
                    isinstance(kw.get("weights_only"), ast.Constant)
                    and kw["weights_only"].value is True
                ):
                    problems.append(f"{rel}:{call.lineno}: torch.load without weights_only=True")
    assert not problems, problems


def test_catalog_and_shape_inference_load_without_torch():
    """The editor shows its window before torch has loaded (it loads in the background)."""
    code = (
        "import sys, builder, builder.shapes, builder.summary, graph.project_file\n"
        "from builder import CATALOG, infer, ShapeChecker\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"

"""Importing a class from a Python file (``path/to/file.py:ClassName``), which RUNS that
file's code: :func:`load_class`, :func:`convert_file` and :func:`import_file`."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from builder.importer.convert import convert_module
from builder.importer.errors import ModelImportError, first_line
from builder.importer.network import ImportedModel
from graph.document import Project


def load_class(spec: str) -> tuple[Any, str, Path]:
    """Load ``"path/to/file.py:ClassName"`` and return ``(class, its name, the file)``.

    This RUNS the file's code (as ``python file.py`` would, without ``__main__``): import
    only files you trust. Without ``:ClassName`` the file must define exactly one
    ``nn.Module`` subclass.
    """
    path_text, sep, class_name = spec.rpartition(":")
    if not sep or not path_text.endswith(".py"):  # "C:\\x.py" has a colon too
        path_text, class_name = spec, ""
    path = Path(path_text)
    if not path.is_file():
        raise ModelImportError(
            f"Cannot import {spec}: {path} is not a file (give path/to/module.py:ClassName)"
        )
    module_name = f"_neuralcanvas_import_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ModelImportError(f"Cannot import {spec}: {path} is not a Python file")
    code = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    sys.modules[module_name] = code
    try:
        loader_spec.loader.exec_module(code)
    except Exception as exc:
        raise ModelImportError(
            f"Cannot import {spec}: running {path.name} failed{_where(exc, path)}:"
            f" {exc.__class__.__name__}: {first_line(exc)}"
        ) from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    if not class_name:
        found = [
            n
            for n, v in vars(code).items()
            if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == module_name
        ]
        if len(found) != 1:
            listing = ", ".join(found) or "none"
            raise ModelImportError(
                f"Cannot import {spec}: name the class as {path}:ClassName (nn.Module classes"
                f" in the file: {listing})"
            )
        class_name = found[0]
    cls = getattr(code, class_name, None)
    if cls is None:
        found = [
            n for n, v in vars(code).items() if isinstance(v, type) and issubclass(v, nn.Module)
        ]
        raise ModelImportError(
            f"Cannot import {spec}: {path.name} has no {class_name!r}"
            f" (nn.Module classes in it: {', '.join(found) or 'none'})"
        )
    return cls, class_name, path


def _where(exc: BaseException, path: Path) -> str:
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path.resolve()
    ]
    if not frames:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return f" at line {frames[-1].lineno}" if frames else ""


def _instantiate(cls: Any, class_name: str, spec: str, path: Path) -> nn.Module:
    if not callable(cls):
        raise ModelImportError(f"Cannot import {spec}: {class_name} is not a class")
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        needed = [
            p.name
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if needed:
            raise ModelImportError(
                f"Cannot import {spec}: {class_name}() needs arguments ({', '.join(needed)});"
                " give them defaults, or add a subclass or function without arguments that"
                " builds it, and import that"
            )
    try:
        module = cls()
    except Exception as exc:
        raise ModelImportError(
            f"Cannot import {spec}: {class_name}() failed{_where(exc, path.resolve())}:"
            f" {exc.__class__.__name__}: {first_line(exc)}"
        ) from None
    if not isinstance(module, nn.Module):
        raise ModelImportError(
            f"Cannot import {spec}: {class_name}() returned a {type(module).__name__},"
            " not a torch.nn.Module"
        )
    return module


def convert_file(
    spec: str,
    input_shapes: Sequence[Sequence[int]],
    name: str | None = None,
    input_dtypes: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
) -> ImportedModel:
    """Like :func:`import_file`, also returning the renamed weights (see
    :class:`ImportedModel`)."""
    cls, class_name, path = load_class(spec)
    module = _instantiate(cls, class_name, spec, path)
    module.eval()
    return convert_module(module, input_shapes, name or class_name, input_dtypes, output_names)


def import_file(
    spec: str,
    input_shapes: Sequence[Sequence[int]],
    name: str | None = None,
    input_dtypes: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
) -> Project:
    """Import ``"path/to/module.py:ClassName"``: load the file, build ``ClassName()`` (it
    must need no arguments) and import it with :func:`import_module`.

    Loading the file RUNS its code with the user's rights: this is for files the user
    chose to import. The project is named after the class unless ``name`` is given.
    """
    return convert_file(spec, input_shapes, name, input_dtypes, output_names).project

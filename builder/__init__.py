"""The semantics: layer catalog, shape inference, compilation to torch. No Qt here.

Attributes are imported on first use, so ``import builder.shapes`` (the catalog and shape
inference, which the editor needs at once) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CATALOG": "builder.catalog.layers",
    "Catalog": "builder.catalog.spec",
    "Ctor": "builder.catalog.spec",
    "LayerSpec": "builder.catalog.spec",
    "Shape": "builder.catalog.spec",
    "compile_network": "builder.compile",
    "example_inputs": "builder.compile",
    "GraphInvalidError": "builder.errors",
    "LayerShapeError": "builder.errors",
    "NodeInfo": "builder.shapes",
    "ShapeChecker": "builder.shapes",
    "infer": "builder.shapes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'builder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

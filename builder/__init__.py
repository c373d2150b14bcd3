"""The semantics: layer catalog, shape inference, compilation to torch. No Qt here."""

from builder.catalog import Catalog, Ctor, LayerSpec, Shape
from builder.compile import compile_network, example_inputs
from builder.errors import GraphInvalidError, LayerShapeError
from builder.layers import CATALOG
from builder.shapes import NodeInfo, ShapeChecker, infer

__all__ = [
    "CATALOG",
    "Catalog",
    "Ctor",
    "GraphInvalidError",
    "LayerShapeError",
    "LayerSpec",
    "NodeInfo",
    "Shape",
    "ShapeChecker",
    "compile_network",
    "example_inputs",
    "infer",
]

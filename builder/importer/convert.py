"""Importing a module in memory: :func:`convert_module` and :func:`import_module`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog
from builder.importer.errors import ModelImportError
from builder.importer.interpreter import BareLayer, Importer
from builder.importer.network import ImportedModel
from builder.importer.readers import module_types
from graph.document import Project


def _check_shapes(input_shapes: Any) -> list[tuple[int, ...]]:
    out = []
    for i, shape in enumerate(input_shapes):
        try:
            dims = tuple(shape)
        except TypeError:
            dims = None
        if (
            not dims
            or len(dims) > 5
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims)
        ):
            raise ModelImportError(
                f"Input shape {i + 1} is {shape!r}: give one sample's shape without the batch"
                " dim, 1 to 5 positive integers such as (1, 8, 8)"
            )
        out.append(dims)
    return out


def _own_output_names(module: nn.Module) -> list[str] | None:
    """The Output names a model compiled or exported by NeuralCanvas declares (``OUTPUTS``;
    older compiled models only have ``meta["outputs"]``), or None."""
    names = getattr(module, "OUTPUTS", None)
    if isinstance(names, (tuple, list)) and names and all(isinstance(n, str) for n in names):
        return list(names)
    meta = getattr(module, "meta", None)
    ports = meta.get("outputs") if isinstance(meta, dict) else None
    if ports:
        return [getattr(p, "node_name", "") or p.name for p in ports]
    return None


def convert_module(
    module: nn.Module,
    input_shapes: Sequence[Sequence[int]],
    name: str = "Imported",
    input_dtypes: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
    catalog: Catalog = CATALOG,
) -> ImportedModel:
    """Like :func:`import_module`, also returning the weights renamed for the project.

    ``output_names`` name the Output nodes in return order; without them a module compiled
    or exported by NeuralCanvas keeps its Output names (its ``OUTPUTS``), others get
    ``output`` / ``output_1``, ``output_2``, ... (one Output per tensor of a returned tuple).
    """
    if not isinstance(module, nn.Module):
        raise ModelImportError(f"Cannot import {module!r}: it is not a torch.nn.Module")
    shapes = _check_shapes(input_shapes)
    if type(module) in module_types(catalog):  # a bare layer: fx would trace into F.linear
        module = BareLayer(module, catalog.default_name(module_types(catalog)[type(module)]))
    elif type(module) in (nn.TransformerEncoder, nn.TransformerEncoderLayer):  # kept whole
        module = BareLayer(module, "encoder")
    if output_names is None:
        output_names = _own_output_names(module)
    return Importer(module, shapes, name, input_dtypes, output_names, catalog).run()


def import_module(
    module: nn.Module,
    input_shapes: Sequence[Sequence[int]],
    name: str = "Imported",
    input_dtypes: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
) -> Project:
    """Turn ``module`` into a project whose network ``main`` computes the same function.

    Args:
        module: the module to import; it is traced with ``torch.fx`` (not run).
        input_shapes: one sample's shape per forward argument, without the batch dim, e.g.
            ``[(1, 8, 8)]``. Trailing forward arguments with defaults may be left out.
        name: the project's name (the compiled class is named after it).
        input_dtypes: ``"float32"`` / ``"int64"`` per input; by default an input that only
            feeds Embeddings is int64, others float32.
        output_names: names of the Output nodes, in return order (by default a model
            compiled or exported by NeuralCanvas keeps its ``OUTPUTS``). A layer that has
            the name of an Output is renamed (``mean`` -> ``mean_2``).

    Node names are the module's attribute paths (``fc1``, ``block1.conv1``) and the fx names
    of operations (``add``, ``cat``); compiling the project gives the same attribute names
    for flat modules, so the module's ``state_dict`` loads as is (see
    :func:`convert_module` for nested ones). Raises :class:`ModelImportError` listing every
    operation without a layer, or the layer whose arguments do not fit the input shapes.
    """
    return convert_module(module, input_shapes, name, input_dtypes, output_names).project

"""The sizes an import can read as numbers: the input shapes are given, so every size but the
batch's is a constant of the traced graph. :func:`propagate` runs torch.fx's ShapeProp on
fake tensors (nothing of the module is run or changed) and leaves each tensor node's shape in
its ``meta``; :func:`size_of` reads a size back (the batch's is :class:`Batch`: it varies);
:func:`arithmetic` evaluates Python arithmetic on such constants (ShuffleNet's
``num_channels // groups``, ViT's ``h // patch_size``), and :func:`asserted` a ``torch._assert``
on them."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import fx

from builder.importer.errors import Unsupported
from builder.importer.values import Batch, ShapeOf

ARITHMETIC = {
    operator.add,
    operator.sub,
    operator.mul,
    operator.floordiv,
    operator.truediv,
    operator.mod,
    operator.neg,
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.not_,
}


def propagate(
    graph_module: fx.GraphModule, shapes: Sequence[Sequence[int]], dtypes: Sequence[Any]
) -> bool:
    """Record each tensor node's shape (batch 2) in its ``meta``; False when the module
    cannot run on fake tensors (its sizes then stay unknown: only the batch size is read)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.passes.shape_prop import ShapeProp

    mode = FakeTensorMode(allow_non_fake_inputs=True)
    try:
        with mode, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the module's own warnings come with its import
            inputs = [torch.zeros((2, *shape), dtype=dtype) for shape, dtype in zip(shapes, dtypes)]
            ShapeProp(graph_module, fake_mode=mode).propagate(*inputs)
    except Exception:  # any failure leaves the sizes unknown, never the import broken
        return False
    return True


def traced_shape(node: Any) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def size_of(shape: ShapeOf, dim: Any) -> Any:
    """``x.size(dim)`` / ``x.shape[dim]``: :class:`Batch` for dim 0, else the constant."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise Unsupported("reads sizes by a slice or a value that is not a number")
    if dim == 0:
        return Batch()
    dims = shape.dims
    if dims is None:
        raise Unsupported("reads a size other than the batch size (dim 0)")
    rank = len(dims)
    if not -rank <= dim < rank:
        raise Unsupported(f"reads size {dim} of a tensor of {rank} dims")
    return Batch() if dim == -rank else dims[dim]


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, bool))


def arithmetic(fn: Any, args: Sequence[Any]) -> Any:
    """``fn(*args)`` on constants; :class:`Unsupported` when the batch size takes part (it is
    not a number: only ``reshape(x.size(0), ...)`` takes it)."""
    if any(isinstance(a, Batch) for a in args):
        raise Unsupported("computes with the batch size; only reshape(x.size(0), ...) takes it")
    return fn(*args)


def asserted(condition: Any, message: Any) -> None:
    """``torch._assert`` on constants: true is nothing; false means the input shapes given do
    not fit the model."""
    if not is_number(condition):
        raise Unsupported("asserts on a tensor's values")
    if not condition:
        raise Unsupported(f"asserts {message!r}, which the input shapes given do not meet")

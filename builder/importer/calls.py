"""Reading fx calls: their arguments, the names of the operations, the indexing patterns,
and the functions and tensor methods that are catalog layers (``F.relu``, ``x.softmax``,
``+``, ``torch.cat``, ``F.max_pool2d`` ...)."""

from __future__ import annotations

import operator
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx

from builder.importer.errors import Unsupported, reject
from builder.importer.readers import size_param


def qualified(target: Any) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
    if module in ("_operator", "builtins"):
        module = "operator" if module == "_operator" else ""
    if not module and getattr(target, "__self__", None) is torch:  # torch.flatten, torch.cat
        module = "torch"
    if module.startswith("torch._C") or name.startswith("_VariableFunctionsClass."):
        module, name = "torch", getattr(target, "__name__", name)
    return f"{module}.{name}" if module else name


def call_arg(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def no_extra(node: fx.Node, allowed: set[str], positional: int) -> None:
    if len(node.args) > positional:
        raise Unsupported(
            f"takes {len(node.args)} positional arguments; the layer takes {positional}"
        )
    extra = set(node.kwargs) - allowed
    if extra:
        raise Unsupported(f"passes {', '.join(sorted(extra))}, which the layer does not take")


def module_path(node: fx.Node) -> str:
    """The path of the innermost submodule whose forward added ``node`` ("" at the top)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    entry = list(stack.values())[-1]
    return entry[0] if isinstance(entry, tuple) and isinstance(entry[0], str) else ""


def op_name(node: fx.Node) -> str:
    """The fx name of an operation, prefixed by the path of the submodule that runs it
    (``block1.relu``) when it is not the top module."""
    path = module_path(node)
    return f"{path}.{re.sub(r'_[0-9]+$', '', node.name)}" if path else node.name


def normalise_index(index: Any, length: int) -> Any:
    if isinstance(index, int) and not isinstance(index, bool) and -length <= index < 0:
        return index + length
    return index


def is_last_step(index: Any) -> bool:
    """``[:, -1]`` or ``[:, -1, :]``."""
    full = slice(None, None, None)
    return isinstance(index, tuple) and (index == (full, -1) or index == (full, -1, full))


def index_text(index: Any) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            parts = ["" if p is None else str(p) for p in (i.start, i.stop)]
            return ":".join(parts) + (f":{i.step}" if i.step is not None else "")
        return "..." if i is Ellipsis else str(i)

    return ", ".join(one(i) for i in index) if isinstance(index, tuple) else one(index)


# ----------------------------------------------------------------------------- functions

ACTIVATION_FUNCTIONS: dict[Any, str] = {
    torch.relu: "ReLU",
    F.relu: "ReLU",
    torch.sigmoid: "Sigmoid",
    F.sigmoid: "Sigmoid",
    torch.tanh: "Tanh",
    F.tanh: "Tanh",
    F.relu6: "ReLU6",
    F.silu: "SiLU",
    F.hardswish: "Hardswish",
    F.leaky_relu: "LeakyReLU",
    F.elu: "ELU",
    F.gelu: "GELU",
    F.softmax: "Softmax",
    torch.softmax: "Softmax",
    F.log_softmax: "LogSoftmax",
    torch.log_softmax: "LogSoftmax",
    F.dropout: "Dropout",
}
ACTIVATION_METHODS = {
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softmax": "Softmax",
    "log_softmax": "LogSoftmax",
}
POOL_FUNCTIONS = {
    F.max_pool1d: "MaxPool1d",
    F.max_pool2d: "MaxPool2d",
    F.avg_pool1d: "AvgPool1d",
    F.avg_pool2d: "AvgPool2d",
}
ADD = {operator.add, torch.add}
MUL = {operator.mul, torch.mul}
CAT = {torch.cat, torch.concat, torch.concatenate}
ALIASES = {"contiguous"}  # methods that return the same values


def activation_params(type_id: str, node: fx.Node, method: bool) -> dict[str, Any]:
    """Params of an activation written as a function (``F.leaky_relu(x, 0.2)``) or a tensor
    method (``x.softmax(-1)``)."""
    if type_id == "LeakyReLU":
        return {"negative_slope": float(call_arg(node, 1, "negative_slope", 0.01))}
    if type_id == "ELU":
        return {"alpha": float(call_arg(node, 1, "alpha", 1.0))}
    if type_id == "GELU":
        return {"approximate": call_arg(node, 1, "approximate", "none")}
    if type_id == "Dropout":
        return {"p": float(call_arg(node, 1, "p", 0.5))}
    if type_id in ("Softmax", "LogSoftmax"):
        dim = call_arg(node, 1, "dim")
        reject(not isinstance(dim, int), "has no dim; give dim, e.g. dim=-1")
        reject(call_arg(node, 2 if method else 3, "dtype") is not None, "casts to another dtype")
        return {"dim": dim}
    return {}


def pool_call_params(node: fx.Node) -> dict[str, Any]:
    """``F.max_pool2d(x, 2)`` and friends."""
    kernel = size_param(call_arg(node, 1, "kernel_size"))
    stride = call_arg(node, 2, "stride")
    stride = None if stride in (None, [], ()) else size_param(stride)
    is_max = node.target in (F.max_pool1d, F.max_pool2d)
    padding = size_param(call_arg(node, 3, "padding", 0))
    if is_max:
        reject(
            size_param(call_arg(node, 4, "dilation", 1)) != 1,
            "has dilation; the layer supports only 1",
        )
        reject(call_arg(node, 5, "ceil_mode", False), "has ceil_mode=True; the layer rounds down")
        reject(call_arg(node, 6, "return_indices", False), "returns indices")
    else:
        reject(call_arg(node, 4, "ceil_mode", False), "has ceil_mode=True; the layer rounds down")
        reject(not call_arg(node, 5, "count_include_pad", True), "has count_include_pad=False")
        reject(call_arg(node, 6, "divisor_override") is not None, "has a divisor_override")
    return {
        "kernel_size": kernel,
        "stride": None if stride == kernel else stride,
        "padding": padding,
    }


def permute_dims(node: fx.Node, how: str, rank: int | None = None) -> list[int]:
    """A Permute layer's ``dims`` for ``x.permute(0, 2, 1)`` (method or torch function):
    the batch dim must stay first. ``transpose(d0, d1)`` (ShuffleNet's channel shuffle)
    needs the tensor's ``rank`` (the traced shape's); without it, it is refused with the
    permute to write instead."""
    if how == "transpose":
        reject(
            rank is None,
            "transposes; write it as x.permute(0, ...) with every dim (the batch first)",
        )
        pair = [call_arg(node, 1, "dim0"), call_arg(node, 2, "dim1")]
        reject(not all(isinstance(d, int) for d in pair), f"transposes dims {pair}")
        a, b = (d % rank for d in pair)
        order = list(range(rank))
        order[a], order[b] = order[b], order[a]
        reject(order[0] != 0, "moves the batch dim; Permute keeps it first")
        return [d - 1 for d in order[1:]]
    args = list(node.args[1:])
    order = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    order = list(order or node.kwargs.get("dims", ()))
    reject(not order or not all(isinstance(d, int) for d in order), f"reorders with {order}")
    rank = len(order)
    order = [d % rank for d in order]
    reject(sorted(order) != list(range(rank)), f"reorders with {order}")
    reject(order[0] != 0, "moves the batch dim; Permute keeps it first")
    return [d - 1 for d in order[1:]]

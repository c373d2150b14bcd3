"""Import a ``torch.nn.Module`` as a NeuralCanvas project: the reverse of the compiler.

:func:`import_module` traces the module with ``torch.fx`` and maps every operation onto a
catalog layer: submodules whose class is a catalog layer's constructor target (``nn.Linear``
-> Linear, ...), the functions and tensor methods the compiler and the script exporter emit
(``+``, ``*``, ``torch.cat``, ``reshape`` / ``view``, ``torch.flatten``, ``F.relu``, ...) and
the indexing that picks a recurrent layer's sequence or final state or an attention layer's
output. Placeholders become Input nodes (with the shapes the caller gives: a module does not
declare them), the returned values Output nodes.

Layer params come from the module's constructor arguments (``Linear.out_features``); the
arguments the catalog infers (``in_features``) are checked against shape inference, so a
module that does not fit the given input shapes is refused with the attribute that differs.
Everything without a layer is reported at once, one line per operation.

:func:`import_file` loads a class from a Python file, which runs that file's code.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import operator
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, Shape
from builder.errors import GraphInvalidError
from builder.names import attribute_names
from builder.shapes import check_compilable
from graph.document import Project
from graph.errors import EditError, NeuralCanvasError
from graph.layout import layered_layout

__all__ = [
    "ImportedModel",
    "ModelImportError",
    "convert_file",
    "convert_module",
    "import_file",
    "import_module",
    "load_class",
]

HINT = (
    "NeuralCanvas imports the layers of its catalog (torch.nn modules such as Linear, Conv2d,"
    " LSTM, MultiheadAttention, BatchNorm, the activations), +, *, torch.cat, reshape / view"
    " and flatten. Rewrite the parts listed with those, or import the rest and add these"
    " parts in the editor."
)


class ModelImportError(NeuralCanvasError):
    """A module cannot be imported; ``problems`` lists every operation that is in the way."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        self.problems = list(problems)
        super().__init__(message)


# ----------------------------------------------------------------------------- values

# What an fx node stands for while the graph is read. Tensors are ``Ref``s to a document
# node's output port; the rest are intermediate results of patterns (an LSTM's state tuple,
# ``x.size(0)``) that only some consumers accept.


@dataclass(frozen=True)
class Ref:
    """A tensor: output ``port`` of document node ``node``. Recurrent layers use the
    provisional ports ``seq`` and ``last``, resolved once all their uses are known."""

    node: str
    port: str = "out"


@dataclass(frozen=True)
class Batch:
    """``x.size(0)`` / ``x.shape[0]``: the batch size."""


@dataclass(frozen=True)
class ShapeOf:
    ref: Ref


@dataclass(frozen=True)
class DTypeOf:
    """``x.dtype``."""

    ref: Ref


@dataclass(frozen=True)
class Threshold:
    """``x >= t``: a Step layer once turned back into numbers (``.to(x.dtype)``)."""

    ref: Ref
    value: float
    node: fx.Node


@dataclass(frozen=True)
class RnnResult:
    """The ``(output, h_n)`` tuple of an RNN / GRU, ``(output, (h_n, c_n))`` of an LSTM."""

    node: str


@dataclass(frozen=True)
class LstmStates:
    node: str


@dataclass(frozen=True)
class Hidden:
    """``h_n``: the final states of every layer and direction, stacked."""

    node: str


@dataclass(frozen=True)
class HiddenSlice:
    """``h_n[i]`` of a bidirectional layer: one direction; ``torch.cat`` of the top layer's
    two directions is the final state."""

    node: str
    index: int


@dataclass(frozen=True)
class Opaque:
    """A value no layer consumes (an LSTM's cell state, attention weights' sibling ...)."""

    what: str


@dataclass(frozen=True)
class MhaResult:
    node: str


class _Poison:
    """Downstream of an unsupported operation: already reported, report nothing more."""


POISON = _Poison()


class Unsupported(Exception):
    """Raised by a handler: this operation has no layer; the message says why."""


# ----------------------------------------------------------------------------- helpers


def _size(value: Any) -> Any:
    """A ``size`` param from a module attribute: ``(3, 3)`` -> ``3``, ``(3,)`` -> ``3``."""
    if isinstance(value, (tuple, list)):
        value = tuple(int(v) for v in value)
        return value[0] if len(set(value)) == 1 else value
    return value


def _qualified(target: Any) -> str:
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


def _arg(node: fx.Node, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _no_extra(node: fx.Node, allowed: set[str], positional: int) -> None:
    if len(node.args) > positional:
        raise Unsupported(
            f"takes {len(node.args)} positional arguments; the layer takes {positional}"
        )
    extra = set(node.kwargs) - allowed
    if extra:
        raise Unsupported(f"passes {', '.join(sorted(extra))}, which the layer does not take")


def _reject(condition: bool, message: str) -> None:
    if condition:
        raise Unsupported(message)


# ----------------------------------------------------------------------------- module readers

# ``{layer type: read(module) -> params}``: each reads the constructor arguments the layer
# has as params and refuses configurations the layer cannot express.


def _conv(transposed: bool) -> Callable[[nn.Module], dict[str, Any]]:
    def read(m: Any) -> dict[str, Any]:
        _reject(m.groups != 1, f"has groups={m.groups}; the layer supports only groups=1")
        _reject(
            m.padding_mode != "zeros",
            f"has padding_mode={m.padding_mode!r}; the layer pads with zeros only",
        )
        _reject(
            isinstance(m.padding, str),
            f"has padding={m.padding!r}; give the padding as numbers (e.g. kernel_size // 2)",
        )
        params = {
            "out_channels": m.out_channels,
            "kernel_size": _size(m.kernel_size),
            "stride": _size(m.stride),
            "padding": _size(m.padding),
            "dilation": _size(m.dilation),
            "bias": m.bias is not None,
        }
        if transposed:
            params["output_padding"] = _size(m.output_padding)
        return params

    return read


def _max_pool(m: Any) -> dict[str, Any]:
    _reject(_size(m.dilation) != 1, f"has dilation={m.dilation}; the layer supports only 1")
    _reject(m.ceil_mode, "has ceil_mode=True; the layer rounds down")
    _reject(m.return_indices, "returns indices; the layer returns only the pooled values")
    return _pool_params(m)


def _avg_pool(m: Any) -> dict[str, Any]:
    _reject(m.ceil_mode, "has ceil_mode=True; the layer rounds down")
    _reject(not m.count_include_pad, "has count_include_pad=False; the layer counts the padding")
    _reject(
        getattr(m, "divisor_override", None) is not None,
        "has a divisor_override; the layer divides by the window size",
    )
    return _pool_params(m)


def _pool_params(m: Any) -> dict[str, Any]:
    kernel, stride = _size(m.kernel_size), _size(m.stride)
    return {
        "kernel_size": kernel,
        "stride": None if stride in (None, kernel) or stride == () else stride,
        "padding": _size(m.padding),
    }


def _adaptive(m: Any) -> dict[str, Any]:
    size = m.output_size
    _reject(
        size is None or (isinstance(size, tuple) and None in size),
        f"has output_size={size}; give every output size",
    )
    return {"output_size": _size(size)}


def _flatten(m: Any) -> dict[str, Any]:
    _reject(
        (m.start_dim, m.end_dim) != (1, -1),
        f"flattens dims {m.start_dim}..{m.end_dim}; the layer flattens every dim after the"
        " batch (start_dim=1, end_dim=-1): use a Reshape",
    )
    return {}


def _batch_norm(m: Any) -> dict[str, Any]:
    _reject(m.momentum is None, "has momentum=None (cumulative average); give a number")
    _reject(not m.track_running_stats, "has track_running_stats=False; the layer keeps them")
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _layer_norm(m: Any) -> dict[str, Any]:
    _reject(
        m.elementwise_affine and m.bias is None,
        "has a scale but no bias (bias=False); the layer learns both or neither",
    )
    return {"dims": len(m.normalized_shape), "eps": m.eps, "affine": m.elementwise_affine}


def _embedding(m: Any) -> dict[str, Any]:
    for attr, default in (
        ("padding_idx", None),
        ("max_norm", None),
        ("scale_grad_by_freq", False),
        ("sparse", False),
    ):
        value = getattr(m, attr)
        _reject(value != default, f"has {attr}={value!r}; the layer supports only {default!r}")
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


def _recurrent(m: Any) -> dict[str, Any]:
    _reject(
        not m.batch_first,
        "has batch_first=False; NeuralCanvas sequences are (N, steps, features): construct it"
        " with batch_first=True (and feed it batch-first tensors)",
    )
    _reject(getattr(m, "proj_size", 0) != 0, f"has proj_size={m.proj_size}; the layer has none")
    params = {
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "bidirectional": m.bidirectional,
        # Dropout between layers only exists with 2+ layers (the compiler drops it otherwise).
        "dropout": float(m.dropout) if m.num_layers > 1 else 0.0,
        "bias": m.bias,
    }
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return params


def _attention(m: Any) -> dict[str, Any]:
    _reject(
        not m.batch_first,
        "has batch_first=False; NeuralCanvas sequences are (N, steps, features): construct it"
        " with batch_first=True",
    )
    _reject(m.bias_k is not None, "has add_bias_kv=True; the layer has no extra key/value bias")
    _reject(m.add_zero_attn, "has add_zero_attn=True; the layer does not add a zero attention")
    return {
        "num_heads": m.num_heads,
        "dropout": float(m.dropout),
        "bias": m.in_proj_bias is not None,
    }


def _prelu(m: Any) -> dict[str, Any]:
    weight = m.weight.detach()
    first = float(weight.flatten()[0])
    # The starting slope cannot be known from trained weights; a fresh module shows it.
    slope = _shortest(first) if bool((weight == first).all()) and 0.0 <= first <= 1.0 else 0.25
    return {"per_channel": m.num_parameters > 1, "init_slope": slope}


def _shortest(value: float) -> float:
    """The shortest decimal that is the same float32: 0.10000000149 -> 0.1."""
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if torch.tensor(candidate, dtype=torch.float32).item() == value:
            return candidate
    return value


def _softmax(m: Any) -> dict[str, Any]:
    _reject(m.dim is None, "has no dim (implicit dim is deprecated); give dim, e.g. dim=-1")
    return {"dim": m.dim}


READERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Linear": lambda m: {"out_features": m.out_features, "bias": m.bias is not None},
    "Conv1d": _conv(False),
    "Conv2d": _conv(False),
    "ConvTranspose2d": _conv(True),
    "MaxPool1d": _max_pool,
    "MaxPool2d": _max_pool,
    "AvgPool1d": _avg_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool2d": _adaptive,
    "Flatten": _flatten,
    "Dropout": lambda m: {"p": float(m.p)},
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "LayerNorm": _layer_norm,
    "Embedding": _embedding,
    "RNN": _recurrent,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "MultiheadAttention": _attention,
    "Step": lambda m: {"threshold": float(m.threshold)},
    "Sigmoid": lambda m: {},
    "Tanh": lambda m: {},
    "ReLU": lambda m: {},
    "LeakyReLU": lambda m: {"negative_slope": float(m.negative_slope)},
    "PReLU": _prelu,
    "ReLU6": lambda m: {},
    "ELU": lambda m: {"alpha": float(m.alpha)},
    "GELU": lambda m: {"approximate": m.approximate},
    "SiLU": lambda m: {},
    "Hardswish": lambda m: {},
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "Identity": lambda m: {},
}

# Attributes that describe a module's configuration; an imported layer's rebuilt module must
# agree with the original on each one it has (this checks the inferred arguments too).
CONFIG_ATTRS = (
    "in_features",
    "out_features",
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "dilation",
    "groups",
    "padding_mode",
    "num_features",
    "eps",
    "momentum",
    "affine",
    "track_running_stats",
    "normalized_shape",
    "elementwise_affine",
    "num_embeddings",
    "embedding_dim",
    "input_size",
    "hidden_size",
    "num_layers",
    "batch_first",
    "dropout",
    "bidirectional",
    "nonlinearity",
    "embed_dim",
    "kdim",
    "vdim",
    "num_heads",
    "output_size",
    "start_dim",
    "end_dim",
    "p",
    "threshold",
    "negative_slope",
    "num_parameters",
    "alpha",
    "approximate",
    "dim",
    "ceil_mode",
    "count_include_pad",
)

# What an inferred argument depends on, for the mismatch message.
INFERRED_FROM = {
    "in_features": "the size of the last dim of its input",
    "in_channels": "the channels (dim 1) of its input",
    "num_features": "the channels / features (dim 1) of its input",
    "normalized_shape": "the last dims of its input",
    "input_size": "the features (last dim) of its input",
    "embed_dim": "the features (last dim) of its query",
    "kdim": "the features (last dim) of its key",
    "vdim": "the features (last dim) of its value",
    "num_parameters": "the channels (dim 1) of its input",
}


def _target_class(target: str) -> type:
    module_name, _, attr = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def module_types(catalog: Catalog = CATALOG) -> dict[type, str]:
    """``{module class: layer type}``: the reverse of the catalog's declared constructors."""
    return dict(_module_types(catalog))


@functools.lru_cache(maxsize=4)
def _module_types(catalog: Catalog) -> dict[type, str]:
    out: dict[type, str] = {}
    for spec in catalog:
        if spec.ctor is None:
            continue
        params = spec.defaults()
        dummy = Shape(("N", 4, 4, 4))
        ctor = spec.ctor(params, {port: dummy for port in spec.input_ports(params)})
        out[_target_class(ctor.target)] = spec.type_id
    return out


# ----------------------------------------------------------------------------- functions

_ACTIVATION_FUNCTIONS: dict[Any, str] = {
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
_ACTIVATION_METHODS = {
    "relu": "ReLU",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softmax": "Softmax",
    "log_softmax": "LogSoftmax",
}
_POOL_FUNCTIONS = {
    F.max_pool1d: "MaxPool1d",
    F.max_pool2d: "MaxPool2d",
    F.avg_pool1d: "AvgPool1d",
    F.avg_pool2d: "AvgPool2d",
}
_ADD = {operator.add, torch.add}
_MUL = {operator.mul, torch.mul}
_CAT = {torch.cat, torch.concat, torch.concatenate}
_ALIASES = {"contiguous"}  # methods that return the same values


def _activation_params(type_id: str, node: fx.Node, method: bool) -> dict[str, Any]:
    """Params of an activation written as a function (``F.leaky_relu(x, 0.2)``) or a tensor
    method (``x.softmax(-1)``)."""
    if type_id == "LeakyReLU":
        return {"negative_slope": float(_arg(node, 1, "negative_slope", 0.01))}
    if type_id == "ELU":
        return {"alpha": float(_arg(node, 1, "alpha", 1.0))}
    if type_id == "GELU":
        return {"approximate": _arg(node, 1, "approximate", "none")}
    if type_id == "Dropout":
        return {"p": float(_arg(node, 1, "p", 0.5))}
    if type_id in ("Softmax", "LogSoftmax"):
        dim = _arg(node, 1, "dim")
        _reject(not isinstance(dim, int), "has no dim; give dim, e.g. dim=-1")
        _reject(_arg(node, 2 if method else 3, "dtype") is not None, "casts to another dtype")
        return {"dim": dim}
    return {}


# ----------------------------------------------------------------------------- the importer


class _Tracer(fx.Tracer):
    """Keeps catalog modules (``Step`` included, which is not in torch.nn) as calls."""

    def __init__(self, leaves: set[type]):
        super().__init__()
        self.leaves = leaves

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return type(m) in self.leaves or super().is_leaf_module(m, module_qualified_name)


@dataclass
class ImportedModel:
    """What :func:`convert_module` returns.

    Attributes:
        project: the new project (one network, ``main``).
        sources: ``{node name: submodule path in the original module}`` for every layer
            with weights or settings, e.g. ``{"block1.conv1": "block1.conv1"}``.
        state_dict: the original module's weights and buffers, keyed as the compiled
            network's ``state_dict`` (``block1_conv1.weight``), ready for ``load_state_dict``.
    """

    project: Project
    sources: dict[str, str] = field(default_factory=dict)
    state_dict: dict[str, torch.Tensor] = field(default_factory=dict)


class _Importer:
    def __init__(
        self,
        module: nn.Module,
        input_shapes: Sequence[Sequence[int]],
        name: str,
        input_dtypes: Sequence[Any] | None,
        output_names: Sequence[str] | None,
        catalog: Catalog,
    ):
        self.module = module
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.input_dtypes = input_dtypes
        self.output_names = output_names
        self.catalog = catalog
        self.types = module_types(catalog)
        self.title = module.title if isinstance(module, _Bare) else type(module).__name__
        self.project = Project(catalog, name=name, description=f"Imported from {self.title}")
        self.net = self.project.add_network("main")
        self.problems: list[str] = []
        self.env: dict[fx.Node, Any] = {}
        self.edges: list[tuple[Ref, str, str]] = []  # (source, destination node, input port)
        self.merges: dict[str, list[Ref]] = {}  # Add / Multiply / Concat inputs, in order
        self.merge_fx: dict[str, fx.Node] = {}
        self.modules: dict[str, nn.Module] = {}  # node id -> original submodule
        self.sources: dict[str, str] = {}  # node id -> submodule path
        self.called: dict[str, str] = {}  # submodule path -> node id
        self.mha_weights: set[str] = set()

    # ------------------------------------------------------------------ driver
    def run(self) -> ImportedModel:
        graph, real_inputs = self._trace()
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        self.placeholder_index = {n: i for i, n in enumerate(placeholders)}
        for node in graph.nodes:
            if any(self.env.get(a) is POISON for a in node.all_input_nodes):
                self.env[node] = POISON
                continue
            try:
                self.env[node] = self._visit(node, real_inputs)
            except Unsupported as exc:
                self.problems.append(self._describe(node) + f": {exc}")
                self.env[node] = POISON
        if self.problems:
            n = len(self.problems)
            lines = "\n".join(f"  - {p}" for p in self.problems)
            what = "operation has" if n == 1 else "operations have"
            raise ModelImportError(
                f"Cannot import {self.title}: {n} {what} no NeuralCanvas layer:\n{lines}\n{HINT}",
                self.problems,
            )
        self._finish()
        return ImportedModel(self.project, *self._weights())

    def _trace(self) -> tuple[fx.Graph, int]:
        signature = inspect.signature(self.module.forward)
        params = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
            raise ModelImportError(
                f"Cannot import {self.title}: its forward takes *args or **kwargs; give it"
                " one named argument per input"
            )
        n = len(self.input_shapes)
        required = [p for p in params if p.default is p.empty]
        if not len(required) <= n <= len(params):
            names = ", ".join(p.name for p in params)
            raise ModelImportError(
                f"Cannot import {self.title}: its forward takes {len(required)}"
                + (f" to {len(params)}" if len(params) != len(required) else "")
                + f" inputs ({names}) but {n} input shape{'s' if n != 1 else ''} were given:"
                " give one --input-shape per input"
            )
        concrete = {p.name: p.default for p in params[n:]}
        tracer = _Tracer(set(self.types))
        try:
            graph = tracer.trace(self.module, concrete_args=concrete or None)
        except Exception as exc:  # fx raises several types for untraceable code
            raise ModelImportError(
                f"Cannot import {self.title}: torch.fx cannot trace its forward"
                f" ({exc.__class__.__name__}: {_first_line(exc)}). Control flow that depends on"
                " tensor values, and code that converts tensors to Python numbers, cannot be"
                " imported: write forward as a straight sequence of layer calls"
            ) from None
        traced = fx.GraphModule(tracer.root, graph)
        traced.graph.eliminate_dead_code()
        return traced.graph, n

    def _describe(self, node: fx.Node) -> str:
        if node.op == "call_module":
            sub = self.module.get_submodule(node.target)
            cls = type(sub)
            return f"call_module '{node.target}' ({cls.__module__}.{cls.__qualname__})"
        if node.op == "call_method":
            return f"call_method '.{node.target}()' (node {node.name})"
        if node.op == "get_attr":
            return f"get_attr '{node.target}'"
        return f"{node.op} '{node.name}' ({_qualified(node.target)})"

    # ------------------------------------------------------------------ nodes
    def _visit(self, node: fx.Node, real_inputs: int) -> Any:
        if node.op == "placeholder":
            index = self.placeholder_index[node]
            if index >= real_inputs:
                return Opaque("a default argument")
            return self._input(node, index)
        if node.op == "output":
            self._outputs(node.args[0])
            return None
        if node.op == "get_attr":
            raise Unsupported(
                "uses a parameter or buffer directly (not through a layer); a learned tensor"
                " belongs to a layer in NeuralCanvas"
            )
        if node.op == "call_module":
            return self._call_module(node)
        if node.op == "call_method":
            return self._call_method(node)
        return self._call_function(node)

    def _input(self, node: fx.Node, index: int) -> Ref:
        shape = self.input_shapes[index]
        if self.input_dtypes is not None and index < len(self.input_dtypes):
            dtype = _dtype_name(self.input_dtypes[index])
        else:
            feeds_embedding = node.users and all(
                u.op == "call_module"
                and isinstance(self.module.get_submodule(u.target), nn.Embedding)
                for u in node.users
            )
            dtype = "int64" if feeds_embedding else "float32"
        node_id = self._add("Input", node.name, {"shape": shape, "dtype": dtype}, node)
        return Ref(node_id)

    def _outputs(self, value: Any) -> None:
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        names = list(self.output_names or [])
        for i, v in enumerate(values):
            ref = self._tensor(self.env.get(v) if isinstance(v, fx.Node) else v, "returns")
            if i < len(names):
                name = names[i]
            else:
                name = "output" if len(values) == 1 else f"output_{i + 1}"
            out = self._add("Output", name, {}, None)
            self.edges.append((ref, out, "in"))

    def _add(self, type_id: str, name: str, params: dict[str, Any], node: fx.Node | None) -> str:
        name = self.net.unique_name(name)
        try:
            return self.net.add_node(type_id, name, params)
        except EditError as exc:
            raise Unsupported(f"cannot be a {type_id} layer: {exc}") from None

    def _tensor(self, value: Any, role: str) -> Ref:
        """``value`` as a tensor for a consumer, or :class:`Unsupported` saying why not."""
        if isinstance(value, Ref):
            return value
        if isinstance(value, (RnnResult, LstmStates)):
            raise Unsupported(
                f"{role} the whole result tuple of a recurrent layer; pick its output with"
                " `out, _ = rnn(x)` or its final state with `h_n[-1]`"
            )
        if isinstance(value, Hidden):
            raise Unsupported(
                f"{role} the stacked final states h_n of every layer; use h_n[-1] (the top"
                " layer's), or torch.cat((h_n[-2], h_n[-1]), dim=1) when bidirectional"
            )
        if isinstance(value, HiddenSlice):
            raise Unsupported(
                f"{role} one direction's final state of a bidirectional layer; use"
                " torch.cat((h_n[-2], h_n[-1]), dim=1)"
            )
        if isinstance(value, MhaResult):
            raise Unsupported(
                f"{role} the (output, weights) tuple of attention; use `out, _ = attn(q, k, v)`"
            )
        if isinstance(value, Opaque):
            raise Unsupported(f"{role} {value.what}, which no layer outputs")
        if isinstance(value, Threshold):
            raise Unsupported(
                f"{role} a comparison (x >= t); only (x >= t).to(x.dtype) is a layer (Step)"
            )
        if isinstance(value, (Batch, ShapeOf, DTypeOf)):
            raise Unsupported(f"{role} the batch size / shape as a value")
        if isinstance(value, (int, float, bool)) or value is None:
            raise Unsupported(f"{role} a constant ({value!r}); only tensors flow between layers")
        raise Unsupported(f"{role} {type(value).__name__} values")

    def _layer(self, node: fx.Node, type_id: str, params: dict[str, Any], *inputs: Any) -> str:
        """A one-input layer fed by ``inputs[0]``; returns the node id."""
        ref = self._tensor(
            self.env.get(inputs[0]) if isinstance(inputs[0], fx.Node) else inputs[0], "takes"
        )
        node_id = self._add(type_id, self._op_name(node), params, node)
        self.edges.append((ref, node_id, "in"))
        return node_id

    # ------------------------------------------------------------------ call_module
    def _call_module(self, node: fx.Node) -> Any:
        path = node.target
        sub = self.module.get_submodule(path)
        type_id = self.types.get(type(sub))
        if type_id is None:
            cls = type(sub)
            raise Unsupported(f"{cls.__qualname__} is not a layer of the catalog")
        if path in self.called:
            raise Unsupported(
                "is called a second time (shared weights); every NeuralCanvas layer has its"
                " own weights: use two modules"
            )
        params = READERS[type_id](sub)
        if type_id == "MultiheadAttention":
            return self._attention(node, path, sub, params)
        if type_id in ("RNN", "LSTM", "GRU"):
            _reject(
                len(node.args) + len(node.kwargs) != 1,
                "passes an initial hidden state; the layer starts from zeros",
            )
        else:
            _no_extra(node, set(), 1)
        value = node.args[0] if node.args else None
        node_id = self._layer_from_module(node, path, sub, type_id, params, value)
        if type_id in ("RNN", "LSTM", "GRU"):
            return RnnResult(node_id)
        return Ref(node_id)

    def _layer_from_module(
        self, node: fx.Node, path: str, sub: nn.Module, type_id: str, params: dict, value: Any
    ) -> str:
        ref = self._tensor(self.env.get(value) if isinstance(value, fx.Node) else value, "takes")
        node_id = self._add(type_id, path, params, node)
        self.edges.append((ref, node_id, "in"))
        self.modules[node_id] = sub
        self.sources[node_id] = path
        self.called[path] = node_id
        return node_id

    def _attention(self, node: fx.Node, path: str, sub: nn.Module, params: dict) -> MhaResult:
        names = ("query", "key", "value")
        values = [_arg(node, i, n) for i, n in enumerate(names)]
        _reject(any(v is None for v in values), "needs query, key and value")
        for index, key, default in (
            (3, "key_padding_mask", None),
            (5, "attn_mask", None),
            (6, "average_attn_weights", True),
            (7, "is_causal", False),
        ):
            got = _arg(node, index, key, default)
            _reject(got != default, f"passes {key}={got!r}; the layer supports only {default!r}")
        refs = [
            self._tensor(self.env.get(v) if isinstance(v, fx.Node) else v, f"takes as {n}")
            for v, n in zip(values, names)
        ]
        q, k, v = refs
        node_id = self._add("MultiheadAttention", path, params, node)
        self.edges.append((q, node_id, "query"))
        # Unconnected, key defaults to the query and value to the key, as the layer declares.
        if k != q:
            self.edges.append((k, node_id, "key"))
        if v != k:
            self.edges.append((v, node_id, "value"))
        self.modules[node_id] = sub
        self.sources[node_id] = path
        self.called[path] = node_id
        return MhaResult(node_id)

    # ------------------------------------------------------------------ call_function
    def _call_function(self, node: fx.Node) -> Any:
        fn = node.target
        if fn is operator.getitem:
            return self._getitem(self.env.get(node.args[0]), node.args[1])
        if fn is getattr and node.args[1] == "shape":
            return ShapeOf(self._tensor(self.env.get(node.args[0]), "reads the shape of"))
        if fn is getattr and node.args[1] == "dtype":
            return DTypeOf(self._tensor(self.env.get(node.args[0]), "reads the dtype of"))
        if fn is operator.ge and isinstance(node.args[1], (int, float)):
            ref = self._tensor(self.env.get(node.args[0]), "compares")
            return Threshold(ref, float(node.args[1]), node)
        if fn in _ADD or fn in _MUL:
            _reject(fn is torch.add and "alpha" in node.kwargs, "scales with alpha")
            _reject(len(node.args) != 2 or set(node.kwargs) - {"alpha"}, "passes extra arguments")
            return self._merge(
                node, "Add" if fn in _ADD else "Multiply", node.args[0], node.args[1]
            )
        if fn in _CAT:
            return self._cat(node)
        if fn is torch.flatten:
            return self._flatten(node, method=False)
        if fn is torch.reshape:
            return self._reshape(node, node.args[0], _arg(node, 1, "shape"))
        if fn in _ACTIVATION_FUNCTIONS:
            type_id = _ACTIVATION_FUNCTIONS[fn]
            return Ref(
                self._layer(node, type_id, _activation_params(type_id, node, False), node.args[0])
            )
        if fn in _POOL_FUNCTIONS:
            return Ref(
                self._layer(node, _POOL_FUNCTIONS[fn], _pool_call_params(node), node.args[0])
            )
        if fn is F.adaptive_avg_pool2d:
            size = _arg(node, 1, "output_size")
            _reject(
                size is None or (isinstance(size, tuple) and None in size), "needs an output_size"
            )
            return Ref(
                self._layer(node, "AdaptiveAvgPool2d", {"output_size": _size(size)}, node.args[0])
            )
        raise Unsupported("no layer computes it")

    def _call_method(self, node: fx.Node) -> Any:
        name = node.target
        self_value = self.env.get(node.args[0])
        if name in _ALIASES and len(node.args) == 1 and not node.kwargs:
            return self_value
        if isinstance(self_value, Threshold):
            return self._step(node, name, self_value)
        if name == "size":
            dim = _arg(node, 1, "dim")
            _reject(dim != 0, "reads a size other than the batch size (dim 0)")
            self._tensor(self_value, "reads the size of")
            return Batch()
        if name in ("add", "mul"):
            _reject(len(node.args) != 2 or node.kwargs, "passes extra arguments")
            return self._merge(
                node, "Add" if name == "add" else "Multiply", node.args[0], node.args[1]
            )
        if name == "squeeze" and isinstance(self_value, Hidden):
            spec = self._rnn_layers(self_value.node)
            _reject(
                _arg(node, 1, "dim") != 0 or spec != 1,
                "squeezes h_n of a multi-layer or bidirectional layer; use h_n[-1]",
            )
            return Ref(self_value.node, "last")
        if name in ("reshape", "view"):
            shape = node.args[1:]
            if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
                shape = shape[0]
            shape = shape or node.kwargs.get("shape", ())
            return self._reshape(node, node.args[0], shape)
        if name == "flatten":
            return self._flatten(node, method=True)
        if name in _ACTIVATION_METHODS:
            type_id = _ACTIVATION_METHODS[name]
            return Ref(
                self._layer(node, type_id, _activation_params(type_id, node, True), node.args[0])
            )
        raise Unsupported("no layer computes it")

    def _step(self, node: fx.Node, method: str, cmp: Threshold) -> Ref:
        """``(x >= t).to(x.dtype)`` / ``(x >= t).float()``: the Step layer (also what the
        exported script's own ``Step`` module computes)."""
        to = _arg(node, 1, "dtype")
        same = (method == "to" and len(node.args) == 2 and not node.kwargs) and (
            to is torch.float32
            or (isinstance(self.env.get(to), DTypeOf) and self.env[to].ref == cmp.ref)
        )
        if not (same or (method == "float" and len(node.args) == 1)):
            raise Unsupported("compares values; only (x >= t).to(x.dtype) is a layer (Step)")
        path = _module_path(node)
        helper = path and path == _module_path(cmp.node)
        if helper and not list(self.module.get_submodule(path).children()):
            name = path  # a module of its own, such as the exported script's Step
        else:
            name = self._op_name(node)
        node_id = self._add("Step", name, {"threshold": cmp.value}, node)
        self.edges.append((cmp.ref, node_id, "in"))
        return Ref(node_id)

    def _op_name(self, node: fx.Node) -> str:
        """The fx name of an operation, prefixed by the path of the submodule that runs it
        (``block1.relu``) when it is not the top module."""
        path = _module_path(node)
        return f"{path}.{re.sub(r'_[0-9]+$', '', node.name)}" if path else node.name

    def _merge(self, node: fx.Node, type_id: str, left: Any, right: Any) -> Ref:
        refs = [
            self._tensor(self.env.get(v) if isinstance(v, fx.Node) else v, "combines")
            for v in (left, right)
        ]
        # ((a + b) + c) with the inner sum used only here is one Add with three inputs: the
        # compiler folds a many-input Add the same way, so it round-trips.
        inner = refs[0].node
        if (
            isinstance(left, fx.Node)
            and len(left.users) == 1
            and self.net.type_of(inner) == type_id
            and inner in self.merges
            and len(self.merges[inner]) < 8
        ):
            self.merges[inner].append(refs[1])
            return refs[0]
        node_id = self._add(type_id, self._op_name(node), {}, node)
        self.merges[node_id] = refs
        return Ref(node_id)

    def _cat(self, node: fx.Node) -> Ref:
        items = _arg(node, 0, "tensors")
        dim = _arg(node, 1, "dim", 0)
        _reject(not isinstance(items, (list, tuple)), "joins something other than a list")
        values = [self.env.get(v) if isinstance(v, fx.Node) else v for v in items]
        # torch.cat((h_n[-2], h_n[-1]), dim=1): a bidirectional layer's final state.
        if values and all(isinstance(v, HiddenSlice) for v in values):
            owner = values[0].node
            top = self._rnn_layers(owner)
            if (
                all(v.node == owner for v in values)
                and [v.index for v in values] == [top - 2, top - 1]
                and dim in (1, -1)
            ):
                return Ref(owner, "last")
            raise Unsupported(
                "joins final states other than the top layer's two directions; use"
                " torch.cat((h_n[-2], h_n[-1]), dim=1)"
            )
        _reject(not isinstance(dim, int), "joins along a dim that is not a number")
        _reject(not 2 <= len(values) <= 8, f"joins {len(values)} tensors; Concat takes 2 to 8")
        refs = [self._tensor(v, "joins") for v in values]
        node_id = self._add("Concat", self._op_name(node), {"dim": dim}, node)
        self.merges[node_id] = refs
        return Ref(node_id)

    def _flatten(self, node: fx.Node, method: bool) -> Ref:
        start = _arg(node, 1, "start_dim", 0)
        end = _arg(node, 2, "end_dim", -1)
        _reject(
            (start, end) != (1, -1),
            f"flattens dims {start}..{end}; Flatten keeps the batch dim: use flatten(x, 1)"
            " (or a reshape)",
        )
        return Ref(self._layer(node, "Flatten", {}, node.args[0]))

    def _reshape(self, node: fx.Node, source: Any, shape: Any) -> Ref:
        values = [self.env.get(s) if isinstance(s, fx.Node) else s for s in shape]
        _reject(
            not values or not (values[0] == -1 or isinstance(values[0], Batch)),
            "reshapes the batch dim; the first size must be -1 or x.size(0)",
        )
        rest = values[1:]
        _reject(
            not rest or not all(isinstance(v, int) and not isinstance(v, bool) for v in rest),
            "reshapes to sizes that are not numbers",
        )
        _reject(values[0] == -1 and -1 in rest, "has two -1 sizes; replace one with x.size(0)")
        return Ref(self._layer(node, "Reshape", {"shape": tuple(rest)}, source))

    def _getitem(self, value: Any, index: Any) -> Any:
        if isinstance(value, RnnResult):
            index = _normalise(index, 2)
            if index == 0:
                return Ref(value.node, "seq")
            if index == 1:
                if self.net.type_of(value.node) == "LSTM":
                    return LstmStates(value.node)
                return Hidden(value.node)
        if isinstance(value, LstmStates):
            index = _normalise(index, 2)
            if index == 0:
                return Hidden(value.node)
            if index == 1:
                return Opaque("the LSTM's cell state c_n")
        if isinstance(value, Hidden) and isinstance(index, int):
            total = self._rnn_layers(value.node)
            i = index + total if index < 0 else index
            _reject(not 0 <= i < total, f"indexes h_n with {index}; it has {total} entries")
            bidirectional = self.net.params_of(value.node)["bidirectional"]
            if bidirectional and i >= total - 2:
                return HiddenSlice(value.node, i)
            if not bidirectional and i == total - 1:
                return Ref(value.node, "last")
            raise Unsupported(
                f"uses h_n[{index}], the final state of a lower layer; only the top layer's is"
                " an output of the layer"
            )
        if isinstance(value, MhaResult):
            index = _normalise(index, 2)
            if index == 0:
                return Ref(value.node, "out")
            if index == 1:
                self.mha_weights.add(value.node)
                return Ref(value.node, "weights")
        if isinstance(value, ShapeOf) and index == 0:
            return Batch()
        if isinstance(value, Ref) and value.port == "seq" and _is_last_step(index):
            if not self.net.params_of(value.node)["bidirectional"]:
                return Ref(value.node, "last")  # output[:, -1] is h_n[-1] when one-directional
            raise Unsupported(
                "takes output[:, -1] of a bidirectional layer, which is not its final state"
                " (the backward direction ends at step 0); use torch.cat((h_n[-2], h_n[-1]), dim=1)"
            )
        if isinstance(value, (Ref, Hidden, HiddenSlice)):
            raise Unsupported(f"indexes a tensor with [{_index_text(index)}]; no layer does that")
        self._tensor(value, "indexes")
        raise Unsupported(f"indexes with [{_index_text(index)}]")

    def _rnn_layers(self, node_id: str) -> int:
        params = self.net.params_of(node_id)
        return params["num_layers"] * (2 if params["bidirectional"] else 1)

    # ------------------------------------------------------------------ finishing
    def _finish(self) -> None:
        net = self.net
        for node_id, refs in self.merges.items():
            net.set_param(node_id, "num_inputs", len(refs))
            for i, ref in enumerate(refs, 1):
                self.edges.append((ref, node_id, f"in{i}"))
        uses: dict[str, set[str]] = {}
        for ref, _, _ in self.edges:
            uses.setdefault(ref.node, set()).add(ref.port)
        ports: dict[tuple[str, str], str] = {}
        for node_id in net.nodes:
            if net.type_of(node_id) not in ("RNN", "LSTM", "GRU"):
                continue
            sequence = "seq" in uses.get(node_id, set())
            net.set_param(node_id, "output", "sequence" if sequence else "last")
            ports[(node_id, "seq")] = "out"
            ports[(node_id, "last")] = "state" if sequence else "out"
        for ref, dst, port in self.edges:
            net.connect(ref.node, dst, ports.get((ref.node, ref.port), ref.port), port)
        try:
            results = check_compilable(net)
        except GraphInvalidError as exc:
            lines = "\n".join(f"  - {m}" for _, m in exc.problems)
            raise ModelImportError(
                f"Cannot import {self.title} with input shapes"
                f" {', '.join(str(s) for s in self.input_shapes)}: the network does not"
                f" check:\n{lines}\nCheck the input shapes (--input-shape, one sample without"
                " the batch dim).",
                [m for _, m in exc.problems],
            ) from None
        mismatches = []
        for node_id, original in self.modules.items():
            spec = self.catalog[net.type_of(node_id)]
            rebuilt = spec.ctor(net.params_of(node_id), results[node_id].inputs).build()
            problem = _compare(original, rebuilt)
            if problem:
                mismatches.append(f"{net.type_of(node_id)} '{net.name_of(node_id)}' {problem}")
        if mismatches:
            lines = "\n".join(f"  - {m}" for m in mismatches)
            shapes = ", ".join(str(s) for s in self.input_shapes)
            raise ModelImportError(
                f"Cannot import {self.title} with input shapes {shapes}: its layers do not fit"
                f" the shapes that reach them:\n{lines}\nCheck the input shapes (--input-shape,"
                " one sample without the batch dim).",
                mismatches,
            )
        for node_id, pos in layered_layout(net).items():
            net.move(node_id, pos)

    def _weights(self) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
        attrs = attribute_names(self.net)
        sources = {self.net.name_of(n): path for n, path in self.sources.items()}
        state = self.module.state_dict()
        renamed: dict[str, torch.Tensor] = {}
        for node_id, path in self.sources.items():
            prefix = f"{path}."
            for key, tensor in state.items():
                if key.startswith(prefix):
                    renamed[attrs[node_id] + key[len(path) :]] = tensor
        return sources, renamed


def _module_path(node: fx.Node) -> str:
    """The path of the innermost submodule whose forward added ``node`` ("" at the top)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    entry = list(stack.values())[-1]
    return entry[0] if isinstance(entry, tuple) and isinstance(entry[0], str) else ""


def _compare(original: nn.Module, rebuilt: nn.Module) -> str:
    """How ``rebuilt`` (from the layer's params and inferred shapes) differs from the
    original module, or ``""``."""
    for attr in CONFIG_ATTRS:
        if not hasattr(original, attr) or not hasattr(rebuilt, attr):
            continue
        a, b = getattr(original, attr), getattr(rebuilt, attr)
        if isinstance(a, (torch.Tensor, nn.Module)) or isinstance(b, (torch.Tensor, nn.Module)):
            continue
        if _norm(a) != _norm(b):
            source = INFERRED_FROM.get(attr)
            if source:
                return (
                    f"has {attr}={_show(a)} but {source} gives {_show(b)}: the module and the"
                    " layers before it (or the input shape) disagree"
                )
            return f"has {attr}={_show(a)}, which the layer cannot express (it would be {_show(b)})"
    ours = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in original.state_dict().items()}
    if ours != theirs:
        diff = sorted(set(ours.items()) ^ set(theirs.items()))
        key = diff[0][0]
        return (
            f"has weights {key}: {theirs.get(key, 'missing')} where the layer has"
            f" {ours.get(key, 'none')}"
        )
    return ""


def _norm(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        value = tuple(_norm(v) for v in value)
        return value[0] if value and len(set(value)) == 1 else value
    if isinstance(value, float):
        return round(value, 12)
    return value


def _show(value: Any) -> str:
    return str(tuple(value)) if isinstance(value, (list, tuple)) else repr(value)


def _normalise(index: Any, length: int) -> Any:
    if isinstance(index, int) and not isinstance(index, bool) and -length <= index < 0:
        return index + length
    return index


def _is_last_step(index: Any) -> bool:
    """``[:, -1]`` or ``[:, -1, :]``."""
    full = slice(None, None, None)
    return isinstance(index, tuple) and (index == (full, -1) or index == (full, -1, full))


def _index_text(index: Any) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            parts = ["" if p is None else str(p) for p in (i.start, i.stop)]
            return ":".join(parts) + (f":{i.step}" if i.step is not None else "")
        return "..." if i is Ellipsis else str(i)

    return ", ".join(one(i) for i in index) if isinstance(index, tuple) else one(index)


def _pool_call_params(node: fx.Node) -> dict[str, Any]:
    """``F.max_pool2d(x, 2)`` and friends."""
    kernel = _size(_arg(node, 1, "kernel_size"))
    stride = _arg(node, 2, "stride")
    stride = None if stride in (None, [], ()) else _size(stride)
    is_max = node.target in (F.max_pool1d, F.max_pool2d)
    padding = _size(_arg(node, 3, "padding", 0))
    if is_max:
        _reject(_size(_arg(node, 4, "dilation", 1)) != 1, "has dilation; the layer supports only 1")
        _reject(_arg(node, 5, "ceil_mode", False), "has ceil_mode=True; the layer rounds down")
        _reject(_arg(node, 6, "return_indices", False), "returns indices")
    else:
        _reject(_arg(node, 4, "ceil_mode", False), "has ceil_mode=True; the layer rounds down")
        _reject(not _arg(node, 5, "count_include_pad", True), "has count_include_pad=False")
        _reject(_arg(node, 6, "divisor_override") is not None, "has a divisor_override")
    return {
        "kernel_size": kernel,
        "stride": None if stride == kernel else stride,
        "padding": padding,
    }


def _dtype_name(dtype: Any) -> str:
    if dtype in ("float32", torch.float32, "float", None):
        return "float32"
    if dtype in ("int64", torch.int64, "long"):
        return "int64"
    raise ModelImportError(f"Input dtype {dtype!r} is not supported: use float32 or int64")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


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


class _Bare(nn.Module):
    """Holds a bare catalog module, so it is traced as one call of a named submodule."""

    def __init__(self, layer: nn.Module, name: str):
        super().__init__()
        self.add_module(name, layer)
        self.layer_name = name
        self.title = type(layer).__name__

    def forward(self, x):
        return getattr(self, self.layer_name)(x)


# ----------------------------------------------------------------------------- public API


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
    by NeuralCanvas keeps its Output names (``module.meta["outputs"]``), others get
    ``output`` / ``output_1``, ``output_2``, ...
    """
    if not isinstance(module, nn.Module):
        raise ModelImportError(f"Cannot import {module!r}: it is not a torch.nn.Module")
    shapes = _check_shapes(input_shapes)
    if type(module) in module_types(catalog):  # a bare layer: fx would trace into F.linear
        module = _Bare(module, catalog.default_name(module_types(catalog)[type(module)]))
    if output_names is None:
        ports = getattr(module, "meta", {}).get("outputs") if hasattr(module, "meta") else None
        if ports:
            output_names = [p.name for p in ports]
    return _Importer(module, shapes, name, input_dtypes, output_names, catalog).run()


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
        output_names: names of the Output nodes, in return order.

    Node names are the module's attribute paths (``fc1``, ``block1.conv1``) and the fx names
    of operations (``add``, ``cat``); compiling the project gives the same attribute names
    for flat modules, so the module's ``state_dict`` loads as is (see
    :func:`convert_module` for nested ones). Raises :class:`ModelImportError` listing every
    operation without a layer, or the layer whose arguments do not fit the input shapes.
    """
    return convert_module(module, input_shapes, name, input_dtypes, output_names).project


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
            f" {exc.__class__.__name__}: {_first_line(exc)}"
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
            f" {exc.__class__.__name__}: {_first_line(exc)}"
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

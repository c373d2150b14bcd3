"""The fx interpreter of an import: :class:`Importer` traces a module with ``torch.fx``
(catalog modules kept as calls) and maps every node onto a catalog layer of the draft
network (see :mod:`builder.importer.network`)."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from builder.catalog.spec import Catalog
from builder.importer.attrs import AttrPatterns
from builder.importer.calls import (
    ACTIVATION_FUNCTIONS,
    ACTIVATION_METHODS,
    ADD,
    ALIASES,
    CAT,
    MUL,
    POOL_FUNCTIONS,
    activation_params,
    call_arg,
    index_text,
    is_last_step,
    module_path,
    no_extra,
    normalise_index,
    op_name,
    pool_call_params,
    qualified,
)
from builder.importer.errors import ModelImportError, Unsupported, first_line, reject
from builder.importer.network import ImportedModel, NetworkDraft
from builder.importer.readers import READERS, copied_module_type, module_types, size_param
from builder.importer.slicing import chunk_params, index_params, narrow_params
from builder.importer.static import (
    ARITHMETIC,
    arithmetic,
    asserted,
    is_number,
    propagate,
    size_of,
    traced_shape,
)
from builder.importer.tensor_ops import TensorOps
from builder.importer.transformers import TransformerImports
from builder.importer.values import (
    POISON,
    Attr,
    Batch,
    DTypeOf,
    Hidden,
    HiddenSlice,
    LstmStates,
    MhaResult,
    Opaque,
    PortsResult,
    Ref,
    RnnResult,
    ShapeOf,
    Threshold,
    as_tensor,
)

STOCHASTIC_DEPTH = "torchvision.ops.stochastic_depth.stochastic_depth"
# layers whose module returns one tensor per output port, in the ports' order
MULTI_OUTPUT = {"SOM": ("out", "unit", "distances")}
HINT = (
    "NeuralCanvas imports the layers of its catalog (torch.nn modules such as Linear, Conv2d,"
    " LSTM, MultiheadAttention, BatchNorm, the activations), +, *, torch.cat, reshape / view"
    " and flatten. Rewrite the parts listed with those, or import the rest and add these"
    " parts in the editor."
)


class _Tracer(fx.Tracer):
    """Keeps catalog modules (``Step`` and ``Sample`` included, which are not in torch.nn,
    and an exported script's copies of them) as calls."""

    def __init__(self, leaves: set[type], catalog: Catalog):
        super().__init__()
        self.leaves = leaves
        self.catalog = catalog

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (
            type(m) in self.leaves
            or copied_module_type(m, self.catalog) is not None
            or super().is_leaf_module(m, module_qualified_name)
        )


class BareLayer(nn.Module):
    """Holds a bare catalog module, so it is traced as one call of a named submodule."""

    def __init__(self, layer: nn.Module, name: str):
        super().__init__()
        self.add_module(name, layer)
        self.layer_name = name
        self.title = type(layer).__name__

    def forward(self, x):
        return getattr(self, self.layer_name)(x)


class Importer(AttrPatterns, TransformerImports, TensorOps, NetworkDraft):
    """Reads the traced fx graph of ``module``, node by node, into the draft network: each
    node's value is kept in ``env``; an operation without a layer is recorded in
    ``problems`` and poisons what depends on it, so every problem is reported at once."""

    def __init__(
        self,
        module: nn.Module,
        input_shapes: Sequence[Sequence[int]],
        name: str,
        input_dtypes: Sequence[Any] | None,
        output_names: Sequence[str] | None,
        catalog: Catalog,
    ):
        self.input_dtypes = input_dtypes
        self.output_names = output_names
        self.types = module_types(catalog)
        title = module.title if isinstance(module, BareLayer) else type(module).__name__
        super().__init__(module, input_shapes, name, title, catalog)
        self.problems: list[str] = []
        self.env: dict[fx.Node, Any] = {}

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
        tracer = _Tracer(set(self.types), self.catalog)
        try:
            graph = tracer.trace(self.module, concrete_args=concrete or None)
        except Exception as exc:  # fx raises several types for untraceable code
            raise ModelImportError(
                f"Cannot import {self.title}: torch.fx cannot trace its forward"
                f" ({exc.__class__.__name__}: {first_line(exc)}). Control flow that depends on"
                " tensor values, and code that converts tensors to Python numbers, cannot be"
                " imported: write forward as a straight sequence of layer calls"
            ) from None
        traced = fx.GraphModule(tracer.root, graph)
        traced.graph.eliminate_dead_code()
        self._traced, self._traced_inputs, self._propagated = traced, n, False
        return traced.graph, n

    def _shape(self, node: Any) -> tuple[int, ...] | None:
        """The traced shape of the tensor ``node`` (batch 2), or None when unknown; the sizes
        are propagated the first time one is asked for (most models never ask)."""
        if not self._propagated:
            self._propagated = True
            n, given = self._traced_inputs, list(self.input_dtypes or ())[: self._traced_inputs]
            dtypes = [getattr(torch, _dtype_name(d)) for d in given]
            dtypes += [torch.float32] * (n - len(dtypes))
            propagate(self._traced, self.input_shapes[:n], dtypes)
        return traced_shape(node)

    def _describe(self, node: fx.Node) -> str:
        if node.op == "call_module":
            sub = self.module.get_submodule(node.target)
            cls = type(sub)
            return f"call_module '{node.target}' ({cls.__module__}.{cls.__qualname__})"
        if node.op == "call_method":
            return f"call_method '.{node.target}()' (node {node.name})"
        if node.op == "get_attr":
            return f"get_attr '{node.target}'"
        return f"{node.op} '{node.name}' ({qualified(node.target)})"

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
            return self._get_attr(node)  # a layer where a pattern takes it (attrs.py)
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
            ref = as_tensor(self.env.get(v) if isinstance(v, fx.Node) else v, "returns")
            if i < len(names):
                name = names[i]
            else:
                name = "output" if len(values) == 1 else f"output_{i + 1}"
            self._free_for_output(name)
            out = self._add("Output", name, {}, None)
            self.edges.append((ref, out, "in"))

    def _free_for_output(self, name: str) -> None:
        """Rename a layer called ``name`` (``mean`` -> ``mean_2``): a training procedure
        finds an Output by its name, a layer's name is only a label (the weights follow it,
        see :meth:`_weights`)."""
        for node_id in self.net.nodes:
            if self.net.name_of(node_id) == name and self.net.type_of(node_id) != "Output":
                self.net.rename(node_id, self.net.unique_name(name))

    def _layer(self, node: fx.Node, type_id: str, params: dict[str, Any], *inputs: Any) -> str:
        """A one-input layer fed by ``inputs[0]``; returns the node id."""
        ref = as_tensor(
            self.env.get(inputs[0]) if isinstance(inputs[0], fx.Node) else inputs[0], "takes"
        )
        node_id = self._add(type_id, op_name(node), params, node)
        self.edges.append((ref, node_id, "in"))
        return node_id

    # ------------------------------------------------------------------ call_module
    def _call_module(self, node: fx.Node) -> Any:
        path = node.target
        sub = self.module.get_submodule(path)
        type_id = self.types.get(type(sub)) or copied_module_type(sub, self.catalog)
        if type(sub) in (nn.TransformerEncoder, nn.TransformerEncoderLayer):
            return self._encoder(node, path, sub)  # transformers.py
        if type_id is None:
            cls = type(sub)
            raise Unsupported(f"{cls.__qualname__} is not a layer of the catalog")
        if path in self.called and (
            any(True for _ in sub.parameters()) or any(True for _ in sub.buffers())
        ):
            raise Unsupported(
                "is called a second time (shared weights); every NeuralCanvas layer has its"
                " own weights: use two modules"
            )
        # a module without weights called again (torchvision's ResNet reuses self.relu):
        # a layer for each call (relu, relu_2, ...), nothing shared
        params = READERS[type_id](sub)
        if type_id == "MultiheadAttention":
            return self._attention(node, path, sub, params)
        if type_id == "Sample":
            return self._sample(node, path, sub)
        if type_id in ("RNN", "LSTM", "GRU"):
            reject(
                len(node.args) + len(node.kwargs) != 1,
                "passes an initial hidden state; the layer starts from zeros",
            )
        else:
            no_extra(node, set(), 1)
        value = node.args[0] if node.args else None
        node_id = self._layer_from_module(node, path, sub, type_id, params, value)
        if type_id in ("RNN", "LSTM", "GRU"):
            return RnnResult(node_id)
        if type_id in MULTI_OUTPUT:
            return PortsResult(node_id, MULTI_OUTPUT[type_id])
        return Ref(node_id)

    def _layer_from_module(
        self, node: fx.Node, path: str, sub: nn.Module, type_id: str, params: dict, value: Any
    ) -> str:
        ref = as_tensor(self.env.get(value) if isinstance(value, fx.Node) else value, "takes")
        node_id = self._add(type_id, path, params, node)
        self.edges.append((ref, node_id, "in"))
        self.modules[node_id] = sub
        self.sources[node_id] = path
        self.called[path] = node_id
        return node_id

    def _attention(self, node: fx.Node, path: str, sub: nn.Module, params: dict) -> MhaResult:
        names = ("query", "key", "value")
        values = [call_arg(node, i, n) for i, n in enumerate(names)]
        reject(any(v is None for v in values), "needs query, key and value")
        for index, key, default in (
            (3, "key_padding_mask", None),
            (5, "attn_mask", None),
            (6, "average_attn_weights", True),
            (7, "is_causal", False),
        ):
            got = call_arg(node, index, key, default)
            reject(got != default, f"passes {key}={got!r}; the layer supports only {default!r}")
        refs = [
            as_tensor(self.env.get(v) if isinstance(v, fx.Node) else v, f"takes as {n}")
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

    def _sample(self, node: fx.Node, path: str, sub: nn.Module) -> Ref:
        names = ("mean", "log_var")
        no_extra(node, set(names), 2)
        values = [call_arg(node, i, n) for i, n in enumerate(names)]
        reject(any(v is None for v in values), "needs mean and log_var")
        refs = [
            as_tensor(self.env.get(v) if isinstance(v, fx.Node) else v, f"takes as {n}")
            for v, n in zip(values, names)
        ]
        node_id = self._add("Sample", path, {}, node)
        for ref, port in zip(refs, names):
            self.edges.append((ref, node_id, port))
        self.modules[node_id] = sub
        self.sources[node_id] = path
        self.called[path] = node_id
        return Ref(node_id)

    # ------------------------------------------------------------------ call_function
    def _call_function(self, node: fx.Node) -> Any:
        fn = node.target
        if fn in ARITHMETIC or fn is torch._assert:
            args = [self.env.get(a) if isinstance(a, fx.Node) else a for a in node.args]
            if all(
                is_number(a) or isinstance(a, Batch)
                for a in args[: 1 if fn is torch._assert else 2]
            ):
                if fn is torch._assert:
                    return asserted(args[0], args[1] if len(args) > 1 else "")
                return arithmetic(fn, args)
        if fn is operator.getitem:
            index = fx.node.map_arg(node.args[1], lambda n: self.env.get(n))  # sizes read
            return self._getitem(self.env.get(node.args[0]), index, node)
        if fn is getattr and node.args[1] == "shape":
            ref = as_tensor(self.env.get(node.args[0]), "reads the shape of")
            return ShapeOf(ref, lambda: self._shape(node.args[0]))
        if fn is getattr and node.args[1] == "dtype":
            return DTypeOf(as_tensor(self.env.get(node.args[0]), "reads the dtype of"))
        if fn is operator.ge and isinstance(node.args[1], (int, float)):
            ref = as_tensor(self.env.get(node.args[0]), "compares")
            return Threshold(ref, float(node.args[1]), node)
        if fn in ADD or fn in MUL:
            reject(fn is torch.add and "alpha" in node.kwargs, "scales with alpha")
            reject(len(node.args) != 2 or set(node.kwargs) - {"alpha"}, "passes extra arguments")
            type_id = "Add" if fn in ADD else "Multiply"
            values = [self.env.get(a) if isinstance(a, fx.Node) else a for a in node.args]
            if any(isinstance(v, Attr) for v in values):
                return self._with_attr(node, type_id, *values)
            return self._merge(node, type_id, node.args[0], node.args[1])
        if fn is F.layer_norm:
            return self._layer_norm(node)
        if fn in CAT:
            return self._cat(node)
        if fn is torch.flatten:
            return self._flatten(node, method=False)
        if fn in (torch.permute, torch.transpose):
            return self._permute(node, fn.__name__)
        if fn is torch.reshape:
            return self._reshape(node, node.args[0], call_arg(node, 1, "shape"))
        if fn in ACTIVATION_FUNCTIONS:
            type_id = ACTIVATION_FUNCTIONS[fn]
            return Ref(
                self._layer(node, type_id, activation_params(type_id, node, False), node.args[0])
            )
        if fn in POOL_FUNCTIONS:
            return Ref(self._layer(node, POOL_FUNCTIONS[fn], pool_call_params(node), node.args[0]))
        if fn is F.adaptive_avg_pool2d:
            size = call_arg(node, 1, "output_size")
            reject(
                size is None or (isinstance(size, tuple) and None in size), "needs an output_size"
            )
            return Ref(
                self._layer(
                    node, "AdaptiveAvgPool2d", {"output_size": size_param(size)}, node.args[0]
                )
            )
        if fn is torch.mean:
            return self._mean(node)
        if qualified(fn) == STOCHASTIC_DEPTH:  # torchvision's drop path, traced into
            p, mode = call_arg(node, 1, "p"), call_arg(node, 2, "mode", "row")
            reject(
                not isinstance(p, (int, float)) or mode not in ("row", "batch"),
                "drops by a p or mode that is not a constant",
            )
            params = {"p": float(p), "mode": mode}
            return Ref(self._layer(node, "StochasticDepth", params, node.args[0]))
        raise Unsupported("no layer computes it")

    def _call_method(self, node: fx.Node) -> Any:
        name = node.target
        self_value = self.env.get(node.args[0])
        if name in ALIASES and len(node.args) == 1 and not node.kwargs:
            return self_value
        if isinstance(self_value, Threshold):
            return self._step(node, name, self_value)
        if name == "expand" and isinstance(self_value, Attr):
            return self._expand(node, self_value)
        if name == "mean":
            return self._mean(node)
        if name in ("chunk", "narrow"):
            shape = self._shape(node.args[0])
            if name == "narrow":
                return self._slice(node, narrow_params(node.args, shape))
            pieces = chunk_params(call_arg(node, 1, "chunks"), call_arg(node, 2, "dim", 0), shape)
            return tuple(self._slice(node, p, f"_{i}" if i else "") for i, p in enumerate(pieces))
        if name in ("size", "dim"):
            shape = ShapeOf(
                as_tensor(self_value, f"reads the {name} of"), lambda: self._shape(node.args[0])
            )
            if name == "dim":
                reject(shape.dims is None, "reads the number of dims")
                return len(shape.dims)
            dim = call_arg(node, 1, "dim")
            return shape if dim is None else size_of(shape, dim)
        if name in ("add", "mul"):
            reject(len(node.args) != 2 or node.kwargs, "passes extra arguments")
            return self._merge(
                node, "Add" if name == "add" else "Multiply", node.args[0], node.args[1]
            )
        if name == "squeeze" and isinstance(self_value, Hidden):
            spec = self._rnn_layers(self_value.node)
            reject(
                call_arg(node, 1, "dim") != 0 or spec != 1,
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
        if name in ("permute", "transpose"):
            return self._permute(node, name)
        if name in ACTIVATION_METHODS:
            type_id = ACTIVATION_METHODS[name]
            return Ref(
                self._layer(node, type_id, activation_params(type_id, node, True), node.args[0])
            )
        raise Unsupported("no layer computes it")

    def _step(self, node: fx.Node, method: str, cmp: Threshold) -> Ref:
        """``(x >= t).to(x.dtype)`` / ``(x >= t).float()``: the Step layer (also what the
        exported script's own ``Step`` module computes)."""
        to = call_arg(node, 1, "dtype")
        same = (method == "to" and len(node.args) == 2 and not node.kwargs) and (
            to is torch.float32
            or (isinstance(self.env.get(to), DTypeOf) and self.env[to].ref == cmp.ref)
        )
        if not (same or (method == "float" and len(node.args) == 1)):
            raise Unsupported("compares values; only (x >= t).to(x.dtype) is a layer (Step)")
        path = module_path(node)
        helper = path and path == module_path(cmp.node)
        if helper and not list(self.module.get_submodule(path).children()):
            name = path  # a module of its own, such as the exported script's Step
        else:
            name = op_name(node)
        node_id = self._add("Step", name, {"threshold": cmp.value}, node)
        self.edges.append((cmp.ref, node_id, "in"))
        return Ref(node_id)

    def _getitem(self, value: Any, index: Any, node: fx.Node | None = None) -> Any:
        if isinstance(value, RnnResult):
            index = normalise_index(index, 2)
            if index == 0:
                return Ref(value.node, "seq")
            if index == 1:
                if self.net.type_of(value.node) == "LSTM":
                    return LstmStates(value.node)
                return Hidden(value.node)
        if isinstance(value, LstmStates):
            index = normalise_index(index, 2)
            if index == 0:
                return Hidden(value.node)
            if index == 1:
                return Opaque("the LSTM's cell state c_n")
        if isinstance(value, Hidden) and isinstance(index, int):
            total = self._rnn_layers(value.node)
            i = index + total if index < 0 else index
            reject(not 0 <= i < total, f"indexes h_n with {index}; it has {total} entries")
            bidirectional = self.net.params_of(value.node)["bidirectional"]
            if bidirectional and i >= total - 2:
                return HiddenSlice(value.node, i)
            if not bidirectional and i == total - 1:
                return Ref(value.node, "last")
            raise Unsupported(
                f"uses h_n[{index}], the final state of a lower layer; only the top layer's is"
                " an output of the layer"
            )
        if isinstance(value, PortsResult):
            index = normalise_index(index, len(value.ports))
            if isinstance(index, int) and 0 <= index < len(value.ports):
                return Ref(value.node, value.ports[index])
        if isinstance(value, MhaResult):
            index = normalise_index(index, 2)
            if index == 0:
                return Ref(value.node, "out")
            if index == 1:
                self.mha_weights.add(value.node)
                return Ref(value.node, "weights")
        if isinstance(value, ShapeOf):
            return size_of(value, index)
        if isinstance(value, Ref) and value.port == "seq" and is_last_step(index):
            if not self.net.params_of(value.node)["bidirectional"]:
                return Ref(value.node, "last")  # output[:, -1] is h_n[-1] when one-directional
            raise Unsupported(
                "takes output[:, -1] of a bidirectional layer, which is not its final state"
                " (the backward direction ends at step 0); use torch.cat((h_n[-2], h_n[-1]), dim=1)"
            )
        if isinstance(value, tuple):  # the pieces of a chunk
            reject(
                not isinstance(index, int) or not -len(value) <= index < len(value),
                f"takes piece {index!r}",
            )
            return value[index]
        if isinstance(value, Ref) and node is not None:
            return self._slice(node, index_params(index, self._shape(node.args[0])))
        if isinstance(value, (Ref, Hidden, HiddenSlice)):
            raise Unsupported(f"indexes a tensor with [{index_text(index)}]; no layer does that")
        as_tensor(value, "indexes")
        raise Unsupported(f"indexes with [{index_text(index)}]")


def _dtype_name(dtype: Any) -> str:
    if dtype in ("float32", torch.float32, "float", None):
        return "float32"
    if dtype in ("int64", torch.int64, "long"):
        return "int64"
    raise ModelImportError(f"Input dtype {dtype!r} is not supported: use float32 or int64")

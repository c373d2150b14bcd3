"""Compile a network into a real ``torch.nn.Module``: a ``torch.fx.GraphModule`` whose
``forward`` is straight-line generated code (no per-node interpreter loop) and whose
submodules are named after the nodes (see :mod:`builder.names`)."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn

from builder import budget
from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, Shape
from builder.errors import OutputNotFoundError
from builder.names import attribute_names, sanitize
from builder.shapes import check_compilable, live_nodes
from graph.document import Network


class Emitter:
    """What a layer's ``emit`` function uses to add its operations to the fx graph."""

    def __init__(self, graph: fx.Graph, attr: str):
        self.graph = graph
        self.attr = attr

    def call(self, *args: Any, **kwargs: Any) -> fx.Node:
        """Call this node's own module."""
        return self.graph.call_module(self.attr, args, kwargs)

    def fn(self, function: Any, *args: Any, **kwargs: Any) -> fx.Node:
        return self.graph.call_function(function, args, kwargs)

    def method(self, name: str, *args: Any, **kwargs: Any) -> fx.Node:
        return self.graph.call_method(name, args, kwargs)

    def item(self, value: fx.Node, index: Any) -> fx.Node:
        return self.graph.call_function(operator.getitem, (value, index))


def _default_emit(
    e: Emitter, p: Any, xs: dict[str, fx.Node], shapes: Any, wanted: set[str]
) -> dict[str, fx.Node]:
    return {"out": e.call(xs["in"])}


def apply_init(module: nn.Module, scheme: str) -> None:
    """Initialise ``module``'s weights (tensors of 2+ dims) and biases with ``scheme``."""
    if scheme == "default":
        return
    params = dict(module.named_parameters())
    with torch.no_grad():
        for name, tensor in params.items():
            is_weight = tensor.dim() >= 2
            if scheme == "zeros":
                nn.init.zeros_(tensor)
            elif scheme == "uniform":
                weight = tensor if is_weight else params.get(name.replace("bias", "weight"))
                if weight is None:  # e.g. attention's in_proj_bias beside separate q/k/v weights
                    weight = next(t for t in params.values() if t.dim() >= 2)
                fan_in = nn.init._calculate_fan_in_and_fan_out(weight)[0]
                bound = 1.0 / max(fan_in, 1) ** 0.5
                nn.init.uniform_(tensor, -bound, bound)
            elif not is_weight:
                nn.init.zeros_(tensor)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(tensor)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(tensor)
            elif scheme == "he_normal":
                nn.init.kaiming_normal_(tensor, nonlinearity="relu")
            elif scheme == "he_uniform":
                nn.init.kaiming_uniform_(tensor, nonlinearity="relu")
            else:
                raise ValueError(f"unknown initialiser {scheme!r}")


def set_weights(module: nn.Module, weights: Mapping[str, Any]) -> None:
    """Copy hand-set ``weights`` (nested lists of numbers by tensor name, as the project
    file holds them) into ``module``'s parameters and buffers."""
    own = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for name, values in weights.items():
            tensor = own[name]
            value = torch.tensor(values, dtype=tensor.dtype, device=tensor.device)
            if value.shape != tensor.shape:
                raise ValueError(
                    f"hand-set {name!r} has shape {list(value.shape)}, the layer's"
                    f" {list(tensor.shape)}"
                )
            tensor.copy_(value)


@dataclass(frozen=True)
class Port:
    """A model input or output.

    Attributes:
        node_id: the Input / Output node's id.
        name: its attribute-style name (a Python identifier, see :mod:`builder.names`).
        shape: the tensor's shape, batch dim ``N`` first.
        node_name: the node's own name as the user typed it ("recon", "log_var"): the name
            a training procedure binds an Output by.
    """

    node_id: str
    name: str
    shape: Shape
    node_name: str = ""


def output_names(module: nn.Module) -> tuple[str, ...]:
    """The Output names of a compiled (or exported) model, in forward's return order."""
    names = getattr(module, "OUTPUTS", None)
    if names is None:
        raise OutputNotFoundError(
            f"{type(module).__name__} names no Outputs (it has no OUTPUTS): compile it with"
            " NeuralCanvas or export it as a script"
        )
    return tuple(names)


def output_index(module: nn.Module, name: str) -> int:
    """Where the Output called ``name`` is in forward's result (0 for a single output).

    Raises:
        OutputNotFoundError: the model has no Output of that name (the message lists those
            it has).
    """
    names = output_names(module)
    if name in names:
        return names.index(name)
    have = ", ".join(repr(n) for n in names) or "none"
    raise OutputNotFoundError(
        f"The network has no Output named {name!r} (its Outputs: {have}): add an Output"
        f" layer named {name!r}, or rename one"
    )


def named_outputs(module: nn.Module, result: Any) -> dict[str, torch.Tensor]:
    """``module``'s forward ``result`` (one tensor, or a tuple for several Outputs) by
    Output name: ``named_outputs(model, model(x))["recon"]``."""
    values = result if isinstance(result, tuple) else (result,)
    return dict(zip(output_names(module), values, strict=True))


def class_name(name: str) -> str:
    """``'main'`` -> ``'Main'``, ``'my gan'`` -> ``'MyGan'``."""
    text = "".join(part[:1].upper() + part[1:] for part in sanitize(name).split("_") if part)
    return text if text.isidentifier() and not text[0].isdigit() else f"Net{text}"


def compile_network(
    net: Network,
    seed: int | None = None,
    catalog: Catalog = CATALOG,
    name: str | None = None,
) -> fx.GraphModule:
    """Build ``net`` as a ``GraphModule``. With ``seed``, weight initialisation is
    reproducible and the global RNG is left untouched.

    ``module.meta["inputs"]`` / ``["outputs"]`` list the :class:`Port`\\ s in forward's
    argument / return order: the order the Input / Output nodes were added in. Several
    outputs are returned as a tuple; ``module.OUTPUTS`` holds the Output nodes' names in
    that order (as the exported model class does), see :func:`output_index`.
    """
    results = check_compilable(net)
    if torch.empty(0).device.type != "meta":  # under torch.device("meta") nothing is taken
        budget.check_model(net, results)
    live = live_nodes(net)
    attrs = attribute_names(net)
    order = [n for n in net.topological_order() if n in live]
    graph = fx.Graph()
    root = nn.Module()
    values: dict[tuple[str, str], fx.Node] = {}
    inputs = [n for n in net.nodes if net.type_of(n) == "Input"]
    outputs = [n for n in net.nodes if net.type_of(n) == "Output"]
    for n in inputs:  # placeholders first, in the order the user added the inputs
        values[(n, "out")] = graph.placeholder(attrs[n])

    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    with rng:
        if seed is not None:
            torch.manual_seed(seed)
        for n in order:
            type_id = net.type_of(n)
            if type_id in ("Input", "Output"):
                continue
            spec = catalog[type_id]
            params = net.params_of(n)
            shapes = results[n].inputs
            xs = {e.dst_port: values[(e.src, e.src_port)] for e in net.in_edges(n)}
            wanted = {e.src_port for e in net.out_edges(n) if e.dst in live}
            emitter = Emitter(graph, attrs[n])
            if spec.ctor is not None:
                module = spec.ctor(params, shapes).build()
                if "init" in params:
                    apply_init(module, params["init"])
                hand = net.weights_of(n)
                if hand:
                    set_weights(module, hand)
                if not net.trainable_of(n):  # frozen: no gradients, no optimiser step
                    module.requires_grad_(False)
                root.add_module(attrs[n], module)
                emit = spec.emit or _default_emit
            elif spec.emit is not None:
                emit = spec.emit
            else:
                emit = None
            produced = emit(emitter, params, xs, shapes, wanted) if emit else {"out": xs["in"]}
            for port, value in produced.items():
                values[(n, port)] = value

    result_nodes = []
    for n in outputs:
        (edge,) = net.in_edges(n)
        result_nodes.append(values[(edge.src, edge.src_port)])
    graph.output(result_nodes[0] if len(result_nodes) == 1 else tuple(result_nodes))
    module = fx.GraphModule(root, graph, class_name=class_name(name or net.name))
    module.graph.eliminate_dead_code()  # e.g. an LSTM's unused final state
    module.graph.lint()
    module.recompile()
    module.meta["inputs"] = [
        Port(n, attrs[n], results[n].outputs["out"], net.name_of(n)) for n in inputs
    ]
    module.meta["outputs"] = [
        Port(n, attrs[n], results[n].inputs["in"], net.name_of(n)) for n in outputs
    ]
    # Upper case: no layer's attribute can take it (attribute names are lower case).
    module.OUTPUTS = tuple(net.name_of(n) for n in outputs)
    return module


def example_inputs(
    module: fx.GraphModule, batch: int = 2, net: Network | None = None, seed: int = 0
) -> list[torch.Tensor]:
    """Random tensors matching the compiled module's inputs (token ids stay below every
    consuming Embedding's vocabulary size)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for port in module.meta["inputs"]:
        dims = (batch, *port.shape[1:])
        if port.shape.dtype == "int64":
            high = _vocab(net, port.node_id) if net is not None else 2
            out.append(torch.randint(0, high, dims, generator=gen))
        else:
            out.append(torch.randn(dims, generator=gen))
    return out


def _vocab(net: Network, node_id: str) -> int:
    sizes = [
        net.params_of(d)["num_embeddings"]
        for d in net.descendants([node_id])
        if net.type_of(d) == "Embedding"
    ]
    return min(sizes) if sizes else 2

"""Shape inference: every edge's tensor shape (symbolic batch ``N``), every node's parameter
count, and for every bad node a message that names it and says what to do.

:class:`ShapeChecker` listens to a network's events and re-checks incrementally: an edit
marks its node dirty, and :meth:`ShapeChecker.check` recomputes only nodes downstream of a
dirty node, stopping early where a node's result did not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, Shape
from builder.errors import GraphInvalidError, LayerShapeError
from builder.names import plain
from graph.document import (
    EdgeAdded,
    EdgeRemoved,
    Event,
    Network,
    NodeAdded,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    WeightsChanged,
)
from graph.weights import shape_of

# The most values one sample may hold at any point of a network (2**31 - 1, the largest
# index of a 32-bit tensor index; 8 GB of float32 for one sample).
MAX_SAMPLE_VALUES = 2**31 - 1


@dataclass(frozen=True)
class NodeInfo:
    """The result of checking one node.

    ``status`` is ``ok``, ``error`` (this node is wrong: ``message`` says why and what to
    do) or ``blocked`` (an upstream node is wrong, so this one cannot be checked yet).
    """

    status: str
    outputs: dict[str, Shape] = field(default_factory=dict)
    inputs: dict[str, Shape] = field(default_factory=dict)
    params: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def label(net: Network, node_id: str) -> str:
    """``Linear 'fc2'``: how messages name a node."""
    return f"{net.type_of(node_id)} '{net.name_of(node_id)}'"


def check_node(
    net: Network, node_id: str, results: dict[str, NodeInfo], catalog: Catalog = CATALOG
) -> NodeInfo:
    """Check one node given the results of its predecessors."""
    spec = catalog[net.type_of(node_id)]
    params = net.params_of(node_id)
    incoming = {e.dst_port: e for e in net.in_edges(node_id)}
    shapes: dict[str, Shape] = {}
    for port in spec.input_ports(params):
        edge = incoming.get(port)
        if edge is None:
            if port in spec.optional_inputs:
                continue
            where = f" '{port}'" if port != "in" else ""
            return NodeInfo(
                "error",
                message=f"{label(net, node_id)} has nothing connected to its input{where}: connect a layer to it",
            )
        src = results.get(edge.src)
        if src is None or not src.ok:
            return NodeInfo("blocked", message=f"waiting for '{net.name_of(edge.src)}' to be fixed")
        shapes[port] = src.outputs[edge.src_port]
    if spec.type_id == "Output":
        clash = output_name_clash(net, node_id)
        if clash:
            return NodeInfo("error", inputs=shapes, message=clash)
    try:
        outputs = spec.infer_shapes(params, shapes)
        count = spec.param_count(params, shapes)
    except LayerShapeError as exc:
        return NodeInfo("error", inputs=shapes, message=f"{label(net, node_id)} {exc}")
    except (
        Exception
    ) as exc:  # a rule that cannot cope with a strange input must not crash the editor
        return NodeInfo(
            "error",
            inputs=shapes,
            message=f"{label(net, node_id)} cannot handle inputs {_fmt(shapes)} ({exc})",
        )
    too_big = _oversized(net, node_id, outputs)
    if too_big:
        return NodeInfo("error", inputs=shapes, message=too_big)
    misfit = _hand_weights_misfit(net, node_id, spec, shapes)
    if misfit:
        return NodeInfo("error", inputs=shapes, message=misfit)
    return NodeInfo("ok", outputs=outputs, inputs=shapes, params=count)


def tensor_shapes(
    spec: Any, params: Any, inputs: dict[str, Shape], parameters_only: bool = False
) -> dict[str, tuple[int, ...]]:
    """The shapes of the tensors a layer holds (its ``state_dict``: weights, biases, running
    statistics; ``parameters_only``: the trainable ones), by name, built on the meta device
    (no memory taken)."""
    import torch

    if spec.ctor is None:
        return {}
    with torch.device("meta"):
        module = spec.ctor(params, inputs).build()
    tensors = module.named_parameters() if parameters_only else module.state_dict().items()
    return {name: tuple(t.shape) for name, t in tensors}


def _hand_weights_misfit(net: Network, node_id: str, spec: Any, inputs: dict[str, Shape]) -> str:
    """Why the layer's hand-set weights do not fit it ("" when they do or there are none)."""
    weights = net.weights_of(node_id)
    if not weights:
        return ""
    own = tensor_shapes(spec, net.params_of(node_id), inputs)
    fix = "edit them in the Properties panel's Weights table, or clear them"
    for name, values in weights.items():
        if name not in own:
            has = ", ".join(repr(k) for k in own) or "no tensors"
            return (
                f"{label(net, node_id)} has no tensor {name!r} to set by hand (it has {has}): {fix}"
            )
        given = list(shape_of(values))
        if tuple(given) != own[name]:
            return (
                f"{label(net, node_id)}: the hand-set {name!r} has shape {given}, the layer's"
                f" {name!r} has {list(own[name])}: {fix}"
            )
    return ""


def values_per_sample(shape: Shape) -> int:
    """How many values one sample of ``shape`` holds (the dims after the batch dim)."""
    return math.prod(int(d) for d in shape[1:])


def _oversized(net: Network, node_id: str, outputs: dict[str, Shape]) -> str:
    """The problem of a node whose output holds more than :data:`MAX_SAMPLE_VALUES` values
    per sample ("" if none): caught here, the shapes after it stay small enough to print and
    to count, and nothing is ever allocated for it."""
    for port, shape in outputs.items():
        if not all(isinstance(d, int) for d in shape[1:]):
            continue
        values = values_per_sample(shape)
        if values <= MAX_SAMPLE_VALUES:
            continue
        where = f" on port '{port}'" if len(outputs) > 1 else ""
        if net.type_of(node_id) == "Input":
            advice = "set a smaller shape (the dataset's samples decide it)"
        else:
            advice = "make it or the layers before it smaller"
        return (
            f"{label(net, node_id)} gives {shape}{where}: {values:,} values per sample, more"
            f" than the {MAX_SAMPLE_VALUES:,} one sample may hold: {advice}"
        )
    return ""


def output_name_clash(net: Network, node_id: str) -> str:
    """The problem of an Output whose name an earlier Output already has ("" if none).

    A training procedure binds Outputs by name ("recon", "mean", "log_var"), so names that
    differ only in case, spaces or punctuation ("log var", "Log_Var") count as the same: the
    later Output gets the message, the first one keeps its name.
    """
    key = plain(net.name_of(node_id))
    for other in net.nodes:
        if other == node_id:
            return ""
        if net.type_of(other) == "Output" and plain(net.name_of(other)) == key:
            return (
                f"{label(net, node_id)} has the same name as Output '{net.name_of(other)}'"
                " (Output names are compared ignoring case, spaces and punctuation, because a"
                " training procedure finds each Output by its name): rename one of them"
            )
    return ""


def _same(old: NodeInfo | None, new: NodeInfo) -> bool:
    """Equal results, dtypes included (``Shape`` equality ignores the dtype, but an Input
    switched to int64 must still re-check the Embedding after it)."""

    def dtypes(info: NodeInfo) -> tuple[Any, ...]:
        return tuple((k, v.dtype) for d in (info.outputs, info.inputs) for k, v in d.items())

    return old is not None and old == new and dtypes(old) == dtypes(new)


def _fmt(shapes: dict[str, Shape]) -> str:
    return ", ".join(f"{k}={v}" for k, v in shapes.items())


class ShapeChecker:
    """Keeps shape-inference results of one network up to date, incrementally."""

    def __init__(self, net: Network, catalog: Catalog = CATALOG):
        self.net = net
        self.catalog = catalog
        self.results: dict[str, NodeInfo] = {}
        self._dirty: set[str] = set(net.nodes)
        self.last_checked = 0  # nodes recomputed by the last check(), for tests and benches
        self._order: list[str] = []
        self._order_revision = -1  # net.structure_revision that _order was computed for
        self._unsubscribe = net.subscribe(self._on_event)

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Event) -> None:
        if isinstance(event, (NodeAdded, NodeRenamed, NodeRemoved)) and self._is_output(event):
            # An Output's name can clash with another Output's (see output_name_clash).
            self._dirty.update(n for n in self.net.nodes if self.net.type_of(n) == "Output")
        if isinstance(event, (NodeAdded, ParamChanged, WeightsChanged)):
            self._dirty.add(event.node_id)
        elif isinstance(event, NodeRenamed):
            # A 'blocked' successor's message names this node ("waiting for 'fc' ...").
            self._dirty.add(event.node_id)
            self._dirty.update(self.net.graph.successors(event.node_id))
        elif isinstance(event, (EdgeAdded, EdgeRemoved)):
            self._dirty.add(event.edge.dst)
        elif isinstance(event, NodeRemoved):
            self.results.pop(event.node_id, None)
            self._dirty.discard(event.node_id)
            # its edges were removed first, each marking its destination dirty

    def _is_output(self, event: Event) -> bool:
        if isinstance(event, NodeRemoved):
            return event.record.get("type") == "Output"
        return event.node_id in self.net and self.net.type_of(event.node_id) == "Output"

    # ------------------------------------------------------------------ checking
    def check(self) -> dict[str, NodeInfo]:
        """Bring results up to date; returns ``{node_id: NodeInfo}`` for every node."""
        dirty = {n for n in self._dirty if n in self.net}
        self._dirty.clear()
        self.last_checked = 0
        if not dirty:
            return self.results
        # One topological order per structure revision: a param edit re-sorts nothing. (Sorting
        # a subgraph view of the affected nodes cost more than a full check on 500 nodes.)
        if self._order_revision != self.net.structure_revision:
            self._order = self.net.topological_order()
            self._order_revision = self.net.structure_revision
        changed: set[str] = set()
        for node_id in self._order:
            preds = self.net.graph.predecessors(node_id)
            if node_id not in dirty and not any(p in changed for p in preds):
                continue  # nothing upstream of it changed after all
            info = check_node(self.net, node_id, self.results, self.catalog)
            self.last_checked += 1
            if not _same(self.results.get(node_id), info):
                self.results[node_id] = info
                changed.add(node_id)
        return self.results

    def edge_shape(self, src: str, src_port: str) -> Shape | None:
        info = self.check().get(src)
        return info.outputs.get(src_port) if info is not None and info.ok else None

    def problems(self) -> list[tuple[str, str]]:
        """``(node_id, message)`` for each node that is wrong itself (not just blocked)."""
        results = self.check()
        return [(n, results[n].message) for n in self.net.nodes if results[n].status == "error"]

    def total_params(self) -> int:
        return sum(info.params for info in self.check().values())


def infer(net: Network, catalog: Catalog = CATALOG) -> dict[str, NodeInfo]:
    """One full, non-incremental check of ``net``."""
    results: dict[str, NodeInfo] = {}
    for node_id in net.topological_order():
        results[node_id] = check_node(net, node_id, results, catalog)
    return results


def live_nodes(net: Network) -> set[str]:
    """Nodes that feed some Output (the others are not compiled)."""
    outputs = [n for n in net.nodes if net.type_of(n) == "Output"]
    live: set[str] = set(outputs)
    for n in outputs:
        live |= nx.ancestors(net.graph, n)
    return live


def check_compilable(
    net: Network, results: dict[str, NodeInfo] | None = None
) -> dict[str, NodeInfo]:
    """Shape-check ``net`` and raise :class:`GraphInvalidError` if it cannot be compiled."""
    results = infer(net) if results is None else results
    problems: list[tuple[str, str]] = []
    if not any(net.type_of(n) == "Input" for n in net.nodes):
        problems.append(("", "it has no Input layer: add one from the palette and set its shape"))
    if not any(net.type_of(n) == "Output" for n in net.nodes):
        problems.append(("", "it has no Output layer: add one after the last layer"))
    live = live_nodes(net)
    for n in net.nodes:
        if n in live and results[n].status == "error":
            problems.append((net.name_of(n), results[n].message))
    if problems:
        raise GraphInvalidError(net.name, problems)
    return results


def describe(shape: Any) -> str:
    return str(shape) if shape is not None else "?"

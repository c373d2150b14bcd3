"""The document: networks of layers held in networkx multigraphs, edited only through methods.

Every edit validates first and changes nothing when it is refused (an :class:`EditError`
says why). A successful edit emits one plain-Python event to the network's listeners; views
(the canvas, the shape checker) redraw from events and never edit behind the document's back.

What a layer type is (its ports, its parameters) is not known here: a :class:`LayerSpecs`
object supplied by the caller answers those questions, so this package needs no torch.
"""

from __future__ import annotations

import copy
import itertools
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Protocol

import networkx as nx

from graph.errors import EditError
from graph.events import (  # noqa: F401  (re-exported: graph.document.Edge etc.)
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Event,
    Listener,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    TrainableChanged,
    WeightsChanged,
)
from graph.weights import WeightsError, check_weights

MAX_NAME_LENGTH = 100


class LayerSpecs(Protocol):
    """What the document needs to know about layer types (the builder's catalog provides it)."""

    def has_type(self, type_id: str) -> bool: ...

    def default_params(self, type_id: str) -> dict[str, Any]: ...

    def check_param(self, type_id: str, key: str, value: Any) -> Any:
        """Return the value normalised (e.g. a list made a tuple) or raise ``ValueError``
        whose message says what is expected, e.g. ``expected a positive integer, got -2``."""
        ...

    def input_ports(self, type_id: str, params: Mapping[str, Any]) -> list[str]: ...

    def output_ports(self, type_id: str, params: Mapping[str, Any]) -> list[str]: ...

    def default_name(self, type_id: str) -> str: ...


def check_name(name: Any) -> str:
    """Return ``name`` stripped, or raise :class:`EditError` saying what a name must be."""
    if not isinstance(name, str):
        raise EditError(f"A name must be text, got {type(name).__name__}")
    name = name.strip()
    if not name:
        raise EditError("A name cannot be empty: type at least one character")
    if len(name) > MAX_NAME_LENGTH:
        raise EditError(f"A name can have at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    if not (name.isascii() and name.isprintable()) and any(
        unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name
    ):
        raise EditError(
            f"The name {name!r} contains control characters such as newlines: remove them"
        )
    return name


# ----------------------------------------------------------------------------- network


class Network:
    """One network: a directed multigraph whose nodes are layers and whose edges connect ports.

    Node attributes: ``type`` (layer type id), ``name`` (unique, user-visible), ``params``
    (dict, every parameter of the type present), ``pos`` (canvas position ``(x, y)``),
    ``weights`` (hand-set starting values, :mod:`graph.weights`; None: the initialiser's),
    ``trainable`` (False: a frozen layer, whose weights training keeps).
    Edge attributes: ``src_port``, ``dst_port``; the multigraph key is ``Edge.key``.
    """

    def __init__(self, specs: LayerSpecs, name: str = "main"):
        self.specs = specs
        self.name = name
        self.graph = nx.MultiDiGraph()
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)
        # name -> node id, kept by add_node, rename and remove_node, so checking that a
        # name is free takes constant time and loading n layers takes linear time.
        self._names: dict[str, str] = {}
        # Bumped on every edit, so caches (shape inference, compiled models) can tell staleness.
        self.revision = 0
        self.structure_revision = 0

    # ------------------------------------------------------------------ listening
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every edit; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: Event, structural: bool) -> None:
        self.revision += 1
        if structural:
            self.structure_revision += 1
        for listener in list(self._listeners):
            listener(event)

    # ------------------------------------------------------------------ queries
    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    @property
    def nodes(self) -> list[str]:
        """Node ids in insertion order."""
        return list(self.graph.nodes)

    def node(self, node_id: str) -> Mapping[str, Any]:
        """A read-only view of a node's attributes (``type``, ``name``, ``params``, ``pos``)."""
        return MappingProxyType(self._data(node_id))

    def type_of(self, node_id: str) -> str:
        return self._data(node_id)["type"]

    def name_of(self, node_id: str) -> str:
        return self._data(node_id)["name"]

    def params_of(self, node_id: str) -> Mapping[str, Any]:
        return MappingProxyType(self._data(node_id)["params"])

    def weights_of(self, node_id: str) -> Mapping[str, Any] | None:
        """The layer's hand-set weights (nested lists by tensor name), or None."""
        weights = self._data(node_id).get("weights")
        return None if weights is None else MappingProxyType(weights)

    def trainable_of(self, node_id: str) -> bool:
        """False for a frozen layer: training leaves its weights as they start."""
        return self._data(node_id).get("trainable", True)

    def pos_of(self, node_id: str) -> tuple[float, float]:
        return self._data(node_id)["pos"]

    def find(self, name: str) -> str:
        """The id of the node called ``name``."""
        node_id = self._named(name)
        if node_id is not None:
            return node_id
        raise EditError(f"There is no layer named {name!r} in network {self.name!r}")

    def edges(self) -> list[Edge]:
        return [_edge(u, v, d) for u, v, d in self.graph.edges(data=True)]

    def in_edges(self, node_id: str) -> list[Edge]:
        self._data(node_id)
        return [_edge(u, v, d) for u, v, d in self.graph.in_edges(node_id, data=True)]

    def out_edges(self, node_id: str) -> list[Edge]:
        self._data(node_id)
        return [_edge(u, v, d) for u, v, d in self.graph.out_edges(node_id, data=True)]

    def input_ports(self, node_id: str) -> list[str]:
        data = self._data(node_id)
        return self.specs.input_ports(data["type"], data["params"])

    def output_ports(self, node_id: str) -> list[str]:
        data = self._data(node_id)
        return self.specs.output_ports(data["type"], data["params"])

    def topological_order(self) -> list[str]:
        """Nodes so that every edge goes forward; ties keep insertion order (stable names)."""
        index = {n: i for i, n in enumerate(self.graph.nodes)}
        return list(nx.lexicographical_topological_sort(self.graph, key=index.__getitem__))

    def descendants(self, node_ids: set[str] | list[str]) -> set[str]:
        """The given nodes and every node downstream of them."""
        out: set[str] = set()
        for n in node_ids:
            if n in self.graph and n not in out:
                out.add(n)
                out |= nx.descendants(self.graph, n)
        return out

    def _data(self, node_id: str) -> dict[str, Any]:
        try:
            return self.graph.nodes[node_id]
        except KeyError:
            raise EditError(
                f"There is no layer with id {node_id!r} in network {self.name!r}"
            ) from None

    def unique_name(self, base: str) -> str:
        """``base`` if unused, else ``base_2``, ``base_3``, ..."""
        if self._named(base) is None:
            return base
        for i in itertools.count(2):
            candidate = f"{base}_{i}"
            if self._named(candidate) is None:
                return candidate
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ edits
    def add_node(
        self,
        type_id: str,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        pos: tuple[float, float] = (0.0, 0.0),
        node_id: str | None = None,
        weights: Mapping[str, Any] | None = None,
        trainable: bool = True,
    ) -> str:
        """Add a layer; missing params take the type's defaults. Returns the node id."""
        if not isinstance(type_id, str) or not self.specs.has_type(type_id):
            raise EditError(f"Unknown layer type {type_id!r}: pick one from the layer palette")
        full = self._checked_params(type_id, name or type_id, params or {})
        if name is None:
            name = self.unique_name(self.specs.default_name(type_id))
        name = check_name(name)
        self._check_unique(name)
        if node_id is None:
            node_id = self._fresh_id()
        elif not isinstance(node_id, str) or not node_id:
            raise EditError(f"A node id must be non-empty text, got {node_id!r}")
        elif node_id in self.graph:
            raise EditError(f"A layer with id {node_id!r} already exists")
        pos = _check_pos(pos)
        hand = None if weights is None else self._checked_weights(type_id, name, weights)
        if not isinstance(trainable, bool):
            raise EditError(
                f"{type_id} '{name}': trainable must be true or false, got {trainable!r}"
            )
        self.graph.add_node(
            node_id,
            type=type_id,
            name=name,
            params=full,
            pos=pos,
            weights=hand,
            trainable=trainable,
        )
        self._names[name] = node_id
        self._emit(NodeAdded(node_id), structural=True)
        return node_id

    def remove_node(self, node_id: str) -> dict[str, Any]:
        """Remove a layer and its edges; returns a record :meth:`restore_node` puts back."""
        data = self._data(node_id)
        record = {
            "id": node_id,
            "index": self.nodes.index(node_id),
            "type": data["type"],
            "name": data["name"],
            "params": copy.deepcopy(data["params"]),
            "pos": data["pos"],
            "weights": copy.deepcopy(data.get("weights")),
            "trainable": data.get("trainable", True),
            "edges": self.in_edges(node_id) + self.out_edges(node_id),
        }
        for edge in record["edges"]:
            self.disconnect(edge)
        self.graph.remove_node(node_id)
        if self._names.get(record["name"]) == node_id:
            del self._names[record["name"]]
        self._emit(NodeRemoved(node_id, record), structural=True)
        return record

    def restore_node(self, record: Mapping[str, Any]) -> str:
        """Undo :meth:`remove_node`: the same id, name, params, position and edges."""
        node_id = self.add_node(
            record["type"],
            record["name"],
            record["params"],
            record["pos"],
            record["id"],
            record.get("weights"),
            record.get("trainable", True),
        )
        index = record.get("index")
        if index is not None and index < len(self) - 1:
            self._move_to(node_id, index)
        for edge in record.get("edges", []):
            self.connect(edge.src, edge.dst, edge.src_port, edge.dst_port)
        return node_id

    def _move_to(self, node_id: str, index: int) -> None:
        # networkx keeps insertion order; rebuilding is O(n), fine for an undo.
        order = [n for n in self.graph.nodes if n != node_id]
        order.insert(index, node_id)
        graph = nx.MultiDiGraph()
        graph.add_nodes_from((n, self.graph.nodes[n]) for n in order)
        graph.add_edges_from(self.graph.edges(keys=True, data=True))
        self.graph = graph

    def connect(self, src: str, dst: str, src_port: str = "out", dst_port: str = "in") -> Edge:
        """Connect ``src``'s output port to ``dst``'s input port."""
        return self._connect(src, dst, src_port, dst_port, None)

    def connect_all(self, edges: list[tuple[str, str, str, str]]) -> list[tuple[int, EditError]]:
        """Connect ``(src, dst, src_port, dst_port)`` edges in order, each exactly as
        :meth:`connect` would (a refused one changes nothing); returns ``(index, error)``
        for each refused edge.

        In time linear in the edges: an edge can close a cycle only between two nodes of one
        strongly connected component of all the edges, so only such edges search for a path,
        and only within their component (a file is loaded this way)."""
        candidates = nx.DiGraph()
        candidates.add_edges_from(
            (s, d) for s, d, _, _ in edges if s in self.graph and d in self.graph
        )
        candidates.add_edges_from(self.graph.edges())
        component: dict[str, frozenset[str]] = {}
        for nodes in nx.strongly_connected_components(candidates):
            if len(nodes) > 1:
                members = frozenset(nodes)
                component.update(dict.fromkeys(members, members))
        refused: list[tuple[int, EditError]] = []
        for i, (src, dst, src_port, dst_port) in enumerate(edges):
            scope = component.get(src)
            within = scope if scope is not None and dst in scope else frozenset()
            try:
                self._connect(src, dst, src_port, dst_port, within)
            except EditError as exc:
                refused.append((i, exc))
        return refused

    def _connect(
        self, src: str, dst: str, src_port: str, dst_port: str, within: frozenset[str] | None
    ) -> Edge:
        """:meth:`connect`; a path from ``dst`` back to ``src`` is searched for among the
        nodes ``within`` only (all nodes when None)."""
        src_data, dst_data = self._data(src), self._data(dst)
        edge = Edge(src, src_port, dst, dst_port)
        outs = self.specs.output_ports(src_data["type"], src_data["params"])
        if src_port not in outs:
            raise EditError(
                f"{src_data['type']} '{src_data['name']}' has no output port {src_port!r}"
                f" (it has {_listing(outs)})"
            )
        ins = self.specs.input_ports(dst_data["type"], dst_data["params"])
        if dst_port not in ins:
            raise EditError(
                f"{dst_data['type']} '{dst_data['name']}' has no input port {dst_port!r}"
                f" (it has {_listing(ins)})"
            )
        for u, keyed in self.graph._pred[dst].items():  # networkx's adjacency: no view made
            if any(d["dst_port"] == dst_port for d in keyed.values()):
                other = self.name_of(u)
                raise EditError(
                    f"Input {dst_port!r} of '{dst_data['name']}' is already connected to"
                    f" '{other}': disconnect it first or use another input"
                )
        if src == dst or (within != frozenset() and self._reaches(dst, src, within)):
            raise EditError(
                f"Connecting '{src_data['name']}' to '{dst_data['name']}' would make a cycle:"
                " a network must flow one way (use a recurrent layer for loops in time)"
            )
        self.graph.add_edge(src, dst, key=edge.key, src_port=src_port, dst_port=dst_port)
        self._emit(EdgeAdded(edge), structural=True)
        return edge

    def _reaches(self, start: str, goal: str, within: frozenset[str] | None) -> bool:
        """Whether a path leads from ``start`` to ``goal`` (through nodes ``within`` only,
        unless None): a search forward from ``start`` and backward from ``goal`` at once,
        always widening the smaller frontier (on a tie, each in turn), so it ends as soon as
        either side runs out
        (adding the edges of a chain in any order searches only a step or two)."""
        succ, pred = self.graph._succ, self.graph._pred  # networkx's adjacency dicts
        seen_f, seen_b = {start}, {goal}
        front_f, front_b = [start], [goal]
        forward = False
        while front_f and front_b:
            # the smaller frontier; on a tie, the other side than last time
            forward = len(front_f) < len(front_b) or (len(front_f) == len(front_b) and not forward)
            front, seen, other, adj = (
                (front_f, seen_f, seen_b, succ) if forward else (front_b, seen_b, seen_f, pred)
            )
            nxt: list[str] = []
            for node in front:
                for n in adj[node]:
                    if n in other:
                        return True
                    if n not in seen and (within is None or n in within):
                        seen.add(n)
                        nxt.append(n)
            if forward:
                front_f = nxt
            else:
                front_b = nxt
        return False

    def disconnect(self, edge: Edge) -> None:
        if not self.graph.has_edge(edge.src, edge.dst, key=edge.key):
            raise EditError("There is no such connection (it may have been removed already)")
        self.graph.remove_edge(edge.src, edge.dst, key=edge.key)
        self._emit(EdgeRemoved(edge), structural=True)

    def set_param(self, node_id: str, key: str, value: Any) -> None:
        data = self._data(node_id)
        type_id, name = data["type"], data["name"]
        if key not in data["params"]:
            raise EditError(f"{type_id} '{name}' has no parameter {key!r}")
        try:
            value = self.specs.check_param(type_id, key, value)
        except ValueError as exc:
            raise EditError(f"{type_id} '{name}': {key}: {exc}") from None
        old = data["params"][key]
        if old == value and type(old) is type(value):
            return
        new_params = {**data["params"], key: value}
        # A param may change the ports (e.g. the number of inputs of Add): keep edges valid.
        ins = set(self.specs.input_ports(type_id, new_params))
        outs = set(self.specs.output_ports(type_id, new_params))
        for e in self.in_edges(node_id):
            if e.dst_port not in ins:
                raise EditError(
                    f"{type_id} '{name}': setting {key} to {value!r} removes input {e.dst_port!r},"
                    " which is connected: disconnect it first"
                )
        for e in self.out_edges(node_id):
            if e.src_port not in outs:
                raise EditError(
                    f"{type_id} '{name}': setting {key} to {value!r} removes output"
                    f" {e.src_port!r}, which is connected: disconnect it first"
                )
        data["params"] = new_params
        self._emit(ParamChanged(node_id, key, old, value), structural=False)

    def set_weights(self, node_id: str, weights: Mapping[str, Any] | None) -> None:
        """Set (or with None clear) the layer's hand-set weights; whether they fit the layer
        is the shape checker's to say."""
        data = self._data(node_id)
        new = (
            None if weights is None else self._checked_weights(data["type"], data["name"], weights)
        )
        old = data.get("weights")
        if new == old:
            return
        data["weights"] = new
        self._emit(WeightsChanged(node_id, old, new), structural=False)

    def set_trainable(self, node_id: str, trainable: bool) -> None:
        """Freeze (False) or unfreeze a layer."""
        data = self._data(node_id)
        if not isinstance(trainable, bool):
            raise EditError(f"{data['type']} '{data['name']}': trainable must be true or false")
        if data.get("trainable", True) == trainable:
            return
        data["trainable"] = trainable
        self._emit(TrainableChanged(node_id, trainable), structural=False)

    def rename(self, node_id: str, name: str) -> None:
        data = self._data(node_id)
        name = check_name(name)
        old = data["name"]
        if name == old:
            return
        self._check_unique(name)
        data["name"] = name
        if self._names.get(old) == node_id:
            del self._names[old]
        self._names[name] = node_id
        self._emit(NodeRenamed(node_id, old, name), structural=False)

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        data = self._data(node_id)
        pos = _check_pos(pos)
        old = data["pos"]
        if pos == old:
            return
        data["pos"] = pos
        self._emit(NodeMoved(node_id, old, pos), structural=False)

    # ------------------------------------------------------------------ helpers
    def _checked_params(self, type_id: str, name: str, params: Mapping[str, Any]) -> dict:
        if not isinstance(params, Mapping):
            raise EditError(f"{type_id} '{name}': params must be a mapping of names to values")
        full = dict(self.specs.default_params(type_id))
        for key, value in params.items():
            if key not in full:
                known = _listing(sorted(full)) if full else "no parameters"
                raise EditError(f"{type_id} '{name}' has no parameter {key!r} (it has {known})")
            try:
                full[key] = self.specs.check_param(type_id, key, value)
            except ValueError as exc:
                raise EditError(f"{type_id} '{name}': {key}: {exc}") from None
        return full

    def _checked_weights(self, type_id: str, name: str, weights: Any) -> dict[str, Any]:
        try:
            return check_weights(weights)
        except WeightsError as exc:
            raise EditError(f"{type_id} '{name}': {exc}") from None

    def _check_unique(self, name: str) -> None:
        if self._named(name) is not None:
            raise EditError(f"A layer named {name!r} already exists: choose another name")

    def _named(self, name: str) -> str | None:
        """The id of the node called ``name`` (None if none), from the name index; an entry
        the graph no longer agrees with is dropped."""
        node_id = self._names.get(name)
        if node_id is None:
            return None
        data = self.graph.nodes.get(node_id)
        if data is not None and data["name"] == name:
            return node_id
        del self._names[name]
        return None

    def _fresh_id(self) -> str:
        while True:
            candidate = f"n{next(self._ids)}"
            if candidate not in self.graph:
                return candidate

    def iter_nodes(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for node_id, data in self.graph.nodes(data=True):
            yield node_id, MappingProxyType(data)


def _edge(u: str, v: str, d: Mapping[str, Any]) -> Edge:
    return Edge(u, d["src_port"], v, d["dst_port"])


def _listing(items: list[str]) -> str:
    return ", ".join(repr(i) for i in items) if items else "none"


def _check_pos(pos: Any) -> tuple[float, float]:
    try:
        x, y = pos
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        raise EditError(f"A position must be two numbers (x, y), got {pos!r}") from None
    if x != x or y != y or abs(x) == float("inf") or abs(y) == float("inf"):
        raise EditError(f"A position must be finite, got {pos!r}")
    return (x, y)


# ----------------------------------------------------------------------------- project


DEFAULT_TRAINING: dict[str, Any] = {
    "dataset": {"name": "xor"},
    "loss": "mse",
    "optimizer": {"name": "adam", "lr": 0.01},
    "epochs": 100,
    "batch_size": 32,
    "seed": 0,
}


class Project:
    """A project: one or more named networks (a GAN needs two) and a training section."""

    def __init__(self, specs: LayerSpecs, name: str = "Untitled", description: str = ""):
        self.specs = specs
        self.name = name
        self.description = description
        self.networks: dict[str, Network] = {}
        self.training: dict[str, Any] = copy.deepcopy(DEFAULT_TRAINING)

    def add_network(self, name: str = "main") -> Network:
        name = check_name(name)
        if name in self.networks:
            raise EditError(f"A network named {name!r} already exists: choose another name")
        net = Network(self.specs, name)
        self.networks[name] = net
        return net

    def remove_network(self, name: str) -> Network:
        if name not in self.networks:
            raise EditError(f"There is no network named {name!r}")
        return self.networks.pop(name)

    def network(self, name: str | None = None) -> Network:
        """The named network, or the first one when ``name`` is None."""
        if name is None:
            if not self.networks:
                raise EditError("The project has no network: add one first")
            return next(iter(self.networks.values()))
        try:
            return self.networks[name]
        except KeyError:
            known = _listing(list(self.networks))
            raise EditError(
                f"There is no network named {name!r} (the project has {known})"
            ) from None

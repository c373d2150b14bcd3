"""The network an import builds (:class:`NetworkDraft`) and what an import returns
(:class:`ImportedModel`: the project and the weights renamed for it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from builder.catalog.spec import Catalog
from builder.errors import GraphInvalidError
from builder.importer.compare import compare
from builder.importer.errors import ModelImportError, Unsupported
from builder.importer.values import Ref
from builder.names import attribute_names
from builder.shapes import check_compilable, check_node
from graph.document import Project
from graph.errors import EditError
from graph.layout import layered_layout


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


class NetworkDraft:
    """The network an import builds: nodes are added as the fx graph is read, edges and
    merge inputs are collected and connected by :meth:`_finish`, which then checks the
    network against the original modules."""

    def __init__(
        self,
        module: nn.Module,
        input_shapes: Sequence[Sequence[int]],
        name: str,
        title: str,
        catalog: Catalog,
    ):
        self.module = module
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.catalog = catalog
        self.title = title
        self.project = Project(catalog, name=name, description=f"Imported from {self.title}")
        self.net = self.project.add_network("main")
        self.edges: list[tuple[Ref, str, str]] = []  # (source, destination node, input port)
        self.merges: dict[str, list[Ref]] = {}  # Add / Multiply / Concat inputs, in order
        self.merge_fx: dict[str, fx.Node] = {}
        self.modules: dict[str, nn.Module] = {}  # node id -> original submodule
        self.sources: dict[str, str] = {}  # node id -> submodule path
        # node id -> {its parameter: a parameter of the module read directly (a class token)}
        self.param_sources: dict[str, dict[str, str]] = {}
        self.attrs_taken: set[str] = set()  # parameters read directly that a layer holds
        self.called: dict[str, str] = {}  # submodule path -> node id
        self.mha_weights: set[str] = set()

    def _add(self, type_id: str, name: str, params: dict[str, Any], node: fx.Node | None) -> str:
        name = self.net.unique_name(name)
        try:
            return self.net.add_node(type_id, name, params)
        except EditError as exc:
            raise Unsupported(f"cannot be a {type_id} layer: {exc}") from None

    def _rnn_layers(self, node_id: str) -> int:
        params = self.net.params_of(node_id)
        return params["num_layers"] * (2 if params["bidirectional"] else 1)

    def _linears_over_any_rank(self) -> None:
        """An nn.Linear on an input of 4 dims or more (ConvNeXt's channels-last blocks)
        applies on its last dim, as torch's does: its layer gets ``any_rank`` (one pass in
        topological order; a network without such a Linear is left as it is)."""
        net, results = self.net, {}
        for node_id in net.topological_order():
            info = check_node(net, node_id, results, self.catalog)
            shape = info.inputs.get("in")
            if (
                info.status == "error"
                and net.type_of(node_id) == "Linear"
                and isinstance(self.modules.get(node_id), nn.Linear)
                and shape is not None
                and len(shape) >= 4
            ):
                net.set_param(node_id, "any_rank", True)
                info = check_node(net, node_id, results, self.catalog)
            results[node_id] = info

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
        self._linears_over_any_rank()
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
            problem = compare(original, rebuilt)
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
        for node_id, mapping in self.param_sources.items():
            for local, original in mapping.items():
                renamed[f"{attrs[node_id]}.{local}"] = state[original]
                sources.setdefault(self.net.name_of(node_id), original)
        return sources, renamed

"""Shared helpers for the builder tests, handed out as one session-scoped fixture ``nc``
(session scope, so hypothesis tests may use it too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import torch

import builder
import graph
from builder.compile import example_inputs
from builder.shapes import NodeInfo

DTYPES = {"float32": torch.float32, "int64": torch.int64}


class Toolkit:
    """Small functions to build, compile, run and compare networks."""

    catalog = builder.CATALOG

    @staticmethod
    def new_net(name: str = "main") -> tuple[graph.Project, graph.Network]:
        project = graph.Project(builder.CATALOG)
        return project, project.add_network(name)

    @staticmethod
    def chain(
        net: graph.Network, *layers: str | tuple[str, Mapping[str, Any]] | tuple
    ) -> list[str]:
        """Add ``layers`` (a type id, or ``(type, params)`` / ``(type, params, name)``) and
        connect each one's ``out`` to the next one's first input port. Returns the node ids."""
        ids: list[str] = []
        for layer in layers:
            if isinstance(layer, str):
                layer = (layer,)
            type_id, params, name = (*layer, None, None)[:3]
            node = net.add_node(type_id, name=name, params=params or {})
            if ids:
                net.connect(ids[-1], node, "out", net.input_ports(node)[0])
            ids.append(node)
        return ids

    @staticmethod
    def inputs(module: torch.nn.Module, net: graph.Network, batch: int, seed: int = 0) -> list:
        return example_inputs(module, batch=batch, net=net, seed=seed)

    @staticmethod
    def as_tuple(result: Any) -> tuple:
        return result if isinstance(result, tuple) else (result,)

    @staticmethod
    def real_shape(tensor: torch.Tensor) -> tuple:
        """A forward result's shape written like an inferred one: batch replaced by ``N``."""
        return ("N", *tensor.shape[1:])

    @staticmethod
    def torch_params(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    @staticmethod
    def canon(results: Mapping[str, NodeInfo]) -> dict[str, Any]:
        """Results in a form whose equality also covers dtypes (``Shape`` equality does not)."""

        def shapes(d: Mapping[str, Any]) -> dict[str, Any]:
            return {k: (tuple(v), v.dtype) for k, v in d.items()}

        return {
            n: (i.status, i.message, i.params, shapes(i.outputs), shapes(i.inputs))
            for n, i in results.items()
        }

    @staticmethod
    def same_state(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
        return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)

    @staticmethod
    def check_outputs(
        module: torch.nn.Module,
        net: graph.Network,
        outputs: Sequence[str],
        batch: int,
    ) -> None:
        """Run ``module`` on random inputs; each Output's real shape and dtype must be the
        inferred one."""
        results = builder.infer(net)
        got = Toolkit.as_tuple(module(*Toolkit.inputs(module, net, batch)))
        assert len(got) == len(outputs)
        for node, tensor in zip(outputs, got):
            declared = results[node].inputs["in"]
            where = f"output {net.name_of(node)!r}, batch {batch}"
            assert tensor.shape[0] == batch, where
            assert Toolkit.real_shape(tensor) == tuple(declared), where
            assert tensor.dtype == DTYPES[declared.dtype], where


@pytest.fixture(scope="session")
def nc() -> Toolkit:
    return Toolkit()

"""Property test: random valid feed-forward graphs compile, and what shape inference declares
is what torch computes (every output's shape, the parameter count)."""

from __future__ import annotations

import networkx as nx
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import builder
import graph

UNARY = ("Linear", "ReLU", "Tanh", "Sigmoid", "GELU", "Dropout", "LayerNorm", "BatchNorm1d")
MERGES = ("Add", "Concat")


@st.composite
def networks(draw):
    """A random DAG over 1-2 Inputs of shape (f,) or (steps, f), valid by construction:
    a Linear is inserted on a branch whose features do not match before an Add."""
    net = graph.Project(builder.CATALOG).add_network("main")
    steps = draw(st.sampled_from([(), (3,)]))
    values: list[tuple[str, str, int]] = []  # (node, port, features) that can feed a layer

    for _ in range(draw(st.integers(1, 2))):
        f = draw(st.integers(1, 6))
        node = net.add_node("Input", params={"shape": (*steps, f)})
        values.append((node, "out", f))

    def linear(src: tuple[str, str, int], out: int) -> tuple[str, str, int]:
        node = net.add_node("Linear", params={"out_features": out, "bias": draw(st.booleans())})
        net.connect(src[0], node, src[1], "in")
        return (node, "out", out)

    def pick() -> tuple[str, str, int]:
        return values[draw(st.integers(0, len(values) - 1))]

    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(UNARY + MERGES))
        if kind in MERGES:
            k = draw(st.integers(2, 3))
            srcs = [pick() for _ in range(k)]
            if kind == "Add":
                target = srcs[0][2]
                srcs = [s if s[2] == target else linear(s, target) for s in srcs]
                out_f = target
                node = net.add_node("Add", params={"num_inputs": k})
            else:
                out_f = sum(s[2] for s in srcs)
                dim = draw(st.sampled_from([-1, len(steps) + 1]))
                node = net.add_node("Concat", params={"num_inputs": k, "dim": dim})
            for i, s in enumerate(srcs, 1):
                net.connect(s[0], node, s[1], f"in{i}")
            values.append((node, "out", out_f))
            continue
        src = pick()
        params: dict = {}
        out_f = src[2]
        if kind == "Linear":
            values.append(linear(src, draw(st.integers(1, 7))))
            continue
        if kind == "Dropout":
            params = {"p": draw(st.sampled_from([0.0, 0.25, 0.5]))}
        elif kind in ("LayerNorm", "BatchNorm1d"):
            params = {"affine": draw(st.booleans())}
        node = net.add_node(kind, params=params)
        net.connect(src[0], node, src[1], "in")
        values.append((node, "out", out_f))

    outputs = []
    chosen = [values[-1]] + [pick() for _ in range(draw(st.integers(0, 1)))]
    for src in chosen:
        out = net.add_node("Output")
        net.connect(src[0], out, src[1], "in")
        outputs.append(out)
    return net, outputs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.sampled_from([1, 3]))
def test_random_graph_compiles_with_declared_shapes(nc, case, batch) -> None:
    net, outputs = case
    results = builder.infer(net)
    assert all(info.ok for info in results.values()), {
        net.name_of(n): i.message for n, i in results.items() if not i.ok
    }
    module = builder.compile_network(net, seed=0)
    module.eval()
    nc.check_outputs(module, net, outputs, batch)
    for port, out in zip(module.meta["outputs"], outputs):
        assert port.node_id == out and port.shape == results[out].inputs["in"]

    live = set(outputs).union(*(nx.ancestors(net.graph, o) for o in outputs))
    assert sum(results[n].params for n in live) == nc.torch_params(module)
    for n in net.nodes:
        if n not in live and results[n].params:
            assert all(not k.startswith(f"{net.name_of(n)}.") for k in module.state_dict())

    # Train mode (dropout on, batch statistics) gives the same shapes where torch allows it.
    if batch > 1:
        module.train()
        with torch.no_grad():
            nc.check_outputs(module, net, outputs, batch)

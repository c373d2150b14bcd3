"""The generic catalog test: every layer type runs through config round-trip, declared shape
== real forward shape (every output port, batch 1 and 3), compile, parameter count, and
(for layers with weights) every initialiser.

Adding a layer to the catalog = adding a row to ``TABLE`` below; a layer without a row fails.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import builder
from builder import CATALOG
from builder.catalog.params import INITIALISERS
from graph import project_file

Dims = tuple[int, ...]
Case = tuple[dict[str, Any], dict[str, tuple[Dims, str]]]


def ids(*dims: int) -> tuple[Dims, str]:
    """An int64 Input (token ids)."""
    return (dims, "int64")


def case(params: dict[str, Any], *shapes: Dims | tuple[Dims, str], **ports: Dims | tuple) -> Case:
    """One sample: non-default ``params`` and the Input shape(s) without the batch dim.

    One positional shape feeds port ``in``; several feed ``in1``, ``in2``, ... (merges);
    keyword shapes name their ports (attention's ``query`` / ``key`` / ``value``).
    """

    def norm(s: Any) -> tuple[Dims, str]:
        return s if len(s) == 2 and isinstance(s[1], str) else (tuple(s), "float32")

    if len(shapes) == 1:
        ins = {"in": norm(shapes[0])}
    else:
        ins = {f"in{i}": norm(s) for i, s in enumerate(shapes, 1)}
    ins.update({port: norm(s) for port, s in ports.items()})
    return params, ins


def _activation_rows(params: dict[str, Any] | None = None) -> list[Case]:
    return [case(params or {}, (5,)), case(params or {}, (2, 3, 4)), case({}, (3, 6, 6))]


TABLE: dict[str, list[Case]] = {
    "Linear": [
        case({"out_features": 4}, (5,)),
        case({"out_features": 6, "bias": False}, (3, 7)),
        case({"out_features": 3, "any_rank": True}, (4, 4, 5)),  # channels-last (N, H, W, C)
    ],
    "Conv1d": [
        case({"out_channels": 4}, (2, 10)),
        case(
            {
                "out_channels": 3,
                "kernel_size": 2,
                "stride": 2,
                "padding": 1,
                "dilation": 2,
                "bias": False,
            },
            (1, 9),
        ),
    ],
    "Conv2d": [
        case({"out_channels": 4, "kernel_size": 3}, (1, 8, 8)),
        case({"out_channels": 6, "kernel_size": 3, "groups": 2}, (4, 6, 6)),  # grouped
        case(
            {"out_channels": 8, "kernel_size": 3, "groups": 0, "padding": 1}, (4, 5, 5)
        ),  # depthwise
        case({"out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1}, (3, 9, 7)),
        case(
            {"out_channels": 2, "kernel_size": (3, 1), "stride": (1, 2), "dilation": (2, 1)},
            (2, 9, 7),
        ),
    ],
    "Conv3d": [
        case({"out_channels": 3, "kernel_size": 3}, (2, 5, 6, 6)),
        case(
            {"out_channels": 4, "kernel_size": (1, 3, 3), "padding": (0, 1, 1), "groups": 2},
            (4, 3, 4, 4),
        ),
    ],
    "MaxPool3d": [
        case({"kernel_size": 2}, (2, 4, 4, 4)),
        case({"kernel_size": (1, 2, 2), "ceil_mode": True}, (1, 3, 5, 5)),
    ],
    "AvgPool3d": [
        case({"kernel_size": 2}, (2, 4, 4, 4)),
        case({"kernel_size": 3, "stride": 2, "padding": 1}, (1, 5, 6, 7)),
    ],
    "ConvTranspose2d": [
        case(
            {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
            (2, 4, 4),
        ),
        case(
            {
                "out_channels": 2,
                "kernel_size": (2, 3),
                "dilation": 2,
                "output_padding": 1,
                "bias": False,
            },
            (3, 5, 6),
        ),
    ],
    "MaxPool1d": [
        case({"kernel_size": 2}, (3, 9)),
        case({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 10)),
    ],
    "MaxPool2d": [
        case({"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 8, 8)),  # GoogLeNet's
        case({"kernel_size": 2, "ceil_mode": True, "padding": 1}, (1, 7, 5)),
        case({"kernel_size": 2}, (3, 8, 8)),
        case({"kernel_size": (3, 2), "stride": (2, 1), "padding": 1}, (2, 9, 7)),
    ],
    "AvgPool1d": [
        case({"kernel_size": 3, "stride": 2, "ceil_mode": True}, (2, 10)),
        case({"kernel_size": 2}, (3, 9)),
        case({"kernel_size": 4, "stride": 3, "padding": 2}, (2, 11)),
    ],
    "AvgPool2d": [
        case({"kernel_size": 2}, (3, 8, 8)),
        case({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 9, 7)),
    ],
    "AdaptiveAvgPool2d": [
        case({}, (4, 7, 7)),
        case({"output_size": (2, 3)}, (3, 9, 8)),
    ],
    "ClassToken": [case({}, (4, 6)), case({}, (1, 3))],
    "PositionalEncoding": [
        case({"max_len": 8}, (5, 6)),
        case({"kind": "learned", "max_len": 5}, (5, 3)),
    ],
    "Upsample": [
        case({}, (2, 3, 4)),
        case({"mode": "bilinear", "scale_factor": 1.5, "align_corners": True}, (1, 4, 6)),
        case({"mode": "linear", "scale_factor": 3.0}, (2, 5)),
    ],
    "Permute": [case({"dims": (1, 0)}, (3, 5)), case({"dims": (2, 0, 1)}, (2, 3, 4))],
    "Flatten": [
        case({"start_dim": 2}, (3, 4, 5)),  # ViT's patches: (N, C, H·W)
        case({"start_dim": 1, "end_dim": 2}, (3, 4, 5, 2)),
        case({}, (3, 4, 5)),
        case({}, (7,)),
        case({}, ids(2, 3)),
    ],
    "Reshape": [
        case({"shape": (1, 8, 8)}, (64,)),
        case({"shape": (-1, 4)}, (2, 3, 4)),
        case({"shape": (3, -1)}, ids(6)),
    ],
    "Dropout": [
        case({"p": 0.3}, (5,)),
        case({"p": 0.0}, (2, 3, 4)),
    ],
    "StochasticDepth": [
        case({"p": 0.2}, (3, 4, 4)),
        case({"p": 0.5, "mode": "batch"}, (6,)),
    ],
    "TransformerEncoderLayer": [
        case({"num_heads": 2, "dim_feedforward": 8}, (5, 4)),
        case(
            {
                "num_heads": 1,
                "norm_first": True,
                "activation": "gelu",
                "causal": True,
                "bias": False,
            },
            (3, 6),
        ),
    ],
    "Maxout": [
        case({"out_features": 4, "pieces": 3}, (5,)),
        case({"out_features": 2, "pieces": 1, "bias": False}, (3, 6)),
    ],
    "Scale": [
        case({"shape": (4, 1, 1), "start": 1e-6}, (4, 3, 3)),  # ConvNeXt's layer scale
        case({"shape": (5,)}, (2, 5)),
    ],
    "Slice": [
        case({"dim": 1, "start": 0, "length": 1, "squeeze": True}, (5, 4)),  # x[:, 0]
        case({"dim": 2, "start": 1, "length": 2}, (3, 4, 5)),
    ],
    "Mean": [
        case({}, (4, 5, 6)),  # global average pooling, (N, C)
        case({"dims": (1,), "keepdim": True}, (3, 5)),
    ],
    "BatchNorm1d": [
        case({"momentum": 0.2}, (5,)),
        case({"affine": False}, (3, 7)),
    ],
    "BatchNorm2d": [
        case({}, (3, 5, 5)),
        case({"affine": False, "eps": 1e-3}, (2, 4, 6)),
    ],
    "GroupNorm": [case({"groups": 2}, (4, 5, 5)), case({"groups": 3, "affine": False}, (6, 7))],
    "LayerNorm": [
        case({}, (5,)),
        case({"dims": 2}, (3, 7)),
        case({"dims": 3, "affine": False}, (2, 3, 4)),
    ],
    "Embedding": [
        case({"num_embeddings": 10, "embedding_dim": 4}, ids(6)),
        case({"num_embeddings": 7, "embedding_dim": 3}, ids(2, 5)),
    ],
    "RNN": [
        case({"hidden_size": 4, "nonlinearity": "relu"}, (5, 3)),
        case(
            {
                "hidden_size": 3,
                "num_layers": 2,
                "bidirectional": True,
                "output": "sequence",
                "dropout": 0.1,
            },
            (4, 2),
        ),
    ],
    "LSTM": [
        case({"hidden_size": 4}, (5, 3)),
        case({"hidden_size": 3, "bidirectional": True, "output": "sequence"}, (6, 2)),
        case({"hidden_size": 2, "num_layers": 3, "bidirectional": True, "bias": False}, (3, 4)),
    ],
    "GRU": [
        case({"hidden_size": 5, "bidirectional": True}, (4, 3)),
        case({"hidden_size": 3, "num_layers": 2, "output": "sequence"}, (2, 6)),
    ],
    "MultiheadAttention": [
        case({"num_heads": 2}, query=(5, 8)),
        case({"num_heads": 4, "bias": False}, query=(4, 8), key=(6, 5), value=(6, 3)),
        case({"num_heads": 1, "dropout": 0.1}, query=(3, 6), key=(7, 6)),
        case({"num_heads": 3}, query=(2, 6), key=(5, 4)),
    ],
    "Add": [
        case({"num_inputs": 3}, (4,), (4,), (4,)),
        case({}, (2, 3, 4), (2, 3, 4)),
    ],
    "Multiply": [
        case({"num_inputs": 3}, (4,), (4,), (4,)),
        case({}, (2, 5, 5), (2, 5, 5)),
        case({}, (4, 5, 5), (4, 1, 1)),  # a squeeze-and-excitation gate
        case({"num_inputs": 3}, (3, 1), (1, 4), (3, 4)),
    ],
    "Concat": [
        case({"num_inputs": 3}, (2,), (3,), (4,)),
        case({"dim": -1}, (2, 3, 4), (2, 3, 1)),
        case({"dim": 2}, (2, 5, 5), (2, 3, 5)),
    ],
    "Step": _activation_rows({"threshold": 0.5}),
    "Sigmoid": _activation_rows(),
    "Tanh": _activation_rows(),
    "ReLU": _activation_rows(),
    "LeakyReLU": _activation_rows({"negative_slope": 0.2}),
    "PReLU": [
        case({"per_channel": True, "init_slope": 0.1}, (3, 7)),
        case({"per_channel": True}, (5,)),
        case({}, (2, 3, 4)),
    ],
    "ReLU6": _activation_rows(),
    "ELU": _activation_rows({"alpha": 0.5}),
    "GELU": _activation_rows({"approximate": "tanh"}),
    "SiLU": _activation_rows(),
    "Hardswish": _activation_rows(),
    "Hardsigmoid": _activation_rows(),
    "Hardtanh": _activation_rows({"min_val": 0.0, "max_val": 6.0}),
    "Softmax": [case({"dim": 1}, (3, 4)), case({}, (5,)), case({"dim": -2}, (2, 3, 4))],
    "LogSoftmax": [case({"dim": 1}, (3, 4)), case({}, (5,)), case({"dim": 2}, (2, 3, 4))],
    "Identity": _activation_rows(),
    "Sample": [
        case({}, mean=(4,), log_var=(4,)),
        case({}, mean=(2, 3, 5), log_var=(2, 3, 5)),
    ],
    "SOM": [
        case({"rows": 3, "cols": 4}, (5,)),
        case({"rows": 1, "cols": 6, "distance": "cosine", "weights_init": "pca"}, (2, 3, 4)),
        case({"rows": 4, "cols": 2, "topology": "hexagonal", "toroidal": True}, (1, 4, 4)),
        case({"rows": 2, "cols": 3, "distance": "manhattan", "toroidal": True}, (3,)),
    ],
    "RBM": [case({"hidden": 5}, (6,)), case({"hidden": 3}, (1, 4, 4))],
    "RBF": [
        case({"units": 4}, (2,)),
        case({"units": 3, "sigma": 0.5}, (2, 3, 4)),
    ],
}

IO_TYPES = ("Input", "Output")
TESTED = [t for t in CATALOG.type_ids() if t not in IO_TYPES]


def test_table_covers_every_catalog_entry():
    missing = sorted(set(TESTED) - set(TABLE))
    assert not missing, f"add rows for {missing} to TABLE in {__file__}"
    unknown = sorted(set(TABLE) - set(TESTED))
    assert not unknown, f"TABLE has rows for layers not in the catalog: {unknown}"


def _build(nc, type_id: str, params: dict[str, Any], ins: dict[str, tuple[Dims, str]]):
    project, net = nc.new_net()
    layer_inputs = {}
    for port, (dims, dtype) in ins.items():
        layer_inputs[port] = net.add_node(
            "Input",
            name=f"x_{port}",
            params={"shape": dims, "dtype": dtype},
            pos=(0, len(layer_inputs)),
        )
    layer = net.add_node(type_id, name="layer", params=params, pos=(1.5, 2.25))
    for port, node in layer_inputs.items():
        net.connect(node, layer, "out", port)
    outputs = []
    for port in net.output_ports(layer):
        out = net.add_node("Output", name=f"y_{port}", pos=(2, len(outputs)))
        net.connect(layer, out, port, "in")
        outputs.append(out)
    return project, net, layer, outputs


def _typed(params) -> dict[str, tuple[type, Any]]:
    return {k: (type(v), v) for k, v in params.items()}


def _check_round_trip(project, net) -> None:
    text = project_file.dumps(project)
    loaded = project_file.loads(text, CATALOG)
    assert project_file.to_dict(loaded) == project_file.to_dict(project)
    assert project_file.dumps(loaded) == text
    again = loaded.network(net.name)
    assert again.nodes == net.nodes
    for node in net.nodes:
        assert _typed(again.params_of(node)) == _typed(net.params_of(node))
        assert again.name_of(node) == net.name_of(node)
    # The file lists a node's edges by port name, whatever order the layer declares them in.
    assert set(again.edges()) == set(net.edges())
    # The loaded network means the same: identical inferred shapes.
    assert builder.infer(again) == builder.infer(net)


def _check_shapes_and_count(nc, net, layer, outputs) -> None:
    results = builder.infer(net)
    bad = {net.name_of(n): i.message for n, i in results.items() if not i.ok}
    assert not bad, bad
    for out in outputs:
        (edge,) = net.in_edges(out)
        assert results[out].inputs["in"] == results[layer].outputs[edge.src_port]
    module = builder.compile_network(net, seed=0)
    assert len(module.meta["inputs"]) == len(net.in_edges(layer))
    module.eval()
    for batch in (1, 3):
        nc.check_outputs(module, net, outputs, batch)
    module.train()
    nc.check_outputs(module, net, outputs, 3)
    assert sum(i.params for i in results.values()) == nc.torch_params(module)
    assert results[layer].params == nc.torch_params(module)


def _check_initialisers(nc, type_id: str, params: dict[str, Any], ins) -> None:
    for init in INITIALISERS:
        _, net, layer, outputs = _build(nc, type_id, {**params, "init": init}, ins)
        first = builder.compile_network(net, seed=0)
        second = builder.compile_network(net, seed=0)
        assert nc.same_state(first.state_dict(), second.state_dict()), init
        weights = list(first.parameters())
        assert weights, f"{type_id} has an init param but no parameters"
        if init == "zeros":
            assert all(torch.count_nonzero(w) == 0 for w in weights)
        else:
            assert any(torch.count_nonzero(w) > 0 for w in weights), init
            other = builder.compile_network(net, seed=1)
            assert not nc.same_state(first.state_dict(), other.state_dict()), init
        first.eval()
        nc.check_outputs(first, net, outputs, 2)


@pytest.mark.parametrize("type_id", TESTED)
def test_layer(type_id: str, nc) -> None:
    assert type_id in TABLE, f"add a row for {type_id} to TABLE in {__file__}"
    spec = CATALOG[type_id]
    cases = TABLE[type_id]
    assert len(cases) >= 2, "declare at least two sample input shapes"
    tunable = {p.name: p.default for p in spec.params if p.name != "init"}
    if tunable:
        assert any(any(params.get(k, v) != v for k, v in tunable.items()) for params, _ in cases), (
            "declare non-default params in at least one row"
        )
    for params, ins in cases:
        project, net, layer, outputs = _build(nc, type_id, params, ins)
        assert len(outputs) == len(spec.output_ports(net.params_of(layer)))
        _check_round_trip(project, net)
        _check_shapes_and_count(nc, net, layer, outputs)
    if spec.has_init:
        params, ins = cases[0]
        _check_initialisers(nc, type_id, params, ins)

"""Shape inference: the messages users read, 'blocked' downstream of an error, and the
incremental re-check of :class:`builder.ShapeChecker`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import builder
import builder.shapes
from graph import EditError

# ----------------------------------------------------------------------------- messages


def _message(nc, net, node) -> str:
    info = builder.infer(net)[node]
    assert info.status == "error"
    return info.message


def test_linear_after_conv_says_add_a_flatten(nc):
    _, net = nc.new_net()
    *_, fc2 = nc.chain(
        net,
        ("Input", {"shape": (1, 28, 28)}),
        ("Conv2d", {"out_channels": 32, "kernel_size": 3}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("Linear", {}, "fc2"),
    )
    assert _message(nc, net, fc2) == (
        "Linear 'fc2' expects (N, features) but receives (N, 32, 13, 13): add a Flatten before it"
    )


def test_missing_input_connection(nc):
    _, net = nc.new_net()
    fc = net.add_node("Linear", name="fc")
    assert _message(nc, net, fc) == (
        "Linear 'fc' has nothing connected to its input: connect a layer to it"
    )
    x = net.add_node("Input", params={"shape": (4,)})
    add = net.add_node("Add", name="skip")
    net.connect(x, add, "out", "in1")
    assert _message(nc, net, add) == (
        "Add 'skip' has nothing connected to its input 'in2': connect a layer to it"
    )
    att = net.add_node("MultiheadAttention", name="att")
    assert _message(nc, net, att) == (
        "MultiheadAttention 'att' has nothing connected to its input 'query': connect a layer to it"
    )
    out = net.add_node("Output", name="result")
    assert "Output 'result' has nothing connected to its input" in _message(nc, net, out)


def test_kernel_larger_than_input(nc):
    _, net = nc.new_net()
    *_, conv = nc.chain(
        net, ("Input", {"shape": (1, 4, 4)}), ("Conv2d", {"kernel_size": 5}, "conv1")
    )
    assert _message(nc, net, conv) == (
        "Conv2d 'conv1' has a kernel (5×5) larger than its padded input (4×4): use a smaller"
        " kernel_size, add padding or remove a pooling layer before it"
    )
    net.set_param(conv, "padding", 1)  # padded to 6×6: now it fits
    assert builder.infer(net)[conv].outputs["out"] == ("N", 16, 2, 2)
    *_, pool = nc.chain(
        net, ("Input", {"shape": (2, 3)}, "seq"), ("MaxPool1d", {"kernel_size": 4}, "p")
    )
    assert _message(nc, net, pool) == (
        "MaxPool1d 'p' has a window (4) larger than its input (3): use a smaller kernel_size"
        " or remove a pooling layer before it"
    )


def test_add_with_mismatched_shapes(nc):
    _, net = nc.new_net()
    a = net.add_node("Input", params={"shape": (4,)})
    b = net.add_node("Input", params={"shape": (5,)})
    add = net.add_node("Add", name="res")
    net.connect(a, add, "out", "in1")
    net.connect(b, add, "out", "in2")
    assert _message(nc, net, add) == (
        "Add 'res' needs equal shapes but receives (N, 4) on 'in1' and (N, 5) on 'in2': add a"
        " Linear or a 1×1 Conv2d on one branch so the shapes match"
    )


def test_dtype_mismatches(nc):
    _, net = nc.new_net()
    *_, emb = nc.chain(net, ("Input", {"shape": (6,)}), ("Embedding", {}, "emb"))
    assert _message(nc, net, emb) == (
        "Embedding 'emb' expects integer token ids but receives float32 values: set the"
        " Input's dtype to int64"
    )
    *_, fc = nc.chain(
        net, ("Input", {"shape": (6,), "dtype": "int64"}, "ids"), ("Linear", {}, "fc")
    )
    assert _message(nc, net, fc) == (
        "Linear 'fc' expects real-valued inputs but receives int64 token ids: add an Embedding"
        " before it to turn ids into vectors"
    )


def test_nodes_downstream_of_an_error_are_blocked(nc):
    _, net = nc.new_net()
    x, conv, act, fc, out = nc.chain(
        net,
        ("Input", {"shape": (1, 4, 4)}),
        ("Conv2d", {"kernel_size": 5}, "conv"),
        ("ReLU", {}, "act"),
        ("Linear", {}, "fc"),
        ("Output", {}, "y"),
    )
    results = builder.infer(net)
    assert results[x].status == "ok"
    assert results[conv].status == "error"
    assert [results[n].status for n in (act, fc, out)] == ["blocked"] * 3
    assert results[act].message == "waiting for 'conv' to be fixed"
    assert results[fc].message == "waiting for 'act' to be fixed"
    checker = builder.ShapeChecker(net)
    assert checker.problems() == [(conv, results[conv].message)]
    with pytest.raises(builder.GraphInvalidError) as err:
        builder.compile_network(net)
    assert err.value.problems == [("conv", results[conv].message)]
    assert "Conv2d 'conv' has a kernel (5×5)" in str(err.value)


# ----------------------------------------------------------------------------- incremental

CYCLE = (
    ("Linear", {"out_features": 8}),
    ("ReLU", {}),
    ("Dropout", {"p": 0.1}),
    ("LayerNorm", {}),
    ("Tanh", {}),
)


def _long_chain(nc, length: int = 50):
    _, net = nc.new_net()
    layers = [CYCLE[i % len(CYCLE)] for i in range(length - 2)]
    ids = nc.chain(net, ("Input", {"shape": (8,)}), *layers, "Output")
    return net, ids


@pytest.fixture
def recorded(monkeypatch):
    """The node ids ShapeChecker.check() recomputes, in order."""
    seen: list[str] = []
    real = builder.shapes.check_node

    def spy(net, node_id, *args, **kwargs):
        seen.append(node_id)
        return real(net, node_id, *args, **kwargs)

    monkeypatch.setattr(builder.shapes, "check_node", spy)
    return seen


def test_first_check_covers_every_node_and_matches_infer(nc, recorded):
    net, ids = _long_chain(nc)
    checker = builder.ShapeChecker(net)
    assert nc.canon(checker.check()) == nc.canon(builder.infer(net))
    assert checker.last_checked == len(ids) == 50
    recorded.clear()
    checker.check()
    assert checker.last_checked == 0 and recorded == []


@pytest.mark.parametrize("k", [1, 11, 26, 46])
def test_param_change_rechecks_only_downstream(nc, recorded, k):
    net, ids = _long_chain(nc)
    checker = builder.ShapeChecker(net)
    checker.check()
    assert net.type_of(ids[k]) == "Linear"
    recorded.clear()
    net.set_param(ids[k], "out_features", 5)
    results = checker.check()
    assert recorded[0] == ids[k]
    assert {ids.index(n) for n in recorded} <= set(range(k, len(ids)))
    assert checker.last_checked == len(recorded) < len(ids) - k or k == 46
    # The change ends at the next Linear, whose output keeps 8 features (early cut-off).
    assert checker.last_checked <= len(CYCLE) + 2
    assert nc.canon(results) == nc.canon(builder.infer(net))
    assert results[ids[k + 1]].outputs["out"] == ("N", 5)


def test_input_change_propagates_to_the_end(nc):
    _, net = nc.new_net()
    ids = nc.chain(net, ("Input", {"shape": (8,)}), *[("ReLU", {})] * 48, "Output")
    checker = builder.ShapeChecker(net)
    checker.check()
    net.set_param(ids[0], "shape", (3, 8))
    results = checker.check()
    assert checker.last_checked == 50
    assert results[ids[-1]].inputs["in"] == ("N", 3, 8)


def test_dropout_p_change_rechecks_exactly_one_node(nc, recorded):
    net, ids = _long_chain(nc)
    checker = builder.ShapeChecker(net)
    checker.check()
    dropout = ids[13]
    assert net.type_of(dropout) == "Dropout"
    recorded.clear()
    net.set_param(dropout, "p", 0.7)
    checker.check()
    assert checker.last_checked == 1
    assert recorded == [dropout]


def test_dtype_change_rechecks_downstream(nc):
    """``Shape`` equality ignores the dtype: the early cut-off must not."""
    _, net = nc.new_net()
    x, emb, out = nc.chain(
        net, ("Input", {"shape": (6,)}), ("Embedding", {"num_embeddings": 9}), "Output"
    )
    checker = builder.ShapeChecker(net)
    assert checker.check()[emb].status == "error"
    net.set_param(x, "dtype", "int64")
    results = checker.check()
    assert results[emb].status == "ok"
    assert results[out].inputs["in"] == ("N", 6, 16)
    assert nc.canon(results) == nc.canon(builder.infer(net))


EDITS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "param",
                "input_shape",
                "dtype",
                "rename",
                "remove",
                "restore",
                "disconnect",
                "connect",
            ]
        ),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    min_size=1,
    max_size=12,
)

PARAM_VALUES = {
    "Linear": ("out_features", [3, 8, 5]),
    "Dropout": ("p", [0.0, 0.5]),
    "LayerNorm": ("dims", [1, 2]),
    "Conv1d": ("kernel_size", [1, 3, 9]),
    "Embedding": ("embedding_dim", [4, 8]),
    "Flatten": (None, []),
    "Add": ("num_inputs", [2, 3]),
    "Concat": ("dim", [1, -1, 2]),
    "ReLU": (None, []),
    "Output": (None, []),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS)
def test_results_after_any_edits_equal_a_fresh_infer(nc, edits):
    _, net = nc.new_net()
    x, emb, conv = nc.chain(
        net, ("Input", {"shape": (8,)}), ("Embedding", {"embedding_dim": 8}), ("Linear", {})
    )
    ids = [x, emb, conv]
    ids += nc.chain(net, ("Dropout", {}), ("LayerNorm", {}), "ReLU")
    net.connect(conv, ids[3])
    side = nc.chain(net, ("Input", {"shape": (3, 8)}, "side"), ("Conv1d", {"out_channels": 3}))
    add = net.add_node("Add")
    net.connect(ids[-1], add, "out", "in1")
    cat = net.add_node("Concat", params={"dim": -1})
    net.connect(side[1], cat, "out", "in1")
    net.connect(emb, cat, "out", "in2")
    out = net.add_node("Output")
    net.connect(add, out)
    flat = nc.chain(net, "Flatten", "Output")
    net.connect(cat, flat[0])

    checker = builder.ShapeChecker(net)
    checker.check()
    removed: list[dict] = []
    for kind, a, b in edits:
        nodes = net.nodes
        node = nodes[a % len(nodes)]
        try:
            if kind == "param":
                key, values = PARAM_VALUES.get(net.type_of(node), (None, []))
                if key:
                    net.set_param(node, key, values[b % len(values)])
            elif kind == "input_shape":
                inputs = [n for n in nodes if net.type_of(n) == "Input"]
                if inputs:
                    shape = [(8,), (3, 8), (2, 3, 8), (5,)][b % 4]
                    net.set_param(inputs[a % len(inputs)], "shape", shape)
            elif kind == "dtype":
                inputs = [n for n in nodes if net.type_of(n) == "Input"]
                if inputs:
                    net.set_param(inputs[a % len(inputs)], "dtype", ["float32", "int64"][b % 2])
            elif kind == "rename":
                net.rename(node, f"renamed {a}")
            elif kind == "remove":
                removed.append(net.remove_node(node))
            elif kind == "restore" and removed:
                net.restore_node(removed.pop())
            elif kind == "disconnect":
                edges = net.edges()
                if edges:
                    net.disconnect(edges[b % len(edges)])
            elif kind == "connect":
                dst = nodes[b % len(nodes)]
                ins = net.input_ports(dst)
                outs = net.output_ports(node)
                if ins and outs:
                    net.connect(node, dst, outs[0], ins[b % len(ins)])
        except EditError:
            pass  # refused edits change nothing; the check below still applies
        assert nc.canon(checker.check()) == nc.canon(builder.infer(net)), kind

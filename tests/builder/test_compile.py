"""Compiling a network to a torch.fx GraphModule: attribute names, inputs and outputs, dead
branches, invalid graphs, seeding, scripting / re-tracing and state_dict round trips."""

from __future__ import annotations

import keyword

import pytest
import torch
from torch import fx, nn

import builder
from builder.names import attribute_names, sanitize
from graph import project_file

AWKWARD = [
    "1 conv",
    "class",
    "x.y",
    "Größe",
    "forward",
    "training",
    "__init__",
    "self",
    "meta",
    "torch",
    "a b",  # these two sanitise to the same identifier
    "a-b",
    "a_b_1",
]


def _awkward_net(nc):
    project, net = nc.new_net()
    layers = [("Linear", {"out_features": 3 + i % 2}, name) for i, name in enumerate(AWKWARD)]
    ids = nc.chain(net, ("Input", {"shape": (4,)}, "in"), *layers, ("Output", {}, "return"))
    return project, net, ids


def test_sanitize_examples():
    assert sanitize("1 conv") == "l_1_conv"
    assert sanitize("class") == "class_"
    assert sanitize("Größe") == "grosse"
    assert sanitize("x.y") == "x_y"
    assert sanitize("a b") == sanitize("a-b") == "a_b"


def test_awkward_names_compile_and_run(nc):
    project, net, ids = _awkward_net(nc)
    attrs = attribute_names(net)
    names = list(attrs.values())
    assert len(set(names)) == len(names) == len(ids)
    for name in names:
        assert name.isidentifier() and not keyword.iskeyword(name), name
        assert not keyword.issoftkeyword(name) and not hasattr(nn.Module, name), name
    # Stable: the same mapping twice, and after a save / load round trip.
    assert attribute_names(net) == attrs
    loaded = project_file.loads(project_file.dumps(project), builder.CATALOG).network()
    assert attribute_names(loaded) == attrs

    module = builder.compile_network(net, seed=0)
    linears = ids[1:-1]
    assert [name for name, _ in module.named_children()] == [attrs[n] for n in linears]
    for n in linears:
        assert isinstance(getattr(module, attrs[n]), nn.Linear)
    assert set(module.state_dict()) == {
        f"{attrs[n]}.{p}" for n in linears for p in ("weight", "bias")
    }
    # Node names did not clobber what the module itself needs.
    assert isinstance(module.training, bool) and isinstance(module.meta, dict)
    assert isinstance(module.graph, fx.Graph)
    nc.check_outputs(module, net, [ids[-1]], 3)
    x = torch.randn(2, 4)
    expected = x
    for n in linears:
        expected = getattr(module, attrs[n])(expected)
    assert torch.equal(module(x), expected)

    again = builder.compile_network(loaded, seed=0)
    assert nc.same_state(again.state_dict(), module.state_dict())
    assert torch.equal(again(x), module(x))


def test_inputs_in_order_added_and_outputs_as_tuple(nc):
    _, net = nc.new_net()
    z = net.add_node("Input", name="z", params={"shape": (3,)})
    a = net.add_node("Input", name="a", params={"shape": (5,)})
    fz = net.add_node("Linear", name="fz", params={"out_features": 2})
    fa = net.add_node("Linear", name="fa", params={"out_features": 4})
    cat = net.add_node("Concat")
    net.connect(z, fz)
    net.connect(a, fa)
    net.connect(fz, cat, "out", "in1")
    net.connect(fa, cat, "out", "in2")
    first = net.add_node("Output", name="first")
    second = net.add_node("Output", name="second")
    third = net.add_node("Output", name="third")
    net.connect(a, first)  # an Output straight from an Input
    net.connect(cat, second)
    net.connect(fz, third)

    module = builder.compile_network(net, seed=0)
    assert [p.name for p in module.meta["inputs"]] == ["z", "a"]
    assert [p.node_id for p in module.meta["outputs"]] == [first, second, third]
    assert [tuple(p.shape) for p in module.meta["outputs"]] == [("N", 5), ("N", 6), ("N", 2)]
    xz, xa = torch.randn(3, 3), torch.randn(3, 5)
    result = module(xz, xa)
    assert isinstance(result, tuple) and len(result) == 3
    assert torch.equal(result[0], xa)
    assert torch.equal(result[2], module.fz(xz))
    assert torch.equal(result[1], torch.cat([module.fz(xz), module.fa(xa)], dim=1))
    with pytest.raises(RuntimeError):
        module(xa, xz)  # the order matters: shapes do not fit the other way round
    nc.check_outputs(module, net, [first, second, third], 1)


def test_single_output_is_not_a_tuple(nc):
    _, net = nc.new_net()
    nc.chain(net, ("Input", {"shape": (2,)}), "Linear", "Output")
    result = builder.compile_network(net)(torch.randn(1, 2))
    assert isinstance(result, torch.Tensor) and result.shape == (1, 8)


def test_dead_branch_is_not_compiled(nc):
    _, net = nc.new_net()
    x, used, _ = nc.chain(net, ("Input", {"shape": (4,)}), ("Linear", {}, "used"), "Output")
    dead = net.add_node("Linear", name="dead")
    broken = net.add_node("Conv2d", name="broken")  # a shape error, but nothing uses it
    net.connect(x, dead)
    net.connect(dead, broken)
    unconnected = net.add_node("LSTM", name="floating")
    results = builder.infer(net)
    assert results[broken].status == "error" and results[unconnected].status == "error"

    module = builder.compile_network(net, seed=0)
    assert [name for name, _ in module.named_modules() if name] == ["used"]
    assert set(module.state_dict()) == {"used.weight", "used.bias"}
    assert "dead" not in module.code and "broken" not in module.code
    assert nc.torch_params(module) == results[used].params
    assert module(torch.randn(2, 4)).shape == (2, 8)


def test_network_without_output_is_refused(nc):
    _, net = nc.new_net("my net")
    nc.chain(net, ("Input", {"shape": (4,)}), "Linear")
    with pytest.raises(builder.GraphInvalidError) as err:
        builder.compile_network(net)
    assert err.value.network == "my net"
    assert err.value.problems == [("", "it has no Output layer: add one after the last layer")]
    assert str(err.value) == (
        "Network 'my net' cannot be built: it has no Output layer: add one after the last layer"
    )


def test_network_without_input_and_output_lists_both(nc):
    _, net = nc.new_net()
    net.add_node("ReLU")
    with pytest.raises(builder.GraphInvalidError) as err:
        builder.compile_network(net)
    messages = [m for _, m in err.value.problems]
    assert any("no Input layer" in m for m in messages)
    assert any("no Output layer" in m for m in messages)
    assert str(err.value).startswith("Network 'main' cannot be built: 2 problems:")


def test_unconnected_output_is_refused(nc):
    _, net = nc.new_net()
    nc.chain(net, ("Input", {"shape": (4,)}), "Linear")
    net.add_node("Output", name="y")
    with pytest.raises(builder.GraphInvalidError) as err:
        builder.compile_network(net)
    assert err.value.problems == [
        ("y", "Output 'y' has nothing connected to its input: connect a layer to it")
    ]


def _mixed_net(nc):
    """Conv + BatchNorm (buffers) + pooling + Flatten + LSTM + attention + merges."""
    _, net = nc.new_net()
    img = nc.chain(
        net,
        ("Input", {"shape": (1, 8, 8)}, "image"),
        ("Conv2d", {"out_channels": 4, "padding": 1}, "conv"),
        ("BatchNorm2d", {}, "bn"),
        ("ReLU", {}, "act"),
        ("MaxPool2d", {}, "pool"),
        ("Reshape", {"shape": (4, -1)}, "to_seq"),
        ("LSTM", {"hidden_size": 6, "output": "sequence", "bidirectional": True}, "lstm"),
        ("MultiheadAttention", {"num_heads": 3}, "att"),
        ("LayerNorm", {}, "ln"),
        ("Flatten", {}, "flat"),
        ("Linear", {"out_features": 5}, "head"),
    )
    vec = nc.chain(net, ("Input", {"shape": (5,)}, "vec"), ("Linear", {"out_features": 5}, "proj"))
    add = net.add_node("Add", name="add")
    net.connect(img[-1], add, "out", "in1")
    net.connect(vec[-1], add, "out", "in2")
    step = nc.chain(net, ("Step", {"threshold": 0.1}, "step"), ("Output", {}, "y"))
    net.connect(add, step[0])
    state = net.add_node("Output", name="state")
    net.connect(img[6], state, "state", "in")
    return net, [step[-1], state]


def test_seed_makes_weights_reproducible_and_keeps_global_rng(nc):
    net, _ = _mixed_net(nc)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    first = builder.compile_network(net, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    second = builder.compile_network(net, seed=7)
    assert torch.equal(torch.get_rng_state(), before)
    other = builder.compile_network(net, seed=8)
    assert nc.same_state(first.state_dict(), second.state_dict())
    assert not nc.same_state(first.state_dict(), other.state_dict())
    # The global stream continues exactly as if no compile had happened.
    expected = torch.rand(3, generator=torch.Generator().manual_seed(1234))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The TorchScript type system:UserWarning")
def test_compiled_module_can_be_scripted_and_traced(nc):
    net, outputs = _mixed_net(nc)
    module = builder.compile_network(net, seed=0).eval()
    inputs = nc.inputs(module, net, 3)
    expected = module(*inputs)

    traced = fx.symbolic_trace(module)
    for got, want in zip(traced(*inputs), expected):
        assert torch.equal(got, want)

    scripted = torch.jit.script(module)
    for got, want in zip(scripted(*inputs), expected):
        assert torch.equal(got, want)


def test_state_dict_round_trip_through_weights_only_load(nc, tmp_path):
    net, outputs = _mixed_net(nc)
    module = builder.compile_network(net, seed=0)
    module.train()
    module(*nc.inputs(module, net, 4, seed=1))  # moves BatchNorm's running statistics
    path = tmp_path / "weights.pt"
    torch.save(module.state_dict(), path)

    fresh = builder.compile_network(net, seed=99)
    assert not nc.same_state(fresh.state_dict(), module.state_dict())
    fresh.load_state_dict(torch.load(path, weights_only=True), strict=True)
    assert nc.same_state(fresh.state_dict(), module.state_dict())
    module.eval()
    fresh.eval()
    inputs = nc.inputs(module, net, 3, seed=2)
    got, want = fresh(*inputs), module(*inputs)
    assert len(got) == len(want) == len(outputs)
    for a, b in zip(got, want):
        assert torch.equal(a, b)

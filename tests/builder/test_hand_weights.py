"""Weights set by hand are what the compiled network and the exported script start from; a
set that does not fit its layer is a problem that names the layer; McCulloch–Pitts units
built from them compute their truth tables without training."""

from __future__ import annotations

import itertools

import pytest
import torch

from builder import CATALOG, compile_network
from builder.errors import GraphInvalidError
from builder.export.script import export_script
from builder.shapes import infer
from builder.summary import summarize
from graph import Project
from tests.builder.test_export import check_model, import_script

# (inputs, weights, bias, truth table) of the three classic threshold units (y = 1 when
# w·x + b >= 0)
UNITS = {
    "and": (2, [[1, 1]], [-1.5], lambda a, b: a and b),
    "or": (2, [[1, 1]], [-0.5], lambda a, b: a or b),
    "not": (1, [[-1]], [0.5], lambda a: not a),
}


def threshold_unit(name: str) -> Project:
    size, weight, bias, _ = UNITS[name]
    project = Project(CATALOG, name=name)
    net = project.add_network(name)
    x = net.add_node("Input", "x", {"shape": [size]})
    fc = net.add_node("Linear", "sum", {"out_features": 1})
    step = net.add_node("Step", "fire", {"threshold": 0.0})
    y = net.add_node("Output", "y")
    for a, b in ((x, fc), (fc, step), (step, y)):
        net.connect(a, b)
    net.set_weights(fc, {"weight": weight, "bias": bias})
    return project


@pytest.mark.parametrize("name", sorted(UNITS))
def test_mcculloch_pitts_units_compute_their_truth_tables_untrained(name, tmp_path):
    project = threshold_unit(name)
    size, _, _, truth = UNITS[name]
    rows = torch.tensor(list(itertools.product([0.0, 1.0], repeat=size)))
    expected = torch.tensor([[float(bool(truth(*map(bool, r.tolist()))))] for r in rows])
    for seed in (0, 7):  # whatever the seed: the hand-set values, not a draw
        assert torch.equal(compile_network(project.network(), seed=seed)(rows), expected)
    script = import_script(export_script(project), tmp_path)
    assert torch.equal(getattr(script, name.capitalize())()(rows), expected)


def test_the_script_starts_from_the_hand_set_values(tmp_path):
    project = threshold_unit("and")
    net = project.network()
    module = import_script(export_script(project), tmp_path)
    check_model(net, module, "And", 3)
    assert module.And().sum.weight.tolist() == [[1.0, 1.0]]


def test_weights_that_do_not_fit_are_a_problem_naming_the_layer():
    project = threshold_unit("and")
    net = project.network()
    fc = net.find("sum")
    net.set_weights(fc, {"weight": [[1, 1, 1]], "bias": [0]})
    info = infer(net)[fc]
    assert info.status == "error"
    assert (
        "Linear 'sum': the hand-set 'weight' has shape [1, 3], the layer's 'weight' has [1, 2]"
        in (info.message)
    )
    assert "Weights table" in info.message
    assert not summarize(net)["valid"]
    with pytest.raises(GraphInvalidError, match="hand-set 'weight'"):
        compile_network(net)
    net.set_weights(fc, {"gain": [1.0]})
    assert "has no tensor 'gain'" in infer(net)[fc].message
    net.set_param(fc, "out_features", 1)
    net.set_weights(fc, {"weight": [[2, 2]]})  # a part only: the bias keeps its draw
    assert infer(net)[fc].ok
    drawn = compile_network(net, seed=0).sum.bias
    net.set_weights(fc, None)
    assert torch.equal(compile_network(net, seed=0).sum.bias, drawn)


def test_groups_that_do_not_divide_the_channels_are_named():
    from builder.catalog.layers import CATALOG as LAYERS
    from graph import Project as P

    project = P(LAYERS, name="g")
    net = project.add_network("main")
    x = net.add_node("Input", "x", {"shape": [4, 5, 5]})
    conv = net.add_node("Conv2d", "conv", {"out_channels": 6, "groups": 3})
    y = net.add_node("Output", "y")
    net.connect(x, conv)
    net.connect(conv, y)
    message = infer(net)[conv].message
    assert "splits 4 input and 6 output channels into 3 groups" in message
    net.set_param(conv, "groups", 2)
    assert infer(net)[conv].ok and compile_network(net).conv.groups == 2

"""Weights set by hand: checked with the place of each problem, kept by the document's
edits, saved in the project file and refused there with a path when they are wrong."""

from __future__ import annotations

import json

import pytest

from builder import CATALOG
from graph import EditError, Project, ProjectFileError, WeightsChanged
from graph import project_file as pf
from graph.weights import MAX_VALUES, WeightsError, check_weights, flat, shape_of

HAND = {"weight": [[0.5, -1], [2, 0.25]], "bias": [0.5, 0]}


@pytest.mark.parametrize(
    "weights, where, words",
    [
        ([1, 2], "weights", "expected an object"),
        ({"1x": [1]}, "weights", "not a tensor name"),
        ({"weight": []}, "weights.weight", "an empty list"),
        ({"weight": [[1, 2], [3]]}, "weights.weight[1]", "every row needs as many values"),
        ({"weight": [[1, "a"]]}, "weights.weight[0][1]", "got 'a'"),
        ({"weight": [True]}, "weights.weight[0]", "got True"),
        ({"weight": [float("nan")]}, "weights.weight[0]", "finite"),
        ({"weight": [0.0] * (MAX_VALUES + 1)}, "weights.weight", "load a weights file"),
        (
            {"weight": [[[[[[[[[[1.0]]]]]]]]]]},
            "weights.weight[0][0][0][0][0][0][0][0][0]",
            "deeper than 8",
        ),
    ],
)
def test_bad_weights_say_where_and_what(weights, where, words):
    with pytest.raises(WeightsError, match=words) as caught:
        check_weights(weights)
    assert caught.value.path == where


def test_good_weights_become_floats_with_their_shape():
    checked = check_weights(HAND)
    assert checked == {"weight": [[0.5, -1.0], [2.0, 0.25]], "bias": [0.5, 0.0]}
    assert all(type(v) is float for v in flat(checked["weight"]))
    assert shape_of(checked["weight"]) == (2, 2) and shape_of(checked["bias"]) == (2,)


def network():
    project = Project(CATALOG, name="t")
    net = project.add_network("main")
    x = net.add_node("Input", "x", {"shape": [2]})
    fc = net.add_node("Linear", "fc", {"out_features": 2})
    y = net.add_node("Output", "y")
    net.connect(x, fc)
    net.connect(fc, y)
    return project, net, fc


def test_the_document_sets_clears_and_restores_them_with_events():
    project, net, fc = network()
    events = []
    net.subscribe(events.append)
    net.set_weights(fc, HAND)
    net.set_weights(fc, HAND)  # the same values: no edit
    assert [type(e) for e in events] == [WeightsChanged]
    record = net.remove_node(fc)
    net.restore_node(record)
    assert dict(net.weights_of(fc)) == check_weights(HAND)
    with pytest.raises(EditError, match=r"Linear 'fc': weights.bias\[1\]"):
        net.set_weights(fc, {"bias": [1, None]})
    assert dict(net.weights_of(fc)) == check_weights(HAND)  # unchanged by the refusal
    net.set_weights(fc, None)
    assert net.weights_of(fc) is None


def test_the_project_file_keeps_them_and_only_them(tmp_path):
    project, net, fc = network()
    plain = pf.to_dict(project)
    assert all("weights" not in node for node in plain["models"]["main"]["nodes"])
    net.set_weights(fc, HAND)
    path = tmp_path / "p.json"
    pf.save(project, path)
    again = pf.load(path, CATALOG).network()
    assert dict(again.weights_of(again.find("fc"))) == check_weights(HAND)
    assert again.weights_of(again.find("x")) is None


@pytest.mark.parametrize(
    "weights, where",
    [
        ({"bias": [1, "x"]}, "models.main.nodes[1].weights.bias[1]"),
        ({"weight": [[1], [1, 2]]}, "models.main.nodes[1].weights.weight[1]"),
        ("lots", "models.main.nodes[1].weights"),
    ],
)
def test_a_file_with_bad_weights_is_refused_with_the_path(weights, where):
    project, net, fc = network()
    data = pf.to_dict(project)
    data["models"]["main"]["nodes"][1]["weights"] = weights
    with pytest.raises(ProjectFileError) as caught:
        pf.loads(json.dumps(data), CATALOG)
    assert [p.path for p in caught.value.problems] == [where]

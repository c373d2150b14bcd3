"""Every edit goes through a document method that validates it and emits one event;
a refused edit raises EditError and changes nothing."""

from __future__ import annotations

import copy

import pytest

from graph import (
    EdgeAdded,
    EdgeRemoved,
    EditError,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    Project,
)


def snapshot(net):
    return (
        {n: copy.deepcopy(dict(net.node(n))) for n in net.nodes},
        sorted(net.edges(), key=lambda e: (e.src, e.dst, e.key)),
    )


def chain(net, *types):
    ids = [net.add_node(t) for t in types]
    for a, b in zip(ids, ids[1:], strict=False):
        net.connect(a, b)
    return ids


def test_add_node_fills_defaults_and_unique_names(net):
    a = net.add_node("Dense")
    b = net.add_node("Dense")
    assert net.name_of(a) == "dense" and net.name_of(b) == "dense_2"
    assert dict(net.params_of(a)) == {"units": 4}
    assert net.type_of(a) == "Dense" and net.pos_of(a) == (0.0, 0.0)
    c = net.add_node("Dense", "hidden", {"units": 7}, pos=(10, 20))
    assert dict(net.params_of(c)) == {"units": 7} and net.pos_of(c) == (10.0, 20.0)
    assert net.find("hidden") == c


def test_events_for_every_edit(net):
    events = []
    net.subscribe(events.append)
    i, d = net.add_node("In"), net.add_node("Dense")
    e = net.connect(i, d)
    net.set_param(d, "units", 9)
    net.rename(d, "fc")
    net.move(d, (5, 6))
    net.disconnect(e)
    net.remove_node(d)
    assert [type(ev) for ev in events] == [
        NodeAdded,
        NodeAdded,
        EdgeAdded,
        ParamChanged,
        NodeRenamed,
        NodeMoved,
        EdgeRemoved,
        NodeRemoved,
    ]
    assert events[3] == ParamChanged(d, "units", 4, 9)
    assert events[4] == NodeRenamed(d, "dense", "fc")
    assert events[5] == NodeMoved(d, (0.0, 0.0), (5.0, 6.0))


def test_unsubscribe_stops_events(net):
    events = []
    off = net.subscribe(events.append)
    net.add_node("In")
    off()
    net.add_node("In")
    assert len(events) == 1


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda net, ids: net.add_node("Nope"), "Unknown layer type 'Nope'"),
        (lambda net, ids: net.add_node("Dense", "in"), "already exists"),
        (lambda net, ids: net.add_node("Dense", "  "), "cannot be empty"),
        (lambda net, ids: net.add_node("Dense", "a\nb"), "control characters"),
        (
            lambda net, ids: net.add_node("Dense", params={"units": -2}),
            "expected a positive integer, got -2",
        ),
        (lambda net, ids: net.add_node("Dense", params={"colour": 1}), "no parameter 'colour'"),
        (lambda net, ids: net.add_node("Dense", pos=("a", 1)), "two numbers"),
        (lambda net, ids: net.add_node("Dense", node_id=ids[0]), "already exists"),
        (lambda net, ids: net.connect(ids[2], ids[0]), "no input port"),
        (lambda net, ids: net.connect(ids[3], ids[1]), "no output port"),
        (lambda net, ids: net.connect(ids[5], ids[5], "out", "in2"), "cycle"),
        (lambda net, ids: net.connect(ids[5], ids[4], "out", "in3"), "cycle"),
        (lambda net, ids: net.connect(ids[0], ids[2]), "already connected"),
        (lambda net, ids: net.connect(ids[0], ids[4], "out", "in4"), "no input port 'in4'"),
        (lambda net, ids: net.set_param(ids[1], "units", 0), "expected a positive integer"),
        (lambda net, ids: net.set_param(ids[1], "nope", 3), "no parameter"),
        (lambda net, ids: net.rename(ids[1], "out"), "already exists"),
        (lambda net, ids: net.move(ids[1], (float("nan"), 0)), "finite"),
        (lambda net, ids: net.remove_node("ghost"), "no layer with id"),
    ],
)
def test_invalid_edit_raises_and_changes_nothing(net, edit, match):
    ids = chain(net, "In", "Dense", "Dense", "Out")
    ids.append(net.add_node("Merge", params={"n": 3}))
    net.connect(ids[2], ids[4], "out", "in1")
    net.connect(ids[1], ids[4], "out", "in2")
    ids.append(net.add_node("Merge"))
    net.connect(ids[4], ids[5], "out", "in1")
    before = snapshot(net)
    revision = net.revision
    events = []
    net.subscribe(events.append)
    with pytest.raises(EditError, match=match):
        edit(net, ids)
    assert snapshot(net) == before
    assert net.revision == revision and events == []


def test_param_change_that_would_orphan_an_edge_is_refused(net):
    a, b, m = net.add_node("In"), net.add_node("In"), net.add_node("Merge", params={"n": 3})
    net.connect(a, m, "out", "in1")
    net.connect(b, m, "out", "in3")
    with pytest.raises(EditError, match="removes input 'in3', which is connected"):
        net.set_param(m, "n", 2)
    assert net.params_of(m)["n"] == 3
    assert net.input_ports(m) == ["in1", "in2", "in3"]


def test_remove_and_restore_node_with_edges(net):
    i, d, o = chain(net, "In", "Dense", "Out")
    net.set_param(d, "units", 11)
    before = snapshot(net)
    record = net.remove_node(d)
    assert d not in net and net.edges() == []
    net.restore_node(record)
    assert snapshot(net) == before


def test_topological_order_is_stable_and_valid(net):
    o = net.add_node("Out")
    d = net.add_node("Dense")
    i = net.add_node("In")
    net.connect(i, d)
    net.connect(d, o)
    assert net.topological_order() == [i, d, o]
    assert net.descendants([d]) == {d, o}


def test_project_holds_several_networks_and_training(specs):
    project = Project(specs, name="GAN")
    g = project.add_network("generator")
    d = project.add_network("discriminator")
    assert project.network() is g and project.network("discriminator") is d
    with pytest.raises(EditError, match="already exists"):
        project.add_network("generator")
    with pytest.raises(EditError, match="no network named 'critic'"):
        project.network("critic")
    assert project.training["epochs"] >= 1


def test_the_name_index_follows_adds_renames_removes_and_restores(net):
    a = net.add_node("Dense", "a")
    b = net.add_node("Dense", "b")
    net.rename(a, "c")
    assert net.find("c") == a and net.unique_name("a") == "a"  # the old name is free
    with pytest.raises(EditError, match="'b' already exists"):
        net.rename(a, "b")
    record = net.remove_node(b)
    assert net.unique_name("b") == "b"
    with pytest.raises(EditError, match="no layer named 'b'"):
        net.find("b")
    net.restore_node(record)
    assert net.find("b") == b and net.unique_name("b") == "b_2"
    net.rename(b, "a")
    net.add_node("Dense", "b")  # free again after the rename
    assert sorted(net.name_of(n) for n in net.nodes) == ["a", "b", "c"]
    assert net.unique_name("dense") == "dense"


def test_many_cycle_checks_stay_exact(net):
    """connect_all refuses exactly the edges connect would, in the same order."""
    ids = [net.add_node("Dense", f"d{i}") for i in range(6)]
    edges = [(ids[i], ids[j], "out", "in") for i, j in [(0, 1), (2, 3), (1, 2), (3, 0), (4, 5)]]
    edges += [(ids[5], ids[4], "out", "in")]
    refused = net.connect_all(edges)
    assert [(i, "would make a cycle" in str(e)) for i, e in refused] == [(3, True), (5, True)]
    assert sorted((e.src, e.dst) for e in net.edges()) == sorted(
        (s, d) for s, d, _, _ in edges[:3] + edges[4:5]
    )

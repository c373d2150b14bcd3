"""Undo then redo of every kind of edit restores the document exactly (serialised JSON)."""

from __future__ import annotations

import pytest

from builder import CATALOG
from graph import EditError, Project
from graph import project_file as pf
from graph.layout import layered_layout
from widgets import commands as c
from widgets.editor_document import EditorDocument


@pytest.fixture
def doc(qapp):
    project = Project(CATALOG, name="t")
    net = project.add_network("main")
    x = net.add_node("Input", "x", {"shape": [4]}, pos=(0, 0))
    h = net.add_node("Linear", "h", {"out_features": 3}, pos=(200, 0))
    r = net.add_node("ReLU", "r", pos=(400, 0))
    y = net.add_node("Output", "y", pos=(600, 0))
    for a, b in [(x, h), (h, r), (r, y)]:
        net.connect(a, b)
    d = EditorDocument(project)
    yield d
    d.close()


def state(doc):
    return pf.dumps(doc.project)


def ids(doc):
    net = doc.net
    return {net.name_of(n): n for n in net.nodes}


EDITS = {
    "add": lambda net, i: c.AddNode(net, "Dropout", (50, 50)),
    "delete": lambda net, i: c.RemoveNodes(net, [i["h"]]),
    "delete two": lambda net, i: c.RemoveNodes(net, [i["h"], i["r"]]),
    "move": lambda net, i: c.MoveNodes(net, {i["h"]: ((200, 0), (210, 30))}),
    "disconnect": lambda net, i: c.Disconnect(net, net.in_edges(i["r"])[0]),
    "param": lambda net, i: c.SetParam(net, i["h"], "out_features", 7),
    "rename": lambda net, i: c.Rename(net, i["h"], "hidden"),
    "paste": lambda net, i: c.Paste(net, c.copy_selection(net, [i["h"], i["r"]])),
    "weights": lambda net, i: c.SetWeights(net, i["h"], HAND, "Set the weights of 'h' by hand"),
}
HAND = {"weight": [[1.0, 0.0, 0.0, 0.0]] * 3, "bias": [0.5, -0.5, 0.0]}


@pytest.mark.parametrize("kind", ["delete", "paste", "clear"])
def test_hand_set_weights_survive_every_edit_of_their_layer(doc, kind):
    i = ids(doc)
    doc.net.set_weights(i["h"], HAND)
    before = state(doc)
    if kind == "clear":
        doc.push(c.SetWeights(doc.net, i["h"], None, "Clear"))
        assert doc.net.weights_of(i["h"]) is None
    elif kind == "delete":
        doc.push(c.RemoveNodes(doc.net, [i["h"]]))
    else:
        doc.push(
            c.Paste(
                doc.net, c.parse_clipboard(c.clipboard_text(c.copy_selection(doc.net, [i["h"]])))
            )
        )
        assert dict(doc.net.weights_of(doc.net.find("h_2"))) == HAND
    after = state(doc)
    doc.undo.undo()
    assert state(doc) == before and dict(doc.net.weights_of(i["h"])) == HAND
    doc.undo.redo()
    assert state(doc) == after


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_undo_redo_restores_the_document_exactly(doc, kind):
    before = state(doc)
    doc.push(EDITS[kind](doc.net, ids(doc)))
    after = state(doc)
    assert after != before and doc.modified
    doc.undo.undo()
    assert state(doc) == before and not doc.modified
    doc.undo.redo()
    assert state(doc) == after
    doc.undo.undo()
    assert state(doc) == before


def test_connect_undo_redo(doc):
    i = ids(doc)
    doc.push(c.Disconnect(doc.net, doc.net.in_edges(i["y"])[0]))
    before = state(doc)
    doc.push(c.Connect(doc.net, i["h"], i["y"]))
    after = state(doc)
    doc.undo.undo()
    assert state(doc) == before
    doc.undo.redo()
    assert state(doc) == after


def test_invalid_edit_never_reaches_the_stack(doc):
    i = ids(doc)
    before = state(doc)
    with pytest.raises(EditError, match="already connected"):
        doc.push(c.Connect(doc.net, i["r"], i["h"], "out", "in"))
    with pytest.raises(EditError):
        doc.push(c.SetParam(doc.net, i["h"], "out_features", -1))
    assert state(doc) == before and doc.undo.count() == 0


def test_consecutive_edits_of_one_field_merge(doc):
    i = ids(doc)
    for v in (4, 5, 6):
        doc.push(c.SetParam(doc.net, i["h"], "out_features", v))
    doc.push(c.SetParam(doc.net, i["h"], "bias", False))
    assert doc.undo.count() == 2
    doc.undo.undo()
    doc.undo.undo()
    assert doc.net.params_of(i["h"])["out_features"] == 3


def test_paste_gets_fresh_names_and_internal_edges(doc):
    i = ids(doc)
    clip = c.parse_clipboard(c.clipboard_text(c.copy_selection(doc.net, [i["h"], i["r"], i["y"]])))
    doc.push(c.Paste(doc.net, clip))
    names = sorted(doc.net.name_of(n) for n in doc.net.nodes)
    assert names == ["h", "h_2", "r", "r_2", "x", "y", "y_2"]
    h2, r2 = doc.net.find("h_2"), doc.net.find("r_2")
    assert [e.dst for e in doc.net.out_edges(h2)] == [r2]
    assert doc.net.in_edges(h2) == []  # the edge from x was not part of the selection
    assert c.parse_clipboard("not json") is None and c.parse_clipboard('{"nodes": []}') is None


def test_shapes_follow_edits_through_the_debounced_check(doc, qtbot):
    i = ids(doc)
    with qtbot.waitSignal(doc.shapes_checked, timeout=1000):
        doc.push(c.SetParam(doc.net, i["h"], "out_features", 9))
    assert doc.results()[i["r"]].outputs["out"] == ("N", 9)


def test_layered_layout_puts_each_generation_in_a_column(doc):
    i = ids(doc)
    pos = layered_layout(doc.net, "LR", spacing=100)
    assert [pos[i[n]][0] for n in "xhry"] == [0, 100, 200, 300]
    tb = layered_layout(doc.net, "TB", spacing=100)
    assert [tb[i[n]][1] for n in "xhry"] == [0, 100, 200, 300]

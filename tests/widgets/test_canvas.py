"""The node editor canvas: a view of the document that edits only through undo commands."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QMouseEvent,
    QTextDocumentFragment,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

import assets
from builder import CATALOG
from graph.document import Edge
from graph.project_file import load
from widgets import commands as c
from widgets import theme
from widgets.canvas import LAYER_MIME, MAX_ZOOM, MIN_ZOOM, Canvas, EdgeItem, key_params
from widgets.editor_document import EditorDocument

LEFT = Qt.MouseButton.LeftButton
NO_BUTTON = Qt.MouseButton.NoButton


@pytest.fixture
def doc(qapp):
    d = EditorDocument(load(assets.example("digits_cnn"), CATALOG))
    yield d
    d.close()


@pytest.fixture
def canvas(qtbot, doc):
    view = Canvas(doc)
    qtbot.addWidget(view)
    view.resize(1800, 500)  # the digits example fits at a zoom where ports are live
    view.show()
    qtbot.waitExposed(view)
    return view


def ids(doc) -> dict[str, str]:
    return {doc.net.name_of(n): n for n in doc.net.nodes}


def plain(tooltip: str) -> str:
    return QTextDocumentFragment.fromHtml(tooltip).toPlainText()


def send_mouse(canvas, kind, scene_pos, button=LEFT, buttons=None, mods=None):
    """A mouse event on the viewport at a scene position (what a user's mouse sends)."""
    vp = canvas.viewport()
    local = QPointF(canvas.mapFromScene(scene_pos))
    glob = QPointF(vp.mapToGlobal(local.toPoint()))
    types = {
        "press": QEvent.Type.MouseButtonPress,
        "move": QEvent.Type.MouseMove,
        "release": QEvent.Type.MouseButtonRelease,
    }
    if buttons is None:
        buttons = button if kind in ("press", "move") else NO_BUTTON
    event = QMouseEvent(
        types[kind],
        local,
        glob,
        NO_BUTTON if kind == "move" else button,
        buttons,
        mods if mods is not None else Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, event)


def drag(canvas, start: QPointF, end: QPointF, steps: int = 4, mods=None) -> None:
    send_mouse(canvas, "press", start, mods=mods)
    for i in range(1, steps + 1):
        t = i / steps
        send_mouse(canvas, "move", start + (end - start) * t, mods=mods)
    send_mouse(canvas, "release", end, mods=mods)


def out_port(canvas, node_id, port="out"):
    return canvas.nodes[node_id].outputs[port]


def in_port(canvas, node_id, port="in"):
    return canvas.nodes[node_id].inputs[port]


# ----------------------------------------------------------------------------- drawing


def test_draws_every_node_and_edge_with_its_shape(canvas, doc):
    net = doc.net
    assert set(canvas.nodes) == set(net.nodes)
    assert set(canvas.edges) == set(net.edges())
    results = doc.results()
    for edge, item in canvas.edges.items():
        assert item.label.text == str(results[edge.src].outputs[edge.src_port])
        assert item.label.isVisible()
    i = ids(doc)
    assert canvas.edges[net.out_edges(i["conv1"])[0]].label.text == "(N, 16, 8, 8)"
    assert canvas.edges[net.out_edges(i["flatten"])[0]].label.text == "(N, 128)"
    conv1 = canvas.nodes[i["conv1"]]
    texts = [t[-1] for t in conv1._texts]
    assert texts == ["Conv2d", "conv1", "16 filters · 3×3", "160 params"]
    assert "(N, 16, 8, 8)" in plain(conv1.toolTip())


def test_key_params_pick_the_telling_ones():
    assert key_params("Linear", {"out_features": 8, "bias": True}, None) == "8 units"
    assert key_params("Dropout", {"p": 0.5}, None) == "p=0.5"
    assert key_params("Input", {"shape": (1, 8, 8), "dtype": "float32"}, None) == "(N, 1, 8, 8)"
    conv = CATALOG["Conv2d"].defaults() | {"kernel_size": 3, "stride": 2}
    assert key_params("Conv2d", conv, None) == "16 filters · 3×3 · stride 2"
    assert key_params("Identity", {}, None) == ""


# ----------------------------------------------------------------------------- adding


def test_dropping_a_layer_adds_it_through_the_undo_stack(canvas, doc, qtbot):
    before, old_nodes = doc.undo.count(), set(doc.net.nodes)
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"Dropout")
    at = QPointF(300, 350)
    copy, none = Qt.DropAction.CopyAction, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at.toPoint(), copy, mime, LEFT, none)
    QApplication.sendEvent(canvas.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(canvas.viewport(), QDropEvent(at, copy, mime, LEFT, none))
    assert doc.undo.count() == before + 1
    (new,) = set(doc.net.nodes) - old_nodes
    assert doc.net.type_of(new) == "Dropout" and new in canvas.nodes
    scene_at = canvas.mapToScene(at.toPoint())
    x, y = doc.net.pos_of(new)
    assert abs(x - scene_at.x()) <= 1 and abs(y - scene_at.y()) <= 1
    assert canvas.selected_nodes() == [new]
    doc.undo.undo()
    assert new not in canvas.nodes and len(canvas.nodes) == len(doc.net) == 10


def test_an_unknown_layer_type_is_refused_with_a_message(canvas, doc, qtbot):
    before = doc.undo.count()
    with qtbot.waitSignal(canvas.message, timeout=1000) as said:
        assert canvas.add_layer("NoSuchLayer", (0, 0)) is None
    assert "Unknown layer type" in said.args[0]
    assert doc.undo.count() == before and len(canvas.nodes) == 10


# ----------------------------------------------------------------------------- connecting


def test_dragging_from_an_output_to_an_input_connects(canvas, doc, qtbot):
    i = ids(doc)
    relu = canvas.add_layer("ReLU", (1440, 160))
    doc.check_now()
    before = doc.undo.count()
    start = out_port(canvas, i["flatten"]).scenePos()
    target = in_port(canvas, relu)
    send_mouse(canvas, "press", start)
    send_mouse(canvas, "move", (start + target.scenePos()) / 2)
    assert canvas._rubber is not None  # the rubber line follows the mouse
    send_mouse(canvas, "move", target.scenePos())
    assert target.highlight == "ok"
    send_mouse(canvas, "release", target.scenePos())
    assert target.highlight is None and canvas._rubber is None
    edge = Edge(i["flatten"], "out", relu, "in")
    assert edge in doc.net.edges() and edge in canvas.edges
    assert doc.undo.count() == before + 1
    doc.check_now()
    assert canvas.edges[edge].label.text == "(N, 128)"
    doc.undo.undo()
    assert edge not in canvas.edges


@pytest.mark.parametrize(
    "case, expected",
    [("occupied", "already connected"), ("cycle", "would make a cycle")],
)
def test_an_illegal_connection_is_refused_with_a_message(canvas, doc, qtbot, case, expected):
    i = ids(doc)
    if case == "cycle":  # free conv1's input, then try to feed it from downstream
        doc.push(c.Disconnect(doc.net, doc.net.in_edges(i["conv1"])[0]))
        src = out_port(canvas, i["relu2"])
    else:  # relu1's input is taken by conv1
        src = out_port(canvas, i["image"])
    dst = in_port(canvas, i["relu1"] if case == "occupied" else i["conv1"])
    edges, count = set(doc.net.edges()), doc.undo.count()
    with qtbot.waitSignal(canvas.message, timeout=1000) as said:
        send_mouse(canvas, "press", src.scenePos())
        send_mouse(canvas, "move", dst.scenePos())
        assert dst.highlight == "bad"
        send_mouse(canvas, "release", dst.scenePos())
    assert expected in said.args[0]
    assert set(doc.net.edges()) == edges == set(canvas.edges)
    assert doc.undo.count() == count


def test_dropping_a_connection_on_empty_space_cancels_it(canvas, doc, qtbot):
    i = ids(doc)
    edges, count = set(doc.net.edges()), doc.undo.count()
    src = out_port(canvas, i["conv1"]).scenePos()
    with qtbot.assertNotEmitted(canvas.message):
        drag(canvas, src, src + QPointF(40, 200))
    assert set(doc.net.edges()) == edges and doc.undo.count() == count
    assert canvas._rubber is None


# ----------------------------------------------------------------------------- moving


def test_dragging_a_node_pushes_one_move_and_undo_restores_it(canvas, doc):
    i = ids(doc)
    node = canvas.nodes[i["relu1"]]
    edge_in = canvas.edges[doc.net.in_edges(i["relu1"])[0]]
    old = doc.net.pos_of(i["relu1"])
    count = doc.undo.count()
    start = node.scenePos() + QPointF(0, 12)
    end_view = canvas.mapFromScene(start) + QPoint(60, 90)
    end = canvas.mapToScene(end_view)
    send_mouse(canvas, "press", start)
    send_mouse(canvas, "move", (start + end) / 2)
    assert edge_in._arrow[0] == node.inputs["in"].edge_point()  # the edge follows live
    assert doc.undo.count() == count  # nothing pushed while dragging
    send_mouse(canvas, "move", end)
    send_mouse(canvas, "release", end)
    assert doc.undo.count() == count + 1
    assert doc.undo.command(count).text() == "Move"
    new = doc.net.pos_of(i["relu1"])
    delta = end - start
    assert abs(new[0] - old[0] - delta.x()) <= 1 and abs(new[1] - old[1] - delta.y()) <= 1
    assert edge_in._path.currentPosition().y() == pytest.approx(node.scenePos().y())
    doc.undo.undo()
    assert doc.net.pos_of(i["relu1"]) == old
    assert (node.x(), node.y()) == old
    assert edge_in._path.currentPosition().y() == pytest.approx(old[1])


# ----------------------------------------------------------------------------- deleting


def test_deleting_a_node_removes_it_and_its_edges_in_one_step(canvas, doc, qtbot):
    i = ids(doc)
    conv2 = i["conv2"]
    touching = set(doc.net.in_edges(conv2) + doc.net.out_edges(conv2))
    count = doc.undo.count()
    with qtbot.waitSignal(canvas.selection_changed, timeout=1000) as chosen:
        canvas.select_nodes([conv2])
    assert chosen.args[0] == [conv2] == canvas.selected_nodes()
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Delete)
    assert doc.undo.count() == count + 1
    assert conv2 not in canvas.nodes and not touching & set(canvas.edges)
    doc.undo.undo()
    assert conv2 in canvas.nodes and touching <= set(canvas.edges)
    assert set(canvas.edges) == set(doc.net.edges())


def test_deleting_nodes_and_edges_together_is_one_step(canvas, doc):
    i = ids(doc)
    before = set(doc.net.edges())
    edge = doc.net.out_edges(i["image"])[0]
    canvas.select_nodes([i["relu2"]])
    item = canvas.edges[edge]
    item.setSelected(True)
    assert canvas.selected_edges() == [edge]
    count = doc.undo.count()
    canvas.delete_selection()
    assert doc.undo.count() == count + 1
    assert edge not in canvas.edges and i["relu2"] not in canvas.nodes
    doc.undo.undo()
    assert set(canvas.edges) == before == set(doc.net.edges())


def test_clicking_an_edge_selects_it(canvas, doc):
    i = ids(doc)
    edge = doc.net.out_edges(i["pool1"])[0]
    item: EdgeItem = canvas.edges[edge]
    mid = item._path.pointAtPercent(0.5)
    send_mouse(canvas, "press", mid)
    send_mouse(canvas, "release", mid)
    assert canvas.selected_edges() == [edge]
    canvas.delete_selection()
    assert edge not in doc.net.edges() and edge not in canvas.edges


# ----------------------------------------------------------------------------- shapes


def test_a_param_that_breaks_shapes_shows_the_error_and_updates_labels(canvas, doc):
    i = ids(doc)
    net = doc.net
    items = dict(canvas.nodes)
    conv1_out = canvas.edges[net.out_edges(i["conv1"])[0]]
    doc.push(c.SetParam(net, i["conv1"], "out_channels", 8))
    doc.check_now()
    assert conv1_out.label.text == "(N, 8, 8, 8)"
    assert canvas.edges[net.out_edges(i["pool1"])[0]].label.text == "(N, 8, 4, 4)"
    assert [t[-1] for t in canvas.nodes[i["conv1"]]._texts][2] == "8 filters · 3×3"

    doc.push(c.SetParam(net, i["conv2"], "kernel_size", 9))
    doc.check_now()
    conv2 = canvas.nodes[i["conv2"]]
    info = doc.results()[i["conv2"]]
    assert info.status == "error" and conv2.info is info
    assert plain(conv2.toolTip()) == info.message
    relu2 = canvas.nodes[i["relu2"]]
    assert relu2.info.status == "blocked" and "waiting for" in plain(relu2.toolTip())
    downstream = canvas.edges[net.out_edges(i["conv2"])[0]]
    assert downstream.label.text == "" and not downstream.label.isVisible()
    assert canvas.edges[net.out_edges(i["pool1"])[0]].label.text == "(N, 8, 4, 4)"
    assert canvas.nodes == items  # updated in place, never rebuilt

    doc.undo.undo()
    doc.check_now()
    assert conv2.info.status == "ok" and downstream.label.text == "(N, 32, 4, 4)"


# ----------------------------------------------------------------------------- view


def test_set_badge_shows_and_hides_a_badge(canvas, doc):
    node = ids(doc)["conv1"]
    item = canvas.nodes[node]
    assert item.badge is None
    canvas.set_badge(node, theme.VANISHING, "gradients vanish")
    assert item.badge.isVisible() and item.badge.toolTip() == "gradients vanish"
    assert item.badge.colour.color() == QColor(theme.VANISHING)
    canvas.set_badge(node, None)
    assert not item.badge.isVisible()


def test_fit_shows_the_whole_network(canvas):
    canvas.set_zoom(3.0)
    canvas.centerOn(5000, 5000)
    canvas.fit()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(canvas.content_rect())
    assert MIN_ZOOM <= canvas.zoom() <= 1.0


def test_wheel_zooms_around_the_cursor_within_limits(canvas):
    at = QPointF(700, 200)
    fixed = canvas.mapToScene(at.toPoint())

    def wheel(delta: int) -> None:
        event = QWheelEvent(
            at,
            QPointF(canvas.viewport().mapToGlobal(at.toPoint())),
            QPoint(),
            QPoint(0, delta),
            NO_BUTTON,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(canvas.viewport(), event)

    wheel(120)
    after = canvas.mapToScene(at.toPoint())
    assert abs(after.x() - fixed.x()) < 3 and abs(after.y() - fixed.y()) < 3
    for _ in range(30):
        wheel(120)
    assert canvas.zoom() == pytest.approx(MAX_ZOOM)
    for _ in range(40):
        wheel(-120)
    assert canvas.zoom() == pytest.approx(MIN_ZOOM)
    canvas.reset_zoom()
    assert canvas.zoom() == pytest.approx(1.0)


def test_rubber_band_selects_layers_not_edges(canvas, doc, qtbot):
    i = ids(doc)
    canvas.reset_zoom()
    canvas.center_on_node(i["relu1"])
    a, b = canvas.nodes[i["conv1"]].card_rect(), canvas.nodes[i["relu1"]].card_rect()
    start = QPointF(a.left() + 20, a.top() - 30)
    end = QPointF(b.right() - 20, b.bottom() + 30)
    with qtbot.waitSignal(canvas.selection_changed, timeout=1000):
        drag(canvas, start, end)
    assert canvas.selected_nodes() == [i["conv1"], i["relu1"]]
    assert canvas.selected_edges() == []


def test_switching_networks_redraws(qtbot, qapp):
    d = EditorDocument(load(assets.example("gan_digits"), CATALOG))
    view = Canvas(d)
    qtbot.addWidget(view)
    d.set_current("discriminator")
    assert set(view.nodes) == set(d.net.nodes)
    assert {view.nodes[n].node_id for n in view.nodes} == set(
        d.project.networks["discriminator"].nodes
    )
    assert set(view.edges) == set(d.net.edges())
    d.close()


def test_shift_click_adds_to_the_selection(canvas, doc):
    i = ids(doc)
    canvas.select_nodes([i["conv1"]])
    at = canvas.nodes[i["pool1"]].scenePos() + QPointF(0, 10)
    shift = Qt.KeyboardModifier.ShiftModifier
    send_mouse(canvas, "press", at, mods=shift)
    send_mouse(canvas, "release", at, mods=shift)
    assert canvas.selected_nodes() == [i["conv1"], i["pool1"]]


@pytest.mark.parametrize("how", ["middle", "space"])
def test_panning_moves_the_view_not_the_nodes(canvas, doc, qtbot, how):
    canvas.reset_zoom()
    node = ids(doc)["relu1"]
    canvas.center_on_node(node)
    start = canvas.nodes[node].scenePos()  # on a card: panning must still not move it
    view_start = canvas.mapFromScene(start)
    before, count = canvas.scene_center(), doc.undo.count()
    button = Qt.MouseButton.MiddleButton if how == "middle" else LEFT
    if how == "space":
        qtbot.keyPress(canvas, Qt.Key.Key_Space)
    send_mouse(canvas, "press", start, button=button)
    send_mouse(canvas, "move", canvas.mapToScene(view_start + QPoint(-100, -40)), button=button)
    send_mouse(canvas, "release", canvas.mapToScene(view_start + QPoint(-100, -40)), button=button)
    if how == "space":
        qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    after = canvas.scene_center()
    assert after[0] == pytest.approx(before[0] + 100, abs=1)
    assert after[1] == pytest.approx(before[1] + 40, abs=1)
    assert doc.net.pos_of(node) == (start.x(), start.y()) and doc.undo.count() == count


def test_a_param_that_changes_the_ports_redraws_them_with_their_edges(canvas, doc):
    i = ids(doc)
    net = doc.net
    add = canvas.add_layer("Add", (720, 200))
    doc.push(c.Connect(net, i["pool1"], add, "out", "in2"))
    item = canvas.nodes[add]
    doc.push(c.SetParam(net, add, "num_inputs", 3))
    assert list(item.inputs) == ["in1", "in2", "in3"]
    assert {"in1", "in2", "in3"} <= {t[-1] for t in item._texts}  # named ports
    edge = canvas.edges[Edge(i["pool1"], "out", add, "in2")]
    assert edge._arrow[0] == item.inputs["in2"].edge_point()
    assert [p.connected for p in item.inputs.values()] == [0, 1, 0]
    doc.undo.undo()
    assert list(item.inputs) == ["in1", "in2"] and item.inputs["in2"].connected == 1


def test_renaming_updates_the_card(canvas, doc):
    node = ids(doc)["relu1"]
    doc.push(c.Rename(doc.net, node, "activation"))
    assert [t[-1] for t in canvas.nodes[node]._texts][1] == "activation"

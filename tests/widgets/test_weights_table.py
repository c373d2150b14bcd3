"""The Properties panel's weight tables: a small layer's starting values, set by hand in one
undo step, edited cell by cell, refused with the cell's place when not a number, saved."""

from __future__ import annotations

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from graph import project_file
from widgets.editor_document import EditorDocument
from widgets.properties import PropertyEditor
from widgets.weights_table import MAX_TABLE_VALUES


@pytest.fixture
def doc(qapp):
    d = EditorDocument(project_file.load(assets.example("xor_mlp"), CATALOG))
    d.check_now()
    yield d
    d.close()


@pytest.fixture
def editor(qtbot, doc):
    e = PropertyEditor(doc)
    qtbot.addWidget(e)
    e.resize(300, 800)
    e.show()
    return e


def test_a_small_layer_shows_its_starting_values_until_set_by_hand(editor, doc):
    net = doc.net
    hidden = net.find("hidden")
    editor.show_node(hidden)
    tables = editor.weights.tables
    assert list(tables) == ["weight", "bias"]
    assert (tables["weight"].rowCount(), tables["weight"].columnCount()) == (4, 2)
    assert (tables["bias"].rowCount(), tables["bias"].columnCount()) == (4, 1)
    drawn = compile_network(net, seed=doc.project.training["seed"]).hidden.weight.detach()
    # the draw is computed when asked for (it compiles the network under the seed)
    assert tables["weight"].item(2, 1).text() == ""
    assert not tables["weight"].isEnabled() and not editor.weights.check.isChecked()

    editor.weights.check.setChecked(True)  # one undo step: the draw becomes the layer's own
    assert doc.undo.count() == 1
    assert torch.tensor(net.weights_of(hidden)["weight"]).allclose(drawn)
    assert float(tables["weight"].item(2, 1).text()) == pytest.approx(float(drawn[2, 1]), abs=1e-5)
    tables["weight"].item(2, 1).setText("2.5")
    assert net.weights_of(hidden)["weight"][2][1] == 2.5 and doc.undo.count() == 2
    assert compile_network(net, seed=0).hidden.weight[2, 1] == 2.5

    tables["bias"].item(0, 0).setText("ten")  # refused: nothing changes, the cell says where
    assert "bias, row 1, column 1: 'ten' is not a number" in editor.weights.error.text()
    assert doc.undo.count() == 2 and tables["bias"].item(0, 0).text() != "ten"

    doc.undo.undo()
    assert net.weights_of(hidden)["weight"][2][1] != 2.5
    assert editor.weights.error.isHidden()
    doc.undo.undo()
    assert net.weights_of(hidden) is None and not editor.weights.check.isChecked()
    doc.undo.redo()
    doc.undo.redo()
    assert tables["weight"].item(2, 1).text() == "2.5"


def test_the_values_are_saved_and_clearing_them_is_undoable(editor, doc, tmp_path):
    net = doc.net
    logit = net.find("logit")
    editor.show_node(logit)
    editor.weights.check.setChecked(True)
    editor.weights.tables["weight"].item(0, 3).setText("-0.75")
    path = tmp_path / "x.json"
    project_file.save(doc.project, path)
    again = project_file.load(path, CATALOG).network()
    assert again.weights_of(again.find("logit"))["weight"][0][3] == -0.75
    editor.weights.check.setChecked(False)
    assert net.weights_of(logit) is None
    doc.undo.undo()
    assert net.weights_of(logit)["weight"][0][3] == -0.75


def test_a_change_of_shape_rebuilds_the_tables_and_big_layers_have_none(editor, doc, qtbot):
    net = doc.net
    hidden = net.find("hidden")
    editor.show_node(hidden)
    net.set_param(hidden, "out_features", 3)
    doc.check_now()
    assert editor.weights.tables["weight"].rowCount() == 3
    net.set_param(hidden, "out_features", MAX_TABLE_VALUES)  # 2 x 400 + 400 values
    doc.check_now()
    editor.show_node(hidden)
    assert editor.weights is None
    activation = net.find("tanh")
    editor.show_node(activation)
    assert editor.weights is None  # nothing to set


def test_a_partial_or_misfitting_hand_set_layer_can_still_be_edited_and_cleared(editor, doc):
    net = doc.net
    hidden = net.find("hidden")
    net.set_weights(hidden, {"weight": [[1.0, 2.0]] * 4})  # the bias keeps its draw
    editor.show_node(hidden)
    editor.weights.tables["bias"].item(1, 0).setText("0.25")
    assert net.weights_of(hidden)["bias"][1] == 0.25 and net.weights_of(hidden)["weight"][0] == [
        1.0,
        2.0,
    ]
    net.set_param(hidden, "out_features", 3)  # the hand-set values no longer fit
    doc.check_now()
    editor.show_node(hidden)
    assert editor.weights is not None and "no longer fit" in editor.weights.caption.text()
    editor.weights.check.setChecked(False)
    assert net.weights_of(hidden) is None

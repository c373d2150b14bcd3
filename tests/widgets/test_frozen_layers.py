"""Freezing a layer from the Properties panel: one undo step, the card says so and is drawn
dashed, the check box follows undo."""

from __future__ import annotations

import pytest

import assets
from builder import CATALOG
from graph import project_file
from widgets.canvas import Canvas
from widgets.editor_document import EditorDocument
from widgets.properties import PropertyEditor


@pytest.fixture
def window(qtbot):
    doc = EditorDocument(project_file.load(assets.example("xor_mlp"), CATALOG))
    doc.check_now()
    canvas = Canvas(doc)
    editor = PropertyEditor(doc)
    for widget in (canvas, editor):
        qtbot.addWidget(widget)
        widget.show()
    yield doc, canvas, editor
    doc.close()


def test_the_trainable_box_freezes_the_layer_in_one_undo_step(window):
    doc, canvas, editor = window
    hidden = doc.net.find("hidden")
    editor.show_node(hidden)
    assert editor.trainable is not None and editor.trainable.isChecked()
    editor.trainable.setChecked(False)
    assert not doc.net.trainable_of(hidden) and doc.undo.count() == 1
    assert doc.undo.undoText() == "Freeze 'hidden'"
    card = canvas.nodes[hidden]
    assert card.frozen and any(text.startswith("frozen · 12 params") for *_, text in card._texts)
    doc.undo.undo()
    assert doc.net.trainable_of(hidden) and editor.trainable.isChecked() and not card.frozen
    editor.show_node(doc.net.find("tanh"))
    assert editor.trainable is None  # nothing to freeze


def test_the_initial_weights_row_edits_the_training_section(make_panel):
    panel = make_panel("xor_mlp")
    row = panel.weights_row
    row.edit.setText("runs/weights.pt")
    row.edit.editingFinished.emit()
    assert panel.doc.project.training["initial_weights"] == "runs/weights.pt"
    row._set(None)  # Clear
    assert panel.doc.project.training.get("initial_weights") is None
    panel.doc.undo.undo()
    assert panel.doc.project.training["initial_weights"] == "runs/weights.pt"
    assert row.edit.text() == "runs/weights.pt"  # the form follows the document

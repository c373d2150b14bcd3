"""The palette, the property editor and the problems / summary panels."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

import assets
from builder import CATALOG
from builder.summary import summarize
from graph.project_file import load
from widgets import theme
from widgets.commands import Connect, RemoveNodes, Rename, SetParam
from widgets.editor_document import EditorDocument
from widgets.palette import LAYER_MIME, Palette, layer_type_from_mime
from widgets.panels import ProblemsPanel, SummaryPanel
from widgets.properties import PropertyEditor


@pytest.fixture
def doc(qapp):
    d = EditorDocument(load(assets.example("digits_cnn"), CATALOG))
    d.check_now()
    yield d
    d.close()


@pytest.fixture
def palette(qtbot):
    p = Palette()
    qtbot.addWidget(p)
    p.resize(220, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


@pytest.fixture
def editor(qtbot, doc):
    e = PropertyEditor(doc)
    qtbot.addWidget(e)
    e.resize(280, 600)
    e.show()
    return e


def node(doc, name: str) -> str:
    return doc.net.find(name)


def commands(doc) -> list[str]:
    return [type(doc.undo.command(i)).__name__ for i in range(doc.undo.count())]


def break_network(doc) -> str:
    """Remove the Flatten before the classifier: the Linear then gets a 4-D input."""
    net = doc.net
    flat = node(doc, "flatten")
    src, dst = net.in_edges(flat)[0].src, net.out_edges(flat)[0].dst
    doc.push(RemoveNodes(net, [flat]))
    doc.push(Connect(net, src, dst))
    doc.check_now()
    return dst


# ----------------------------------------------------------------------------- palette


def test_palette_lists_every_type_once_under_its_category(palette):
    assert sorted(palette.type_ids()) == sorted(CATALOG.type_ids())
    assert len(palette.type_ids()) == len(set(palette.type_ids()))
    for spec in CATALOG:
        assert palette.category_of(spec.type_id) == spec.category
        tip = QTextDocumentFragment.fromHtml(palette.item(spec.type_id).toolTip(0)).toPlainText()
        assert spec.help.replace("`", "") in tip
    categories = [
        palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())
    ]
    assert categories[0] == "Input / output"
    assert categories[1:] == [c for c in CATALOG.categories() if c != "Input / output"]
    assert all(palette.tree.topLevelItem(i).isExpanded() for i in range(len(categories)))


def test_search_filters_as_you_type_and_escape_clears(qtbot, palette):
    qtbot.keyClicks(palette.search, "conv")
    shown = palette.visible_type_ids()
    assert {"Conv1d", "Conv2d", "ConvTranspose2d"} <= set(shown)
    assert "Linear" not in shown and "LSTM" not in shown
    assert palette.item("Linear").parent().isHidden()  # the Dense category is empty
    qtbot.keyClick(palette.search, Qt.Key.Key_Escape)
    assert palette.search.text() == ""
    assert palette.visible_type_ids() == palette.type_ids()
    palette.set_filter("recurrent")  # by category
    assert set(palette.visible_type_ids()) >= {"LSTM", "GRU", "RNN"}
    palette.set_filter("no such layer at all")
    assert palette.visible_type_ids() == [] and palette.empty_label.isVisibleTo(palette)


def test_double_click_and_enter_emit_add_requested(qtbot, palette):
    tree = palette.tree
    item = palette.item("Conv2d")
    tree.scrollToItem(item)
    with qtbot.waitSignal(palette.add_requested) as blocker:
        pos = tree.visualItemRect(item).center()
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # press, then
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # the 2nd click
    assert blocker.args == ["Conv2d"]
    tree.setCurrentItem(palette.item("Dropout"))
    with qtbot.waitSignal(palette.add_requested) as blocker:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert blocker.args == ["Dropout"]
    qtbot.keyClicks(palette.search, "lstm")  # Enter in the search box adds the match
    with qtbot.waitSignal(palette.add_requested) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["LSTM"]


def test_drag_carries_the_type_id(palette):
    mime = palette.mime_data("Conv2d")
    assert bytes(mime.data(LAYER_MIME).data()) == b"Conv2d"
    assert layer_type_from_mime(mime) == "Conv2d"
    tree_mime = palette.tree.mimeData([palette.item("LayerNorm")])  # what startDrag sends
    assert tree_mime.formats()[0] == LAYER_MIME
    assert layer_type_from_mime(tree_mime) == "LayerNorm"
    assert palette.tree.mimeTypes() == [LAYER_MIME]
    assert palette.item("Linear").flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert not palette.tree.topLevelItem(0).flags() & Qt.ItemFlag.ItemIsDragEnabled


# ----------------------------------------------------------------------------- property editor


def test_hint_when_nothing_is_selected(editor, doc):
    assert editor.hint.isVisible() and editor.hint.text() == "Select a layer to edit it"
    editor.show_node(node(doc, "conv1"))
    assert not editor.hint.isVisible()
    editor.show_node(None)
    assert editor.hint.isVisible() and editor.fields == {}


def test_one_field_per_param_with_the_current_values(editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    spec = CATALOG["Conv2d"]
    assert list(editor.fields) == ["name", *(p.name for p in spec.params)]
    f = editor.fields
    assert f["name"].text() == "conv2"
    assert isinstance(f["out_channels"], QSpinBox) and f["out_channels"].value() == 32
    assert f["out_channels"].minimum() == 1
    assert isinstance(f["kernel_size"], QLineEdit) and f["kernel_size"].text() == "3"
    assert f["padding"].text() == "1"
    assert isinstance(f["bias"], QCheckBox) and f["bias"].isChecked()
    assert isinstance(f["init"], QComboBox) and f["init"].currentText() == "default"
    assert f["kernel_size"].toolTip() == spec.param("kernel_size").doc
    assert "Conv2d" in editor.type_label.text()
    assert editor.inferred_label.text() == "in_channels: 16 (from the layer before)"
    assert "(N, 32, 4, 4)" in editor.status_label.text()


@pytest.mark.parametrize("type_id", CATALOG.type_ids())
def test_every_layer_type_gets_an_editor(qtbot, doc, type_id):
    e = PropertyEditor(doc)
    qtbot.addWidget(e)
    n = doc.net.add_node(type_id, None, None, (0, 0))
    e.show_node(n)
    spec = CATALOG[type_id]
    assert list(e.fields) == ["name", *(p.name for p in spec.params)]
    assert not any(e.error_text(k) for k in e.fields)
    for p in spec.params:
        if p.kind == "float" and p.default and abs(p.default) < 1e-3:
            assert isinstance(e.fields[p.name], QLineEdit)  # eps: typed, scientific
        elif p.kind == "float":
            assert isinstance(e.fields[p.name], QDoubleSpinBox)
            assert e.fields[p.name].value() == pytest.approx(p.default)


def test_spin_box_pushes_one_set_param_and_quick_changes_merge(editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    spin = editor.fields["out_channels"]
    before = doc.undo.count()
    spin.setValue(40)
    assert doc.net.params_of(conv)["out_channels"] == 40
    assert doc.undo.count() == before + 1 and commands(doc)[-1] == "SetParam"
    spin.setValue(41)
    spin.setValue(42)
    assert doc.undo.count() == before + 1  # one undo step
    doc.undo.undo()
    assert doc.net.params_of(conv)["out_channels"] == 32
    assert spin.value() == 32 and doc.undo.count() == before + 1


def test_valid_text_pushes_as_typed(qtbot, editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    edit = editor.fields["kernel_size"]
    edit.selectAll()
    qtbot.keyClicks(edit, "3, 5")
    assert doc.net.params_of(conv)["kernel_size"] == (3, 5)
    assert editor.error_text("kernel_size") == ""
    assert commands(doc).count("SetParam") == 1  # "3" changed nothing; "3, 5" merged


def paste(edit: QLineEdit, text: str) -> None:
    """Replace the text at once, as a paste does (typing passes through valid prefixes such
    as "1" of "1, -2", which are pushed as they are valid)."""
    edit.setText(text)
    edit.textEdited.emit(text)


@pytest.mark.parametrize(
    ("layer", "key", "text", "typed", "message"),
    [
        ("conv2", "kernel_size", "abc", True, "expected an integer from 1 to 1024, got 'abc'"),
        ("conv2", "kernel_size", "-2", True, "expected a positive integer, got -2"),
        ("conv2", "kernel_size", "", True, "expected an integer from 1 to 1024, got ''"),
        ("conv2", "stride", "1, 2, 3", False, "expected an integer or a list of 2 integers"),
        ("image", "shape", "1, -2", False, "expected a positive integer, got [1, -2]"),
    ],
)
def test_invalid_text_shows_why_and_pushes_nothing(
    qtbot, editor, doc, layer, key, text, typed, message
):
    n = node(doc, layer)
    editor.show_node(n)
    edit = editor.fields[key]
    value, count = doc.net.params_of(n)[key], doc.undo.count()
    if typed:
        edit.selectAll()
        qtbot.keyClicks(edit, text)
        if not text:
            qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    else:
        paste(edit, text)
    assert message in editor.error_text(key)
    assert edit.property("invalid") is True
    assert doc.undo.count() == count and doc.net.params_of(n)[key] == value
    edit.selectAll()
    qtbot.keyClicks(edit, "2")  # fixing it clears the message and pushes
    assert editor.error_text(key) == "" and not edit.property("invalid")
    assert doc.undo.count() == count + 1


def test_optional_size_accepts_empty(qtbot, editor, doc):
    pool = node(doc, "pool1")
    editor.show_node(pool)
    edit = editor.fields["stride"]
    assert edit.text() == "" and edit.placeholderText() == "auto"
    qtbot.keyClicks(edit, "1")
    assert doc.net.params_of(pool)["stride"] == 1
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    assert doc.net.params_of(pool)["stride"] is None and editor.error_text("stride") == ""


def test_tiny_floats_take_scientific_notation(qtbot, doc):
    net = doc.net
    bn = net.add_node("BatchNorm2d", "bn", None, (0, 0))
    e = PropertyEditor(doc)
    qtbot.addWidget(e)
    e.show_node(bn)
    edit = e.fields["eps"]
    assert edit.text() == "1e-05"
    edit.selectAll()
    qtbot.keyClicks(edit, "1e-3")
    assert net.params_of(bn)["eps"] == pytest.approx(1e-3)
    momentum = e.fields["momentum"]
    assert momentum.text() == "0.1"  # no trailing zeros
    momentum.lineEdit().selectAll()
    qtbot.keyClicks(momentum, "0.125")
    assert net.params_of(bn)["momentum"] == pytest.approx(0.125)
    assert momentum.text() == "0.125"


def test_edit_refused_by_the_document_shows_its_message(qtbot, doc):
    net = doc.net
    add = net.add_node("Add", "sum", {"num_inputs": 3}, (0, 0))
    net.connect(node(doc, "conv1"), add, "out", "in3")
    e = PropertyEditor(doc)
    qtbot.addWidget(e)
    e.show_node(add)
    count = doc.undo.count()
    e.fields["num_inputs"].setValue(2)
    assert "removes input 'in3', which is connected" in e.error_text("num_inputs")
    assert doc.undo.count() == count and net.params_of(add)["num_inputs"] == 3


def test_undo_and_redo_update_the_fields_without_pushing(editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    doc.push(SetParam(doc.net, conv, "kernel_size", (5, 3)))
    doc.push(SetParam(doc.net, conv, "bias", False))
    doc.push(SetParam(doc.net, conv, "init", "he_normal"))
    assert editor.fields["kernel_size"].text() == "5, 3"
    assert not editor.fields["bias"].isChecked()
    assert editor.fields["init"].currentText() == "he_normal"
    count = doc.undo.count()
    doc.undo.undo()
    doc.undo.undo()
    assert editor.fields["bias"].isChecked()
    assert editor.fields["init"].currentText() == "default"
    doc.undo.undo()
    assert editor.fields["kernel_size"].text() == "3"
    doc.undo.redo()
    assert editor.fields["kernel_size"].text() == "5, 3"
    assert doc.undo.count() == count and doc.undo.index() == count - 2


def test_rename_through_the_name_field(qtbot, editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    edit = editor.name_edit
    edit.selectAll()
    qtbot.keyClicks(edit, "relu1")
    assert "already exists" in editor.error_text("name")  # said while typing
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert doc.net.name_of(conv) == "conv2" and "Rename" not in commands(doc)
    edit.selectAll()
    qtbot.keyClicks(edit, "features")
    assert editor.error_text("name") == ""
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert doc.net.name_of(conv) == "features"
    assert commands(doc)[-1] == "Rename" and isinstance(doc.undo.command(0), Rename)
    doc.undo.undo()
    assert edit.text() == "conv2"


def test_removing_the_shown_node_shows_the_hint(editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    doc.push(RemoveNodes(doc.net, [conv]))
    assert editor.node_id is None and editor.hint.isVisible()


# ----------------------------------------------------------------------------- panels


def test_problems_panel_lists_broken_nodes_and_activates_them(qtbot, doc):
    panel = ProblemsPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(420, 200)
    panel.show()
    assert panel.list.count() == 0 and panel.stack.currentWidget() is panel.empty
    assert panel.empty.text() == "No problems"
    with qtbot.waitSignal(panel.count_changed):
        broken = break_network(doc)
    assert panel.header.text() == "1 problem"
    item = panel.list.item(0)
    assert item.text().startswith("Linear 'classifier' expects (N, features)")
    assert item.text() == doc.results()[broken].message
    with qtbot.waitSignal(panel.node_activated) as blocker:
        qtbot.mouseClick(
            panel.list.viewport(),
            Qt.MouseButton.LeftButton,
            pos=panel.list.visualItemRect(item).center(),
        )
    assert blocker.args == [broken]
    doc.undo.undo()
    doc.undo.undo()
    doc.check_now()
    assert panel.list.count() == 0 and panel.header.text() == "Problems"


def test_problems_panel_names_what_the_network_lacks(qtbot, doc):
    doc.push(RemoveNodes(doc.net, [node(doc, "scores")]))
    doc.check_now()
    panel = ProblemsPanel(doc)
    qtbot.addWidget(panel)
    assert panel.problems() == [
        ("", "Network 'main' has no Output layer: add one after the last layer")
    ]


def test_summary_panel_matches_summarize(qtbot, doc):
    panel = SummaryPanel(doc)
    qtbot.addWidget(panel)
    panel.show()
    expected = summarize(doc.net)
    assert panel.total_label.text() == f"{expected['totals']['parameters']:,}"
    assert panel.table.rowCount() == len(doc.net) == len(expected["nodes"])
    assert panel.node_ids() == [n["id"] for n in expected["nodes"]]
    row = panel.node_ids().index(node(doc, "conv2"))
    assert [panel.table.item(row, c).text() for c in range(4)] == [
        "conv2",
        "Conv2d",
        "(N, 32, 4, 4)",
        "4,640",
    ]
    assert panel.table.item(row, 3).textAlignment() & Qt.AlignmentFlag.AlignRight
    # edits refresh it; error rows are red
    doc.push(SetParam(doc.net, node(doc, "conv2"), "out_channels", 64))
    broken = break_network(doc)
    expected = summarize(doc.net)
    assert panel.total_label.text() == f"{expected['totals']['parameters']:,}"
    assert panel.table.rowCount() == len(doc.net)
    row = panel.node_ids().index(broken)
    assert panel.table.item(row, 0).foreground().color() == theme.ERROR
    with qtbot.waitSignal(panel.node_activated) as blocker:
        panel.table.cellClicked.emit(row, 1)
    assert blocker.args == [broken]


def test_hidden_summary_panel_refreshes_when_shown(qtbot, doc):
    panel = SummaryPanel(doc)
    qtbot.addWidget(panel)
    doc.push(SetParam(doc.net, node(doc, "classifier"), "out_features", 20))
    doc.check_now()
    panel.show()
    assert panel.total_label.text() == f"{summarize(doc.net)['totals']['parameters']:,}"


def test_name_typed_then_another_layer_selected_still_renames(qtbot, editor, doc):
    conv = node(doc, "conv2")
    editor.show_node(conv)
    edit = editor.name_edit
    edit.selectAll()
    qtbot.keyClicks(edit, "features")
    editor.show_node(node(doc, "conv1"))  # as leaving the field would, this applies it
    assert doc.net.name_of(conv) == "features"
    assert editor.name_edit.text() == "conv1"

"""The code view of an exported script and File > Export (script, weights, ONNX).

Every dialog is replaced by a stub; nothing is shown modally.
"""

from __future__ import annotations

import ast

import pytest
import torch
from PySide6.QtGui import QGuiApplication

import assets
from builder import CATALOG
from builder.export.script import export, export_script
from graph.project_file import load
from widgets import files
from widgets.code_view import COLOURS, CodeViewDialog
from widgets.main_window import MainWindow


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))


@pytest.fixture
def window(qtbot):
    path = assets.example("xor_mlp")
    win = MainWindow(load(path, CATALOG), path, autosave_ms=0)
    win.errors = []
    win.show_error = lambda title, message: win.errors.append((title, message))
    win.export.show_dialog = lambda dialog: None
    qtbot.addWidget(win)
    yield win
    win.ask_save_changes = lambda: "discard"
    win.close()
    MainWindow.windows.clear()


def formats_at(dialog: CodeViewDialog, line: int) -> list[tuple[str, str]]:
    """(text, colour) of each formatted range on ``line`` (0-based)."""
    block = dialog.editor.document().findBlockByNumber(line)
    text = block.text()
    return [
        (text[r.start : r.start + r.length], r.format.foreground().color().name())
        for r in block.layout().formats()
    ]


def line_of(code: str, predicate) -> int:
    return next(i for i, line in enumerate(code.splitlines()) if predicate(line))


def test_dialog_shows_the_exported_code_highlighted(qtbot):
    project = load(assets.example("digits_cnn"), CATALOG)
    code = export_script(project)
    dialog = CodeViewDialog(code, "digits_cnn.py")
    qtbot.addWidget(dialog)
    dialog.highlighter.rehighlight()  # Qt highlights lazily, on the next event loop pass
    assert dialog.editor.toPlainText() == code
    assert dialog.editor.isReadOnly()
    assert not dialog.note_label.isVisibleTo(dialog)
    i = line_of(code, lambda s: s.startswith("def "))
    got = formats_at(dialog, i)
    assert ("def", COLOURS["keyword"]) in got
    i = line_of(code, lambda s: s.startswith("class "))
    assert ("class", COLOURS["keyword"]) in formats_at(dialog, i)
    i = line_of(code, lambda s: '"' in s and "#" not in s and not s.startswith('"""'))
    assert any(c == COLOURS["string"] and t.startswith('"') for t, c in formats_at(dialog, i))
    i = line_of(code, lambda s: s.lstrip().startswith("# "))
    assert any(c == COLOURS["comment"] for _, c in formats_at(dialog, i))
    # the module docstring spans lines: its middle line is a string too
    assert code.startswith('"""')
    inside = line_of(code, lambda s: s.strip() and not s.startswith('"""'))
    assert inside < line_of(code[3:], lambda s: '"""' in s)
    assert formats_at(dialog, inside)[-1][1] == COLOURS["string"]


def test_note_copy_and_save(qtbot, tmp_path):
    dialog = CodeViewDialog("x = 1\n", "m.py", note="several Inputs")
    qtbot.addWidget(dialog)
    assert dialog.note_label.isVisibleTo(dialog)
    assert "several Inputs" in dialog.note_label.text()
    dialog.copy()
    assert QGuiApplication.clipboard().text() == "x = 1\n"
    dialog.ask_save_path = lambda: None
    assert dialog.save() is None
    dialog.ask_save_path = lambda: str(tmp_path / "script")
    assert dialog.save() == tmp_path / "script.py"
    assert (tmp_path / "script.py").read_text() == "x = 1\n"


def test_export_menu_and_script_action(window, tmp_path):
    texts = [a.text() for a in window.export.menu.actions()]
    assert texts == [
        "&Python script…",
        "&Weights (state_dict)…",
        "&ONNX…",
        "",  # a separator, then the dashboard's exports
        "&Dashboard as PNG…",
        "Run data as &CSV…",
    ]
    assert window.export.menu.menuAction() in window.file_menu.actions()
    assert window.export.script_action.shortcut().toString() == "Ctrl+E"
    window.export.script_action.trigger()
    dialog = window.export.dialog
    assert dialog is not None and not window.errors
    want = export(window.doc.project, base_dir=window.doc.path.parent, filename="xor_mlp.py")
    assert dialog.editor.toPlainText() == want.code
    dialog.ask_save_path = lambda: str(tmp_path / "xor.py")
    path = dialog.save()
    ast.parse(path.read_text())
    dialog.close()


def test_script_export_error_is_shown(window):
    window.doc.net.remove_node(next(iter(window.doc.net.nodes)))
    window.export.export_script()
    assert window.errors and window.export.dialog is None


def test_weights_and_onnx_actions_write_loadable_files(window, tmp_path):
    window.export.ask_save_path = lambda title, name, filter_: str(tmp_path / "w")
    window.export.weights_action.trigger()
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    model, trained = window.export.model()
    assert not trained
    assert state.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v)
    assert "initial weights" in window.statusBar().currentMessage()
    window.export.ask_save_path = lambda title, name, filter_: str(tmp_path / "m.onnx")
    window.export.onnx_action.trigger()
    assert not window.errors
    assert (tmp_path / "m.onnx").stat().st_size > 0
    assert "max difference" in window.statusBar().currentMessage()
    assert window.export.last_difference < 1e-4


def test_weights_of_a_finished_run_are_the_trained_ones(window, tmp_path):
    class Finished:
        state = "finished"
        net = window.doc.net
        model = torch.nn.Linear(2, 1)

    window.training.trainer = Finished()
    try:
        window.export.ask_save_path = lambda title, name, filter_: str(tmp_path / "t.pt")
        window.export.export_weights()
    finally:
        window.training.trainer = None
    state = torch.load(tmp_path / "t.pt", weights_only=True)
    assert torch.equal(state["weight"], Finished.model.weight.detach())
    assert "trained weights" in window.statusBar().currentMessage()

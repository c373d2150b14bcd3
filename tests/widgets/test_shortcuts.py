"""Training and editing at hand: Train / Pause / Resume / Stop on the toolbar, Ctrl+Y redoes
on every platform, and the window's shortcuts work while the palette's search box has focus."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from widgets import commands


def _active(window, qtbot):
    window.activateWindow()  # shortcuts go to the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    return window


def _palette_search(window):
    from widgets.palette import Palette

    (palette,) = window.findChildren(Palette)
    return palette.search


def test_ctrl_y_redoes_on_every_platform(make_window, qtbot):
    window = _active(make_window(), qtbot)
    keys = window.redo_action.shortcuts()
    assert QKeySequence("Ctrl+Y") in keys
    assert all(k in keys for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))
    net = window.doc.net
    count = len(net.nodes)
    window.doc.push(commands.AddNode(net, "ReLU", (0.0, 300.0)))
    window.undo_action.trigger()
    assert len(net.nodes) == count
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(net.nodes) == count + 1
    # from the palette's search box too (a line edit claims Ctrl+Y for its own text)
    window.undo_action.trigger()
    search = _palette_search(window)
    search.setFocus()
    qtbot.keyClick(search, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(net.nodes) == count + 1


def test_ctrl_e_exports_while_the_search_box_has_focus(make_window, qtbot):
    window = _active(make_window(), qtbot)
    search = _palette_search(window)
    search.setFocus()
    qtbot.keyClicks(search, "lin")
    with qtbot.waitSignal(window.export.script_action.triggered, timeout=2000):
        qtbot.keyClick(search, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert search.text() == "lin"  # the box kept its text: the key went to the window


def test_train_pause_resume_stop_are_on_the_toolbar(make_window):
    window = make_window()
    actions = window.toolbar.actions()
    texts = [a.iconText() for a in actions]
    assert ["Train", "Pause", "Resume", "Stop"] == [
        t for t in texts if t in ("Train", "Pause", "Resume", "Stop")
    ]
    assert window.start_action in actions and window.stop_action in actions
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()

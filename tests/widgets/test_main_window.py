"""The main window: docks and wiring, edit / view / file actions, autosave and recovery,
examples, recent files, the screenshot command and a torch-free start.

Every dialog is replaced by a stub; no event loop runs without a timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QApplication, QTabBar

import assets
from builder import CATALOG
from graph.project_file import dumps, load
from widgets import files
from widgets.commands import CLIPBOARD_MIME, parse_clipboard
from widgets.editor_document import EditorDocument
from widgets.files import RecentFiles, Session
from widgets.main_window import CANCEL, DISCARD, PASTE_STEP, SAVE, MainWindow

ROOT = Path(__file__).resolve().parents[2]
LEFT = Qt.MouseButton.LeftButton


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    """Recent files and autosaves go to the test's folder, never the user's."""
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    return tmp_path


# Stubs, stubs and make_window: tests/widgets/conftest.py (the shortcut and Help tests use them)


def project_copy(tmp_path: Path, name: str = "xor_mlp") -> Path:
    """A writable copy of an example (tests must never write the shipped files)."""
    path = tmp_path / f"{name}.json"
    path.write_bytes(assets.example(name).read_bytes())
    return path


def by_name(doc: EditorDocument) -> dict[str, str]:
    return {doc.net.name_of(n): n for n in doc.net.nodes}


def drop_layer(window: MainWindow, type_id: str, at: QPointF) -> None:
    mime = window.layer_palette.mime_data(type_id)
    copy, none = Qt.DropAction.CopyAction, Qt.KeyboardModifier.NoModifier
    viewport = window.canvas.viewport()
    enter = QDragEnterEvent(at.toPoint(), copy, mime, LEFT, none)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDropEvent(at, copy, mime, LEFT, none))


# ----------------------------------------------------------------------------- layout and wiring


def test_docks_toolbar_and_status_bar(make_window):
    window = make_window()
    area = window.dockWidgetArea
    assert area(window.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert area(window.properties_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert area(window.problems_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert area(window.summary_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert set(window.tabifiedDockWidgets(window.problems_dock)) == {
        window.summary_dock,
        window.health_dock,
        window.dashboard_dock,
    }
    assert window.tabifiedDockWidgets(window.properties_dock) == [window.training_dock]
    assert window.centralWidget().isAncestorOf(window.canvas)
    tools = [a.text().replace("&", "") for a in window.toolbar.actions() if not a.isSeparator()]
    assert tools[:3] == ["New", "Open…", "Save"]
    assert tools[3].startswith("Undo") and tools[4].startswith("Redo")
    assert tools[5:] == ["Fit", "Auto-layout", "Start", "Pause", "Resume", "Stop"]
    assert window.network_label.text() == "Network: main"
    assert window.nodes_label.text() == "6 layers"
    assert window.params_label.text() == "17 parameters"  # 2*4+4 + 4*1+1
    assert not window.tabs.isVisible()  # one network: no tab bar


def test_standard_shortcuts(make_window):
    window = make_window()
    K = QKeySequence.StandardKey
    for action, key in [
        (window.undo_action, K.Undo),
        (window.redo_action, K.Redo),
        (window.cut_action, K.Cut),
        (window.copy_action, K.Copy),
        (window.paste_action, K.Paste),
        (window.delete_action, K.Delete),
        (window.select_all_action, K.SelectAll),
        (window.new_action, K.New),
        (window.open_action, K.Open),
        (window.save_action, K.Save),
    ]:
        assert action.shortcut() == QKeySequence(key), action.text()
    edit = [a.text() for a in window.edit_menu.actions() if not a.isSeparator()]
    assert [t.replace("&", "") for t in edit[2:]] == [
        "Cut",
        "Copy",
        "Paste",
        "Delete",
        "Select All",
    ]


def test_a_palette_drag_dropped_on_the_canvas_adds_a_layer(make_window):
    window = make_window()
    doc = window.doc
    before, old = doc.undo.count(), set(doc.net.nodes)
    drop_layer(window, "Dropout", QPointF(200, 150))
    (new,) = set(doc.net.nodes) - old
    assert doc.net.type_of(new) == "Dropout"
    assert doc.undo.count() == before + 1
    assert window.canvas.selected_nodes() == [new]
    assert window.properties.node_id == new  # a single selection is shown for editing
    assert window.undo_action.text() == "Undo Add Dropout"
    assert window.nodes_label.text() == "7 layers"
    window.undo_action.trigger()
    assert new not in doc.net and window.properties.node_id is None


def test_double_click_in_the_palette_adds_at_the_centre(make_window):
    window = make_window()
    doc, palette = window.doc, window.layer_palette
    old = set(doc.net.nodes)
    palette.tree.itemDoubleClicked.emit(palette.item("ReLU"), 0)
    (new,) = set(doc.net.nodes) - old
    cx, cy = window.canvas.scene_center()
    x, y = doc.net.pos_of(new)
    assert abs(x - cx) <= 1 and abs(y - cy) <= 1
    assert window.canvas.selected_nodes() == [new]


def test_copy_paste_gives_new_names_keeps_internal_edges_and_cascades(make_window):
    window = make_window()
    doc, net = window.doc, window.doc.net
    ids = by_name(doc)
    window.canvas.select_nodes([ids["hidden"], ids["tanh"]])
    assert window.copy_action.isEnabled()
    window.copy_action.trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(CLIPBOARD_MIME)
    clip = parse_clipboard(mime.text())
    assert [n["name"] for n in clip["nodes"]] == ["hidden", "tanh"]

    edges_before = len(net.edges())
    first = window.paste()
    assert len(first) == 2 and window.canvas.selected_nodes() == first
    names = {net.name_of(n) for n in first}
    assert names.isdisjoint({"hidden", "tanh"}) and len(names) == 2
    assert [(e.src, e.dst) for e in net.out_edges(first[0])] == [(first[0], first[1])]
    assert len(net.edges()) == edges_before + 1  # only the edge inside the selection
    assert net.params_of(first[0])["out_features"] == 4
    hx, hy = net.pos_of(ids["hidden"])
    assert net.pos_of(first[0]) == (hx + PASTE_STEP, hy + PASTE_STEP)

    second = window.paste()  # the same clipboard again: one step further
    assert net.pos_of(second[0]) == (hx + 2 * PASTE_STEP, hy + 2 * PASTE_STEP)
    assert len(net) == 10
    assert window.undo_action.text() == "Undo Paste 2 layers"
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert len(net) == 6


def test_cut_then_paste_puts_the_layers_back(make_window):
    window = make_window()
    doc, net = window.doc, window.doc.net
    ids = by_name(doc)
    pos = net.pos_of(ids["tanh"])
    window.canvas.select_nodes([ids["tanh"]])
    window.cut_action.trigger()
    assert "tanh" not in by_name(doc) and len(net) == 5
    assert window.undo_action.text() == "Undo Cut 'tanh'"
    (new,) = window.paste()
    assert net.name_of(new) == "tanh" and net.pos_of(new) == pos  # the name is free again
    doc.undo.undo()
    doc.undo.undo()
    assert set(by_name(doc)) == {"inputs", "hidden", "tanh", "logit", "probability", "prediction"}
    assert len(net.edges()) == 5


def test_paste_with_nothing_on_the_clipboard_says_so(make_window):
    window = make_window()
    QGuiApplication.clipboard().setText("not layers")
    assert window.paste() == []
    assert "clipboard" in window.statusBar().currentMessage()


def test_select_all_and_delete_are_one_undo_step(make_window):
    window = make_window()
    doc = window.doc
    before = dumps(doc.project)
    window.select_all_action.trigger()
    assert window.canvas.selected_nodes() == doc.net.nodes
    window.delete_action.trigger()
    assert len(doc.net) == 0 and not window.canvas.nodes
    window.undo_action.trigger()
    assert dumps(doc.project) == before


@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_auto_layout_is_one_undo_step(make_window, direction):
    window = make_window(path=assets.example("resnet_blocks"))
    doc = window.doc
    before = {n: doc.net.pos_of(n) for n in doc.net.nodes}
    count = doc.undo.count()
    (window.layout_lr_action if direction == "LR" else window.layout_tb_action).trigger()
    after = {n: doc.net.pos_of(n) for n in doc.net.nodes}
    assert after != before
    assert doc.undo.count() == count + 1
    axis = 0 if direction == "LR" else 1
    order = doc.net.topological_order()
    assert after[order[0]][axis] < after[order[-1]][axis]
    for n, item in window.canvas.nodes.items():
        assert (item.x(), item.y()) == after[n]
    window.undo_action.trigger()
    assert {n: doc.net.pos_of(n) for n in doc.net.nodes} == before


def test_view_actions_zoom_and_fit(make_window):
    window = make_window()
    canvas = window.canvas
    window.reset_zoom_action.trigger()
    assert canvas.zoom() == pytest.approx(1.0)
    window.zoom_in_action.trigger()
    assert canvas.zoom() > 1.0
    window.zoom_out_action.trigger()
    window.zoom_out_action.trigger()
    assert canvas.zoom() < 1.0
    window.fit_action.trigger()
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(canvas.content_rect())


# ----------------------------------------------------------------------------- wiring to panels


def test_problems_and_summary_rows_select_and_reveal_a_layer(make_window, qtbot):
    window = make_window()
    ids = by_name(window.doc)
    window.problems.node_activated.emit(ids["logit"])
    assert window.canvas.selected_nodes() == [ids["logit"]]
    assert window.properties.node_id == ids["logit"]
    window.summary.node_activated.emit(ids["tanh"])
    assert window.canvas.selected_nodes() == [ids["tanh"]]
    centre = window.canvas.mapToScene(window.canvas.viewport().rect().center())
    x, y = window.doc.net.pos_of(ids["tanh"])
    assert abs(centre.x() - x) < 4 and abs(centre.y() - y) < 4


def test_problem_count_shows_in_the_dock_tab(make_window, qtbot):
    window = make_window()
    assert window.problems_dock.windowTitle() == "Problems"
    window.canvas.select_nodes([by_name(window.doc)["tanh"]])
    window.delete_action.trigger()  # the network is cut in two: the Output gets nothing
    window.doc.check_now()
    count = window.problems.count
    assert count > 0
    assert window.problems_dock.windowTitle() == f"Problems ({count})"
    bars = [[b.tabText(i) for i in range(b.count())] for b in window.findChildren(QTabBar)]
    assert [f"Problems ({count})", "Summary"] in [b[:2] for b in bars]
    window.undo_action.trigger()
    window.doc.check_now()
    assert window.problems_dock.windowTitle() == "Problems"


def test_canvas_messages_go_to_the_status_bar(make_window):
    window = make_window()
    window.canvas.message.emit("Cannot connect: it would make a cycle")
    assert window.statusBar().currentMessage() == "Cannot connect: it would make a cycle"


def test_a_tab_per_network_switches_the_edited_network(make_window):
    window = make_window(path=assets.example("gan_digits"))
    doc = window.doc
    assert window.tabs.isVisible()
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "generator",
        "discriminator",
    ]
    window.tabs.setCurrentIndex(1)
    assert doc.current == "discriminator"
    assert set(window.canvas.nodes) == set(doc.project.networks["discriminator"].nodes)
    assert window.network_label.text() == "Network: discriminator"
    assert window.summary.node_ids()[0] in doc.project.networks["discriminator"]
    # an undo of a step in the other network shows that network
    window.tabs.setCurrentIndex(0)
    window.select_all_action.trigger()
    window.delete_action.trigger()
    window.tabs.setCurrentIndex(1)
    window.undo_action.trigger()
    assert doc.current == "generator" and window.tabs.currentIndex() == 0
    assert len(window.canvas.nodes) == len(doc.project.networks["generator"])


# ----------------------------------------------------------------------------- files


def test_new_project_has_an_input_and_an_output(make_window):
    window = make_window()
    assert window.new_file()
    net = window.doc.net
    assert list(window.doc.project.networks) == ["main"]
    assert sorted(net.type_of(n) for n in net.nodes) == ["Input", "Output"]
    assert window.windowTitle() == "Untitled[*] — NeuralCanvas"
    assert not window.isWindowModified()
    # Undo follows the new document's stack
    drop_layer(window, "Linear", QPointF(100, 100))
    assert window.undo_action.text() == "Undo Add Linear" and window.undo_action.isEnabled()


def test_title_shows_the_file_name_and_the_unsaved_mark(make_window, tmp_path):
    path = project_copy(tmp_path)
    window = make_window(path=path)
    assert window.windowTitle() == "xor_mlp.json[*] — NeuralCanvas"
    assert not window.isWindowModified()
    window.layer_palette.add_requested.emit("ReLU")
    assert window.isWindowModified()
    window.undo_action.trigger()
    assert not window.isWindowModified()


def test_save_then_open_gives_the_same_project(make_window, stubs, tmp_path):
    window = make_window(path=assets.example("digits_cnn"), suggested_name="digits_cnn.json")
    window.doc.path = None  # as an example copy is
    window.layer_palette.add_requested.emit("Dropout")
    window.auto_layout("TB")
    stubs.save_path = str(tmp_path / "mine")  # the extension is added
    assert window.save_action.trigger() is None and stubs.asked_save_path == 1
    saved = tmp_path / "mine.json"
    assert saved.is_file() and window.doc.path == saved
    assert not window.isWindowModified()
    assert window.windowTitle() == "mine.json[*] — NeuralCanvas"
    assert saved.read_text(encoding="utf-8") == dumps(window.doc.project)
    assert not list(tmp_path.glob(".mine.json.*"))  # the atomic write left no temporary

    other = make_window(path=assets.example("xor_mlp"))
    assert other.open_file(saved)
    assert dumps(other.doc.project) == dumps(window.doc.project)
    assert RecentFiles().files()[0] == saved.resolve()
    # Save again writes the same file without asking
    window.layer_palette.add_requested.emit("ReLU")
    window.save()
    assert stubs.asked_save_path == 1 and load(saved, CATALOG).network().find("relu")


def test_open_dialog_opens_the_chosen_file(make_window, stubs, tmp_path):
    path = project_copy(tmp_path, "gan_digits")
    window = make_window()
    stubs.open_path = str(path)
    window.open_action.trigger()
    assert window.doc.path == path and window.tabs.count() == 2
    stubs.open_path = None  # cancelled
    assert not window.open_dialog() and window.doc.path == path


def test_close_with_unsaved_changes_asks_and_cancel_keeps_the_window(make_window, stubs, tmp_path):
    path = project_copy(tmp_path)
    window = make_window(path=path)
    window.layer_palette.add_requested.emit("ReLU")
    stubs.save_answers = [CANCEL]
    assert not window.close()
    assert window.isVisible() and stubs.asked_save == 1 and window.doc.modified
    stubs.save_answers = [SAVE]
    assert window.close()
    assert not window.isVisible()
    assert load(path, CATALOG).network().find("relu")


def test_new_and_open_ask_about_unsaved_changes(make_window, stubs, tmp_path):
    window = make_window()
    window.layer_palette.add_requested.emit("ReLU")
    doc = window.doc
    stubs.save_answers = [CANCEL, CANCEL]
    assert not window.new_file()
    assert not window.open_file(project_copy(tmp_path, "digits_cnn"))
    assert window.doc is doc and stubs.asked_save == 2
    stubs.save_answers = [DISCARD]
    assert window.new_file() and window.doc is not doc


def _cycle_file(path: Path) -> Path:
    data = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))
    edges = data["models"]["main"]["edges"]
    edges[:] = [e for e in edges if e["to"] != "n2"]  # hidden <- tanh instead of the input
    edges.append({"from": "n3", "to": "n2"})
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _unknown_type_file(path: Path) -> Path:
    data = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))
    data["models"]["main"]["nodes"][2]["type"] = "Tanhh"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _hostile_file(path: Path) -> Path:
    path.write_text('{"format": "neuralcanvas-project", "models": ' + "[" * 100_000, "utf-8")
    return path


def _malformed_file(path: Path) -> Path:
    path.write_text('{"format": "neuralcanvas-project",', "utf-8")
    return path


@pytest.mark.parametrize(
    "make, expected",
    [
        (_malformed_file, "line 1"),
        (_unknown_type_file, "models.main.nodes[2].type: unknown layer type 'Tanhh'"),
        (_cycle_file, "models.main.edges[4]"),
        (_hostile_file, "not valid JSON"),
        (lambda p: p, "does not exist"),
    ],
    ids=["malformed-json", "unknown-type", "cycle", "hostile", "missing"],
)
def test_a_bad_file_shows_its_message_and_leaves_the_document(
    make_window, stubs, tmp_path, make, expected
):
    window = make_window()
    doc = window.doc
    window.layer_palette.add_requested.emit("ReLU")
    before, count, index = dumps(doc.project), doc.undo.count(), doc.undo.index()
    bad = make(tmp_path / "bad.json")
    assert not window.open_file(bad)
    assert len(stubs.errors) == 1
    title, message = stubs.errors[0]
    assert expected in message and "bad.json" in message
    if expected.startswith("models."):
        assert "cycle" in message or "did you mean 'Tanh'" in message
    assert stubs.asked_save == 0  # nothing was about to be replaced
    assert window.doc is doc and dumps(doc.project) == before
    assert (doc.undo.count(), doc.undo.index()) == (count, index)
    # still editable, undo intact
    window.layer_palette.add_requested.emit("Sigmoid")
    assert doc.undo.count() == count + 1
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert len(doc.net) == 6 and window.windowTitle().startswith("xor_mlp.json")


def test_examples_open_as_untitled_copies(make_window, stubs, tmp_path):
    window = make_window()
    actions = window.example_actions()
    names = {json.loads(p.read_text(encoding="utf-8"))["name"] for p in assets.example_paths()}
    assert {a.text() for a in actions} == names and len(actions) == len(assets.example_paths())
    shipped = assets.example("digits_cnn")
    original = shipped.read_bytes()
    (action,) = [a for a in actions if Path(a.data()) == shipped]
    action.trigger()
    assert window.doc.path is None and window.doc.project.name == "Digits CNN"
    assert window.windowTitle() == "Untitled[*] — NeuralCanvas"
    window.layer_palette.add_requested.emit("ReLU")
    stubs.save_path = None  # the user cancels the Save As dialog
    assert not window.save()
    assert stubs.asked_save_path == 1 and window.suggested_name == "digits_cnn.json"
    stubs.save_path = str(tmp_path / "digits_cnn.json")
    assert window.save()
    assert shipped.read_bytes() == original
    assert window.doc.path == tmp_path / "digits_cnn.json"
    # File > Open on a shipped example opens a copy too
    assert window.open_file(assets.example("xor_mlp"))
    assert window.doc.path is None and window.suggested_name == "xor_mlp.json"


def test_recent_files_update_and_prune(make_window, tmp_path):
    a, b = project_copy(tmp_path, "xor_mlp"), project_copy(tmp_path, "digits_cnn")
    window = make_window()
    window.open_file(a)
    window.open_file(b)
    files_ = window.refresh_recent_menu()
    assert files_ == [b.resolve(), a.resolve()]
    entries = [x for x in window.recent_menu.actions() if x.data()]
    assert [Path(x.data()) for x in entries] == files_
    assert entries[0].text().endswith("digits_cnn.json")
    entries[1].trigger()
    assert window.doc.path == a
    b.unlink()
    assert window.refresh_recent_menu() == [a.resolve()]
    assert "digits_cnn.json" in window.statusBar().currentMessage()
    assert RecentFiles().files() == [a.resolve()]


# ----------------------------------------------------------------------------- autosave and recovery


def test_autosave_writes_a_separate_file_after_the_timer(make_window, qtbot, tmp_path):
    path = project_copy(tmp_path)
    original = path.read_bytes()
    window = make_window(path=path, autosave_ms=30)
    qtbot.wait(80)
    assert window.autosave_file is None  # nothing unsaved: nothing written
    window.layer_palette.add_requested.emit("ReLU")
    qtbot.waitUntil(lambda: window.autosave_file is not None and window.autosave_file.exists())
    autosave = window.autosave_file
    assert autosave.parent.parent == tmp_path / "data" / "autosave"
    assert path.read_bytes() == original  # never the user's file
    data = json.loads(autosave.read_text(encoding="utf-8"))
    assert data["original_path"] == str(path)
    assert any(n["name"] == "relu" for n in data["project"]["models"]["main"]["nodes"])
    assert not [p for p in autosave.parent.iterdir() if p.name.endswith(".tmp")]
    window.save()
    assert not autosave.exists()  # removed after a successful save
    window.layer_palette.add_requested.emit("Tanh")
    qtbot.waitUntil(lambda: window.autosave_file is not None and window.autosave_file.exists())
    autosave = window.autosave_file
    window.close()  # discard (the stub's default): a clean close removes it
    assert not autosave.exists()


def test_recovery_after_a_crash_restores_the_work_in_a_new_window(
    make_window, stubs, qtbot, tmp_path
):
    path = project_copy(tmp_path)
    crashed = Session()
    window = make_window(path=path, session=crashed, autosave_ms=30)
    window.layer_palette.add_requested.emit("ReLU")
    expected = dumps(window.doc.project)
    qtbot.waitUntil(lambda: window.autosave_file is not None and window.autosave_file.exists())
    window.set_autosave_interval(10**6)

    later = make_window(session=Session())
    assert later.offer_recovery() == []  # the first app still runs: its lock is held
    crashed.abandon()  # as if it had crashed: the lock is free, the files stay
    (recovered,) = later.offer_recovery()
    assert [item.original for item in stubs.recover_asked] == [path]
    assert recovered is not later and recovered in MainWindow.windows
    doc = recovered.doc
    assert dumps(doc.project) == expected
    assert doc.modified and recovered.isWindowModified()
    assert doc.path == path and recovered.windowTitle() == "xor_mlp.json[*] — NeuralCanvas"
    assert not list(crashed.folder.glob("*.json"))  # the old autosave is gone ...
    assert recovered.autosave_file is not None and recovered.autosave_file.exists()  # ... ours
    assert recovered.save() and stubs.asked_save_path == 0  # Save writes the original file
    assert path.read_text(encoding="utf-8") == expected
    assert later.offer_recovery() == []


def test_declined_recovery_discards_the_autosave(make_window, stubs, tmp_path):
    crashed = Session()
    crashed.write(crashed.new_file(), load(assets.example("xor_mlp"), CATALOG), None)
    crashed.abandon()
    stubs.recover = False
    window = make_window(session=Session())
    assert window.offer_recovery() == []
    assert len(stubs.recover_asked) == 1 and stubs.recover_asked[0].original is None
    assert not crashed.folder.exists()
    assert window.offer_recovery() == [] and len(stubs.recover_asked) == 1


# ----------------------------------------------------------------------------- processes


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        **{files.CONFIG_ENV: str(tmp_path / "config"), files.DATA_ENV: str(tmp_path / "data")},
    )
    return env


def test_screenshot_command_writes_the_window_as_a_png(tmp_path):
    out = tmp_path / "out.png"
    path = assets.example("gan_digits")
    proc = subprocess.run(
        [sys.executable, "-m", "widgets", "--screenshot", str(out), str(path)],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert out.stat().st_size > 10_000
    assert (image.width(), image.height()) == (1400, 860)
    assert not (tmp_path / "data").exists()  # a picture leaves no autosave folder behind


def test_the_window_opens_without_importing_torch(tmp_path):
    code = (
        "import sys\n"
        "from widgets.app import application\n"
        "from widgets.main_window import MainWindow\n"
        "from builder.catalog.layers import CATALOG\n"
        "from graph.project_file import load\n"
        "import assets\n"
        "app = application()\n"
        "w = MainWindow(load(assets.example('digits_cnn'), CATALOG), autosave_ms=0)\n"
        "w.show()\n"
        "app.processEvents()\n"
        "print(sorted(m for m in ('torch', 'numpy', 'pyqtgraph') if m in sys.modules))\n"
        "w.doc.undo.setClean(); w.close()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "torch" not in proc.stdout.strip().splitlines()[-1], proc.stdout

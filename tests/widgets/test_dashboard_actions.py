"""What a user reaches from the dashboard's top row and from File > Export: "Compare with",
Export (PNG and CSV through a save dialog, errors in a warning), the class names of the
confusion matrix, the top row at narrow and wide sizes, and disabled widgets that look
disabled.

Every dialog is replaced by a stub; nothing is shown modally.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from dashboard_records import data, epoch, run_records, step, steps_of
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QFileDialog, QPushButton, QStyleFactory, QWidget

import assets
from builder import CATALOG
from builder.training.config import HealthThresholds
from graph.project_file import load
from widgets import dialogs, files, theme
from widgets.app import themed_palette
from widgets.canvas import Canvas
from widgets.dashboard import Dashboard, ElidedLabel, file_stem
from widgets.editor_document import EditorDocument
from widgets.main_window import MainWindow
from widgets.training_panel import TrainingPanel

WAIT = 30_000  # ms; guards against hangs only


# ----------------------------------------------------------------------------- records


@pytest.fixture(autouse=True)
def app_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))


class SaveDialog:
    """Stands in for ``QFileDialog.getSaveFileName``: records each call, answers ``answer``."""

    def __init__(self, monkeypatch, answer: str | Path = ""):
        self.calls: list[tuple] = []
        self.answer = str(answer)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self)

    def __call__(self, parent, title, start, filter_):
        self.calls.append((parent, title, Path(start), filter_))
        return self.answer, filter_ if self.answer else ""


@pytest.fixture
def warnings_shown(monkeypatch):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(dialogs, "warn", lambda parent, title, text: shown.append((title, text)))
    return shown


def items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def exports_enabled(d: Dashboard) -> bool:
    states = {
        d.export_button.isEnabled(),
        d.export_png_action.isEnabled(),
        d.export_csv_action.isEnabled(),
    }
    assert len(states) == 1, "the Export button and its two actions disagree"
    return states.pop()


# ----------------------------------------------------------------------------- compare


def test_compare_with_lists_the_other_runs_and_overlays_the_chosen_one(dash, qtbot):
    combo = dash.compare_combo
    assert items(combo) == ["None"] and not combo.isEnabled() and not exports_enabled(dash)
    assert combo.toolTip() and dash.export_button.toolTip()

    a_records, b_records = run_records(1.0), run_records(3.0, epochs=2)
    run_a = dash.begin_run("net #1", HealthThresholds())
    dash.add_records(a_records)
    dash.refresh()
    # one run: nothing to compare with yet, but it can be exported
    assert items(combo) == ["None"] and not combo.isEnabled() and exports_enabled(dash)

    run_b = dash.begin_run("net #2", HealthThresholds())
    dash.add_records(b_records)
    dash.refresh()
    assert items(combo) == ["None", "net #1"] and combo.isEnabled()
    assert combo.currentIndex() == 0

    # the user picks the first run with the keyboard: it is drawn dashed under the live one
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "net #1"
    assert dash.compared is run_a and dash.current is run_b
    ax, ay = steps_of(a_records)
    bx, by = steps_of(b_records)
    assert data(dash.loss_plot.step_curve) == (bx, by)
    assert data(dash.loss_plot.other_smooth)[0] == ax
    assert dash.title.text() == "net #2"

    # the live run goes on while compared: its own curve grows, the overlay stays
    dash.add_records([step(9, [0.25], 3)])
    dash.refresh()
    assert data(dash.loss_plot.step_curve) == (bx + [9.0], by + [0.25])
    assert data(dash.loss_plot.other_smooth)[0] == ax
    assert "step 9" in dash.state_label.text()

    # back to None: the live run alone
    combo.setCurrentIndex(0)
    assert dash.compared is None and data(dash.loss_plot.other_smooth) == ([], [])
    assert data(dash.loss_plot.step_curve) == (bx + [9.0], by + [0.25])

    # a new run while one is compared: the list grows, the comparison is dropped
    combo.setCurrentIndex(1)
    assert dash.compared is run_a
    run_c = dash.begin_run("net #3", HealthThresholds())
    assert items(combo) == ["None", "net #1", "net #2"] and combo.currentIndex() == 0
    assert dash.compared is None and dash.current is run_c
    combo.setCurrentIndex(2)
    assert dash.compared is run_b and data(dash.loss_plot.other_smooth)[0] == bx + [9.0]

    # compare() from code: the list is the shown run's others, the compared one chosen
    dash.compare("net #1", "net #3")
    assert items(combo) == ["None", "net #2", "net #3"] and combo.currentText() == "net #3"
    combo.setCurrentIndex(0)  # the shown run (net #1) alone
    assert dash.compared is None and data(dash.loss_plot.step_curve) == (ax, ay)
    dash.show_current()
    assert items(combo) == ["None", "net #1", "net #2"] and combo.currentIndex() == 0


# ----------------------------------------------------------------------------- export


def test_file_stem_is_a_plain_file_name():
    assert file_stem("main #2") == "main_2"
    assert file_stem("gen/er:ator (2)") == "gen_er_ator_2"
    assert file_stem("###") == "run" and file_stem("") == "run"


def test_export_png_and_csv_ask_where_then_save_and_announce(
    dash, tmp_path, monkeypatch, warnings_shown
):
    messages: list[str] = []
    dash.message.connect(messages.append)
    dash.start_folder = lambda: tmp_path
    assert dash.export_png_dialog() is None and dash.export_csv_dialog() is None  # no run
    run_a = dash.begin_run("main #1", HealthThresholds())
    dash.add_records(run_records())
    dash.begin_run("main {2}", HealthThresholds())  # braces: not a format string
    records = run_records(2.0)
    dash.add_records(records)
    dash.refresh()

    # PNG: the run's name as the file name, a PNG filter, the suffix added when left out
    save = SaveDialog(monkeypatch, tmp_path / "chosen")
    dash.export_png_action.trigger()
    (parent, title, start, filter_) = save.calls[-1]
    assert parent is dash and "image" in title
    assert start == tmp_path / "main_2.png" and "*.png" in filter_
    png = tmp_path / "chosen.png"
    assert QImage(str(png)).width() == round(dash.width() * dash.devicePixelRatioF())
    assert messages == [f"Saved the dashboard image to {png}"]

    # compared: both names; the next dialog opens where the last export went
    (tmp_path / "sub").mkdir()
    save.answer = str(tmp_path / "sub" / "both.png")
    dash.compare(dash.current, run_a)
    assert dash.export_png_dialog() == tmp_path / "sub" / "both.png"
    assert save.calls[-1][2] == tmp_path / "main_2_vs_main_1.png"
    assert messages[-1].endswith(str(tmp_path / "sub" / "both.png"))

    # CSV: the shown run's records
    save.answer = str(tmp_path / "records.csv")
    dash.show_current()
    dash.export_csv_action.trigger()
    (_, title, start, filter_) = save.calls[-1]
    assert start == tmp_path / "sub" / "main_2.csv" and "*.csv" in filter_ and "CSV" in title
    with open(tmp_path / "records.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["kind", "epoch", "step"]
    assert [float(r[3]) for r in rows if r[0] == "step"] == steps_of(records)[1]
    assert messages[-1] == f"Saved the records of main {{2}} to {tmp_path / 'records.csv'}"

    # cancelled: nothing written, nothing said
    save.answer = ""
    before = sorted(tmp_path.iterdir())
    assert dash.export_csv_dialog() is None and dash.export_png_dialog() is None
    assert sorted(tmp_path.iterdir()) == before and len(messages) == 3
    assert warnings_shown == []


def test_export_errors_are_shown_in_a_warning_never_raised(
    dash, tmp_path, monkeypatch, warnings_shown
):
    messages: list[str] = []
    dash.message.connect(messages.append)
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    save = SaveDialog(monkeypatch, tmp_path / "no such folder" / "x.png")
    assert dash.export_png_dialog() is None
    (title, text) = warnings_shown[-1]
    assert title == "Cannot export the dashboard"
    assert str(tmp_path / "no such folder" / "x.png") in text and "folder" in text
    save.answer = str(tmp_path / "no such folder" / "x.csv")
    assert dash.export_csv_dialog() is None
    assert "x.csv" in warnings_shown[-1][1]

    # an unexpected failure is shown too and leaves the dashboard usable
    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dash, "export_csv", broken)
    save.answer = str(tmp_path / "y.csv")
    assert dash.export_csv_dialog() is None
    assert warnings_shown[-1] == ("Cannot export the dashboard", "RuntimeError: disk on fire")
    assert messages == [] and not list(tmp_path.glob("*.csv"))
    assert len(warnings_shown) == 3


# ----------------------------------------------------------------------------- main window


@pytest.fixture
def window(qtbot, tmp_path):
    path = tmp_path / "project" / "xor.json"
    path.parent.mkdir()
    shutil.copy(assets.example("xor_mlp"), path)
    win = MainWindow(load(path, CATALOG), path, autosave_ms=0)
    win.errors = []
    win.show_error = lambda title, message: win.errors.append((title, message))
    qtbot.addWidget(win)
    yield win
    win.ask_save_changes = lambda: "discard"
    win.close()
    MainWindow.windows.clear()


def test_file_export_holds_the_dashboard_exports(window, qtbot, tmp_path, monkeypatch):
    png_action = window.export_dashboard_png_action
    csv_action = window.export_dashboard_csv_action
    assert png_action in window.export.menu.actions() and csv_action in window.export.menu.actions()
    assert window.export.menu.menuAction() in window.file_menu.actions()
    assert not png_action.isEnabled() and not csv_action.isEnabled()  # no run yet
    assert png_action.statusTip() and csv_action.statusTip()
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.summary_dock.raise_()

    dash = window.dashboard
    dash.begin_run("main #1", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    assert png_action.isEnabled() and csv_action.isEnabled()

    save = SaveDialog(monkeypatch, tmp_path / "out" / "dash")
    (tmp_path / "out").mkdir()
    png_action.trigger()
    # the dashboard is brought forward (the image is what it shows); the dialog opens in
    # the project's folder
    assert not dash.visibleRegion().isEmpty()
    assert save.calls[-1][0] is dash and save.calls[-1][2] == tmp_path / "project" / "main_1.png"
    assert QImage(str(tmp_path / "out" / "dash.png")).height() > 200
    assert window.statusBar().currentMessage() == (
        f"Saved the dashboard image to {tmp_path / 'out' / 'dash.png'}"
    )
    save.answer = str(tmp_path / "out" / "run.csv")
    csv_action.trigger()
    assert save.calls[-1][2] == tmp_path / "out" / "main_1.csv"  # where the last one went
    assert (tmp_path / "out" / "run.csv").read_text().startswith("kind,epoch,step")
    assert str(tmp_path / "out" / "run.csv") in window.statusBar().currentMessage()

    # an error reaches the window's (replaceable) error dialog; the window goes on
    save.answer = str(tmp_path / "missing" / "x.png")
    dash.export_png_action.trigger()
    assert window.errors and window.errors[-1][0] == "Cannot export the dashboard"
    assert str(tmp_path / "missing" / "x.png") in window.errors[-1][1]


def _rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


def _check_top_row(dash: Dashboard) -> dict[str, QRect]:
    """The top row's widgets: shown, inside the dashboard, not overlapping one another nor
    the tabs below, each at least as large as it asks to be (not squeezed)."""
    widgets = {
        "title": dash.title,
        "state": dash.state_label,
        "compare label": dash.compare_label,
        "compare": dash.compare_combo,
        "smoothing": dash.smoothing,
        "smoothing value": dash.smoothing_label,
        "log": dash.log_y,
        "export": dash.export_button,
    }
    rects = {k: _rect_in(w, dash) for k, w in widgets.items()}
    tabs = _rect_in(dash.tabs, dash)
    for name, w in widgets.items():
        r = rects[name]
        assert w.isVisible(), name
        assert dash.rect().contains(r), name
        assert r.bottom() < tabs.top(), name
        if name not in ("title", "state"):  # those two elide
            assert r.width() >= w.minimumSizeHint().width(), name
    names = list(rects)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not rects[a].intersects(rects[b]), (a, b)
    return rects


@pytest.mark.parametrize("size", [(1400, 860), (1024, 700)])
def test_the_top_row_fits_the_main_window(window, qtbot, size):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    dash = window.dashboard
    for name in ("main #1", "main #2"):
        dash.begin_run(name, HealthThresholds())
        dash.add_records(run_records())
    dash.compare_combo.setCurrentIndex(1)
    window.dashboard_dock.raise_()
    qtbot.waitUntil(lambda: not dash.visibleRegion().isEmpty(), timeout=WAIT)
    qtbot.wait(50)
    # the window keeps the size asked for: the dashboard's controls do not hold it wider
    assert (window.width(), window.height()) == size
    rects = _check_top_row(dash)
    centre = rects["title"].center().y()
    if dash.wide_top:  # one row
        assert all(abs(r.center().y() - centre) <= 4 for r in rects.values())
    else:  # the name and Export above, Compare with and the loss controls below
        assert abs(rects["export"].center().y() - centre) <= 4
        assert rects["compare"].top() > rects["title"].bottom()
        assert rects["log"].top() > rects["title"].bottom()
    assert dash.wide_top == (size[0] >= 1400)
    assert dash.state_label.shown_text() == dash.state_label.text()  # not elided


def test_the_top_row_wraps_when_narrow_and_names_elide(dash, qtbot):
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    assert dash.wide_top
    _check_top_row(dash)
    # the one-row arrangement does not stop the dashboard from being made narrower: the
    # top row needs no more width than the plots' tabs
    margins = dash.layout().contentsMargins()
    narrow = dash.minimumSizeHint().width()
    assert narrow <= dash.tabs.minimumSizeHint().width() + margins.left() + margins.right()
    assert narrow < 620
    dash.resize(narrow, 520)
    qtbot.wait(20)
    assert not dash.wide_top
    rects = _check_top_row(dash)
    assert rects["compare"].top() > rects["title"].bottom()
    dash.resize(1000, 520)
    qtbot.wait(20)
    assert dash.wide_top
    _check_top_row(dash)

    # a name too long for its room ends in "…", the whole of it in the tooltip
    label = ElidedLabel("a rather long run name that does not fit")
    qtbot.addWidget(label)
    label.resize(80, 20)
    label.show()
    qtbot.waitExposed(label)
    assert label.shown_text().endswith("…") and label.toolTip() == label.text()
    label.resize(label.sizeHint().width() + 10, 20)
    assert label.shown_text() == label.text() and label.toolTip() == ""
    assert label.minimumSizeHint().width() < 40


# ----------------------------------------------------------------------------- class names


def test_the_confusion_matrix_names_the_classes(dash):
    def headers():
        table = dash.confusion
        rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
        cols = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
        return rows, cols

    names = ["setosa", "versicolor", "virginica"]
    matrix = [[5, 0, 0], [0, 4, 1], [0, 0, 5]]
    dash.begin_run("iris", HealthThresholds(), None, class_names=names)
    dash.add_records([epoch(1, 1, 0.5, 0.6, confusion=matrix)])
    dash.refresh()
    assert headers() == (names, names)
    assert dash.confusion.item(1, 2).text() == "1"
    # the old call (no class names): numbers
    dash.begin_run("plain", HealthThresholds(), None)
    dash.add_records([epoch(1, 1, 0.5, 0.6, confusion=matrix)])
    dash.refresh()
    assert headers() == (["0", "1", "2"], ["0", "1", "2"])
    # names that do not fit the matrix are not used
    dash.begin_run("odd", HealthThresholds(), class_names=["a", "b"])
    dash.add_records([epoch(1, 1, 0.5, 0.6, confusion=matrix)])
    dash.refresh()
    assert headers() == (["0", "1", "2"], ["0", "1", "2"])
    # each run keeps its own: comparing shows the shown run's names
    dash.compare("iris", "odd")
    assert headers() == (names, names)


def _iris_project(tmp_path: Path):
    """The XOR example turned into an iris classifier: 4 inputs, 3 logits, cross-entropy."""
    doc = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))
    net = doc["models"]["main"]
    nodes = {n["id"]: n for n in net["nodes"]}
    nodes["n1"]["params"]["shape"] = [4]
    nodes["n4"]["params"]["out_features"] = 3
    net["nodes"] = [n for n in net["nodes"] if n["id"] != "n5"]  # no sigmoid
    net["edges"] = [e for e in net["edges"] if "n5" not in (e["from"], e["to"])]
    net["edges"].append({"from": "n4", "from_port": "out", "to": "n6", "to_port": "in"})
    doc["training"].update(dataset={"name": "iris"}, loss="cross_entropy", epochs=3, batch_size=64)
    path = tmp_path / "iris.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return load(path, CATALOG)


def test_a_run_on_iris_names_the_species(qtbot, tmp_path):
    pytest.importorskip("sklearn")
    doc = EditorDocument(_iris_project(tmp_path))
    canvas = Canvas(doc)
    qtbot.addWidget(canvas)
    dashboard = Dashboard()
    qtbot.addWidget(dashboard)
    panel = TrainingPanel(doc, canvas, dashboard)
    panel.show_error = lambda title, message: pytest.fail(f"{title}: {message}")
    qtbot.addWidget(panel)
    try:
        assert panel.start()
        # the run's end is drawn a plot group per turn of the event loop
        qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)
        run = dashboard.current
        assert run.class_names == ["setosa", "versicolor", "virginica"]
        table = dashboard.confusion
        assert table.rowCount() == 3
        assert [table.horizontalHeaderItem(i).text() for i in range(3)] == run.class_names
        assert [table.verticalHeaderItem(i).text() for i in range(3)] == run.class_names
        assert int(np.asarray(table.counts).sum()) == 30  # the 20 % validation split
    finally:
        trainer = panel.trainer
        assert panel.shutdown(10.0)
        if trainer is not None:
            assert trainer.join(10.0)
    assert not [t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"]


# ----------------------------------------------------------------------------- palette


def _darkest(image: QImage) -> int:
    return min(
        QColor(image.pixel(x, y)).lightness()
        for x in range(image.width())
        for y in range(image.height())
    )


def test_disabled_widgets_look_disabled(qtbot):
    palette = themed_palette(QPalette())
    active, disabled = QPalette.ColorGroup.Active, QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        assert palette.color(active, role) == theme.TEXT
        assert palette.color(disabled, role) == theme.DISABLED
        # clearly lighter: muted text on the light theme
        assert palette.color(disabled, role).lightness() > theme.TEXT.lightness() + 100
    assert palette.color(disabled, QPalette.ColorRole.Base) != palette.color(
        active, QPalette.ColorRole.Base
    )
    assert palette.color(active, QPalette.ColorRole.Window) == theme.WINDOW

    # drawn: a disabled button's label is light grey, an enabled one's dark
    style = QStyleFactory.create("Fusion")
    button = QPushButton("Start")
    qtbot.addWidget(button)
    button.setStyle(style)
    button.setPalette(palette)
    button.resize(120, 32)
    label = QRect(20, 6, 80, 20)  # the text, inside the frame
    enabled = button.grab(label).toImage()
    button.setEnabled(False)
    shown_disabled = button.grab(label).toImage()
    assert _darkest(enabled) < 80
    assert _darkest(shown_disabled) > 140

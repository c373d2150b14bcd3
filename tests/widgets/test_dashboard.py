"""The training dashboard: what its plots draw from the trainer's records (read back from the
plot items), the runs of a session and their comparison, PNG and CSV export, a real run
relayed by the training panel, and the layout of the Layers tab."""

from __future__ import annotations

import csv
import errno
import math
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from dashboard_records import data, epoch, run_records, step, steps_of
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QWidget

import assets
from builder import CATALOG
from builder.training.config import HealthThresholds
from builder.training.records import (
    EpochRecord,
    EvaluationRecord,
    Histogram,
    ProbeRecord,
    StatusRecord,
    StepRecord,
)
from graph.errors import NeuralCanvasError
from graph.project_file import load
from widgets.canvas import Canvas
from widgets.commands import SetParam
from widgets.dashboard import Dashboard, DashboardExportError
from widgets.editor_document import EditorDocument
from widgets.plots import StickyViewBox
from widgets.training_panel import TrainingPanel

WAIT = 30_000  # ms; guards against hangs only


# ----------------------------------------------------------------------------- records


def python_ema(values, a: float) -> list[float]:
    out = [values[0]]
    for v in values[1:]:
        out.append(a * out[-1] + (1 - a) * v)
    return out


# ----------------------------------------------------------------------------- plots


def test_loss_plot_draws_every_step_and_every_epoch(dash, qtbot):
    records = run_records()
    dash.begin_run("a", HealthThresholds())
    dash.add_records(records)
    assert data(dash.loss_plot.step_curve) == ([], [])  # nothing drawn before refresh()
    dash.refresh()
    xs, ys = steps_of(records)
    assert data(dash.loss_plot.step_curve) == (xs, ys)
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert data(dash.loss_plot.epoch_train) == (
        [float(e.step) for e in epochs],
        [e.train_loss for e in epochs],
    )
    assert data(dash.loss_plot.epoch_val) == (
        [float(e.step) for e in epochs],
        [e.val_loss for e in epochs],
    )
    legend = [label.text for _, label in dash.loss_plot.legend.items]
    assert legend == [
        "train (step)",
        "train (smoothed)",
        "train (epoch)",
        "validation",
    ]
    assert dash.title.text() == "a" and "step 12" in dash.state_label.text()
    # no 2-D data points: no decision boundary, the gradient plot takes the row
    assert not dash.boundary.isVisibleTo(dash)
    qtbot.waitUntil(lambda: dash.gradient_plot.width() > 1.5 * dash.loss_plot.width())
    # more records: appended, nothing redrawn before refresh()
    more = [step(13, [0.01, 0.02], 4)]
    dash.add_records(more)
    assert data(dash.loss_plot.step_curve) == (xs, ys)
    dash.refresh()
    assert data(dash.loss_plot.step_curve) == (xs + [13.0, 14.0], ys + [0.01, 0.02])
    assert "step 14" in dash.state_label.text()
    refreshes = dash.refreshes
    dash.refresh()  # nothing changed: nothing drawn
    assert dash.refreshes == refreshes


def test_smoothing_and_log_scale_change_what_is_drawn(dash):
    records = run_records()
    dash.begin_run("a", HealthThresholds())
    dash.add_records(records)
    dash.refresh()
    xs, ys = steps_of(records)
    a = dash.loss_plot.smoothing
    assert a == pytest.approx(dash.smoothing.value() / 100)
    sx, sy = data(dash.loss_plot.smooth_curve)
    assert sx == xs and sy == pytest.approx(python_ema(ys, a))
    dash.smoothing.setValue(90)
    assert dash.smoothing_label.text() == "0.90"
    assert data(dash.loss_plot.smooth_curve)[1] == pytest.approx(python_ema(ys, 0.9))
    dash.smoothing.setValue(0)
    assert data(dash.loss_plot.smooth_curve)[1] == pytest.approx(ys)  # no smoothing: raw
    assert data(dash.loss_plot.step_curve) == (xs, ys)  # the raw curve never changes

    dash.set_log_scale(True)
    assert dash.log_y.isChecked() and dash.loss_plot.log_y
    lx, ly = data(dash.loss_plot.step_curve)
    assert lx == xs and ly == pytest.approx(np.log10(ys).tolist())
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert data(dash.loss_plot.epoch_train)[1] == pytest.approx(
        np.log10([e.train_loss for e in epochs]).tolist()
    )
    dash.set_log_scale(False)
    assert data(dash.loss_plot.step_curve) == (xs, ys)


def test_metrics_gradients_heatmap_histograms_boundary_and_confusion(dash):
    rng = np.random.default_rng(0)
    points = (rng.uniform(-1, 1, (30, 2)), rng.integers(0, 2, 30))
    dash.begin_run("a", HealthThresholds(vanishing=1e-6, exploding=1e3), points=points)
    records = run_records()
    records[-1] = epoch(
        3, 12, 0.2, 0.25, accuracy=0.8, f1=0.75, precision=0.7, confusion=[[5, 1], [2, 7]]
    )
    gx, gy = tuple(np.linspace(-1, 1, 7).tolist()), tuple(np.linspace(-2, 2, 5).tolist())
    grid = np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    weights = Histogram((1, 4, 2), (-1.0, 0.0, 1.0, 2.0))
    activations = Histogram((3, 0, 5, 1), (0.0, 0.5, 1.0, 1.5, 2.0))
    records.append(ProbeRecord(3, 12, "fc1", weights, activations, gx, gy, grid))
    dash.add_records(records)
    dash.refresh()

    # metrics: one curve per shown metric, points at the epochs' steps
    curves = dash.metrics_plot.curves
    assert set(curves) == {"accuracy", "f1"}  # precision is in the CSV, not on the plot
    assert data(curves["accuracy"]) == ([4.0, 8.0, 12.0], pytest.approx([0.6, 0.7, 0.8]))
    assert data(curves["f1"]) == ([12.0], [0.75])
    assert "validation" in dash.metrics_plot.plotItem.titleLabel.text

    # gradient norms: one line per layer, on a log axis
    lines = dash.gradient_plot.curves
    assert set(lines) == {"fc1", "fc2"}
    gx1, gy1 = data(lines["fc1"])
    assert gx1 == [4.0, 8.0, 12.0]
    assert gy1 == pytest.approx(np.log10([0.5, 0.25, 0.5 / 3]).tolist())
    assert data(lines["fc2"])[1] == pytest.approx(np.log10([2.0, 4.0, 6.0]).tolist())
    (vlo, vhi), (elo, ehi) = dash.gradient_plot.band_ranges()
    assert vhi == pytest.approx(1e-6) and elo == pytest.approx(1e3)

    # heatmap: layers x reports, log10 norms
    image = dash.heatmap.image.image
    assert image.shape == (2, 3)
    assert image[0] == pytest.approx(np.log10([0.5, 0.25, 0.5 / 3]), abs=1e-6)
    assert image[1] == pytest.approx(np.log10([2.0, 4.0, 6.0]), abs=1e-6)
    assert dash.heatmap.layers == ["fc1", "fc2"]
    rect = dash.heatmap.image.mapRectToParent(dash.heatmap.image.boundingRect())
    assert rect.left() == pytest.approx(2.0) and rect.right() == pytest.approx(14.0)

    # histograms of the probed layer (edges, counts)
    assert data(dash.weights_hist.curve) == (list(weights.edges), [1.0, 4.0, 2.0])
    assert data(dash.activations_hist.curve) == (list(activations.edges), [3.0, 0.0, 5.0, 1.0])
    assert "fc1" in dash.weights_hist.plotItem.titleLabel.text

    # decision boundary: the grid as an image over its extent, the points on top
    assert dash.boundary.isVisibleTo(dash)
    shown = dash.boundary.image.image
    assert shown.shape == (5, 7) and np.array_equal(shown, grid)
    rect = dash.boundary.image.mapRectToParent(dash.boundary.image.boundingRect())
    assert rect.left() < gx[0] < gx[-1] < rect.right()
    assert rect.top() < gy[0] < gy[-1] < rect.bottom()
    px, py = dash.boundary.scatter.getData()
    assert np.array_equal(px, points[0][:, 0]) and np.array_equal(py, points[0][:, 1])

    # confusion matrix of the validation split, then of the test split
    def cells():
        view = dash.confusion
        return [
            [int(view.item(i, j).text()) for j in range(view.columnCount())]
            for i in range(view.rowCount())
        ]

    assert cells() == [[5, 1], [2, 7]]
    assert "validation" in dash.confusion_title.text()
    assert dash.confusion.verticalHeaderItem(1).text() == "1"
    assert dash.confusion.horizontalHeaderItem(0).text() == "0"
    assert "rows are the true classes" in dash.confusion_title.text()
    dash.add_records([EvaluationRecord("test", 0.3, {"confusion": [[9, 0], [1, 8]]}, 3, 12)])
    dash.refresh()
    assert cells() == [[9, 0], [1, 8]] and "(test)" in dash.confusion_title.text()
    dash.add_records([StatusRecord("finished", 3, 12)])
    dash.refresh()
    assert dash.state_label.text().startswith("finished")


def test_a_run_without_validation_draws_no_all_nan_data(dash):
    """No validation split: the validation curve, its legend entry and the NaN points that
    made pyqtgraph warn "All-NaN slice encountered" are all absent."""
    rng = np.random.default_rng(1)
    points = (rng.uniform(-1, 1, (20, 2)), rng.integers(0, 2, 20))
    records = []
    for e in range(1, 4):
        records.append(step(e, [1.0 / e], e, {"fc1": 1.0}))
        records.append(epoch(e, e, 1.0 / e, None, accuracy=float("nan")))
    nan_grid = np.full((3, 3), np.nan, dtype=np.float32)
    records.append(ProbeRecord(3, 3, None, None, None, (0.0, 0.5, 1.0), (0.0, 0.5, 1.0), nan_grid))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dash.begin_run("a", HealthThresholds(), points=points)
        dash.add_records(records)
        dash.refresh()
        for i in range(dash.tabs.count()):
            dash.tabs.setCurrentIndex(i)
            dash.grab()  # paints: the scatter items compute their bounds here
        dash.set_log_scale(True)
        dash.tabs.setCurrentIndex(0)
        dash.grab()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not messages
    assert data(dash.loss_plot.epoch_val) == ([], [])
    assert "validation" not in [label.text for _, label in dash.loss_plot.legend.items]
    assert data(dash.metrics_plot.curves["accuracy"]) == ([], [])
    assert "training data" in dash.metrics_plot.plotItem.titleLabel.text
    assert data(dash.loss_plot.epoch_train)[0] == [1.0, 2.0, 3.0]


def test_scatter_never_gets_all_nan_points(qtbot):
    """The decision boundary's scatter (and the plots' markers) on NaN data."""
    from widgets.plots import DecisionBoundary, MetricsPlot

    boundary = DecisionBoundary()
    metrics = MetricsPlot()
    for w in (boundary, metrics):
        qtbot.addWidget(w)
        w.resize(300, 200)
        w.show()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boundary.set_points((np.full((5, 2), np.nan), np.zeros(5)))
        metrics.set_metrics({"accuracy": (np.arange(3.0), np.full(3, np.nan))})
        boundary.grab()
        metrics.grab()
    assert not [w for w in caught if "All-NaN" in str(w.message)]
    assert boundary.points is None
    x, _ = boundary.scatter.getData()
    assert len(x) == 0


def test_grid_lines_are_opaque_behind_the_data_at_the_major_ticks(dash, qtbot):
    """pyqtgraph's own grid is drawn by the axes, over the data, in translucent lines that
    cost milliseconds per repaint; the plots draw their own."""
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    qtbot.wait(50)  # the views range themselves on the next paint
    for plot in (dash.loss_plot, dash.metrics_plot, dash.gradient_plot):
        for name in ("left", "bottom"):
            assert plot.plotItem.getAxis(name).grid is False
        grid = plot.grid
        assert grid.isVisible() and grid._pen.color().alpha() == 255
        assert all(grid.zValue() < item.zValue() for item in plot.plotItem.listDataItems())
        xs, ys = grid.lines()
        rect = plot.plotItem.vb.viewRect()
        assert len(xs) >= 2 and len(ys) >= 2
        assert all(rect.left() <= x <= rect.right() for x in xs)
        assert all(rect.top() <= y <= rect.bottom() for y in ys)
        # at the axis' tick values
        axis = plot.plotItem.getAxis("bottom")
        levels = axis.tickValues(rect.left(), rect.right(), plot.plotItem.vb.width())
        assert set(xs) <= {float(v) for _, values in levels for v in values}
    for plot in (dash.heatmap, dash.boundary):
        assert not plot.grid.isVisible()


# ----------------------------------------------------------------------------- runs


def test_runs_are_kept_and_compared(dash):
    a_records, b_records = run_records(1.0), run_records(3.0, epochs=2)
    run_a = dash.begin_run("net #1", HealthThresholds())
    dash.add_records(a_records)
    dash.refresh()
    run_b = dash.begin_run("net #2", HealthThresholds())
    dash.add_records(b_records)
    dash.refresh()
    assert list(dash.runs) == ["net #1", "net #2"] and dash.current is run_b
    assert dash.begin_run("net #1", HealthThresholds()).name == "net #1 (2)"
    dash.runs.pop("net #1 (2)")
    dash.current = run_b
    dash.show_current()

    ax, ay = steps_of(a_records)
    bx, by = steps_of(b_records)
    assert data(dash.loss_plot.step_curve) == (bx, by)
    assert data(dash.loss_plot.other_smooth) == ([], [])

    dash.compare(run_a, "net #2")  # a solid, b dashed
    assert data(dash.loss_plot.step_curve) == (ax, ay)
    a = dash.loss_plot.smoothing
    ox, oy = data(dash.loss_plot.other_smooth)
    assert ox == bx and oy == pytest.approx(python_ema(by, a))
    assert dash.loss_plot.other_smooth.opts["pen"].style() == Qt.PenStyle.DashLine
    b_epochs = [r for r in b_records if isinstance(r, EpochRecord)]
    assert data(dash.loss_plot.other_val) == (
        [float(e.step) for e in b_epochs],
        [e.val_loss for e in b_epochs],
    )
    legend = [label.text for _, label in dash.loss_plot.legend.items]
    assert "net #2 (smoothed)" in legend and "net #2 (validation)" in legend
    # the title names the shown run, "Compare with" the dashed one
    assert dash.title.text() == "net #1" and dash.compare_combo.currentText() == "net #2"
    # the live run goes on while compared: only the overlay follows it
    dash.add_records([step(9, [0.5], 3)])
    dash.refresh()
    assert data(dash.loss_plot.other_smooth)[0] == bx + [9.0]
    assert data(dash.loss_plot.step_curve) == (ax, ay)

    dash.show_current()
    assert data(dash.loss_plot.step_curve) == (bx + [9.0], by + [0.5])
    assert data(dash.loss_plot.other_smooth) == ([], [])
    assert data(dash.loss_plot.other_val) == ([], [])
    legend = [label.text for _, label in dash.loss_plot.legend.items]
    assert not [t for t in legend if t.startswith("net #2")]
    assert dash.title.text() == "net #2" and dash.compare_combo.currentText() == "None"


# ----------------------------------------------------------------------------- export


def test_export_png_writes_the_dashboard(dash, tmp_path):
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    path = dash.export_png(tmp_path / "dash.png")
    assert path == tmp_path / "dash.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull()
    ratio = dash.devicePixelRatioF()
    assert (image.width(), image.height()) == (
        round(dash.width() * ratio),
        round(dash.height() * ratio),
    )
    assert image.width() >= 600 and image.height() >= 300
    # not blank: the plots' white cards and the window colour both appear
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 25) for y in range(0, image.height(), 25)
    }
    assert len(colours) > 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dash.png"]  # no temporary left


def test_export_csv_holds_the_records(dash, tmp_path):
    dash.begin_run("a", HealthThresholds())
    # a report spanning three one-step epochs, then one epoch of three steps
    spanning = step(1, [0.9, 0.8, 0.7], 3, epoch_ends=(1, 2, 3))
    records = [
        spanning,
        epoch(1, 1, 0.9, 1.0, accuracy=0.25),
        epoch(2, 2, 0.8, 0.95, accuracy=0.5),
        epoch(3, 3, 0.7, None, accuracy=0.75, f1=0.5, confusion=[[1, 0], [0, 1]]),
        step(4, [0.6, 0.5, 1 / 3], 4),
        epoch(4, 6, 0.4777, 0.5, accuracy=1.0, f1=1.0),
    ]
    dash.add_records(records)
    path = dash.export_csv(tmp_path / "run.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    assert header == [
        "kind",
        "epoch",
        "step",
        "loss",
        "train_loss",
        "val_loss",
        "lr",
        "accuracy",
        "f1",
    ]
    col = {name: i for i, name in enumerate(header)}
    epoch_rows = [r for r in body if r[0] == "epoch"]
    step_rows = [r for r in body if r[0] == "step"]
    assert len(epoch_rows) + len(step_rows) == len(body)
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert len(epoch_rows) == len(epochs)
    for row, e in zip(epoch_rows, epochs):
        assert int(row[col["epoch"]]) == e.epoch and int(row[col["step"]]) == e.step
        assert float(row[col["train_loss"]]) == e.train_loss
        assert row[col["val_loss"]] == ("" if e.val_loss is None else repr(e.val_loss))
        assert float(row[col["lr"]]) == e.lr
        assert float(row[col["accuracy"]]) == e.metrics["accuracy"]
        assert row[col["f1"]] == ("" if "f1" not in e.metrics else repr(e.metrics["f1"]))
        assert row[col["loss"]] == ""
    want = [
        (s, r.epoch_of(s), loss)
        for r in records
        if isinstance(r, StepRecord)
        for s, loss in zip(range(r.first_step, r.step + 1), r.losses)
    ]
    got = [(int(r[col["step"]]), int(r[col["epoch"]]), float(r[col["loss"]])) for r in step_rows]
    assert got == want  # exact: the losses are written with repr
    assert [e for _, e, _ in got] == [1, 2, 3, 4, 4, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600


def test_export_errors_are_clear_and_leave_nothing_behind(dash, tmp_path):
    with pytest.raises(DashboardExportError, match="No run to export yet"):
        dash.export_csv(tmp_path / "none.csv")
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    missing = tmp_path / "no such folder" / "x.png"
    with pytest.raises(DashboardExportError) as info:
        dash.export_png(missing)
    message = str(info.value)
    assert str(missing) in message and "folder" in message and "writ" in message
    assert isinstance(info.value, NeuralCanvasError)
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep")
    with pytest.raises(DashboardExportError, match="file.txt"):
        dash.export_csv(a_file / "run.csv")  # a file where a folder should be
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(DashboardExportError, match="folder"):
        dash.export_csv(folder)  # the target is a folder: nothing replaced
    assert folder.is_dir() and not list(folder.iterdir())
    assert a_file.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "folder"]


def test_export_to_an_unwritable_folder(dash, tmp_path, monkeypatch):
    dash.begin_run("a", HealthThresholds())
    dash.add_records(run_records())
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def refuse_in_locked(path, *args, **kwargs):  # what a folder without write access does
        if Path(path).parent == locked:  # (permissions do not stop root, so it is simulated)
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_in_locked)
    with pytest.raises(DashboardExportError, match="locked"):
        dash.export_png(locked / "x.png")
    with pytest.raises(DashboardExportError, match="locked") as info:
        dash.export_csv(locked / "x.csv")
    assert "permission" in str(info.value).lower()
    monkeypatch.undo()
    assert not list(locked.iterdir())


# ----------------------------------------------------------------------------- layout


def _rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


def test_layers_tab_lays_out_its_row_above_the_plots(dash, qtbot):
    dash.begin_run("a", HealthThresholds())
    chosen = []
    dash.layer_selected.connect(chosen.append)
    dash.add_records(run_records())
    dash.refresh()
    # the layers listed, the first one shown and probed (not an empty histogram under it)
    assert [dash.layer_combo.itemText(i) for i in range(dash.layer_combo.count())] == ["fc1", "fc2"]
    assert dash.layer_combo.currentText() == "fc1" and chosen == ["fc1"]
    dash.tabs.setCurrentIndex(dash.tabs.indexOf(dash.weights_hist.parentWidget()))
    qtbot.wait(50)
    assert dash.tabs.tabText(dash.tabs.currentIndex()) == "Layers"
    bar = _rect_in(dash.tabs.tabBar(), dash)
    row = [dash.layer_label, dash.layer_combo, dash.layer_hint]
    plots = [dash.weights_hist, dash.activations_hist]
    shown = row + plots
    assert all(w.isVisible() for w in shown)
    rects = [_rect_in(w, dash) for w in shown]
    for r in rects:
        assert not r.intersects(bar) and r.top() >= bar.bottom()
        assert dash.rect().contains(r)
    for i, r in enumerate(rects):
        for other in rects[i + 1 :]:
            assert not r.intersects(other)
    assert max(r.bottom() for r in rects[:3]) < min(r.top() for r in rects[3:])
    assert all(r.height() > 150 for r in rects[3:])
    # no label of the dashboard lies over the tab bar
    for label in dash.findChildren(QLabel):
        if label.isVisible():
            assert not _rect_in(label, dash).intersects(bar), label.text()

    # the user's choice is kept for the next run
    dash.layer_combo.setCurrentIndex(1)
    dash.layer_combo.textActivated.emit("fc2")
    assert chosen[-1] == "fc2"
    dash.begin_run("b", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    assert dash.layer_combo.currentText() == "fc2" and chosen[-1] == "fc2"


# ----------------------------------------------------------------------------- a real run


@pytest.fixture
def panel(qtbot):
    project = load(assets.example("xor_mlp"), CATALOG)
    project.training.update(epochs=40, report_every=5)
    doc = EditorDocument(project)
    canvas = Canvas(doc)
    qtbot.addWidget(canvas)
    dashboard = Dashboard()
    qtbot.addWidget(dashboard)
    dashboard.resize(1000, 520)
    dashboard.show()
    p = TrainingPanel(doc, canvas, dashboard)
    p.show_error = lambda title, message: pytest.fail(f"{title}: {message}")
    qtbot.addWidget(p)
    yield p
    trainer = p.trainer
    assert p.shutdown(10.0)
    if trainer is not None:
        assert trainer.join(10.0)
    assert not [t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"]


def test_a_real_run_plots_the_trainers_step_losses(qtbot, panel):
    relayed = []
    dashboard = panel.dashboard
    add = dashboard.add_records
    dashboard.add_records = lambda records: (relayed.extend(records), add(records))
    assert panel.start()
    trainer = panel.trainer
    qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)
    assert trainer.join(0) and panel.last_trainer is trainer and trainer.state == "finished"
    steps = [r for r in trainer.history.steps()]
    assert steps and steps[-1].step == 40  # xor: 4 rows, full batch, 1 step per epoch
    xs, ys = steps_of(steps)
    assert xs == [float(s) for s in range(1, 41)]
    assert data(dashboard.loss_plot.step_curve) == (xs, ys)
    # every record the trainer made reached the dashboard (the last ones too)
    assert [r for r in relayed if isinstance(r, StepRecord)] == steps
    assert relayed[-1].kind == "status" and relayed[-1].state == "finished"
    run = dashboard.current
    assert run.state == "finished" and dashboard.state_label.text().startswith("finished")
    epochs = trainer.history.epochs
    assert data(dashboard.loss_plot.epoch_train) == (
        [float(e.step) for e in epochs],
        [e.train_loss for e in epochs],
    )
    assert set(dashboard.gradient_plot.curves) == {"hidden", "logit"}
    # the data points are drawn from the start (probes of the grid come on the trainer's
    # clock, so a run this short may end before the first)
    x, y = dashboard.boundary.scatter.getData()
    assert len(x) == 4 and dashboard.boundary.points is not None
    assert math.isfinite(ys[-1]) and ys[-1] < ys[0]


def test_weights_export_after_a_run_saves_the_trained_weights(qtbot, tmp_path, monkeypatch):
    """The panel lets go of the trainer when the run ends; File > Export > Weights must
    still save the trained weights (it saved the freshly compiled ones)."""
    import torch

    from widgets import files
    from widgets.main_window import MainWindow

    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    project = load(assets.example("xor_mlp"), CATALOG)
    project.training.update(epochs=30)
    window = MainWindow(project, autosave_ms=0)
    window.show_error = lambda title, message: pytest.fail(f"{title}: {message}")
    window.ask_save_changes = lambda: "discard"
    qtbot.addWidget(window)
    try:
        fresh, is_trained = window.export.model()
        assert not is_trained
        fresh = fresh.state_dict()
        assert window.start_training()
        trainer = window.training.trainer
        qtbot.waitUntil(lambda: window.training.state == "idle", timeout=WAIT)
        assert window.training.trainer is None and window.training.last_trainer is trainer
        window.export.ask_save_path = lambda title, name, filter_: str(tmp_path / "w.pt")
        assert window.export.export_weights() == tmp_path / "w.pt"
        saved = torch.load(tmp_path / "w.pt", weights_only=True)
        trained = trainer.model.state_dict()
        assert saved.keys() == trained.keys()
        for k in trained:
            assert torch.equal(saved[k], trained[k].cpu())
        assert any(not torch.equal(saved[k], fresh[k]) for k in fresh)
        assert "trained weights" in window.statusBar().currentMessage()
        # an edit of the network since the run: those weights no longer fit it
        doc = window.doc
        linear = next(n for n in doc.net.nodes if doc.net.type_of(n) == "Linear")
        doc.push(SetParam(doc.net, linear, "out_features", 6))
        _, is_trained = window.export.model()
        assert not is_trained
        doc.undo.undo()
        _, is_trained = window.export.model()
        assert is_trained
    finally:
        window.close()
        MainWindow.windows.clear()


# ----------------------------------------------------------------------------- live redraws


def test_refresh_live_draws_one_visible_plot_per_call_and_defers_hidden_tabs(dash, qtbot):
    """The training panel's tick redraws one plot group at a time, in turn; a plot on a
    hidden tab waits until its tab is shown; nothing is lost."""
    records = run_records()
    dash.begin_run("a", HealthThresholds())
    dash.add_records(records)
    assert dash.tabs.currentIndex() == 0  # Overview: loss, metrics, gradients shown
    dash.refresh_live()  # the first live redraw: the loss plot
    assert data(dash.loss_plot.step_curve)[1] == steps_of(records)[1]
    assert "loss" not in dash._dirty and "grads" in dash._dirty
    dash.refresh_live()  # within live_interval of the last one: nothing
    assert "grads" in dash._dirty and dash.gradient_plot.curves == {}
    dash.live_interval = dash.live_budget = 0.0  # no wait between redraws
    dash.refresh_live()
    assert set(dash.gradient_plot.curves) == {"fc1", "fc2"}
    for _ in range(10):
        dash.refresh_live()
    assert dash.heatmap.image.image is None  # its tab is hidden: still waiting
    assert dash.metrics_plot.isVisible() and "metrics" not in dash._dirty
    dash.tabs.setCurrentIndex(1)  # Gradients
    assert dash.heatmap.image.image is not None and dash.heatmap.image.image.shape[0] == 2
    assert not dash._dirty & {"loss", "grads", "metrics", "heat"}


def test_live_view_ranges_move_only_when_the_data_outgrows_them(dash, qtbot):
    """While a run is live the loss plot's range holds still as the curve grows inside it
    (no re-layout of the axes at every redraw), grows with room to spare when the data
    leaves it, and fits the data exactly on a full refresh; each live redraw is painted
    once (the range is set before the paint, not during it)."""
    vb = dash.loss_plot.plotItem.vb
    dash.live_interval = dash.live_budget = 0.0
    dash.begin_run("live", HealthThresholds())
    ranges, first, rng = [], 1, np.random.default_rng(0)
    for _ in range(30):
        losses = 1.0 + 0.1 * rng.random(10)
        dash.add_records([step(first, losses, epoch=1)])
        first += 10
        dash._dirty &= {"loss", "status"}  # the loss plot alone, redrawn at every call
        dash.refresh_live()
        (x0, x1), _ = vb.viewRange()
        ranges.append((x0, x1))
        assert x0 <= 1 and x1 >= first - 1  # every point is in view
        assert first - 2 >= StickyViewBox.FILL * (x1 - x0) * 0.9  # the data fills the view
    changes = sum(a != b for a, b in zip(ranges, ranges[1:]))
    assert 0 < changes <= 10  # 300 steps in 30 redraws: a handful of re-layouts, not 29
    assert ranges[-1][1] > 1.2 * 300  # room to grow past the newest step

    qtbot.wait(50)  # the loop's redraws painted
    paints = []
    view = dash.loss_plot
    original = type(view).paintEvent

    def counting(event):
        paints.append(1)
        return original(view, event)

    view.paintEvent = counting
    dash.add_records([step(first, [1.05] * 10, epoch=1)])
    dash._dirty &= {"loss", "status"}
    dash.refresh_live()
    qtbot.wait(50)
    assert len(paints) == 1

    dash._dirty.add("loss")
    dash.refresh()  # a full refresh (the end of a run) fits exactly, as pyqtgraph would
    (x0, x1), _ = vb.viewRange()
    span = (first + 9) - 1
    assert x1 - x0 < 1.1 * span and x0 <= 1 and x1 >= first + 9


def test_live_redraws_keep_to_their_share_of_the_gui_thread(dash, qtbot, monkeypatch):
    """A plot group whose live redraw cost t seconds of the GUI thread (drawing and the
    paints since the previous one) waits n * t / live_budget seconds (n visible groups)
    before its next: the groups together keep to the budget (the trainer's Python waits for
    the interpreter lock while the GUI thread draws), and a costly group does not hold the
    others back."""
    import widgets.dashboard as dashboard_module
    from widgets.dashboard import LIVE_GROUPS

    clock = [100.0]
    monkeypatch.setattr(dashboard_module.time, "monotonic", lambda: clock[0])
    dash.live_interval, dash.live_budget = 0.1, 0.05
    dash.begin_run("budget", HealthThresholds())
    dash.add_records(run_records())
    slow = dash._draw
    # The redraw's cost is measured on a clock the test moves: a redraw costs 20 ms of it,
    # painting nothing more, however busy the machine is.
    spent = [0.0]
    monkeypatch.setattr(dashboard_module.time, "thread_time", lambda: spent[0])
    monkeypatch.setattr(dash, "_group_painted", lambda keys: 0.0)
    drawn: list[set] = []

    def costly(dirty, live=False):  # a redraw that takes 20 ms of the GUI thread
        slow(dirty, live)
        drawn.append(set(dirty))
        spent[0] += 0.02

    monkeypatch.setattr(dash, "_draw", costly)
    visible = [g for g in LIVE_GROUPS if dash._group_visible(g)]
    assert len(visible) == 3  # loss, gradients, metrics on the Overview
    dash.refresh_live()
    assert "loss" in drawn[-1]
    loss = LIVE_GROUPS[0]
    assert dash.live_wait(0.02, 3) == pytest.approx(1.2)  # 3 x 20 ms / 5 %
    assert dash._group_due[loss] == pytest.approx(100.0 + 1.2)
    dash.refresh_live()  # within live_interval of any redraw: nothing
    assert len(drawn) == 1
    clock[0] += 0.15  # the next group goes: the loss plot's wait is its own
    dash.refresh_live()
    assert "grads" in drawn[-1]
    dash.add_records([step(100, [0.5], epoch=4)])
    count = len(drawn)
    for _ in range(3):  # within the loss group's wait: the others only (metrics)
        clock[0] += 0.3
        dash.refresh_live()
    assert all("loss" not in d for d in drawn[count:]) and clock[0] < 101.2
    clock[0] += 0.3
    dash.refresh_live()
    assert "loss" in drawn[-1]


def test_discarding_a_run_shows_the_one_before_and_never_a_run_over_itself(dash):
    """A run refused before its first step is forgotten: the run before it is shown again,
    not compared with itself, and with no run left the dashboard is as before the first."""
    first = dash.begin_run("first", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    failed = dash.begin_run("failed", HealthThresholds())
    dash.compare(failed, first)  # the user compared the new run with the first one
    assert dash.compared is first
    dash.discard_run(failed)
    assert list(dash.runs) == ["first"] and dash.current is first and dash._shown is first
    assert dash.compared is None and dash.compare_combo.currentIndex() == 0
    assert data(dash.loss_plot.other_smooth)[0] == []  # no dashed copy of itself
    assert data(dash.loss_plot.step_curve)[1] == steps_of(run_records())[1]
    assert dash.title.text() == "first"
    dash.discard_run(first)
    assert dash.runs == {} and dash.current is None
    assert data(dash.loss_plot.step_curve)[0] == [] and dash.title.text() == "No run yet"
    assert not dash.export_button.isEnabled()

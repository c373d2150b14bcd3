"""The training panel, the health panel and the Train menu: short real runs in the worker
thread, relayed on the panel's timer; every trainer is stopped and joined in teardown."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtGui import QColor

import assets
from builder import CATALOG
from graph.project_file import load
from widgets import theme
from widgets.commands import SetParam
from widgets.dashboard import Dashboard
from widgets.health_panel import EMPTY_TEXT
from widgets.training_panel import EDIT_NOTE

WAIT = 30_000  # ms; runs take well under a second, the bound only guards against hangs


def last_run(dashboard: Dashboard) -> tuple[list, object]:
    """The step records and the points of the dashboard's newest run."""
    run = list(dashboard.runs.values())[-1]
    return list(run.history.steps()), run.points


def run_steps(dashboard) -> int:
    """The newest step the dashboard's current run received."""
    return max((r.step for r in last_run(dashboard)[0]), default=0)


def wait_idle(qtbot, panel):
    qtbot.waitUntil(lambda: panel.settled, timeout=WAIT)


def by_name(doc) -> dict[str, str]:
    return {doc.net.name_of(n): n for n in doc.net.nodes}


# ----------------------------------------------------------------------------- runs


def test_a_run_feeds_the_dashboard_progress_and_status(qtbot, make_panel):
    panel = make_panel(epochs=60, report_every=5)
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.start()
    trainer = panel.trainer
    assert panel.timer.interval() <= 34  # at most 30 Hz
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    wait_idle(qtbot, panel)
    assert trainer.join(0) and panel.trainer is None
    assert panel.last_trainer is trainer  # kept: File > Export saves its trained weights
    assert gc.isenabled()  # collected only in the GUI thread during the run, then back on
    assert panel.dashboard.runs and run_steps(panel.dashboard) == 60  # xor: 1 step / epoch
    assert panel.progress.maximum() == 60 and panel.progress.value() == 60
    assert panel.status.text().startswith("Finished")
    assert "epoch 60/60" in panel.status.text() and "loss" in panel.status.text()
    assert "samples/s" in panel.status.text()
    assert panel.start_button.isEnabled() and not panel.pause_button.isEnabled()
    assert not panel.note.isVisible() and panel.last_error is None
    # 2-D data: the dashboard got the points; the probe grid spans them
    points = last_run(panel.dashboard)[1]
    assert points is not None and points[0].shape == (4, 2)
    gx, gy = panel.probe_grid
    assert len(gx) == len(gy) == 60
    assert gx[0] < points[0][:, 0].min() and gx[-1] > points[0][:, 0].max()


def test_pause_resume_stop_and_the_thread_is_joined(qtbot, make_panel):
    panel = make_panel(epochs=1_000_000, report_every=5)
    assert panel.start()
    trainer = panel.trainer
    qtbot.waitUntil(lambda: panel.step > 0, timeout=WAIT)
    panel.pause()
    assert panel.state == "paused"
    assert panel.resume_button.isEnabled() and not panel.pause_button.isEnabled()
    qtbot.waitUntil(lambda: trainer.state == "paused", timeout=WAIT)
    qtbot.wait(100)
    at = trainer.step
    qtbot.wait(150)
    assert trainer.step == at  # paused means paused
    panel.resume()
    assert panel.state == "running"
    qtbot.waitUntil(lambda: trainer.step > at, timeout=WAIT)
    panel.stop()
    assert not panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    wait_idle(qtbot, panel)
    assert trainer.join(0)
    assert not trainer.alive
    assert panel.status.text().startswith("Stopped")
    assert panel.start_button.isEnabled()


def test_single_step_applies_one_update_and_stays_paused(qtbot, make_panel):
    panel = make_panel(epochs=1_000_000, report_every=1_000)
    assert panel.start()
    trainer = panel.trainer
    qtbot.waitUntil(lambda: panel.step > 0, timeout=WAIT)
    assert not panel.step_button.isEnabled()  # running: nothing to step
    panel.pause()
    qtbot.waitUntil(lambda: trainer.state == "paused", timeout=WAIT)
    assert panel.step_button.isEnabled()
    for _ in range(3):
        at = trainer.step
        panel.step_button.click()
        # one update, reported (although report_every is 1,000), and paused again
        qtbot.waitUntil(lambda at=at: panel.step == at + 1, timeout=WAIT)

        def paused_again(at=at):
            last = trainer.history.events[-1]
            return last.kind == "status" and last.state == "paused" and last.step == at + 1

        qtbot.waitUntil(paused_again, timeout=WAIT)
        assert trainer.step == at + 1 and panel.state == "paused"
    assert "resumed" not in [e.state for e in trainer.history.events if e.kind == "status"]
    panel.stop()
    wait_idle(qtbot, panel)
    assert not trainer.alive


def test_stop_right_after_start_ends_cleanly_without_a_run(qtbot, make_panel):
    """Start does its second half (clearing the plots, starting the worker) in the next turn
    of the event loop; a Stop before it leaves no thread, no run and an idle panel."""
    panel = make_panel(epochs=5)
    assert panel.start() and panel.state == "starting"
    panel.stop()
    wait_idle(qtbot, panel)
    assert panel.trainer is None and panel.last_trainer is not None
    assert not panel.last_trainer.alive and panel.last_trainer._thread is None
    assert panel.dashboard.runs == {} and "Stopped" in panel.status.text()
    assert panel.start()  # and the next Start trains
    wait_idle(qtbot, panel)
    assert panel.status.text().startswith("Finished") and list(panel.dashboard.runs) == ["main #2"]


def test_an_error_in_the_worker_is_shown_and_the_app_stays_usable(qtbot, make_panel, errors):
    panel = make_panel(epochs=5)
    doc = panel.doc
    inputs = (
        by_name(doc)["input"]
        if "input" in by_name(doc)
        else next(n for n in doc.net.nodes if doc.net.type_of(n) == "Input")
    )
    doc.push(SetParam(doc.net, inputs, "shape", [3]))
    assert panel.start()
    wait_idle(qtbot, panel)
    assert panel.last_error is not None and "shape" in panel.last_error
    assert errors and errors[-1][1] == panel.last_error
    assert panel.status.text() == panel.last_error
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.dashboard.runs == {}  # refused before its first step: no run is kept
    assert panel.dashboard.title.text() == "No run yet"
    assert panel.progress.value() == 0  # no progress shown for a run that failed
    doc.undo.undo()  # fix it and train again
    errors.clear()
    assert panel.start()
    # the dashboard shows the new run from Start, while the trainer loads
    assert list(panel.dashboard.runs) == ["main #2"] and panel.dashboard.current.steps.n == 0
    wait_idle(qtbot, panel)
    assert not errors and panel.status.text().startswith("Finished")
    assert panel.dashboard.current.points is not None  # set once the data was loaded


def test_invalid_settings_do_not_start_and_say_why(make_panel, errors):
    panel = make_panel()
    panel.set_field(("optimizer", "name"), "bogus")
    assert panel.config_error.isVisibleTo(panel)
    assert "training.optimizer.name" in panel.config_error.text()
    assert not panel.start()
    assert panel.trainer is None and errors
    panel.doc.undo.undo()
    assert not panel.config_error.isVisibleTo(panel)


def test_deep_sigmoid_marks_the_first_layers_vanishing(qtbot, make_panel):
    panel = make_panel("deep_sigmoid", epochs=2)
    assert panel.health.text == EMPTY_TEXT
    assert panel.start()
    wait_idle(qtbot, panel)
    assert panel.last_error is None
    ids = by_name(panel.doc)
    for layer in ("fc1", "fc2"):
        badge = panel.canvas.nodes[ids[layer]].badge
        assert badge is not None and badge.isVisible()
        assert _colour(badge) == theme.VANISHING.name()
        assert layer in badge.toolTip() and "norm" in badge.toolTip()
    assert _colour(panel.canvas.nodes[ids["fc9"]].badge) == theme.HEALTHY.name()
    vanishing = panel.health.problems("vanishing")
    assert "fc1" in vanishing and "fc2" in vanishing and "fc9" not in vanishing
    text = panel.health.text
    assert "Vanishing" in text and "fc1" in text and "since step" in text
    assert "ReLU" in text and "batch normalisation" in text and "He" in text
    assert "residual" in text and "learning rate" not in text


def test_the_health_panel_suggests_no_relu_without_saturating_layers(qapp):
    from widgets.health_panel import HealthPanel

    project = load(assets.example("deep_relu_bn"), CATALOG)
    panel = HealthPanel()
    panel.begin(project.network(), clipped=False, lr=0.5)
    panel.update_health(5, {"fc1": "exploding", "fc2": "healthy"}, {"fc1": 1e4, "fc2": 1.0})
    text = panel.text
    assert "Exploding" in text and "since step 5" in text
    assert "learning rate (now 0.5)" in text and "Clip" in text
    assert "instead of sigmoid" not in text
    panel.update_health(10, {"fc1": "healthy", "fc2": "healthy"}, {"fc1": 1.0, "fc2": 1.0})
    assert panel.text == EMPTY_TEXT


def test_editing_the_graph_while_running_applies_to_the_next_run(qtbot, make_panel):
    panel = make_panel(epochs=1_000_000, report_every=5)
    assert panel.start()
    trainer = panel.trainer
    qtbot.waitUntil(lambda: panel.step > 0, timeout=WAIT)
    doc = panel.doc
    linear = next(n for n in doc.net.nodes if doc.net.type_of(n) == "Linear")
    before = {k: tuple(v.shape) for k, v in trainer.model.state_dict().items()}
    width = doc.net.params_of(linear)["out_features"]
    doc.push(SetParam(doc.net, linear, "out_features", width + 5))
    assert panel.note.isVisibleTo(panel) and panel.note.text() == EDIT_NOTE
    qtbot.waitUntil(lambda: panel.step > 20, timeout=WAIT)
    after = {k: tuple(v.shape) for k, v in trainer.model.state_dict().items()}
    assert after == before  # the running model is the snapshot's
    assert trainer.net.params_of(linear)["out_features"] == width
    panel.stop()
    wait_idle(qtbot, panel)
    assert trainer.join(0)


def test_settings_edited_in_the_panel_are_undoable(make_panel):
    panel = make_panel()
    doc = panel.doc
    lr = doc.project.training["optimizer"]["lr"]
    panel.lr_spin.setValue(0.25)
    assert doc.project.training["optimizer"]["lr"] == 0.25
    panel.epochs_spin.setValue(7)
    panel.batch_combo.setEditText("full")
    panel._batch_edited()
    assert doc.project.training["batch_size"] == "full"
    panel.batch_combo.setEditText("1")
    panel._batch_edited()
    assert doc.project.training["batch_size"] == 1
    assert doc.project.training["epochs"] == 7
    assert doc.undo.undoText().startswith("Change training")
    doc.undo.undo()
    doc.undo.undo()
    assert doc.project.training["batch_size"] == "full"
    doc.undo.undo()
    assert doc.project.training["epochs"] != 7 and panel.epochs_spin.value() != 7
    doc.undo.undo()
    assert doc.project.training["optimizer"]["lr"] == lr
    assert panel.lr_spin.value() == pytest.approx(lr)
    doc.undo.redo()
    assert panel.lr_spin.value() == pytest.approx(0.25)


def test_dataset_choice_options_and_preview(qapp, make_panel):
    panel = make_panel()
    panel.fill_datasets()
    names = [panel.dataset_combo.itemText(i) for i in range(panel.dataset_combo.count())]
    assert {"xor", "moons", "digits"} <= set(names)
    panel.dataset_combo.setCurrentText("moons")
    panel._dataset_chosen()
    assert panel.doc.project.training["dataset"] == {"name": "moons"}
    assert "samples" in panel._option_edits and "noise" in panel._option_edits
    edit = panel._option_edits["samples"]
    edit.setText("120")
    edit.editingFinished.emit()
    assert panel.doc.project.training["dataset"]["samples"] == 120
    panel.show_preview()
    assert panel.preview.currentWidget() is panel.preview_image
    assert not panel.preview_image.pixmap().isNull()
    edit.setText("-3")
    edit.editingFinished.emit()
    panel.show_preview()
    assert panel.preview.currentWidget() is panel.preview_text
    assert "samples" in panel.preview_text.text()
    panel.dataset_combo.setCurrentText("digits")
    panel._dataset_chosen()
    panel.show_preview()
    assert panel.preview.currentWidget() is panel.preview_image
    panel.dataset_combo.setCurrentText("iris")
    panel._dataset_chosen()
    panel.show_preview()
    assert panel.preview.currentWidget() is panel.preview_table
    assert panel.preview_table.rowCount() > 0
    panel.doc.undo.undo()
    assert panel.doc.project.training["dataset"]["name"] == "digits"


def test_the_probe_follows_the_dashboards_layer(qtbot, make_panel):
    panel = make_panel(epochs=1_000_000, report_every=5)
    calls = []
    assert panel.start()
    trainer = panel.trainer
    real = trainer.set_probe

    def spy(layer, grid):
        calls.append((layer, grid))
        real(layer, grid)

    trainer.set_probe = spy
    qtbot.waitUntil(lambda: bool(calls), timeout=WAIT)
    assert calls[0][0] is None and len(calls[0][1][0]) == 60  # the grid from the start
    # once the dashboard lists the layers, the one it shows (the first) is probed
    qtbot.waitUntil(lambda: calls[-1][0] == "hidden", timeout=WAIT)
    assert panel.dashboard.layer_combo.currentText() == "hidden"
    panel.dashboard.layer_selected.emit("logit")
    assert calls[-1][0] == "logit" and len(calls[-1][1][0]) == 60
    panel.stop()
    wait_idle(qtbot, panel)


def _colour(badge) -> str:
    value = badge.colour
    return (value if isinstance(value, QColor) else value.color()).name()


# ----------------------------------------------------------------------------- main window


def test_the_train_menu_shortcuts_and_closing_join_the_worker(qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QKeySequence

    from widgets import files
    from widgets.main_window import MainWindow

    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    project = load(assets.example("xor_mlp"), CATALOG)
    project.training.update(epochs=1_000_000, report_every=5)
    window = MainWindow(project, autosave_ms=0)
    window.show_error = lambda title, message: None
    window.ask_save_changes = lambda: "discard"
    qtbot.addWidget(window)
    window.show()
    menu = [a.text().replace("&", "") for a in window.train_menu.actions()]
    assert menu == ["Start", "Pause", "Resume", "Stop"]
    assert window.start_action.shortcut() == QKeySequence("F5")
    assert window.stop_action.shortcut() == QKeySequence("Shift+F5")
    assert not window.stop_action.isEnabled()
    window.start_action.trigger()
    trainer = window.training.trainer
    assert trainer is not None and not window.start_action.isEnabled()
    assert window.training_dock.isVisible()
    qtbot.waitUntil(lambda: window.training.step > 0, timeout=WAIT)
    window.pause_action.trigger()
    assert window.resume_action.isEnabled() and not window.pause_action.isEnabled()
    window.resume_action.trigger()
    assert window.close()
    assert trainer.join(0) and not trainer.alive
    assert window.training.trainer is None
    MainWindow.windows.clear()

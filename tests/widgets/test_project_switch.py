"""One project at a time: File > New / Open / Examples reset everything of the previous
project (its run, the training panel's status and warnings, the gradient-health tab, the
canvas badges, the dashboard), and the dashboard keeps the old runs, named after their
project, to compare with. Short real runs in the worker thread; every thread is joined in
teardown and nothing waits on the clock except as a bound against hangs.
"""

from __future__ import annotations

import gc
import threading

import pytest
from dashboard_records import data, run_records, steps_of

import assets
from builder import CATALOG
from builder.training import trainer as trainer_module
from builder.training.config import HealthThresholds
from graph.project_file import load
from widgets import files, training_panel
from widgets.dashboard import NO_COMPARISON, NO_RUN
from widgets.health_panel import EMPTY_TEXT
from widgets.main_window import DISCARD, MainWindow
from widgets.training_panel import READY

WAIT = 60_000  # ms; the runs take about a second, the bound only guards against hangs
TRAINER_THREAD = "neuralcanvas-trainer"


def trainer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == TRAINER_THREAD]


class Answers:
    """The window's questions, stubbed: what was asked, and what they answer."""

    def __init__(self):
        self.stop_training = True
        self.asked_stop = 0
        self.asked_save = 0
        self.errors: list[tuple[str, str]] = []

    def install(self, window: MainWindow) -> MainWindow:
        def ask_stop_training():
            self.asked_stop += 1
            return self.stop_training

        def ask_save_changes():
            self.asked_save += 1
            return DISCARD

        window.ask_stop_training = ask_stop_training
        window.ask_save_changes = ask_save_changes
        window.show_error = lambda title, message: self.errors.append((title, message))
        return window


@pytest.fixture
def answers():
    return Answers()


@pytest.fixture
def make_window(qtbot, answers, tmp_path, monkeypatch):
    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))

    def make(path) -> MainWindow:
        window = answers.install(MainWindow(load(path, CATALOG), path, autosave_ms=0))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in list(MainWindow.windows):
        answers.install(window)
        assert window.training.shutdown(10.0)  # every worker joined, stopped ones too
        window.close()
    MainWindow.windows.clear()
    assert not trainer_threads()
    assert training_panel._GuiThreadGC.holds == 0 and gc.isenabled()


def train(qtbot, window: MainWindow, **settings) -> None:
    """One run of the window's project, to its end (``settings`` replace the project's)."""
    window.doc.project.training.update(settings)
    window.training.load_form()
    assert window.start_training()
    qtbot.waitUntil(lambda: window.training.state == "idle", timeout=WAIT)


def visible_badges(window: MainWindow) -> list[str]:
    net = window.doc.net
    return [
        net.name_of(node_id)
        for node_id, item in window.canvas.nodes.items()
        if item.badge is not None and item.badge.isVisible()
    ]


def combo_items(combo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def assert_reset(window: MainWindow) -> None:
    """The window as if the project had just been opened in a new one."""
    panel, dash = window.training, window.dashboard
    assert panel.state == "idle" and panel.trainer is None and panel.last_trainer is None
    assert panel.status.text() == READY and panel.last_error is None
    assert panel.progress.value() == 0 and not panel.note.isVisible()
    assert panel.health.text == EMPTY_TEXT and panel.health.layers == {}
    assert visible_badges(window) == []
    assert dash.current is None and dash.shown is None and dash.compared is None
    assert dash.title.text() == NO_RUN and dash.state_label.text() == ""
    assert data(dash.loss_plot.step_curve) == ([], [])
    assert dash.loss_plot.plotItem.vb.viewRange() == [[0.0, 1.0], [0.0, 1.0]]  # as new
    assert dash.metrics_plot.curves == {} and dash.gradient_plot.curves == {}
    assert dash.heatmap.layers == [] and dash.boundary.points is None
    assert dash.layer_combo.count() == 0
    # the old runs are listed, but there is no run of this project to compare them with
    assert combo_items(dash.compare_combo) == [NO_COMPARISON, *dash.runs]
    assert not dash.compare_combo.isEnabled()
    assert not dash.export_button.isEnabled()
    assert not window.export_dashboard_png_action.isEnabled()
    assert window.start_action.isEnabled() and not window.stop_action.isEnabled()


# ----------------------------------------------------------------------------- the report


def test_the_next_project_starts_clean_and_lists_the_old_runs_by_project(
    qtbot, make_window, answers
):
    """deep_sigmoid trained, then exploding_lr opened: no vanishing fc1…fc5 in the health
    tab (exploding_lr has no fc4), no badges; exploding_lr diverged, then the GAN opened:
    not told its learning rate "(2) may be too high"."""
    window = make_window(assets.example("xor_mlp"))
    assert window.open_example(assets.example("deep_sigmoid"))
    train(qtbot, window, epochs=2)
    panel, dash = window.training, window.dashboard
    vanishing = panel.health.problems("vanishing")
    assert {"fc1", "fc2", "fc3", "fc4", "fc5"} <= set(vanishing)  # what used to stay
    assert "fc1" in visible_badges(window) and list(dash.runs) == ["main #1"]
    deep_run = dash.current

    assert window.open_example(assets.example("exploding_lr"))
    assert answers.asked_stop == 0  # nothing was training: nothing to ask
    assert_reset(window)
    assert "fc4" not in panel.health.text and "Vanishing" not in panel.health.text
    assert list(dash.runs) == ["deep_sigmoid · main #1"]
    assert dash.runs["deep_sigmoid · main #1"] is deep_run and deep_run.steps.n > 0

    # the learning rate of 2 makes the loss diverge: the panel says so
    train(qtbot, window)
    assert panel.last_error is not None and "(2) may be too high" in panel.last_error
    assert "(2) may be too high" in panel.status.text() and answers.errors
    assert panel.health.problems("exploding")
    assert list(dash.runs) == ["deep_sigmoid · main #1", "main #1"]
    # the old run is comparable with the new one: dashed over it on the loss plot
    assert combo_items(dash.compare_combo) == [NO_COMPARISON, "deep_sigmoid · main #1"]
    assert dash.compare_combo.isEnabled()
    dash.compare_combo.setCurrentIndex(1)
    assert dash.compared is deep_run and dash.shown is dash.current
    assert data(dash.loss_plot.other_smooth)[0] == list(deep_run.step_losses()[0])
    exploding_run = dash.current

    assert window.open_example(assets.example("gan_digits"))
    assert_reset(window)
    assert "too high" not in panel.status.text() and "learning rate" not in panel.health.text
    assert window.tabs.count() == 2 and not panel.config_error.isVisibleTo(panel)
    assert list(dash.runs) == ["deep_sigmoid · main #1", "exploding_lr · main #1"]
    assert dash.runs["exploding_lr · main #1"] is exploding_run
    assert exploding_run.state == "error" and "(2) may be too high" in exploding_run.error


def test_new_project_resets_and_the_next_run_is_counted_again(qtbot, make_window, tmp_path):
    path = tmp_path / "my_xor.json"
    path.write_bytes(assets.example("xor_mlp").read_bytes())
    window = make_window(path)
    train(qtbot, window, epochs=3)
    train(qtbot, window, epochs=3)
    assert list(window.dashboard.runs) == ["main #1", "main #2"]
    assert window.new_file()
    assert_reset(window)
    assert list(window.dashboard.runs) == ["my_xor · main #1", "my_xor · main #2"]
    assert window.open_file(path)  # the same file again: its runs are counted anew
    train(qtbot, window, epochs=3)
    dash = window.dashboard
    assert list(dash.runs) == ["my_xor · main #1", "my_xor · main #2", "main #1"]
    assert combo_items(dash.compare_combo)[1:] == ["my_xor · main #1", "my_xor · main #2"]
    assert window.new_file()
    assert list(dash.runs) == ["my_xor · main #1", "my_xor · main #2", "my_xor · main #1 (2)"]


# ----------------------------------------------------------------------------- a run going


def test_a_run_still_training_is_stopped_and_joined_when_the_user_agrees(
    qtbot, make_window, answers
):
    window = make_window(assets.example("xor_mlp"))
    window.doc.project.training.update(epochs=1_000_000, report_every=5)
    window.training.load_form()
    assert window.start_training()
    trainer = window.training.trainer
    qtbot.waitUntil(lambda: window.training.step > 0, timeout=WAIT)
    assert window.open_example(assets.example("exploding_lr"))
    assert answers.asked_stop == 1
    assert trainer.join(0) and not trainer.alive and not trainer_threads()
    assert window.training.stopping == []
    assert_reset(window)
    run = window.dashboard.runs["xor_mlp · main #1"]
    assert run.state == "stopped" and run.steps.n > 0  # its records up to the stop are kept
    assert training_panel._GuiThreadGC.holds == 0 and gc.isenabled()


def test_the_user_can_keep_the_run_and_the_project(qtbot, make_window, answers):
    window = make_window(assets.example("xor_mlp"))
    window.doc.project.training.update(epochs=1_000_000, report_every=5)
    window.training.load_form()
    assert window.start_training()
    trainer = window.training.trainer
    qtbot.waitUntil(lambda: window.training.step > 0, timeout=WAIT)
    doc = window.doc
    answers.stop_training = False
    assert not window.open_example(assets.example("exploding_lr"))
    assert not window.new_file()
    assert answers.asked_stop == 2 and answers.asked_save == 0
    assert window.doc is doc and window.training.trainer is trainer and trainer.alive
    assert window.training.state == "running" and list(window.dashboard.runs) == ["main #1"]
    window.training.stop()
    qtbot.waitUntil(lambda: window.training.state == "idle", timeout=WAIT)


def test_a_project_change_right_after_start_leaves_no_run(qtbot, make_window, answers):
    """Start's second half (the worker) has not run yet: nothing ran, nothing is kept."""
    window = make_window(assets.example("xor_mlp"))
    assert window.start_training() and window.training.state == "starting"
    trainer = window.training.trainer
    assert window.new_file()
    assert answers.asked_stop == 1
    qtbot.wait(10)  # Start's second half finds another project: it starts nothing
    assert trainer._thread is None and not trainer_threads()
    assert_reset(window)
    assert window.dashboard.runs == {}


def test_a_worker_that_outlives_the_wait_is_joined_later(qtbot, make_window, monkeypatch):
    """Loading and compiling cannot be interrupted: a worker still in them after the wait
    is joined once it ends; the new project opens at once, and its last records still go
    to its run."""
    entered, release = threading.Event(), threading.Event()
    prepare = trainer_module.Trainer.prepare

    def slow_prepare(self):
        entered.set()
        release.wait(30)
        prepare(self)

    monkeypatch.setattr(trainer_module.Trainer, "prepare", slow_prepare)
    monkeypatch.setattr(training_panel, "STOP_TIMEOUT", 0.01)
    window = make_window(assets.example("xor_mlp"))
    try:
        assert window.start_training()
        trainer = window.training.trainer
        qtbot.waitUntil(entered.is_set, timeout=WAIT)
        assert window.open_example(assets.example("deep_sigmoid"))
        panel = window.training
        assert trainer.alive and [s.trainer for s in panel.stopping] == [trainer]
        assert_reset(window)
        assert window.doc.project.name.startswith("Deep sigmoid")
        assert list(window.dashboard.runs) == ["xor_mlp · main #1"]
    finally:
        release.set()
    qtbot.waitUntil(lambda: not panel.stopping, timeout=WAIT)
    assert trainer.join(0) and not trainer_threads()
    assert training_panel._GuiThreadGC.holds == 0 and gc.isenabled()
    run = window.dashboard.runs["xor_mlp · main #1"]
    assert run.state == "stopped"  # relayed after the project changed
    assert window.dashboard.shown is None  # and not shown in the new project
    train(qtbot, window, epochs=1)  # the new project trains
    assert window.training.status.text().startswith("Finished")


# ----------------------------------------------------------------------------- the dashboard


def test_the_dashboard_names_a_closed_projects_runs_and_clears_its_plots(dash):
    first = dash.begin_run("net #1", HealthThresholds())
    dash.add_records(run_records())
    dash.refresh()
    dash.select_layer("fc2")
    dash.end_project("xor")
    assert list(dash.runs) == ["xor · net #1"] and first.name == "xor · net #1"
    assert dash.shown is None and dash.title.text() == NO_RUN
    assert data(dash.loss_plot.step_curve) == ([], []) and dash.layer_combo.count() == 0
    assert combo_items(dash.compare_combo) == [NO_COMPARISON, "xor · net #1"]
    assert not dash.compare_combo.isEnabled() and not dash.export_button.isEnabled()

    second = dash.begin_run("net #1", HealthThresholds())  # the next project's first run
    dash.add_records(run_records(3.0))
    dash.refresh()
    assert dash.compare_combo.isEnabled() and dash.layer_combo.currentText() == "fc1"
    dash.compare(second, "xor · net #1")
    assert data(dash.loss_plot.other_smooth)[0] == steps_of(run_records())[0]

    failed = dash.begin_run("net #2", HealthThresholds())
    dash.discard_run(failed)  # the project's run before it is shown, never an older one's
    assert dash.current is second and dash.shown is second
    dash.discard_run(second)
    assert dash.current is None and dash.shown is None and dash.title.text() == NO_RUN
    assert list(dash.runs) == ["xor · net #1"]

    dash.begin_run("net #1", HealthThresholds())
    dash.end_project("xor")  # a second project of the same name
    assert list(dash.runs) == ["xor · net #1", "xor · net #1 (2)"]

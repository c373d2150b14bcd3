"""Qt tests run offscreen: no display needed, nothing pops up."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402

import pytest  # noqa: E402

import assets  # noqa: E402
from builder import CATALOG  # noqa: E402
from graph.project_file import load  # noqa: E402
from widgets.canvas import Canvas  # noqa: E402
from widgets.dashboard import Dashboard  # noqa: E402
from widgets.editor_document import EditorDocument  # noqa: E402
from widgets.main_window import DISCARD, MainWindow  # noqa: E402
from widgets.training_panel import TrainingPanel  # noqa: E402


@pytest.fixture
def dash(qtbot):
    """A dashboard shown at a size that holds every plot (shared by the dashboard tests)."""
    d = Dashboard()
    qtbot.addWidget(d)
    d.resize(1000, 520)
    d.show()
    qtbot.waitExposed(d)
    return d


@pytest.fixture
def errors():
    return []


@pytest.fixture
def make_panel(qtbot, errors):
    panels: list[TrainingPanel] = []

    def make(example: str = "xor_mlp", **training) -> TrainingPanel:
        project = load(assets.example(example), CATALOG)
        project.training.update(training)
        doc = EditorDocument(project)
        canvas = Canvas(doc)
        qtbot.addWidget(canvas)
        dashboard = Dashboard()
        qtbot.addWidget(dashboard)
        panel = TrainingPanel(doc, canvas, dashboard)
        panel.show_error = lambda title, message: errors.append((title, message))
        qtbot.addWidget(panel)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        trainer = panel.trainer
        assert panel.shutdown(10.0)
        if trainer is not None:
            assert trainer.join(10.0)
    assert not [t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"]


@pytest.fixture
def app_dirs(tmp_path, monkeypatch):
    """Recent files and autosaves go to the test's folder, never the user's."""
    from widgets import files

    monkeypatch.setenv(files.CONFIG_ENV, str(tmp_path / "config"))
    monkeypatch.setenv(files.DATA_ENV, str(tmp_path / "data"))
    return tmp_path


class Stubs:
    """What the dialogs were asked, and what they answer."""

    def __init__(self):
        self.save_answers: list[str] = []  # ask_save_changes answers, in order
        self.asked_save = 0
        self.open_path: str | None = None
        self.save_path: str | None = None
        self.asked_save_path = 0
        self.recover = True
        self.recover_asked: list = []
        self.errors: list[tuple[str, str]] = []

    def install(self, window: MainWindow) -> MainWindow:
        def ask_save_changes():
            self.asked_save += 1
            return self.save_answers.pop(0) if self.save_answers else DISCARD

        def ask_save_path():
            self.asked_save_path += 1
            return self.save_path

        def ask_recover(item):
            self.recover_asked.append(item)
            return self.recover

        window.ask_save_changes = ask_save_changes
        window.ask_open_path = lambda: self.open_path
        window.ask_save_path = ask_save_path
        window.ask_recover = ask_recover
        window.show_error = lambda title, message: self.errors.append((title, message))
        return window


@pytest.fixture
def stubs():
    return Stubs()


@pytest.fixture
def make_window(qtbot, stubs, app_dirs):
    def make(source=None, path=None, **kwargs) -> MainWindow:
        if source is None:
            path = assets.example("xor_mlp") if path is None else path
            source = load(path, CATALOG)
        kwargs.setdefault("autosave_ms", 0)
        window = stubs.install(MainWindow(source, path, **kwargs))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in list(MainWindow.windows):
        if "ask_save_changes" not in window.__dict__:
            stubs.install(window)
        window.close()
    MainWindow.windows.clear()

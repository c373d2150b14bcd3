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

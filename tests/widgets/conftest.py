"""Qt tests run offscreen: no display needed, nothing pops up."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from widgets.dashboard import Dashboard  # noqa: E402


@pytest.fixture
def dash(qtbot):
    """A dashboard shown at a size that holds every plot (shared by the dashboard tests)."""
    d = Dashboard()
    qtbot.addWidget(d)
    d.resize(1000, 520)
    d.show()
    qtbot.waitExposed(d)
    return d

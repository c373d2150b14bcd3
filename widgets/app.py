"""Start the Qt application: one place that creates the ``QApplication`` and its theme."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from graph.document import Project
from widgets.main_window import ACCENT, CARD, TEXT, WINDOW, MainWindow


def application() -> QApplication:
    """The running ``QApplication``, created (with the light theme) if there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("NeuralCanvas")
        apply_theme(app)
    return app


def apply_theme(app: QApplication) -> None:
    """Fusion with a light neutral palette and one accent colour; the system font stays."""
    app.setStyle("Fusion")
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Window, WINDOW)
    palette.setColor(QPalette.ColorRole.Base, CARD)
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f3f5f7"))
    palette.setColor(QPalette.ColorRole.WindowText, TEXT)
    palette.setColor(QPalette.ColorRole.Text, TEXT)
    palette.setColor(QPalette.ColorRole.Button, QColor("#eef0f3"))
    palette.setColor(QPalette.ColorRole.ButtonText, TEXT)
    palette.setColor(QPalette.ColorRole.Highlight, ACCENT)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, CARD)
    palette.setColor(QPalette.ColorRole.ToolTipText, TEXT)
    app.setPalette(palette)


def run(project: Project, path: str | Path | None = None, screenshot: str | None = None) -> int:
    """Show the main window on ``project`` and run the event loop; returns the exit status.

    With ``screenshot``, render the window to that PNG and return without running the loop.
    """
    app = application()
    window = MainWindow(project, path)
    window.show()
    if screenshot:
        app.processEvents()
        ok = window.grab().save(screenshot)
        window.close()
        if not ok:
            print(f"neuralcanvas: error: cannot write the screenshot {screenshot}", file=sys.stderr)
            return 2
        return 0
    return app.exec()

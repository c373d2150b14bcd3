"""Start the Qt application: one place that creates the ``QApplication`` and its theme,
opens the first window, offers crash recovery and preloads torch in the background."""

from __future__ import annotations

import importlib
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from graph.document import Project
from widgets import theme
from widgets.files import RecentFiles, current_session
from widgets.main_window import MainWindow

SCREENSHOT_SIZE = (1400, 860)
_preload: threading.Thread | None = None


def application() -> QApplication:
    """The running ``QApplication``, created (with the light theme) if there is none."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("NeuralCanvas")
        app.setOrganizationName("NeuralCanvas")
        apply_theme(app)
    return app


def apply_theme(app: QApplication) -> None:
    """Fusion with a light neutral palette and one accent colour; the system font, at
    least 10 pt so nothing is cramped."""
    app.setStyle("Fusion")
    font = QFont(app.font())
    if 0 < font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    app.setPalette(themed_palette(app.palette()))


def themed_palette(base: QPalette) -> QPalette:
    """``base`` with the theme's colours. ``setColor`` without a group sets every group,
    the disabled one too: its text colours are set again afterwards, muted, so that a
    disabled button or field looks disabled."""
    palette = QPalette(base)
    palette.setColor(QPalette.ColorRole.Window, theme.WINDOW)
    palette.setColor(QPalette.ColorRole.Base, theme.CARD)
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f5f7f9"))
    palette.setColor(QPalette.ColorRole.WindowText, theme.TEXT)
    palette.setColor(QPalette.ColorRole.Text, theme.TEXT)
    palette.setColor(QPalette.ColorRole.PlaceholderText, theme.MUTED)
    palette.setColor(QPalette.ColorRole.Button, theme.WINDOW)
    palette.setColor(QPalette.ColorRole.ButtonText, theme.TEXT)
    palette.setColor(QPalette.ColorRole.Mid, theme.FRAME)
    palette.setColor(QPalette.ColorRole.Highlight, theme.ACCENT)
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, theme.CARD)
    palette.setColor(QPalette.ColorRole.ToolTipText, theme.TEXT)
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.PlaceholderText,
    ):
        palette.setColor(disabled, role, theme.DISABLED)
    palette.setColor(disabled, QPalette.ColorRole.Base, theme.WINDOW)
    return palette


# Imported in the background once the window is up, so that they cost neither the GUI
# thread nor a run's first seconds: the dashboard's loss smoothing (scipy.signal, 0.6 s),
# what Train > Start imports in the GUI thread (builder.training.trainer), and what the trainer's
# first data loading and compiling import (scikit-learn's datasets, torch.fx's symbolic
# shapes, torch._dynamo: about 1,100 modules, 1.3 s; a run's first epoch then started
# 1.6 s after Start instead of 0.1 s, and the GUI waited for the interpreter lock meanwhile).
PRELOAD = (
    "scipy.signal",
    "builder.training.trainer",
    "sklearn.datasets",
    "torch.fx.experimental.symbolic_shapes",
    "torch._dynamo",
)


def preload_torch() -> threading.Thread:
    """Import torch in a daemon thread (after the window is up), so Train and Export do
    not wait for it later. Idempotent."""
    global _preload
    if _preload is None:

        def work() -> None:
            try:
                import torch  # noqa: F401
            except Exception:  # a broken torch shows up where it is used, with its message
                pass
            for name in PRELOAD:
                try:
                    importlib.import_module(name)
                except Exception:  # a broken package shows up where it is used
                    pass

        _preload = threading.Thread(target=work, name="preload-torch", daemon=True)
        _preload.start()
    return _preload


def render_screenshot(window: MainWindow, path: str | Path) -> bool:
    """Render ``window`` at :data:`SCREENSHOT_SIZE` to a PNG (no event loop is run)."""
    app = application()
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    for _ in range(3):  # layout, then the docks' sizes, then the canvas fit
        app.processEvents()
    window.fit_on_open()
    app.processEvents()
    return window.grab().save(str(path), "PNG")


def run(
    project: Project,
    path: str | Path | None = None,
    screenshot: str | None = None,
    *,
    as_copy: bool = False,
) -> int:
    """Show the main window on ``project`` and run the event loop; returns the exit status.

    ``as_copy``: ``path`` is a built-in example: open it as an unsaved copy ("Untitled").
    With ``screenshot`` (a PNG path), render the window to it and return without running
    the event loop (and without touching the recent list or the autosave folder).
    """
    if screenshot and QApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if QApplication.instance() is None:
        from widgets.xcb_check import check

        problem = check()  # Qt would abort on a missing xcb library, naming another one
        if problem:
            print(problem, file=sys.stderr)
            return 2
    app = application()
    suggested = Path(path).name if as_copy and path is not None else None
    file_path = None if as_copy else path
    if screenshot:
        window = MainWindow(project, file_path, autosave_ms=0, suggested_name=suggested)
        try:
            ok = render_screenshot(window, screenshot)
        finally:
            window.doc.undo.setClean()  # nothing to ask: it is a picture
            window.close()
            app.processEvents()
        if not ok:
            print(f"neuralcanvas: error: cannot write the screenshot {screenshot}", file=sys.stderr)
            return 2
        return 0

    session = current_session()
    window = MainWindow(project, file_path, session=session, suggested_name=suggested)
    window.show()
    if file_path is not None:
        RecentFiles().add(file_path)
    preload_torch()
    QTimer.singleShot(0, window.offer_recovery)
    try:
        return app.exec()
    finally:
        session.close()  # a clean exit: its autosaves are no longer needed
        if _preload is not None:
            # Quitting within a second or two of start: let the import finish rather than
            # tear the interpreter down under a half-imported extension module.
            _preload.join(timeout=30)

"""The main window: the node editor of one project.

Layout: the layer palette (left dock), the canvas in the centre (a tab per network when the
project has several, e.g. a GAN's generator and discriminator), the property editor (right
dock), problems and summary (bottom docks, tabbed). Menus File / Edit / View, a toolbar
with the most used actions and a status bar with the network's name, layer count and
parameter total.

Every edit goes through the document's undo stack (:mod:`widgets.commands`). Files are
written atomically; unsaved work is autosaved to a separate file (:mod:`widgets.files`)
and offered back after a crash.

One project at a time: File > New / Open / Examples first ask whether a run still training
may stop (and about unsaved changes), then :meth:`MainWindow.end_project` resets everything
that belonged to the previous project (the run, the training panel's status and warnings,
the gradient-health tab, the canvas badges, the dashboard, which keeps the old runs named
after their project).

Questions and messages go through a few methods (``ask_save_changes``, ``ask_stop_training``,
``ask_open_path``, ``ask_save_path``, ``ask_recover``, ``show_error``) that tests replace with
stubs; a window opened from another (recovery) takes over the replacements.
"""

from __future__ import annotations

import html
import json
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QMimeData, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QTabBar,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.layers import CATALOG
from builder.shapes import live_nodes
from builder.summary import format_count
from graph.document import Project
from graph.errors import EditError, ProjectFileError
from graph.layout import layered_layout
from graph.project_file import load, save
from widgets import theme
from widgets.canvas import FIT_MARGIN, NAME_LOD, TEXT_LOD, Canvas
from widgets.code_view import ExportActions
from widgets.commands import (
    CLIPBOARD_MIME,
    MoveNodes,
    Paste,
    RemoveNodes,
    clipboard_text,
    copy_selection,
    parse_clipboard,
)
from widgets.dashboard import Dashboard
from widgets.dialogs import warn
from widgets.editor_document import EditorDocument
from widgets.files import (
    RecentFiles,
    Recoverable,
    Session,
    current_session,
    read_autosave,
)
from widgets.help_menu import HelpMenu
from widgets.palette import Palette
from widgets.panels import ProblemsPanel, SummaryPanel
from widgets.properties import PropertyEditor
from widgets.training_panel import TrainingPanel

APP_TITLE = "NeuralCanvas"
AUTOSAVE_MS = 60_000
STATUS_MS = 5_000
# On open, a fit below NAMES_ZOOM (the cards would be blank) shows the beginning of the
# network at DETAIL_ZOOM instead, where cards show their type, name and shapes.
NAMES_ZOOM = NAME_LOD + 0.03
DETAIL_ZOOM = TEXT_LOD + 0.05
PASTE_STEP = 40.0  # each paste of the same clipboard lands this much further down-right
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"
DIALOG_HOOKS = (
    "ask_save_changes",
    "ask_stop_training",
    "ask_open_path",
    "ask_save_path",
    "ask_recover",
    "show_error",
)
FILE_FILTER = "NeuralCanvas projects (*.json);;All files (*)"

_STYLE = f"""
QMainWindow {{ background: {theme.WINDOW.name()}; }}
QMainWindow::separator {{ background: {theme.WINDOW.name()}; width: 6px; height: 6px; }}
QDockWidget {{ color: {theme.MUTED.name()}; font-weight: 600; }}
QDockWidget::title {{ padding: 6px 8px 4px 10px; background: {theme.WINDOW.name()}; }}
QDockWidget > QWidget {{ background: {theme.CARD.name()}; border: 1px solid {theme.FRAME.name()};
    border-radius: 6px; }}
QToolBar {{ background: {theme.WINDOW.name()}; border: none;
    border-bottom: 1px solid {theme.FRAME.name()}; padding: 3px 6px; spacing: 2px; }}
QToolBar::separator {{ background: {theme.FRAME.name()}; width: 1px; margin: 5px 6px; }}
QToolButton {{ color: {theme.TEXT.name()}; padding: 4px 9px; border: 1px solid transparent;
    border-radius: 5px; }}
QToolButton:hover {{ background: {theme.CARD.name()}; border-color: {theme.FRAME.name()}; }}
QToolButton:pressed {{ background: {theme.CANVAS_GRID.name()}; }}
QToolButton:disabled {{ color: {theme.DISABLED.name()}; }}
QStatusBar {{ background: {theme.WINDOW.name()}; color: {theme.MUTED.name()};
    border-top: 1px solid {theme.FRAME.name()}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {theme.MUTED.name()}; padding: 0 10px; }}
QStatusBar QLabel#statusParams {{ color: {theme.TEXT.name()}; font-weight: 600; }}
QTabBar#networkTabs {{ background: {theme.WINDOW.name()}; }}
QTabBar#networkTabs::tab {{ padding: 5px 16px 6px 16px; color: {theme.MUTED.name()};
    background: transparent; border: none; border-bottom: 2px solid transparent; }}
QTabBar#networkTabs::tab:selected {{ color: {theme.TEXT.name()};
    border-bottom: 2px solid {theme.ACCENT.name()}; font-weight: 600; }}
QTabBar#networkTabs::tab:hover {{ color: {theme.TEXT.name()}; }}
QMenuBar {{ background: {theme.WINDOW.name()}; padding: 2px 4px; }}
QMenuBar::item {{ padding: 4px 10px; border-radius: 4px; background: transparent; }}
QMenuBar::item:selected {{ background: {theme.CARD.name()}; }}
QMenu {{ background: {theme.CARD.name()}; border: 1px solid {theme.FRAME.name()}; padding: 4px; }}
QMenu::item {{ padding: 5px 28px 5px 20px; border-radius: 4px; }}
QMenu::item:selected {{ background: {theme.ACCENT.name()}; color: white; }}
QMenu::item:disabled {{ color: {theme.DISABLED.name()}; }}
QMenu::separator {{ height: 1px; background: {theme.FRAME.name()}; margin: 4px 8px; }}
QMainWindow QTabBar {{ background: {theme.WINDOW.name()}; }}
QMainWindow QTabBar::tab {{ padding: 5px 14px; color: {theme.MUTED.name()}; background: transparent;
    border: none; border-bottom: 2px solid transparent; }}
QMainWindow QTabBar::tab:selected {{ color: {theme.TEXT.name()};
    border-bottom: 2px solid {theme.ACCENT.name()}; }}
QMainWindow QTabBar::tab:hover {{ color: {theme.TEXT.name()}; }}
QWidget#canvasFrame {{ background: {theme.CANVAS.name()}; border: 1px solid {theme.FRAME.name()};
    border-radius: 6px; }}
QLabel#projectName {{ color: {theme.TEXT.name()}; font-weight: 600; }}
QLabel#projectDescription {{ color: {theme.MUTED.name()}; }}
"""


def new_project() -> Project:
    """File > New: one network "main" holding an Input and an Output, ready to fill in."""
    project = Project(CATALOG, name="Untitled")
    net = project.add_network("main")
    net.add_node("Input", None, None, (-200.0, 0.0))
    net.add_node("Output", None, None, (200.0, 0.0))
    return project


def example_name(path: Path) -> str:
    """The project name stored in an example file (its file name if unreadable)."""
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else path.stem


class MainWindow(QMainWindow):
    """The editor of one project (an :class:`EditorDocument`); File > Open replaces it.

    ``source`` is a :class:`Project` (with its file ``path``, or None for an unsaved one)
    or an :class:`EditorDocument`. ``session`` holds the autosaves (default: the app's),
    ``recent`` the recent-files list, ``autosave_ms`` the autosave interval.
    """

    windows: list[MainWindow] = []  # every open window (keeps them alive)

    def __init__(
        self,
        source: Project | EditorDocument,
        path: str | Path | None = None,
        *,
        session: Session | None = None,
        recent: RecentFiles | None = None,
        autosave_ms: int = AUTOSAVE_MS,
        suggested_name: str | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        doc = source if isinstance(source, EditorDocument) else EditorDocument(source, path)
        self.doc = doc
        self.session = session if session is not None else current_session()
        self.recent = recent if recent is not None else RecentFiles()
        self.suggested_name = suggested_name
        self._autosave_file: Path | None = None
        self._autosave_dirty = False
        self._paste_key: str | None = None
        self._paste_count = 0
        self._undo_index = 0
        self._undo_action: QAction | None = None
        self._redo_action: QAction | None = None
        self._examples_built = False
        self._shown = False
        self._closed = False
        self.setObjectName("mainWindow")
        self.setStyleSheet(_STYLE)
        self.setDockNestingEnabled(True)
        self.setDocumentMode(True)

        # centre: network tabs above the canvas
        self.layer_palette = Palette()
        self.canvas = Canvas(doc)
        self.properties = PropertyEditor(doc)
        self.problems = ProblemsPanel(doc)
        self.summary = SummaryPanel(doc)
        self.dashboard = Dashboard()
        self.training = TrainingPanel(doc, self.canvas, self.dashboard)
        # the panels' error dialogs go through the window's (replaceable) one
        self.training.show_error = lambda title, message: self.show_error(title, message)
        self.dashboard.show_error = lambda title, message: self.show_error(title, message)
        self.dashboard.start_folder = lambda: self._start_folder()
        self.tabs = QTabBar()
        self.tabs.setObjectName("networkTabs")
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.header = _ProjectHeader()
        central = QWidget()
        self._central_layout = layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        tabs_row = QVBoxLayout()
        tabs_row.setSpacing(0)
        tabs_row.addWidget(self.tabs)
        layout.addLayout(tabs_row)
        self._canvas_row = tabs_row
        tabs_row.addWidget(self.canvas, 1)
        layout.setStretchFactor(tabs_row, 1)
        self.setCentralWidget(central)

        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

        self.layer_palette.add_requested.connect(self.add_layer)
        self._connect_canvas()
        self.problems.node_activated.connect(self.reveal_node)
        self.summary.node_activated.connect(self.reveal_node)
        self.problems.count_changed.connect(self._problem_count_changed)

        self._timer = QTimer(self)
        self._timer.setInterval(max(1, int(autosave_ms)))
        self._timer.timeout.connect(self.autosave_now)
        if autosave_ms > 0:
            self._timer.start()

        self._bind_document(doc)
        self._problem_count_changed(max(self.problems.count, 0))
        self.resize(1400, 860)
        MainWindow.windows.append(self)

    # ------------------------------------------------------------------ building
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.setCorner(Qt.Corner.BottomLeftCorner, left)
        self.setCorner(Qt.Corner.BottomRightCorner, right)
        self.palette_dock = self._dock("Layers", "paletteDock", self.layer_palette, left)
        self.properties_dock = self._dock("Properties", "propertiesDock", self.properties, right)
        self.problems_dock = self._dock("Problems", "problemsDock", self.problems, bottom)
        self.summary_dock = self._dock("Summary", "summaryDock", self.summary, bottom)
        self.tabifyDockWidget(self.problems_dock, self.summary_dock)
        self.health_dock = self._dock("Gradient health", "healthDock", self.training.health, bottom)
        self.tabifyDockWidget(self.summary_dock, self.health_dock)
        self.bottom_docks = [self.problems_dock, self.summary_dock, self.health_dock]
        self.dashboard_dock = self._dock("Dashboard", "dashboardDock", self.dashboard, bottom)
        self.tabifyDockWidget(self.health_dock, self.dashboard_dock)
        self.bottom_docks.append(self.dashboard_dock)
        # The plots need room: the bottom area grows while the Dashboard tab is shown.
        self.dashboard_dock.visibilityChanged.connect(self._size_bottom_area)
        self.setTabPosition(bottom, QTabWidget.TabPosition.North)
        for dock in self.bottom_docks:
            dock.setTitleBarWidget(QWidget())  # the tabs name them
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.training)
        # never narrower than the panel (with room for the scroll bar): it would be cut off
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(self.training.minimumSizeHint().width() + bar)
        self.training_dock = self._dock("Training", "trainingDock", scroll, right)
        self.tabifyDockWidget(self.properties_dock, self.training_dock)
        self.properties_dock.raise_()
        self.summary_dock.raise_()  # the parameter table; Problems (n) says when to look there
        self.resizeDocks(
            [self.palette_dock, self.properties_dock], [200, 260], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.problems_dock], [self.BOTTOM_HEIGHT], Qt.Orientation.Vertical)

    def _action(
        self,
        text: str,
        slot: Callable[..., Any],
        shortcut: QKeySequence.StandardKey | str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)  # every binding of the platform (Redo has several)
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda checked=False: slot())
        self.addAction(action)  # shortcuts work while the menu bar is hidden too
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_file, K.New, "Start a new project")
        self.open_action = self._action("&Open…", self.open_dialog, K.Open, "Open a project file")
        self.save_action = self._action("&Save", self.save, K.Save, "Save the project")
        self.save_as_action = self._action(
            "Save &As…", self.save_as, K.SaveAs, "Save the project to another file"
        )
        self.quit_action = self._action("&Quit", self._quit, K.Quit)
        self.cut_action = self._action("Cu&t", self.cut, K.Cut, "Cut the selected layers")
        self.copy_action = self._action("&Copy", self.copy, K.Copy, "Copy the selected layers")
        self.paste_action = self._action("&Paste", self.paste, K.Paste, "Paste layers")
        self.delete_action = self._action(
            "&Delete", self.delete, K.Delete, "Delete the selected layers and connections"
        )
        self.select_all_action = self._action(
            "Select &All", self.select_all, K.SelectAll, "Select every layer"
        )
        self.fit_action = self._action("&Fit to View", self.fit, "Ctrl+1", "Show the whole network")
        self.zoom_in_action = self._action("Zoom &In", self.zoom_in, K.ZoomIn)
        self.zoom_out_action = self._action("Zoom &Out", self.zoom_out, K.ZoomOut)
        self.reset_zoom_action = self._action("&Reset Zoom", self.reset_zoom, "Ctrl+0")
        self.layout_lr_action = self._action(
            "Auto-layout &Left to Right",
            lambda: self.auto_layout("LR"),
            "Ctrl+L",
            "Arrange the layers in columns, inputs on the left",
        )
        self.layout_tb_action = self._action(
            "Auto-layout &Top to Bottom",
            lambda: self.auto_layout("TB"),
            "Ctrl+Shift+L",
            "Arrange the layers in rows, inputs at the top",
        )
        self.start_action = self._action(
            "&Start", self.start_training, "F5", "Train the current network"
        )
        self.pause_action = self._action("&Pause", self.training.pause, None, "Pause training")
        self.resume_action = self._action("&Resume", self.training.resume, None, "Resume training")
        self.stop_action = self._action("S&top", self.training.stop, "Shift+F5", "Stop training")
        self.training.state_changed.connect(self._training_state_changed)
        self._training_state_changed(self.training.state)
        self.export_dashboard_png_action = self._action(
            "&Dashboard as PNG…",
            lambda: self.export_dashboard("png"),
            None,
            "Save the training dashboard as it is shown as a PNG image",
        )
        self.export_dashboard_csv_action = self._action(
            "Run data as &CSV…",
            lambda: self.export_dashboard("csv"),
            None,
            "Save the dashboard's run (epoch records and per-step losses) as a CSV table",
        )
        self.dashboard.runs_changed.connect(self._dashboard_runs_changed)
        self.dashboard.message.connect(self.show_message)
        self._dashboard_runs_changed()
        # Toolbar labels are short; the menus keep the long ones.
        self.layout_tool_action = self._action(
            "Auto-layout", lambda: self.auto_layout("LR"), None, "Arrange the layers left to right"
        )
        self.fit_tool_action = self._action(
            "Fit", self.fit, None, "Show the whole network (Ctrl+1)"
        )

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = file_menu = bar.addMenu("&File")
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self.refresh_recent_menu)
        file_menu.addMenu(self.recent_menu)
        self.examples_menu = QMenu("&Examples", self)
        self.examples_menu.aboutToShow.connect(self._build_examples_menu)
        file_menu.addMenu(self.examples_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        self.export = ExportActions(self)  # File > Export: script, weights, ONNX
        self.export.menu.addSeparator()
        self.export.menu.addAction(self.export_dashboard_png_action)
        self.export.menu.addAction(self.export_dashboard_csv_action)
        file_menu.addMenu(self.export.menu)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        self.edit_menu = edit = bar.addMenu("&Edit")
        self._undo_anchor = edit.addSeparator()
        edit.addAction(self.cut_action)
        edit.addAction(self.copy_action)
        edit.addAction(self.paste_action)
        edit.addAction(self.delete_action)
        edit.addSeparator()
        edit.addAction(self.select_all_action)

        self.view_menu = view = bar.addMenu("&View")
        view.addAction(self.fit_action)
        view.addAction(self.zoom_in_action)
        view.addAction(self.zoom_out_action)
        view.addAction(self.reset_zoom_action)
        view.addSeparator()
        view.addAction(self.layout_lr_action)
        view.addAction(self.layout_tb_action)
        view.addSeparator()
        for dock in (
            self.palette_dock,
            self.properties_dock,
            self.training_dock,
            *self.bottom_docks,
        ):
            view.addAction(dock.toggleViewAction())

        self.train_menu = train = bar.addMenu("&Train")
        for action in (self.start_action, self.pause_action, self.resume_action, self.stop_action):
            train.addAction(action)
        self.help = HelpMenu(self)  # shortcuts, layer reference, documentation, About
        bar.addMenu(self.help.menu)

    def _build_toolbar(self) -> None:
        self.toolbar = bar = QToolBar("Main toolbar", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setIconSize(QSize(16, 16))
        bar.addAction(self.new_action)
        bar.addAction(self.open_action)
        bar.addAction(self.save_action)
        self._toolbar_undo_anchor = bar.addSeparator()
        self._toolbar_view_anchor = bar.addSeparator()
        bar.addAction(self.fit_tool_action)
        bar.addAction(self.layout_tool_action)
        bar.addSeparator()  # training at hand: the Train menu's actions, enabled as there
        self.start_action.setIconText("Train")
        for action in (self.start_action, self.pause_action, self.resume_action, self.stop_action):
            bar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.network_label = QLabel()
        self.network_label.setObjectName("statusNetwork")
        self.nodes_label = QLabel()
        self.nodes_label.setObjectName("statusNodes")
        self.params_label = QLabel()
        self.params_label.setObjectName("statusParams")
        for label in (self.network_label, self.nodes_label, self.params_label):
            status.addPermanentWidget(label)

    # ------------------------------------------------------------------ the document
    def _bind_document(self, doc: EditorDocument) -> None:
        doc.modified_changed.connect(self._modified_changed)
        doc.path_changed.connect(self._update_title)
        doc.shapes_checked.connect(self._update_status)
        doc.network_switched.connect(self._network_switched)
        doc.undo.indexChanged.connect(self._undo_index_changed)
        doc.undo.cleanChanged.connect(self._update_title)
        self._undo_index = doc.undo.index()
        self._install_undo_actions(doc)
        self._rebuild_tabs()
        self.header.set_project(doc.project)
        self._update_title()
        self._update_status()

    def _unbind_document(self, doc: EditorDocument) -> None:
        doc.modified_changed.disconnect(self._modified_changed)
        doc.path_changed.disconnect(self._update_title)
        doc.shapes_checked.disconnect(self._update_status)
        doc.network_switched.disconnect(self._network_switched)
        doc.undo.indexChanged.disconnect(self._undo_index_changed)
        doc.undo.cleanChanged.disconnect(self._update_title)

    def set_document(self, doc: EditorDocument, suggested_name: str | None = None) -> None:
        """Edit ``doc`` from now on (File > New / Open); the old project is ended
        (:meth:`end_project`), its document closed and its autosave removed. Asks nothing:
        see :meth:`may_close_project`."""
        self.end_project()
        old, old_canvas = self.doc, self.canvas
        self._unbind_document(old)
        self.doc = doc
        self.suggested_name = suggested_name
        self.canvas = Canvas(doc)
        self._canvas_row.replaceWidget(old_canvas, self.canvas)
        old_canvas.hide()
        old_canvas.setParent(None)
        old_canvas.deleteLater()
        self._connect_canvas()
        self.properties.set_document(doc)
        self.training.set_document(doc, self.canvas)
        self.problems.set_document(doc)
        self.summary.set_document(doc)
        self._paste_count = 0
        self._paste_key = None
        self.session.discard(self._autosave_file)
        self._autosave_file = None
        self._autosave_dirty = doc.modified
        self._bind_document(doc)
        old.close()
        old.deleteLater()
        self.canvas.setFocus()
        if self.isVisible():
            QTimer.singleShot(0, self.fit_on_open)

    def end_project(self) -> None:
        """The one place where what belongs to the open project goes (before another is
        opened): a run still training is stopped (its worker joined), the training panel's
        status, progress and warnings, the gradient-health tab and the canvas badges are
        reset, and the dashboard is cleared; its runs stay listed (and comparable), named
        after this project (:meth:`project_label`)."""
        self.training.end_project()  # also the health tab and the badges it relays
        self.dashboard.end_project(self.project_label())

    def project_label(self) -> str:
        """The project's name in the dashboard's run list once another one is open: its
        file's name without ``.json`` (an example's too: ``exploding_lr``), else the
        project's name."""
        if self.doc.path is not None:
            return self.doc.path.stem
        if self.suggested_name:
            return Path(self.suggested_name).stem
        return self.doc.project.name or "Untitled"

    def _connect_canvas(self) -> None:
        self.canvas.selection_changed.connect(self._selection_changed)
        self.canvas.message.connect(self.show_message)

    def _install_undo_actions(self, doc: EditorDocument) -> None:
        """Undo / Redo come from the document's stack (their text names the step)."""
        for action in (self._undo_action, self._redo_action):
            if action is not None:
                self.edit_menu.removeAction(action)
                self.toolbar.removeAction(action)
                self.removeAction(action)
                action.deleteLater()
        self._undo_action = undo = doc.undo.createUndoAction(self, "Undo")
        self._redo_action = redo = doc.undo.createRedoAction(self, "Redo")
        undo.setShortcuts(QKeySequence.StandardKey.Undo)
        # the platform's Redo bindings (Ctrl+Shift+Z on Linux) and Ctrl+Y on every platform
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        redo.setShortcuts(
            [*redo_keys, *([] if QKeySequence("Ctrl+Y") in redo_keys else [QKeySequence("Ctrl+Y")])]
        )
        self.addAction(undo)
        self.addAction(redo)
        self.edit_menu.insertActions(self._undo_anchor, [undo, redo])
        self.toolbar.insertActions(self._toolbar_view_anchor, [undo, redo])

    @property
    def undo_action(self) -> QAction:
        return self._undo_action

    @property
    def redo_action(self) -> QAction:
        return self._redo_action

    # ------------------------------------------------------------------ network tabs
    def _rebuild_tabs(self) -> None:
        self.tabs.blockSignals(True)
        try:
            while self.tabs.count():
                self.tabs.removeTab(0)
            names = list(self.doc.project.networks)
            for name in names:
                self.tabs.addTab(name)
            self.tabs.setCurrentIndex(names.index(self.doc.current))
        finally:
            self.tabs.blockSignals(False)
        self.tabs.setVisible(len(names) > 1)

    def _tab_changed(self, index: int) -> None:
        if index >= 0:
            self.doc.set_current(self.tabs.tabText(index))

    def _network_switched(self, name: str) -> None:
        names = list(self.doc.project.networks)
        if name in names and self.tabs.currentIndex() != names.index(name):
            self.tabs.blockSignals(True)
            self.tabs.setCurrentIndex(names.index(name))
            self.tabs.blockSignals(False)
        self._selection_changed(self.canvas.selected_nodes())
        self._update_status()

    def _undo_index_changed(self, index: int) -> None:
        """Undo / redo of a step in another network shows that network."""
        self._autosave_dirty = True
        stack = self.doc.undo
        if not shiboken6.isValid(stack):  # the stack signals while it is destroyed
            return
        changed = index if index < self._undo_index else index - 1
        self._undo_index = index
        command = stack.command(changed) if 0 <= changed < stack.count() else None
        while command is not None and not hasattr(command, "net") and command.childCount():
            command = command.child(0)
        net = getattr(command, "net", None)
        if net is not None and net.name != self.doc.current:
            if self.doc.project.networks.get(net.name) is net:
                self.doc.set_current(net.name)
        self._update_status()  # the count now; the parameters again once shapes are checked

    # ------------------------------------------------------------------ wiring
    def _selection_changed(self, ids: list[str]) -> None:
        self.properties.show_node(ids[0] if len(ids) == 1 else None)
        self._update_edit_actions()

    def _update_edit_actions(self) -> None:
        selected = bool(self.canvas.selected_nodes())
        self.cut_action.setEnabled(selected)
        self.copy_action.setEnabled(selected)

    def reveal_node(self, node_id: str) -> None:
        """Select a layer and scroll the canvas to it (a click in Problems / Summary)."""
        self.canvas.select_nodes([node_id])
        self.canvas.center_on_node(node_id)

    def add_layer(self, type_id: str) -> str | None:
        """Add a layer at the centre of the view (palette double-click / Enter)."""
        node_id = self.canvas.add_layer(type_id, self.canvas.scene_center())
        if node_id is not None:
            self.canvas.setFocus()
        return node_id

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_MS)

    def _problem_count_changed(self, count: int) -> None:
        self.problems_dock.setWindowTitle(f"Problems ({count})" if count else "Problems")

    def _modified_changed(self, modified: bool) -> None:
        self._autosave_dirty = True
        self._update_title()

    def _update_title(self, *args: Any) -> None:
        if not shiboken6.isValid(self.doc.undo):
            return
        self.setWindowTitle(f"{self.doc.title}[*] — {APP_TITLE}")
        self.setWindowModified(self.doc.modified)

    def _update_status(self, *args: Any) -> None:
        net = self.doc.net
        results = self.doc.checker.results
        live = live_nodes(net)
        total = sum(results[n].params for n in live if n in results)
        count = len(net)
        self.network_label.setText(f"Network: {net.name}")
        self.nodes_label.setText(f"{count:,} layer{'' if count == 1 else 's'}")
        self.params_label.setText(f"{format_count(total)} parameter{'' if total == 1 else 's'}")
        self._update_edit_actions()

    # ------------------------------------------------------------------ edit
    def select_all(self) -> None:
        self.canvas.select_nodes(self.doc.net.nodes)

    def delete(self) -> None:
        self.canvas.delete_selection()

    def copy(self) -> bool:
        """Copy the selected layers (and the connections between them) to the clipboard."""
        ids = self.canvas.selected_nodes()
        if not ids:
            self.show_message("Select the layers to copy first")
            return False
        clip = copy_selection(self.doc.net, ids)
        text = clipboard_text(clip)
        mime = QMimeData()
        mime.setData(CLIPBOARD_MIME, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_key, self._paste_count = text, 0
        n = len(ids)
        self.show_message(f"Copied {n} layer{'' if n == 1 else 's'}")
        return True

    def cut(self) -> bool:
        """Copy, then delete the selected layers (one undo step)."""
        ids = self.canvas.selected_nodes()
        if not self.copy():
            return False
        try:
            self.doc.push(RemoveNodes(self.doc.net, ids, text="Cut"))
        except EditError as exc:
            self.show_message(str(exc))
            return False
        self._paste_count = -1  # the first paste puts them back where they were
        return True

    def clipboard_document(self) -> dict[str, Any] | None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return None
        if mime.hasFormat(CLIPBOARD_MIME):
            text = bytes(mime.data(CLIPBOARD_MIME).data()).decode("utf-8", errors="replace")
        else:
            text = mime.text()
        return parse_clipboard(text) if text else None

    def paste(self) -> list[str]:
        """Paste the clipboard's layers, offset from the originals (further each time the
        same clipboard is pasted) and selected. Returns the new node ids."""
        clip = self.clipboard_document()
        if clip is None:
            self.show_message("The clipboard holds no layers: copy some first")
            return []
        key = clipboard_text(clip)
        if key != self._paste_key:
            self._paste_key, self._paste_count = key, 0
        self._paste_count += 1
        step = PASTE_STEP * self._paste_count
        offset = (step, step)
        centre = _clip_centre(clip)
        if centre is not None:
            visible = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
            x, y = centre[0] + step, centre[1] + step
            if not QRectF(visible).contains(x, y):  # the originals are out of sight
                cx, cy = self.canvas.scene_center()
                offset = (cx - centre[0] + step, cy - centre[1] + step)
        try:
            command = Paste(self.doc.net, clip, offset)
        except EditError as exc:
            self._paste_count -= 1
            self.show_message(str(exc))
            return []
        self.doc.push(command)
        self.canvas.select_nodes(command.node_ids)
        self.canvas.setFocus()
        return list(command.node_ids)

    # ------------------------------------------------------------------ view
    def fit(self) -> None:
        self.canvas.fit()

    def fit_on_open(self) -> None:
        """Fit the network; if that makes the cards too small to read even their names
        (a long network), show its beginning (the inputs) at a zoom where the cards show
        their details instead. Fit to View still shows all of it."""
        canvas = self.canvas
        canvas.fit()
        if not canvas.nodes or canvas.zoom() >= NAMES_ZOOM:
            return
        rect = canvas.content_rect()
        canvas.reset_zoom()  # a deliberate zoom: the canvas stops re-fitting on resize
        canvas.set_zoom(DETAIL_ZOOM)
        visible = canvas.viewport().width() / DETAIL_ZOOM
        canvas.centerOn(rect.left() - FIT_MARGIN + visible / 2, rect.center().y())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            QTimer.singleShot(0, self.fit_on_open)  # once the docks have their sizes

    def zoom_in(self) -> None:
        self.canvas.zoom_in()

    def zoom_out(self) -> None:
        self.canvas.zoom_out()

    def reset_zoom(self) -> None:
        self.canvas.reset_zoom()

    def auto_layout(self, direction: str = "LR") -> bool:
        """Arrange every layer of the network (one undo step), then fit the view."""
        net = self.doc.net
        positions = layered_layout(net, direction)
        moves = {
            n: (net.pos_of(n), (float(x), float(y)))
            for n, (x, y) in positions.items()
            if tuple(net.pos_of(n)) != (float(x), float(y))
        }
        if moves:
            words = "left to right" if direction == "LR" else "top to bottom"
            try:
                self.doc.push(MoveNodes(net, moves, text=f"Auto-layout {words}"))
            except EditError as exc:
                self.show_message(str(exc))
                return False
        self.canvas.fit()
        return bool(moves)

    # ------------------------------------------------------------------ files
    def new_file(self) -> bool:
        if not self.may_close_project():
            return False
        self.set_document(EditorDocument(new_project()))
        self.show_message("New project: drag layers from the left between the Input and the Output")
        return True

    def open_dialog(self) -> bool:
        path = self.ask_open_path()
        return self.open_file(path) if path else False

    def open_file(self, path: str | Path) -> bool:
        """Open a project file in this window (asking about unsaved changes first).

        A file that cannot be read shows the loader's message and changes nothing. A
        built-in example opens as a copy (:meth:`open_example`).
        """
        path = Path(path)
        if _is_example(path):
            return self.open_example(path)
        project = self._read_project(path, "Cannot open the project")
        if project is None:
            if not _exists(path):
                self.recent.remove(path)
            return False
        if not self.may_close_project():
            return False
        if not self._show_project(EditorDocument(project, path), path, "Cannot open the project"):
            return False
        self.recent.add(path)
        self.show_message(f"Opened {path}")
        return True

    def open_example(self, path: str | Path) -> bool:
        """Open a copy of a built-in example: "Untitled", so Save asks where to put it."""
        path = Path(path)
        project = self._read_project(path, "Cannot open the example")
        if project is None or not self.may_close_project():
            return False
        doc = EditorDocument(project)
        if not self._show_project(doc, path, "Cannot open the example", suggested_name=path.name):
            return False
        self.show_message(f"Opened a copy of the example '{project.name}'")
        return True

    def _read_project(self, path: Path, title: str) -> Project | None:
        """The project in ``path``, or None after a dialog saying why it cannot be read."""
        try:
            return load(path, CATALOG)
        except ProjectFileError as exc:
            self.show_error(title, str(exc))
        except Exception as exc:  # a loader bug: the open project stays, the reason is shown
            traceback.print_exc()
            self.show_error(title, f"Cannot open {path}: {_unexpected(exc)}")
        return None

    def _show_project(
        self, doc: EditorDocument, path: Path, title: str, suggested_name: str | None = None
    ) -> bool:
        """Edit ``doc`` from now on; if the editor cannot show it, the open project is put
        back and a dialog says why."""
        old, old_name = self.doc, self.suggested_name
        try:
            self.set_document(doc, suggested_name)
        except Exception as exc:  # the window must survive a project it cannot show
            traceback.print_exc()
            if self.doc is not old:  # swapped in part: the open project goes back in whole
                with warnings.catch_warnings():  # the new document was never fully bound
                    warnings.simplefilter("ignore", RuntimeWarning)
                    self.set_document(old, old_name)
            else:
                doc.close()
            self.show_error(
                title, f"Cannot open {path}: {_unexpected(exc)}\nThe open project is unchanged."
            )
            return False
        return True

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self.save_to(self.doc.path)

    def save_as(self) -> bool:
        chosen = self.ask_save_path()
        if not chosen:
            return False
        path = Path(chosen)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        return self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        """Write the project atomically to ``path`` and make it the document's file."""
        path = Path(path)
        try:
            save(self.doc.project, path)
        except OSError as exc:
            self.show_error("Cannot save the project", f"Cannot save {path}: {exc.strerror or exc}")
            return False
        self.doc.mark_saved(path)
        self.suggested_name = None
        self.recent.add(path)
        self.session.discard(self._autosave_file)
        self._autosave_file = None
        self._autosave_dirty = False
        self.show_message(f"Saved {path}")
        return True

    def may_close_project(self) -> bool:
        """Before another project replaces this one: True when a run still training may
        stop (or none goes) and the unsaved changes are saved or discarded (or none)."""
        if self.training.running and not self.ask_stop_training():
            return False
        return self.maybe_save()

    def maybe_save(self) -> bool:
        """Before the document goes away: True when it may (saved, discarded, or nothing
        to save), False when the user cancelled or saving failed."""
        if not self.doc.modified:
            return True
        answer = self.ask_save_changes()
        if answer == SAVE:
            return self.save()
        return answer == DISCARD

    def refresh_recent_menu(self) -> list[Path]:
        """Rebuild Open Recent (missing files are dropped, with a message); returns it."""
        gone = self.recent.prune()
        if gone:
            names = ", ".join(p.name for p in gone)
            s = "" if len(gone) == 1 else "s"
            self.show_message(f"Removed {len(gone)} missing file{s} from Open Recent: {names}")
        files = self.recent.files()
        menu = self.recent_menu
        menu.clear()
        for i, path in enumerate(files):
            label = f"&{i + 1}  {path.name}" if i < 9 else f"1&0  {path.name}"
            action = menu.addAction(label)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda checked=False, p=path: self.open_file(p))
        if not files:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear List", self._clear_recent)
        return files

    def _clear_recent(self) -> None:
        self.recent.clear()

    def _build_examples_menu(self) -> None:
        if self._examples_built:
            return
        import assets

        self._examples_built = True
        entries = sorted(
            ((example_name(p), p) for p in assets.example_paths()), key=lambda e: e[0].lower()
        )
        for name, path in entries:
            action = self.examples_menu.addAction(name)
            action.setData(str(path))
            action.setStatusTip(f"Open a copy of {path.name}")
            action.triggered.connect(lambda checked=False, p=path: self.open_example(p))

    def example_actions(self) -> list[QAction]:
        """The Examples menu's entries (built on first use)."""
        self._build_examples_menu()
        return [a for a in self.examples_menu.actions() if a.data()]

    # ------------------------------------------------------------------ autosave and recovery
    @property
    def autosave_file(self) -> Path | None:
        """This document's autosave (None while there is nothing unsaved to keep)."""
        return self._autosave_file

    def set_autosave_interval(self, ms: int) -> None:
        self._timer.setInterval(max(1, int(ms)))
        self._timer.start()

    def autosave_now(self) -> bool:
        """Write the unsaved document to its autosave file (never the user's file).
        Returns whether it wrote."""
        if not self.doc.modified:
            if self._autosave_file is not None:  # undone back to the saved state
                self.session.discard(self._autosave_file)
                self._autosave_file = None
            return False
        if not self._autosave_dirty and self._autosave_file is not None:
            if self._autosave_file.exists():
                return False
        if self._autosave_file is None:
            self._autosave_file = self.session.new_file()
        try:
            self.session.write(self._autosave_file, self.doc.project, self.doc.path)
        except OSError as exc:
            self.show_message(f"Autosave failed: {exc.strerror or exc}")
            return False
        self._autosave_dirty = False
        return True

    def offer_recovery(self) -> list[MainWindow]:
        """Offer each autosave left by a session that did not exit cleanly; a recovered one
        opens in a new window, modified, remembering its file (Save writes there).
        Returns the new windows."""
        opened: list[MainWindow] = []
        for item in self.session.recoverable():
            if not self.ask_recover(item):
                Session.forget(item)
                continue
            try:
                project, original = read_autosave(item.file, CATALOG)
            except ProjectFileError as exc:
                self.show_error("Cannot recover", str(exc))
                Session.forget(item)
                continue
            doc = EditorDocument(project, original)
            doc.undo.resetClean()  # differs from the file: Save writes it there
            window = self.open_window(doc)
            window.autosave_now()  # ours now, before the old one goes
            Session.forget(item)
            window.show_message(f"Recovered unsaved changes to {item.label}")
            opened.append(window)
        return opened

    def open_window(self, doc: EditorDocument, suggested_name: str | None = None) -> MainWindow:
        """A new window on ``doc``, sharing this one's session, recent list, autosave
        interval and any replaced dialog methods."""
        window = MainWindow(
            doc,
            session=self.session,
            recent=self.recent,
            autosave_ms=self._timer.interval() if self._timer.isActive() else 0,
            suggested_name=suggested_name,
        )
        for name in DIALOG_HOOKS:
            if name in self.__dict__:
                setattr(window, name, self.__dict__[name])
        window.show()
        return window

    BOTTOM_HEIGHT = 235

    def _size_bottom_area(self, dashboard_visible: bool) -> None:
        height = int(self.height() * 0.55) if dashboard_visible else self.BOTTOM_HEIGHT
        self.resizeDocks([self.problems_dock], [height], Qt.Orientation.Vertical)

    # ------------------------------------------------------------------ training
    def start_training(self) -> bool:
        """Train the current network (Train > Start, F5); shows the Training dock."""
        self.training_dock.show()
        self.training_dock.raise_()
        started = self.training.start()
        if started:
            self.dashboard_dock.show()
            self.dashboard_dock.raise_()
        return started

    def export_dashboard(self, kind: str) -> Path | None:
        """File > Export > Dashboard as PNG / Run data as CSV: shows the Dashboard tab (the
        image is what it shows), then asks where to save."""
        self.dashboard_dock.show()
        self.dashboard_dock.raise_()
        if kind == "png":
            return self.dashboard.export_png_dialog()
        return self.dashboard.export_csv_dialog()

    def _dashboard_runs_changed(self) -> None:
        has_run = self.dashboard.shown is not None  # what the exports save
        self.export_dashboard_png_action.setEnabled(has_run)
        self.export_dashboard_csv_action.setEnabled(has_run)

    def _training_state_changed(self, state: str) -> None:
        self.start_action.setEnabled(state == "idle")
        self.pause_action.setEnabled(state in ("starting", "running"))
        self.resume_action.setEnabled(state == "paused")
        self.stop_action.setEnabled(state in ("starting", "running", "paused"))

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self._timer.stop()
        self.training.shutdown()  # stop the worker and join it (it stops within a step)
        self.session.discard(self._autosave_file)
        self._autosave_file = None
        if not self._closed:
            # A document's undo stack signals while it is destroyed: stop listening first.
            self._closed = True
            self._unbind_document(self.doc)
        event.accept()
        # Drop our reference once Qt is done closing (not from inside the event).
        QTimer.singleShot(0, self._forget)

    def _forget(self) -> None:
        if self in MainWindow.windows:
            MainWindow.windows.remove(self)

    def _quit(self) -> None:
        for window in list(MainWindow.windows):
            if window.isVisible() and not window.close():
                return

    # ------------------------------------------------------------------ questions (replaceable)
    def ask_save_changes(self) -> str:
        """``"save"``, ``"discard"`` or ``"cancel"``: what to do with unsaved changes."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(APP_TITLE)
        box.setText(f"Save the changes to {self.doc.title}?")
        box.setInformativeText("Your changes will be lost if you don't save them.")
        buttons = QMessageBox.StandardButton
        box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
        box.setDefaultButton(buttons.Save)
        answer = box.exec()
        if answer == buttons.Save:
            return SAVE
        if answer == buttons.Discard:
            return DISCARD
        return CANCEL

    def ask_stop_training(self) -> bool:
        """Whether the run still training may stop so that another project opens."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(APP_TITLE)
        box.setText("Training is running. Stop it?")
        box.setInformativeText(
            "Another project replaces this one: the run stops now. Its results so far stay "
            "in the dashboard, to compare with."
        )
        stop = box.addButton("Stop Training", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(stop)
        box.exec()
        return box.clickedButton() is stop

    def ask_open_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", str(self._start_folder()), FILE_FILTER
        )
        return path or None

    def ask_save_path(self) -> str | None:
        name = self.doc.path.name if self.doc.path else self.suggested_name or "untitled.json"
        start = self._start_folder() / name
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(start), FILE_FILTER)
        return path or None

    def ask_recover(self, item: Recoverable) -> bool:
        """Whether to recover an autosave of a session that did not exit cleanly."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.saved_at))
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(f"Recover — {APP_TITLE}")
        box.setText(
            f"NeuralCanvas did not close properly. Recover the unsaved changes to {item.label}?"
        )
        where = f"It belongs to {item.original}." if item.original else "It was never saved."
        box.setInformativeText(f"Autosaved {when}. {where}")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(recover)
        box.exec()
        return box.clickedButton() is recover

    def show_error(self, title: str, message: str) -> None:
        warn(self, title, message)

    def _start_folder(self) -> Path:
        if self.doc.path is not None:
            return self.doc.path.parent
        files = self.recent.files()
        if files:
            return files[0].parent
        return Path.home()


class _ProjectHeader(QWidget):
    """The project's name and, elided to one line, its description (above the canvas)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name_label = QLabel()
        self.name_label.setObjectName("projectName")
        font = self.name_label.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.2)
        self.name_label.setFont(font)
        self.description_label = QLabel()
        self.description_label.setObjectName("projectDescription")
        self.description_label.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )
        self._description = ""
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(12)
        layout.addWidget(self.name_label, 0, Qt.AlignmentFlag.AlignBaseline)
        layout.addWidget(self.description_label, 1, Qt.AlignmentFlag.AlignBaseline)

    def set_project(self, project: Project) -> None:
        self.name_label.setText(project.name)
        self._description = " ".join(project.description.split())
        self.description_label.setToolTip(
            f"<p>{html.escape(self._description)}</p>" if self._description else ""
        )
        self._elide()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.description_label.fontMetrics()
        width = max(0, self.description_label.width())
        self.description_label.setText(
            metrics.elidedText(self._description, Qt.TextElideMode.ElideRight, width)
        )


def _is_example(path: Path) -> bool:
    import assets

    try:
        return path.resolve().parent == assets.EXAMPLES.resolve()
    except (OSError, ValueError):  # a name too long, a NUL character
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _unexpected(exc: BaseException) -> str:
    return (
        f"NeuralCanvas cannot show this file ({type(exc).__name__}: {exc})."
        " Please report this error with the file."
    )


def _clip_centre(clip: dict[str, Any]) -> tuple[float, float] | None:
    points = []
    for node in clip.get("nodes", []):
        pos = node.get("pos") if isinstance(node, dict) else None
        if isinstance(pos, (list, tuple)) and len(pos) == 2:
            try:
                points.append((float(pos[0]), float(pos[1])))
            except (TypeError, ValueError):
                continue
    if not points:
        return None
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))

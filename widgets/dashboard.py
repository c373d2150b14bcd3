"""The training dashboard: every run of the session with its records, and the plots of the
current one (or two runs compared).

The training panel feeds it from a timer (at most 30 Hz) with whatever the trainer produced:
:meth:`Dashboard.add_records` only appends to bounded buffers and marks plots dirty;
:meth:`Dashboard.refresh` redraws the dirty plots (nothing when nothing changed).

While a run goes, :meth:`Dashboard.refresh_live` redraws one visible plot group at a time,
each group at most every ``live_interval`` (100 ms) and so that redrawing (drawing and
painting, in the GUI thread's CPU time) takes at most ``live_budget`` (3 %) of the GUI
thread: the trainer's Python waits for the interpreter lock whenever the GUI thread holds
it, so every millisecond drawn is one the trainer may lose. The views' ranges then move only when the data outgrows them
(:class:`widgets.plots.StickyViewBox`); a full refresh fits them exactly.
"""

from __future__ import annotations

import csv
import html
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from builder.training.config import HealthThresholds
from builder.training.procedures import DEFAULT, ProcedureSpec
from builder.training.records import (
    EpochRecord,
    ErrorRecord,
    EvaluationRecord,
    History,
    ProbeRecord,
    StatusRecord,
    StepRecord,
    ViewRecord,
)
from graph.atomic import FileWriteError, atomic_write
from graph.errors import NeuralCanvasError
from widgets import dialogs, theme
from widgets.plots import (
    CURVE_CAP,
    HEATMAP_WIDTH,
    NORM_CEIL,
    NORM_FLOOR,
    ConfusionMatrixView,
    DecisionBoundary,
    GradientHeatmap,
    GradientPlot,
    HistogramPlot,
    LossPlot,
    MetricsPlot,
    Ring,
    on_white,
)
from widgets.views import VIEW_PREFIX, ProcedureViews, dirty_key, procedure_spec

GRAD_CAP = 20_000  # points per layer's gradient-norm curve (thinned beyond)
HISTORY_STEPS = 500  # step records kept whole per run (History thins beyond, <= 2x)
NO_COMPARISON = "None"  # the first entry of the "Compare with" list
PROJECT_MARK = " · "  # between a closed project's name and its run's: "xor · main #1"
NO_RUN = "No run yet"
TITLE_ROOM = 210  # px kept for the run's name and state when the controls share its row
PNG_FILTER = "PNG image (*.png)"
CSV_FILTER = "CSV table (*.csv)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_stem(name: str, fallback: str = "run") -> str:
    """A plain file name stem from a run's name: ``"main #2"`` -> ``"main_2"``."""
    stem = _UNSAFE.sub("_", name).strip("._-")[:60]
    return stem or fallback


class Heat:
    """The newest ``width`` reports of per-layer log10 gradient norms: a circular
    ``(layers, width)`` array, rows added as layers appear."""

    def __init__(self, width: int = HEATMAP_WIDTH):
        self.width = width
        self.layers: list[str] = []
        self._row: dict[str, int] = {}
        self._a = np.full((0, width), np.nan, dtype=np.float32)
        self._steps = np.zeros(width)
        self.count = 0  # reports ever added

    def add(self, step: int, norms: dict[str, float] | Any) -> None:
        for name in norms:
            if name not in self._row:
                self._row[name] = len(self.layers)
                self.layers.append(name)
                self._a = np.vstack([self._a, np.full((1, self.width), np.nan, np.float32)])
        col = self.count % self.width
        self._a[:, col] = np.nan
        for name, value in norms.items():
            self._a[self._row[name], col] = math.log10(_clamp_norm(value))
        self._steps[col] = step
        self.count += 1

    def image(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(layers, steps, log norms of shape (layers, reports)), oldest report first."""
        n = min(self.count, self.width)
        if self.count <= self.width:
            return self.layers, self._steps[:n].copy(), self._a[:, :n].copy()
        shift = self.count % self.width
        return (self.layers, np.roll(self._steps, -shift), np.roll(self._a, -shift, axis=1))


def _clamp_norm(value: float) -> float:
    if not math.isfinite(value):
        return NORM_CEIL
    return min(NORM_CEIL, max(NORM_FLOOR, value))


@dataclass
class Run:
    """One training run of the session: its records (bounded) and the plot buffers."""

    name: str
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    points: tuple[np.ndarray, np.ndarray] | None = None
    procedure: str = DEFAULT  # whose declared views the dashboard shows (widgets.views)
    history: History = field(default_factory=lambda: History(recent=HISTORY_STEPS))
    steps: Ring = field(default_factory=lambda: Ring(3, CURVE_CAP))  # step, loss, epoch
    epochs: Ring = field(default_factory=lambda: Ring(3, CURVE_CAP))  # step, train, val
    metrics: dict[str, Ring] = field(default_factory=dict)  # name -> (step, value)
    grads: dict[str, Ring] = field(default_factory=dict)  # layer -> (step, norm)
    series: dict[str, Ring] = field(default_factory=dict)  # StepRecord.series: (step, value)
    heat: Heat = field(default_factory=Heat)
    class_names: list[str] | None = None  # the confusion matrix's row and column names
    sample_shape: tuple[int, ...] | None = None  # one sample of its data (None: not known)
    probe: ProbeRecord | None = None
    confusion: Any = None
    confusion_split: str = ""
    alarms: tuple = ()  # the newest epoch's alarms: (key, what is wrong, what to try) each
    state: str = ""
    error: str = ""

    def add(self, record: Any) -> set[str]:
        """Store a record; return the names of the plots it changes."""
        self.history.add(record)
        if isinstance(record, StepRecord):
            n = len(record.losses)
            x = np.arange(record.first_step, record.first_step + n, dtype=float)
            # a report can span epochs (tiny epochs): each loss keeps its own epoch
            epochs = np.asarray(record.step_epochs(), dtype=float)
            self.steps.extend((x, np.asarray(record.losses, float), epochs))
            dirty = {"loss"}
            for name, values in record.series.items():
                if len(values) == n:
                    ring = self.series.get(name)
                    if ring is None:
                        ring = self.series[name] = Ring(2, CURVE_CAP)
                    ring.extend((x, np.asarray(values, float)))
            if record.grad_norms:
                for layer, value in record.grad_norms.items():
                    ring = self.grads.get(layer)
                    if ring is None:
                        ring = self.grads[layer] = Ring(2, GRAD_CAP)
                    ring.append(record.step, _clamp_norm(value))
                self.heat.add(record.step, record.grad_norms)
                dirty |= {"grads", "heat", "layers"}
            return dirty
        if isinstance(record, EpochRecord):
            val = math.nan if record.val_loss is None else record.val_loss
            self.epochs.append(record.step, record.train_loss, val)
            for name, value in record.metrics.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    ring = self.metrics.get(name)
                    if ring is None:
                        ring = self.metrics[name] = Ring(2, CURVE_CAP)
                    ring.append(record.step, float(value))
            dirty = {"epochs", "metrics"}
            alarms = tuple(tuple(a) for a in record.metrics.get("alarms") or ())
            if alarms != self.alarms:
                self.alarms = alarms
                dirty.add("status")
            if record.metrics.get("confusion") is not None:
                # without a validation split (no validation loss) the trainer measures on
                # the training data
                split = "training data" if record.val_loss is None else "validation"
                self.confusion, self.confusion_split = record.metrics["confusion"], split
                dirty.add("confusion")
            return dirty
        if isinstance(record, ProbeRecord):
            self.probe = record
            return {"probe"}
        if isinstance(record, ViewRecord):  # the newest of each is in the history
            return {dirty_key(record.key)}
        if isinstance(record, EvaluationRecord):
            if record.metrics.get("confusion") is not None:
                self.confusion, self.confusion_split = record.metrics["confusion"], record.split
                return {"confusion", "status"}
            return {"status"}
        if isinstance(record, StatusRecord):
            self.state = record.state
            return {"status"}
        if isinstance(record, ErrorRecord):
            self.state, self.error = "error", record.message
            return {"status"}
        return set()

    def step_losses(self) -> tuple[np.ndarray, np.ndarray]:
        return self.steps.col(0), self.steps.col(1)

    def val_losses(self) -> tuple[np.ndarray, np.ndarray]:
        return self.epochs.col(0), self.epochs.col(2)

    @property
    def metrics_split(self) -> str:
        """What the epoch metrics were measured on: the trainer uses the validation split,
        or the training data when there is none (no validation loss)."""
        val = self.epochs.col(2)
        if len(val) and not np.isfinite(val).any():
            return "training data"
        return "validation"


class DashboardExportError(NeuralCanvasError):
    """The dashboard's plots or data could not be saved; the message names the file and
    what to do."""


# refresh_live: the plot groups redrawn one per tick, and what is cheap enough for every tick
LIVE_GROUPS = [
    frozenset({"loss", "epochs", "other"}),
    frozenset({"grads"}),
    frozenset({"metrics"}),
    frozenset({"probe"}),
    frozenset({"heat"}),
    frozenset({"confusion"}),
]
CHEAP = frozenset({"layers", "status"})
LIVE_INTERVAL = 0.1  # s between live redraws (one plot group each), at least
# The most of the GUI thread's time live redraws may take (drawing and painting): while
# a run goes, the trainer's Python waits for the interpreter lock whenever the GUI thread
# holds it, so a redraw that cost 8 ms is followed by 8 / LIVE_BUDGET ms without one.
LIVE_BUDGET = 0.03  # 5 % left figure D of bench_dashboard (training speed) at 0.89-0.91

ALL_PLOTS = frozenset(
    {
        "loss",  # the per-step curves
        "epochs",  # the per-epoch curves
        "other",  # the compared run's curves
        "metrics",
        "grads",
        "heat",
        "layers",
        "probe",
        "confusion",
        "status",
    }
)


class Dashboard(QWidget):
    """Plots of the current run: loss, metrics, gradients, layer histograms, the decision
    boundary and the confusion matrix; every run of the session kept in :attr:`runs`. The
    shown run's training procedure says which of them it declares, and brings its own views
    in their tabs (:attr:`views`, :class:`widgets.views.ProcedureViews`: a VAE's Latent tab).

    The top row names the shown run and holds "Compare with" (another run's loss curves
    dashed over this one's), the loss plot's smoothing and log scale, and Export (the
    dashboard as a PNG, the run's records as CSV). Where the row is too narrow for all of
    them, the controls wrap onto a second row.

    Export results are announced through :attr:`message` (the main window shows them in its
    status bar); errors through :meth:`show_error`, which the main window replaces.
    """

    layer_selected = Signal(str)
    message = Signal(str)  # an export's result, for a status bar
    runs_changed = Signal()  # a run was added or the shown one went (the export actions)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: dict[str, Run] = {}
        # the runs of the open project (the others are named after theirs: end_project)
        self.project_runs: list[Run] = []
        self.current: Run | None = None
        self.compared: Run | None = None  # shown dashed on the loss plot
        self._shown: Run | None = None  # the run the plots show (current unless compared)
        self._dirty: set[str] = set()
        self._chosen_layer: str | None = None  # the user's choice, kept across runs
        self.refreshes = 0  # redraws (refresh or refresh_live) that drew something
        self._live_next = 0  # the plot group refresh_live tries first
        self._turns = 0  # refresh_in_turns' passes (a newer one supersedes an older)
        self.in_turns = False  # a pass of refresh_in_turns is under way
        # Seconds between live redraws: each plot then redraws a few times a second while
        # a run goes, and the GUI thread leaves the interpreter lock to the trainer.
        self.live_interval = LIVE_INTERVAL
        self.live_budget = LIVE_BUDGET
        self._live_t = -math.inf
        self._live_cost = 0.0  # what the last live redraw cost the GUI thread, in seconds
        self._group_due: dict[frozenset[str], float] = {}  # when a group may redraw next
        self._group_marks: dict[frozenset[str], float] = {}  # its paint time at its redraw
        # where the save dialogs open: the folder of the last export, else this (the main
        # window sets it to its project's folder), else the home folder
        self.start_folder: Callable[[], Path] | None = None
        self._export_folder: Path | None = None
        self.wide_top: bool | None = None  # the controls share the run's row

        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), theme.WINDOW)
        self.setPalette(pal)

        self.title = ElidedLabel(NO_RUN)
        self.title.setStyleSheet(f"font-weight: 600; color: {theme.TEXT.name()};")
        self.state_label = ElidedLabel("")
        self.state_label.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.compare_label = QLabel("Compare with")
        self.compare_combo = QComboBox()
        self.compare_combo.addItem(NO_COMPARISON)
        self.compare_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.compare_combo.setMinimumContentsLength(10)
        self.compare_combo.setEnabled(False)
        self.compare_combo.setToolTip(
            "Draw another run of this session dashed on the loss plot, over the run shown "
            "(None: this run alone). Train again to have a run to compare with."
        )
        self.compare_label.setToolTip(self.compare_combo.toolTip())
        self.compare_label.setBuddy(self.compare_combo)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setFixedWidth(100)
        self.smoothing.setToolTip("Smoothing of the per-step loss (exponential moving average)")
        self.smoothing_label = QLabel()
        self.log_y = QCheckBox("Log loss")
        self.log_y.setToolTip("Draw the loss on a logarithmic scale")
        self.export_png_action = QAction("Dashboard as &PNG…", self)
        self.export_png_action.setToolTip("Save the dashboard as it is shown as a PNG image")
        self.export_png_action.triggered.connect(lambda _checked=False: self.export_png_dialog())
        self.export_csv_action = QAction("Run data as &CSV…", self)
        self.export_csv_action.setToolTip(
            "Save the shown run's epoch records and per-step losses as a CSV table"
        )
        self.export_csv_action.triggered.connect(lambda _checked=False: self.export_csv_dialog())
        self.export_menu = QMenu(self)
        self.export_menu.addAction(self.export_png_action)
        self.export_menu.addAction(self.export_csv_action)
        self.export_button = QToolButton()
        self.export_button.setObjectName("dashboardExport")
        self.export_button.setMenu(self.export_menu)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolTip(
            "Save the dashboard as a PNG image or the shown run's records as CSV"
        )
        self.export_button.setStyleSheet(
            f"QToolButton#dashboardExport {{ border: 1px solid {theme.FRAME.name()};"
            f" border-radius: 4px; background: {theme.CARD.name()}; padding: 2px 8px; }}"
            f" QToolButton#dashboardExport:hover {{ border-color: {theme.ACCENT.name()}; }}"
            f" QToolButton#dashboardExport:disabled {{ color: {theme.DISABLED.name()};"
            f" background: {theme.WINDOW.name()}; }}"
            " QToolButton#dashboardExport::menu-indicator { image: none; width: 0; }"
        )
        self.export_button.setText("Export ▾")
        for w in (self.export_button, self.export_png_action, self.export_csv_action):
            w.setEnabled(False)
        self.layer_combo = QComboBox()
        self.layer_combo.setMinimumContentsLength(14)
        self.layer_combo.setToolTip("Layer whose weights and activations are shown")

        self.loss_plot = LossPlot()
        self.metrics_plot = MetricsPlot()
        self.gradient_plot = GradientPlot()
        self.heatmap = GradientHeatmap()
        self.weights_hist = HistogramPlot("Weights", theme.ACCENT)
        self.activations_hist = HistogramPlot("Activations", theme.HEALTHY)
        self.boundary = DecisionBoundary()
        self.confusion = ConfusionMatrixView()
        self.confusion_title = QLabel("Confusion matrix")

        # the top row's groups: moved between one row and two by _arrange_top()
        self._info = _row(self.title, self.state_label)
        self._info.layout().setStretch(1, 1)
        self._compare_box = _row(self.compare_label, self.compare_combo)
        self._loss_box = _row(
            QLabel("Smoothing"), self.smoothing, self.smoothing_label, 12, self.log_y
        )
        self._top_rows = (QHBoxLayout(), QHBoxLayout())
        for r in self._top_rows:
            r.setSpacing(12)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        overview = QWidget()
        grid = QGridLayout(overview)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.tabs.addTab(overview, "Overview")  # laid out by self.views.arrange()

        gradients = QWidget()
        g = QVBoxLayout(gradients)
        g.setContentsMargins(0, 4, 0, 0)
        g.addWidget(self.heatmap)
        self.tabs.addTab(gradients, "Gradients")

        layers = QWidget()
        lg = QGridLayout(layers)
        lg.setContentsMargins(0, 6, 0, 0)
        lg.setVerticalSpacing(6)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.layer_label = QLabel("Layer")
        self.layer_label.setBuddy(self.layer_combo)
        self.layer_hint = QLabel("weights and activations, updated a few times a second")
        self.layer_hint.setStyleSheet(f"color: {theme.MUTED.name()};")
        row.addWidget(self.layer_label)
        row.addWidget(self.layer_combo)
        row.addSpacing(8)
        row.addWidget(self.layer_hint)
        row.addStretch(1)
        lg.addLayout(row, 0, 0, 1, 2)
        lg.addWidget(self.weights_hist, 1, 0)
        lg.addWidget(self.activations_hist, 1, 1)
        lg.setRowStretch(1, 1)
        self.tabs.addTab(layers, "Layers")

        evaluation = QWidget()
        ev = QVBoxLayout(evaluation)
        ev.setContentsMargins(0, 4, 0, 0)
        ev.addWidget(self.confusion_title)
        ev.addWidget(self.confusion, 1, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.tabs.addTab(evaluation, "Confusion")
        # the procedure's declared views: which of these plots and tabs, and its own ones
        self.views = ProcedureViews(
            self.tabs,
            grid,
            builtin={
                "loss": self.loss_plot,
                "metrics": self.metrics_plot,
                "gradients": self.gradient_plot,
                "boundary": self.boundary,
            },
            builtin_tabs={"gradients": gradients, "layers": layers, "confusion": evaluation},
        )
        self.views.arrange()
        self.tabs.currentChanged.connect(self._on_tab)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 8)
        outer.addLayout(self._top_rows[0])
        outer.addLayout(self._top_rows[1])
        # what goes wrong in the shown run, with what to try (a procedure's alarms)
        self.alarms = QLabel()
        self.alarms.setObjectName("runAlarms")
        self.alarms.setWordWrap(True)
        self.alarms.setTextFormat(Qt.TextFormat.RichText)
        self.alarms.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.alarms.setStyleSheet(
            f"QLabel#runAlarms {{ color: {theme.TEXT.name()}; background: "
            f"{on_white(theme.ERROR, 28).name()}; border-left: 3px solid {theme.ERROR.name()};"
            " padding: 4px 8px; }"
        )
        self.alarms.hide()
        outer.addWidget(self.alarms)
        outer.addWidget(self.tabs, 1)
        self._arrange_top(True)

        self.compare_combo.currentIndexChanged.connect(self._compare_chosen)

        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_y.toggled.connect(self.loss_plot.set_log_y)
        self.log_y.toggled.connect(self.views.set_log_y)
        self.layer_combo.textActivated.connect(self._layer_activated)
        self.smoothing.setValue(round(self.loss_plot.smoothing * 100))
        self._on_smoothing(self.smoothing.value())

    # -- feeding -----------------------------------------------------------------------------

    def begin_run(
        self,
        name: str,
        thresholds: HealthThresholds,
        points: tuple[np.ndarray, np.ndarray] | None = None,
        class_names: Sequence[str] | None = None,
        procedure: str | ProcedureSpec | None = None,
        trainer: Any = None,
    ) -> Run:
        """Start showing a new run (earlier runs stay in :attr:`runs`).

        ``points``: 2-D training data, drawn under the decision boundary. ``class_names``:
        the dataset's classes, in target order, naming the confusion matrix's rows and
        columns (numbers without them). ``procedure`` (default supervised): the training
        procedure whose declared views are shown; its ``trainer`` is asked for the views it
        probes (``Trainer.set_views``).
        """
        unique, i = name, 2
        while unique in self.runs:
            unique, i = f"{name} ({i})", i + 1
        spec = procedure_spec(procedure)
        run = Run(unique, thresholds, points, spec.id)
        run.history.keep_views({v.key: v.history for v in spec.views})
        run.class_names = [str(c) for c in class_names] if class_names else None
        self.runs[unique] = run
        self.project_runs.append(run)
        self.current = self._shown = run
        self.compared = None
        self.loss_plot.set_other(None)
        self.gradient_plot.set_thresholds(thresholds)
        # Until the data is loaded (set_run_data), the last run's data is the best guess for
        # a run of the same procedure: its layout stays, nothing is laid out twice.
        guess = self.views.sample_shape if spec is self.views.spec else None
        self.views.sample_shape = run.sample_shape if run.sample_shape is not None else guess
        self.views.show(run.procedure)  # its tabs; _set_points lays the Overview out
        self._set_points(points)
        self.layer_combo.clear()
        self._dirty = self._everything()
        set_views = getattr(trainer, "set_views", None)  # trainers without views: none
        if set_views is not None and self.views.probed():
            set_views(True)
        self._live_cost = 0.0
        self._group_due, self._group_marks = {}, {}
        self._sync_compare()
        self.runs_changed.emit()
        return run

    def prepare_views(self, procedure: str | ProcedureSpec | None) -> None:
        """The open project trains with ``procedure``: its views are made ahead of the first
        run, a widget per turn of the event loop, so that Start does not wait for them; with
        no run shown they are then laid out, empty, as the run will show them."""
        self.views.prepare(procedure, ready=lambda: self._show_prepared(procedure))

    def _show_prepared(self, procedure: str | ProcedureSpec | None) -> None:
        if self._shown is None and self.views.show(procedure):
            self.views.arrange(boundary=True)

    def set_run_data(
        self,
        points: tuple[np.ndarray, np.ndarray] | None = None,
        class_names: Sequence[str] | None = None,
        sample_shape: Sequence[int] | None = None,
    ) -> None:
        """What the current run's data turned out to be once loaded (see :meth:`begin_run`):
        a run begins at Start, before its data is loaded, so that its plots are cleared
        while the trainer loads and compiles rather than while it trains. ``sample_shape``:
        one sample's, so the procedure's views of other data are left out."""
        run = self.current
        if run is None:
            return
        run.points = points
        run.class_names = [str(c) for c in class_names] if class_names else None
        run.sample_shape = None if sample_shape is None else tuple(sample_shape)
        if run is self._shown:
            self.views.sample_shape = run.sample_shape
            self._set_points(points)
            self._dirty.add("confusion")

    def discard_run(self, run: Run | str) -> None:
        """Forget a run (one that failed before its first step: nothing to show)."""
        run = self._run(run)
        if self.runs.get(run.name) is run:
            del self.runs[run.name]
        if run in self.project_runs:
            self.project_runs.remove(run)
        if self.current is run:  # the open project's run before it; never another project's
            self.current = self.project_runs[-1] if self.project_runs else None
        if self._shown is run:
            self._shown = self.current
            self.views.sample_shape = self._shown.sample_shape if self._shown else None
            self.views.show(self._shown.procedure if self._shown else None)
            self._dirty = self._everything()
        if self.compared is run or self.compared is self._shown:  # nothing over itself
            self.compared = None
            self.loss_plot.set_other(None)
        shown = self._shown
        if shown is not None:
            self._set_points(shown.points)
            self.gradient_plot.set_thresholds(shown.thresholds)
        else:  # no run to show: the plots and labels as before the first run
            self._clear_plots()
        self._sync_compare()
        self.runs_changed.emit()
        self.refresh()

    def end_project(self, label: str) -> None:
        """The open project is closed (File > New / Open): the dashboard is as before the
        first run, and the project's runs stay listed, named ``"label · name"``, to be
        compared with the next project's."""
        mine = {id(r) for r in self.project_runs}
        kept = {n: r for n, r in self.runs.items() if id(r) not in mine}
        for run in self.project_runs:
            if self.runs.get(run.name) is not run:
                continue  # discarded
            name = f"{label}{PROJECT_MARK}{run.name}" if label else run.name
            unique, i = name, 2
            while unique in kept:
                unique, i = f"{name} ({i})", i + 1
            run.name = unique
            kept[unique] = run
        self.runs = kept
        self.project_runs = []
        self.current = self.compared = None
        self._chosen_layer = None  # the layers were the closed project's
        self._clear_plots()
        self._sync_compare()
        self.runs_changed.emit()

    def _clear_plots(self) -> None:
        """No run shown: the plots, labels and layout of a new dashboard, no comparison."""
        self.compared = None
        self._shown = Run("")
        self.gradient_plot.set_thresholds(self._shown.thresholds)
        self.views.clear()  # no procedure's own tabs
        self._draw(set(ALL_PLOTS))
        self._shown, self._dirty = None, set()
        for plot in self._plots():
            plot.reset_view()
        # as at first: the boundary's place is kept until a run says whether it has 2-D data
        self.views.arrange(boundary=True)
        self.layer_combo.clear()
        self.title.setText(NO_RUN)
        self.state_label.setText("")
        self._show_alarms(())

    @property
    def shown(self) -> Run | None:
        """The run the plots show (None before the first run of the open project)."""
        return self._shown

    def add_records(self, records: Iterable[Any], run: Run | None = None) -> None:
        """Append the trainer's records to ``run`` (default: the current run); nothing is
        drawn until :meth:`refresh`. A run of a closed project still gets the last records
        of its stopped worker this way."""
        if run is None:
            if self.current is None:
                self.begin_run("run", HealthThresholds())
            run = self.current
        dirty: set[str] = set()
        for record in records:
            dirty |= run.add(record)
        if run is self._shown:
            self._dirty |= dirty | self.views.dirtied(dirty)
        if run is self.compared and dirty & {"loss", "epochs"}:
            self._dirty.add("other")

    # -- drawing -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the plots whose data changed since the last refresh, and fit every view
        to its data exactly (live redraws leave room to grow)."""
        if self._shown is None:
            return
        self._turns += 1  # what a pass in turns had left is drawn now
        self.in_turns = False
        dirty = self._dirty
        self._dirty = self.views.waiting(dirty)  # views on hidden tabs: when they are shown
        dirty = dirty - self._dirty
        if dirty:
            self._draw(dirty, live=False)
        for plot in (self.loss_plot, self.metrics_plot, self.gradient_plot):
            plot.settle(live=False)

    def refresh_in_turns(self) -> None:
        """What :meth:`refresh` does, one plot group per turn of the event loop: each
        group is drawn and painted before the next (a run's end redraws every plot; at once
        that blocks the window for a tenth of a second or more)."""
        if self._shown is None:
            return
        self._turns += 1
        self.in_turns = True
        turn, shown = self._turns, self._shown
        groups = [CHEAP, *LIVE_GROUPS, *self.views.groups()]
        builtin = {
            "loss": self.loss_plot,
            "metrics": self.metrics_plot,
            "grads": self.gradient_plot,
        }

        def step(i: int) -> None:
            if turn != self._turns:  # superseded by a newer pass or a refresh
                return
            if self._shown is not shown:  # another run is shown (or none): nothing left
                self.in_turns = False
                return
            if i == len(groups):
                for plot in builtin.values():  # fit exactly (live redraws leave room)
                    plot.settle(live=False)
                self.in_turns = False
                return
            keys = groups[i]
            dirty = self._dirty & keys
            dirty -= self.views.waiting(dirty)
            if dirty:
                self._dirty -= dirty
                self._draw(dirty, live=False)
                for key in keys & builtin.keys():
                    builtin[key].settle(live=False)
                QTimer.singleShot(0, self, lambda: step(i + 1))
            else:
                step(i + 1)

        step(0)

    def refresh_live(self) -> None:
        """One step of live redrawing, for the training panel's 30 Hz timer: the labels,
        then at most one *visible* plot group whose data changed and whose turn has come,
        taken in turn. A tick then blocks the interface for one group's redraw at most (a
        few ms even with long curves), and plots on hidden tabs wait until they are shown.

        Redraws are at least ``live_interval`` apart, and each group is paced on its own:
        after a redraw that cost it ``t`` seconds of the GUI thread's CPU (drawing, and its
        paints since its last redraw), it waits :meth:`live_wait` ``(t)`` =
        max(``live_interval``, n · t / ``live_budget``) with n the visible groups, so all of
        them together keep to the budget and a cheap view (a GAN's sample grid) is not held
        back behind costly ones. A live view (``View.live``: the view that shows the run
        moving) waits at most half its probe's period, so each of its payloads is drawn."""
        if self._shown is None or not self._dirty:
            return
        clock = time.monotonic()
        if clock - self._live_t < self.live_interval:  # one redraw per interval at most
            return
        dirty = self._dirty
        now = dirty & CHEAP
        groups = LIVE_GROUPS + self.views.groups()
        visible = [keys for keys in groups if self._group_visible(keys)]
        self._live_next %= len(groups)
        order = groups[self._live_next :] + groups[: self._live_next]
        chosen = None
        for keys in order:
            if dirty & keys and keys in visible and clock >= self._group_due.get(keys, -math.inf):
                chosen = keys
                self._live_next = (groups.index(keys) + 1) % len(groups)
                break
        if chosen is not None:
            now |= dirty & chosen
        if not now:
            return
        self._dirty = dirty - now
        start = time.thread_time()
        self._draw(now, live=True)
        self._live_t = time.monotonic()
        if chosen is not None:
            # what the group cost the GUI thread: this redraw, and its own paints since its
            # last redraw (that redraw's: painting follows drawing)
            painted = self._group_painted(chosen)
            cost = time.thread_time() - start + painted - self._group_marks.get(chosen, painted)
            self._group_marks[chosen] = painted
            self._live_cost = cost
            wait = self.live_wait(cost, len(visible))
            live = self.views.live_every(chosen)
            if live is not None:  # each payload soon after it comes: half its probe's period
                wait = min(wait, max(self.live_interval, live / 2))
            self._group_due[chosen] = self._live_t + wait

    def _plots(self) -> tuple[Any, ...]:
        return (
            self.loss_plot,
            self.metrics_plot,
            self.gradient_plot,
            self.heatmap,
            self.weights_hist,
            self.activations_hist,
            self.boundary,
        )

    def _painted(self) -> float:
        """Seconds the plots have spent painting, ever."""
        return sum(plot.painted for plot in self._plots()) + self.views.painted()

    def live_wait(self, cost: float, groups: int = 1) -> float:
        """Seconds a plot group waits after a live redraw that cost it ``cost`` seconds
        of the GUI thread, among ``groups`` visible groups: at least ``live_interval``, and
        long enough that the groups together redraw in at most ``live_budget`` of the time."""
        share = groups * cost / self.live_budget if self.live_budget > 0 else 0.0
        return max(self.live_interval, share)

    def _group_widgets(self, keys: frozenset[str]) -> list[Any]:
        """The widgets a live-redraw group draws (the dashboard's plots, the views)."""
        widgets = {
            "loss": (self.loss_plot,),
            "metrics": (self.metrics_plot,),
            "grads": (self.gradient_plot,),
            "heat": (self.heatmap,),
            "probe": (self.boundary, self.weights_hist, self.activations_hist),
            "confusion": (self.confusion,),
        }
        out: list[Any] = []
        for key in keys:
            out += widgets.get(key, ())
            view = (
                self.views.widgets.get(key[len(VIEW_PREFIX) :])
                if key.startswith(VIEW_PREFIX)
                else None
            )
            if view is not None:
                out.append(view)
        return out

    def _group_visible(self, keys: frozenset[str]) -> bool:
        return any(w.isVisible() for w in self._group_widgets(keys))

    def _group_painted(self, keys: frozenset[str]) -> float:
        """CPU seconds the group's widgets have spent painting, ever."""
        return sum(getattr(w, "painted", 0.0) for w in self._group_widgets(keys))

    def _on_tab(self, _index: int) -> None:
        self.refresh()  # what waited while its tab was hidden

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.refresh()

    def _draw(self, dirty: set[str], live: bool = False) -> None:
        """Redraw the plots in ``dirty``; ``live``: a redraw while a run goes, whose view
        ranges move only when the data outgrows them (see plots.StickyViewBox)."""
        run = self._shown
        if run is None:
            return
        self.refreshes += 1
        if "loss" in dirty:
            self.loss_plot.set_steps(*run.step_losses())
            dirty.add("status")  # the step shown next to the run's name
        if "epochs" in dirty:
            self.loss_plot.set_epochs(run.epochs.col(0), run.epochs.col(1), run.epochs.col(2))
        if "other" in dirty:
            other = self.compared
            if other is None:
                self.loss_plot.set_other(None)
            else:
                self.loss_plot.set_other(other.name, other.step_losses(), other.val_losses())
        if "metrics" in dirty:
            self.metrics_plot.set_metrics({k: (r.col(0), r.col(1)) for k, r in run.metrics.items()})
            self.metrics_plot.set_split(run.metrics_split)
        if "grads" in dirty:
            self.gradient_plot.set_layers({k: (r.col(0), r.col(1)) for k, r in run.grads.items()})
        if "heat" in dirty:
            self.heatmap.set_image(*run.heat.image())
        if "layers" in dirty:
            self._sync_layers(list(run.grads))
        if "probe" in dirty:
            probe = run.probe
            self.weights_hist.set_histogram(probe.weights if probe else None, probe and probe.layer)
            self.activations_hist.set_histogram(
                probe.activations if probe else None, probe and probe.layer
            )
            if probe is not None and probe.grid is not None:
                self.boundary.set_grid(probe.grid_x, probe.grid_y, probe.grid)
        if "confusion" in dirty:
            self.confusion.set_matrix(run.confusion, run.class_names)
            split = f" ({run.confusion_split})" if run.confusion_split else ""
            self.confusion_title.setText(
                f"Confusion matrix{split}: rows are the true classes, columns the predicted ones"
            )
        if self.views.draw(run, dirty, live):  # curves: the step next to the run's name
            dirty.add("status")
        if "status" in dirty:
            self._show_status(run)
        for keys, plot in (
            ({"loss", "epochs", "other"}, self.loss_plot),
            ({"metrics"}, self.metrics_plot),
            ({"grads"}, self.gradient_plot),
        ):
            if dirty & keys:
                plot.settle(live)  # the range before the paint: one paint per redraw

    def _set_points(self, points: tuple[np.ndarray, np.ndarray] | None) -> None:
        """The decision boundary is shown for 2-D data only; without it the gradient plot
        takes the whole bottom row."""
        self.boundary.set_points(points)
        self.views.arrange(boundary=points is not None)

    def _everything(self) -> set[str]:
        """Every plot and view, to redraw the shown run whole."""
        return set(ALL_PLOTS) | self.views.keys()

    def _sync_layers(self, names: Sequence[str]) -> None:
        """List the run's layers; the layer shown is the user's choice when the run has it,
        else the first one, and the trainer is asked to probe it (so the histograms never
        stay empty under a chosen layer)."""
        have = [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())]
        if have == list(names):
            return
        before = self.layer_combo.currentText()
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems(list(names))
        if self._chosen_layer in names:
            self.layer_combo.setCurrentText(self._chosen_layer)
        self.layer_combo.blockSignals(False)
        now = self.layer_combo.currentText()
        if now and (now != before or not have):
            self.layer_selected.emit(now)

    def _layer_activated(self, name: str) -> None:
        self._chosen_layer = name
        self.layer_selected.emit(name)

    def _show_status(self, run: Run) -> None:
        self.title.setText(run.name)  # the compared run is named by "Compare with"
        text = run.state
        last = run.steps.last(0)
        if last is not None:
            text = f"{text}  ·  step {int(last)}" if text else f"step {int(last)}"
        if run.error:
            text = f"{text}  ·  {run.error.splitlines()[0]}"
        self.state_label.setText(text)
        self._show_alarms(run.alarms)

    def _show_alarms(self, alarms: Sequence[Sequence[str]]) -> None:
        """The run's newest alarms: what is wrong, then what to try, one line each."""
        lines = [
            f"<b>{html.escape(what)}</b> · try: {html.escape(remedy)}"
            for _key, what, remedy in alarms
        ]
        text = "<br>".join(lines)
        if text != self.alarms.text():
            self.alarms.setText(text)
        self.alarms.setVisible(bool(lines))

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        self.loss_plot.set_smoothing(value / 100)
        self.views.set_smoothing(value / 100)

    def set_log_scale(self, on: bool) -> None:
        self.log_y.setChecked(on)

    def select_layer(self, name: str) -> None:
        """Choose the layer whose histograms are shown (as the user would)."""
        self._chosen_layer = name
        self._sync_layers(list(self.current.grads) if self.current else [])
        if self.layer_combo.findText(name) < 0:
            self.layer_combo.addItem(name)
        self.layer_combo.blockSignals(True)
        self.layer_combo.setCurrentText(name)
        self.layer_combo.blockSignals(False)
        self.layer_selected.emit(name)

    # -- runs --------------------------------------------------------------------------------

    def _run(self, run: Run | str) -> Run:
        return run if isinstance(run, Run) else self.runs[run]

    def compare(self, run_a: Run | str, run_b: Run | str | None) -> None:
        """Show ``run_a`` on every plot and ``run_b``'s loss curves dashed on the loss plot
        (``run_b`` None: no overlay)."""
        self._shown = self._run(run_a)
        self.compared = None if run_b is None else self._run(run_b)
        if self.compared is None:
            self.loss_plot.set_other(None)
        self.gradient_plot.set_thresholds(self._shown.thresholds)
        self.views.sample_shape = self._shown.sample_shape
        self.views.show(self._shown.procedure)
        self._set_points(self._shown.points)
        self._dirty = self._everything()
        self._sync_compare()
        self.refresh()

    def show_current(self) -> None:
        """Back to the live run alone."""
        if self.current is not None:
            self.compare(self.current, None)

    def _sync_compare(self) -> None:
        """List the runs the shown one can be compared with ("None" first), the compared
        one chosen; Export needs a run."""
        base, combo = self._shown, self.compare_combo
        names = [n for n, r in self.runs.items() if r is not base]
        items = [NO_COMPARISON, *names]
        combo.blockSignals(True)
        if [combo.itemText(i) for i in range(combo.count())] != items:
            combo.clear()
            combo.addItems(items)
        other = self.compared.name if self.compared is not None else None
        combo.setCurrentIndex(items.index(other) if other in names else 0)
        combo.blockSignals(False)
        combo.setEnabled(base is not None and bool(names))
        for w in (self.export_button, self.export_png_action, self.export_csv_action):
            w.setEnabled(base is not None)

    def _compare_chosen(self, index: int) -> None:
        base = self._shown or self.current
        if base is None:
            return
        name = self.compare_combo.itemText(index)
        self.compare(base, name if index > 0 and name in self.runs else None)

    # -- layout ------------------------------------------------------------------------------

    def _wide_width(self) -> int:
        """The width the top row needs to hold the controls beside the run's name."""
        margins = self.layout().contentsMargins() if self.layout() else None
        spacing = self._top_rows[0].spacing()
        controls = [self._compare_box, self._loss_box, self.export_button]
        return (
            (margins.left() + margins.right() if margins else 16)
            + TITLE_ROOM
            + sum(w.sizeHint().width() for w in controls)
            + spacing * len(controls)
        )

    def _arrange_top(self, wide: bool) -> None:
        """One row (name, then every control) when it fits; else the name and Export above,
        "Compare with" and the loss plot's controls below."""
        if wide == self.wide_top:
            return
        self.wide_top = wide
        for r in self._top_rows:
            while r.count():
                r.takeAt(0)
        first, second = self._top_rows
        first.addWidget(self._info, 1)
        if wide:
            first.addWidget(self._compare_box)
            first.addWidget(self._loss_box)
        else:
            second.addWidget(self._compare_box)
            second.addStretch(1)
            second.addWidget(self._loss_box)
        first.addWidget(self.export_button)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        self._arrange_top(self.width() >= self._wide_width())
        super().resizeEvent(event)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        """As narrow as the two-row arrangement allows, whichever is shown: the controls
        wrap when the dashboard is made narrower (else the one row would hold it wide)."""
        hint = super().minimumSizeHint()
        if not self.wide_top:
            return hint
        spacing = self._top_rows[0].spacing()
        rows = max(
            self._info.minimumSizeHint().width() + spacing + self.export_button.sizeHint().width(),
            self._compare_box.minimumSizeHint().width()
            + spacing
            + self._loss_box.minimumSizeHint().width(),
        )
        margins = self.layout().contentsMargins()
        width = max(rows, self.tabs.minimumSizeHint().width()) + margins.left() + margins.right()
        return QSize(min(hint.width(), width), hint.height())

    # -- export ------------------------------------------------------------------------------

    def export_png_dialog(self) -> Path | None:
        """Export… > Dashboard as PNG: ask where (the run's name as the file name), save,
        announce it; an error is shown, never raised. Returns the file written."""
        run = self._shown
        if run is None:
            return None
        stem = file_stem(run.name)
        if self.compared is not None:
            stem = f"{stem}_vs_{file_stem(self.compared.name)}"
        return self._export(
            "Export the dashboard as an image",
            f"{stem}.png",
            PNG_FILTER,
            self.export_png,
            lambda path: f"Saved the dashboard image to {path}",
        )

    def export_csv_dialog(self) -> Path | None:
        """Export… > Run data as CSV: ask where (the run's name as the file name), save,
        announce it; an error is shown, never raised. Returns the file written."""
        run = self._shown
        if run is None:
            return None
        return self._export(
            "Export the run's data as CSV",
            f"{file_stem(run.name)}.csv",
            CSV_FILTER,
            self.export_csv,
            lambda path: f"Saved the records of {run.name} to {path}",
        )

    def _export(
        self,
        title: str,
        suggested: str,
        filter_: str,
        write: Callable[[Path], Path],
        done: Callable[[Path], str],
    ) -> Path | None:
        folder = self._export_folder
        if folder is None and self.start_folder is not None:
            folder = self.start_folder()
        folder = folder if folder is not None else Path.home()
        chosen, _ = QFileDialog.getSaveFileName(self, title, str(folder / suggested), filter_)
        if not chosen:
            return None
        path = Path(chosen)
        suffix = Path(suggested).suffix
        if not path.suffix:
            path = path.with_name(path.name + suffix)
        try:
            written = write(path)
        except NeuralCanvasError as exc:
            self.show_error("Cannot export the dashboard", str(exc))
            return None
        except Exception as exc:  # an unexpected failure must leave the window usable
            self.show_error("Cannot export the dashboard", f"{exc.__class__.__name__}: {exc}")
            return None
        self._export_folder = written.parent
        self.message.emit(done(written))
        return written

    def show_error(self, title: str, message: str) -> None:
        """Tell the user (the main window replaces it with its own)."""
        dialogs.warn(self, title, message)

    def export_png(self, path: str | os.PathLike[str]) -> Path:
        """Save the dashboard as it is shown (the current tab) as a PNG, atomically.

        Raises :class:`DashboardExportError` when the file cannot be written.
        """
        self.refresh()
        image = self.grab().toImage()
        path = Path(path)
        _atomic(path, lambda tmp: _check(image.save(str(tmp), "PNG"), path))
        return path

    def export_csv(self, path: str | os.PathLike[str]) -> Path:
        """Save the shown run's epoch records (with scalar metrics) and its per-step losses
        as CSV, atomically: a header row, then one ``epoch`` row per kept epoch record and
        one ``step`` row per plotted step loss.

        Raises :class:`DashboardExportError` when there is no run or the file cannot be
        written.
        """
        run = self._shown
        if run is None:
            raise DashboardExportError("No run to export yet: start training first.")
        path = Path(path)
        epochs = run.history.epochs
        names = sorted(
            {
                k
                for e in epochs
                for k, v in e.metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
        )
        header = ["kind", "epoch", "step", "loss", "train_loss", "val_loss", "lr", *names]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                out = csv.writer(f)
                out.writerow(header)
                for e in epochs:
                    out.writerow(
                        [
                            "epoch",
                            e.epoch,
                            e.step,
                            "",
                            e.train_loss,
                            "" if e.val_loss is None else e.val_loss,
                            e.lr,
                            *[e.metrics.get(k, "") for k in names],
                        ]
                    )
                for step, loss, epoch in zip(run.steps.col(0), run.steps.col(1), run.steps.col(2)):
                    out.writerow(
                        [
                            "step",
                            int(epoch),
                            int(step),
                            repr(float(loss)),
                            "",
                            "",
                            "",
                            *[""] * len(names),
                        ]
                    )

        _atomic(path, write)
        return path


def _check(ok: bool, path: Path) -> None:
    if not ok:
        raise DashboardExportError(
            f"Cannot write the image {path}: choose a folder that exists and that you can write to."
        )


def _atomic(path: Path, write) -> None:
    """Write through :func:`graph.atomic.atomic_write`; a failure becomes a
    :class:`DashboardExportError` naming ``path`` and what to do."""
    try:
        atomic_write(path, write)
    except FileWriteError as exc:
        raise DashboardExportError(str(exc)) from exc


def _row(*items: QWidget | int) -> QWidget:
    """A widget laying out ``items`` in a row without margins (an int is a spacing)."""
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        if isinstance(item, int):
            layout.addSpacing(item)
        else:
            layout.addWidget(item)
    return box


class ElidedLabel(QLabel):
    """A one-line label that shrinks below its text, ending it with "…" (the whole text in
    its tooltip); :meth:`text` is the whole text."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        hint = super().minimumSizeHint()
        return QSize(
            min(hint.width(), self.fontMetrics().horizontalAdvance("M…") + 2), hint.height()
        )

    def setText(self, text: str) -> None:  # noqa: N802 (Qt)
        super().setText(text)
        self._update_tip()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._update_tip()

    def shown_text(self) -> str:
        """The text as drawn (elided to the label's width)."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )

    def _update_tip(self) -> None:
        self.setToolTip(self.text() if self.shown_text() != self.text() else "")

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), self.alignment(), self.shown_text())

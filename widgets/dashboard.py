"""The training dashboard: every run of the session with its records, and the plots of the
current one (or two runs compared).

The training panel feeds it from a timer (at most 30 Hz) with whatever the trainer produced:
:meth:`Dashboard.add_records` only appends to bounded buffers and marks plots dirty;
:meth:`Dashboard.refresh` redraws the dirty plots (nothing when nothing changed).
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from builder.config import HealthThresholds
from builder.records import (
    EpochRecord,
    ErrorRecord,
    EvaluationRecord,
    History,
    ProbeRecord,
    StatusRecord,
    StepRecord,
)
from graph.errors import NeuralCanvasError
from widgets import theme
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
)

_UMASK = os.umask(0)
os.umask(_UMASK)

GRAD_CAP = 20_000  # points per layer's gradient-norm curve (thinned beyond)
HISTORY_STEPS = 500  # step records kept whole per run (History thins beyond, <= 2x)


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
    history: History = field(default_factory=lambda: History(recent=HISTORY_STEPS))
    steps: Ring = field(default_factory=lambda: Ring(3, CURVE_CAP))  # step, loss, epoch
    epochs: Ring = field(default_factory=lambda: Ring(3, CURVE_CAP))  # step, train, val
    metrics: dict[str, Ring] = field(default_factory=dict)  # name -> (step, value)
    grads: dict[str, Ring] = field(default_factory=dict)  # layer -> (step, norm)
    heat: Heat = field(default_factory=Heat)
    probe: ProbeRecord | None = None
    confusion: Any = None
    confusion_split: str = ""
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
    boundary and the confusion matrix; every run of the session kept in :attr:`runs`."""

    layer_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: dict[str, Run] = {}
        self.current: Run | None = None
        self.compared: Run | None = None  # shown dashed on the loss plot
        self._shown: Run | None = None  # the run the plots show (current unless compared)
        self._dirty: set[str] = set()
        self._chosen_layer: str | None = None  # the user's choice, kept across runs
        self.refreshes = 0  # refresh() calls that redrew something

        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(self.backgroundRole(), theme.WINDOW)
        self.setPalette(pal)

        self.title = QLabel("No run yet")
        self.title.setStyleSheet(f"font-weight: 600; color: {theme.TEXT.name()};")
        self.state_label = QLabel("")
        self.state_label.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setFixedWidth(120)
        self.smoothing.setToolTip("Smoothing of the per-step loss (exponential moving average)")
        self.smoothing_label = QLabel()
        self.log_y = QCheckBox("Log loss")
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

        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addWidget(self.state_label)
        top.addStretch(1)
        top.addWidget(QLabel("Smoothing"))
        top.addWidget(self.smoothing)
        top.addWidget(self.smoothing_label)
        top.addSpacing(12)
        top.addWidget(self.log_y)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        overview = QWidget()
        self._overview = grid = QGridLayout(overview)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.metrics_plot, 0, 1)
        grid.addWidget(self.gradient_plot, 1, 0)
        grid.addWidget(self.boundary, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        self.tabs.addTab(overview, "Overview")

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

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 8)
        outer.addLayout(top)
        outer.addWidget(self.tabs, 1)

        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_y.toggled.connect(self.loss_plot.set_log_y)
        self.layer_combo.textActivated.connect(self._layer_activated)
        self.smoothing.setValue(round(self.loss_plot.smoothing * 100))
        self._on_smoothing(self.smoothing.value())

    # -- feeding -----------------------------------------------------------------------------

    def begin_run(
        self,
        name: str,
        thresholds: HealthThresholds,
        points: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Run:
        """Start showing a new run (earlier runs stay in :attr:`runs`)."""
        unique, i = name, 2
        while unique in self.runs:
            unique, i = f"{name} ({i})", i + 1
        run = Run(unique, thresholds, points)
        self.runs[unique] = run
        self.current = self._shown = run
        self.compared = None
        self.loss_plot.set_other(None)
        self.gradient_plot.set_thresholds(thresholds)
        self._set_points(points)
        self.layer_combo.clear()
        self._dirty = set(ALL_PLOTS)
        return run

    def add_records(self, records: Iterable[Any]) -> None:
        """Append the trainer's records to the current run; nothing is drawn until
        :meth:`refresh`."""
        if self.current is None:
            self.begin_run("run", HealthThresholds())
        run = self.current
        dirty: set[str] = set()
        for record in records:
            dirty |= run.add(record)
        if run is self._shown:
            self._dirty |= dirty
        if run is self.compared and dirty & {"loss", "epochs"}:
            self._dirty.add("other")

    # -- drawing -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw the plots whose data changed since the last refresh."""
        run, dirty = self._shown, self._dirty
        if run is None or not dirty:
            return
        self._dirty = set()
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
            self.confusion.set_matrix(run.confusion)
            split = f" ({run.confusion_split})" if run.confusion_split else ""
            self.confusion_title.setText(
                f"Confusion matrix{split}: rows are the true classes, columns the predicted ones"
            )
        if "status" in dirty:
            self._show_status(run)

    def _set_points(self, points: tuple[np.ndarray, np.ndarray] | None) -> None:
        """The decision boundary is shown for 2-D data only; without it the gradient plot
        takes the whole bottom row."""
        self.boundary.set_points(points)
        shown = points is not None
        self.boundary.setVisible(shown)
        self._overview.addWidget(self.gradient_plot, 1, 0, 1, 1 if shown else 2)

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
        title = (
            run.name if self.compared is None else f"{run.name}  vs  {self.compared.name} (dashed)"
        )
        self.title.setText(title)
        text = run.state
        last = run.steps.last(0)
        if last is not None:
            text = f"{text}  ·  step {int(last)}" if text else f"step {int(last)}"
        if run.error:
            text = f"{text}  ·  {run.error.splitlines()[0]}"
        self.state_label.setText(text)

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        self.loss_plot.set_smoothing(value / 100)

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
        self._set_points(self._shown.points)
        self._dirty = set(ALL_PLOTS)
        self.refresh()

    def show_current(self) -> None:
        """Back to the live run alone."""
        if self.current is not None:
            self.compare(self.current, None)

    # -- export ------------------------------------------------------------------------------

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
    """Write through a temporary file in the target folder, then rename it over ``path``
    (with the replaced file's permissions, or the usual ones for a new file); an ``OSError``
    becomes a :class:`DashboardExportError` naming ``path``."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~_UMASK
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.",
            suffix=path.suffix or ".tmp",
            dir=path.parent if str(path.parent) else ".",
        )
        os.close(fd)
        os.chmod(tmp, mode)  # mkstemp makes it readable by its owner only
    except OSError as exc:
        raise _export_error(path, exc) from exc
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _export_error(path, exc) from exc
        raise


def _export_error(path: Path, exc: OSError) -> DashboardExportError:
    reason = exc.strerror or str(exc)
    return DashboardExportError(
        f"Cannot write {path}: {reason}. Choose a folder that exists and that you can write to."
    )

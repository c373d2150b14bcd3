"""The training dashboard's plots (pyqtgraph): loss, metrics, gradient norms and their
layer-by-time heatmap, weight / activation histograms, the decision boundary and the
confusion matrix.

Every plot draws from data it is handed (numpy arrays, records); none of them holds a run.
Curves are fed from bounded buffers (:class:`Ring`) and set up to stay cheap however long the
run: ``setDownsampling(auto=True, mode='peak')``, ``setClipToView(True)``, pen width 1, no
antialiasing, white background.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from builder.config import HealthThresholds
from builder.records import Histogram
from widgets import theme

CURVE_CAP = 100_000  # points per curve before older points are thinned
HEATMAP_WIDTH = 2000  # reports (columns) shown by the gradient heatmap
NORM_FLOOR, NORM_CEIL = 1e-30, 1e30  # 0 / NaN / inf gradient norms are drawn at the limits

# Ten distinct, print-safe colours for per-layer curves (in the spirit of the theme).
SERIES = [
    QColor(c)
    for c in (
        "#2563eb",
        "#e16f24",
        "#1a7f37",
        "#cf222e",
        "#8250df",
        "#0a7d8c",
        "#bf3989",
        "#9a6700",
        "#57606a",
        "#3b8eea",
    )
]
TRAIN = theme.ACCENT
VAL = QColor("#e16f24")
STEP_RAW = QColor("#a9c1f5")  # the per-step loss, a light tint of the accent


def series_colour(i: int) -> QColor:
    return SERIES[i % len(SERIES)]


def tint(colour: QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def pen(colour: QColor, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> Any:
    p = pg.mkPen(colour, width=1)
    p.setStyle(style)
    p.setCosmetic(True)
    return p


class Ring:
    """Columns of float64 with at most ``cap`` rows. When full, the older half is thinned
    (every second row kept), so the newest rows stay at full resolution, the whole run stays
    spanned, and x stays sorted. Column views (:meth:`col`) are contiguous."""

    def __init__(self, cols: int, cap: int = CURVE_CAP):
        self.cap = max(8, cap)
        self._a = np.empty((cols, self.cap))
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def append(self, *values: float) -> None:
        if self.n == self.cap:
            self._compact()
        self._a[:, self.n] = values
        self.n += 1

    def extend(self, columns: Sequence[np.ndarray]) -> None:
        cols = np.asarray(np.broadcast_arrays(*columns), dtype=float)
        i, total = 0, cols.shape[1]
        while i < total:
            if self.n == self.cap:
                self._compact()
            take = min(total - i, self.cap - self.n)
            self._a[:, self.n : self.n + take] = cols[:, i : i + take]
            self.n += take
            i += take

    def _compact(self) -> None:
        # A fresh array: a plot may still hold views of the old one until its next setData.
        half = self.n // 2
        kept = np.concatenate([self._a[:, :half:2], self._a[:, half : self.n]], axis=1)
        a = np.empty_like(self._a)
        a[:, : kept.shape[1]] = kept
        self._a, self.n = a, kept.shape[1]

    def col(self, j: int) -> np.ndarray:
        return self._a[j, : self.n]

    def last(self, j: int) -> float | None:
        return float(self._a[j, self.n - 1]) if self.n else None


def ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average ``s[t] = a * s[t-1] + (1 - a) * x[t]``, ``s[0] = x[0]``."""
    if smoothing <= 0 or len(values) < 2:
        return np.array(values, dtype=float)
    from scipy.signal import lfilter  # scipy comes with scikit-learn; loaded on first use

    a = float(smoothing)
    finite = np.where(np.isfinite(values), values, np.nan)
    out, _ = lfilter([1 - a], [1, -a], finite, zi=[a * finite[0]])
    return out


def _style(plot: pg.PlotItem, title: str, x: str = "", y: str = "") -> None:
    plot.setTitle(title, color=theme.TEXT.name(), size="10pt")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.BORDER, width=1))
        axis.setTextPen(pg.mkPen(theme.MUTED))
    if x:
        plot.setLabel("bottom", x, color=theme.MUTED.name())
    if y:
        plot.setLabel("left", y, color=theme.MUTED.name())
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)


def _curve(
    plot: pg.PlotItem,
    colour: QColor,
    name: str | None = None,
    *,
    symbol: str | None = None,
    style: Qt.PenStyle = Qt.PenStyle.SolidLine,
) -> pg.PlotDataItem:
    item = pg.PlotDataItem(name=name, pen=pen(colour, style), antialias=False, connect="finite")
    if symbol:
        item.setSymbol(symbol)
        item.setSymbolSize(5)
        item.setSymbolPen(pen(colour))
        item.setSymbolBrush(pg.mkBrush(colour))
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    plot.addItem(item)
    return item


class _Plot(pg.PlotWidget):
    def __init__(self, title: str, x: str = "", y: str = "", parent=None):
        super().__init__(parent=parent, background="w")
        self.setAntialiasing(False)
        _style(self.getPlotItem(), title, x, y)
        self.legend = self.getPlotItem().addLegend(
            offset=(-8, 8),
            labelTextSize="8pt",
            brush=pg.mkBrush(255, 255, 255, 210),
            pen=pg.mkPen(theme.FRAME),
        )


class LossPlot(_Plot):
    """Per-step train loss (thin) with its exponential moving average, per-epoch train and
    validation loss (markers + lines), optional log-scale y, and dashed curves of another run
    for comparison."""

    def __init__(self, parent=None):
        super().__init__("Loss", "step", "loss", parent)
        self.smoothing = 0.6
        self.step_curve = _curve(self.plotItem, STEP_RAW, "train loss (step)")
        self.smooth_curve = _curve(self.plotItem, TRAIN, "train loss (smoothed)")
        self.epoch_train = _curve(self.plotItem, theme.TEXT, "train loss (epoch)", symbol="o")
        self.epoch_val = _curve(self.plotItem, VAL, "validation loss", symbol="s")
        dash = Qt.PenStyle.DashLine
        self.other_smooth = _curve(self.plotItem, TRAIN, None, style=dash)
        self.other_val = _curve(self.plotItem, VAL, None, style=dash)
        self._steps: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._other_steps: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))

    def set_smoothing(self, value: float) -> None:
        self.smoothing = min(0.99, max(0.0, float(value)))
        self._draw_smooth()

    def set_log_y(self, on: bool) -> None:
        self.plotItem.setLogMode(y=bool(on))

    @property
    def log_y(self) -> bool:
        return bool(self.plotItem.ctrl.logYCheck.isChecked())

    def set_steps(self, x: np.ndarray, y: np.ndarray) -> None:
        self._steps = (x, y)
        self.step_curve.setData(x, y)
        self._draw_smooth()

    def set_epochs(self, x: np.ndarray, train: np.ndarray, val: np.ndarray) -> None:
        self.epoch_train.setData(x, train)
        self.epoch_val.setData(x, val)

    def set_other(
        self,
        name: str | None,
        steps: tuple[np.ndarray, np.ndarray] | None = None,
        epochs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Show another run's smoothed loss and validation loss dashed (``name`` None: hide)."""
        for item in (self.other_smooth, self.other_val):
            if item.name() is not None:
                self.legend.removeItem(item)
        if name is None:
            self._other_steps = (np.empty(0), np.empty(0))
            self.other_smooth.setData([], [])
            self.other_val.setData([], [])
            return
        self.other_smooth.opts["name"] = f"{name} (smoothed)"
        self.other_val.opts["name"] = f"{name} (validation)"
        self.legend.addItem(self.other_smooth, self.other_smooth.name())
        self.legend.addItem(self.other_val, self.other_val.name())
        self._other_steps = steps if steps is not None else (np.empty(0), np.empty(0))
        ex, ev = epochs if epochs is not None else (np.empty(0), np.empty(0))
        self.other_val.setData(ex, ev)
        self._draw_smooth()

    def _draw_smooth(self) -> None:
        x, y = self._steps
        self.smooth_curve.setData(x, ema(y, self.smoothing))
        ox, oy = self._other_steps
        self.other_smooth.setData(ox, ema(oy, self.smoothing))


METRIC_ORDER = ("accuracy", "f1", "precision", "recall", "mse", "mae", "rmse", "r2")
METRIC_SHOWN = {"accuracy", "f1", "mse", "mae"}


class MetricsPlot(_Plot):
    """Per-epoch metrics: accuracy / F1 for classification, MSE / MAE for regression."""

    def __init__(self, parent=None):
        super().__init__("Metrics (validation)", "step", "", parent)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def set_metrics(self, x: np.ndarray, series: Mapping[str, np.ndarray]) -> None:
        for name in [m for m in METRIC_ORDER if m in series and m in METRIC_SHOWN]:
            if name not in self.curves:
                self.curves[name] = _curve(
                    self.plotItem, series_colour(len(self.curves)), name, symbol="o"
                )
            self.curves[name].setData(x, series[name])
        for name, curve in self.curves.items():
            if name not in series:
                curve.setData([], [])


class GradientPlot(_Plot):
    """One line per layer: its gradient L2 norm against the step, on a log y axis, over the
    shaded vanishing (below ``vanishing``) and exploding (above ``exploding``) regions."""

    def __init__(self, parent=None):
        super().__init__("Gradient norms", "step", "L2 norm", parent)
        self.plotItem.setLogMode(y=True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.vanishing_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(tint(theme.VANISHING, 28)),
            pen=pen(tint(theme.VANISHING, 90)),
        )
        self.exploding_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(tint(theme.EXPLODING, 28)),
            pen=pen(tint(theme.EXPLODING, 90)),
        )
        for band in (self.vanishing_band, self.exploding_band):
            band.setZValue(-10)
            self.plotItem.addItem(band, ignoreBounds=True)
        self.set_thresholds(HealthThresholds())

    def set_thresholds(self, thresholds: HealthThresholds) -> None:
        self.thresholds = thresholds
        lo, hi = math.log10(thresholds.vanishing), math.log10(thresholds.exploding)
        self.vanishing_band.setRegion((math.log10(NORM_FLOOR), lo))
        self.exploding_band.setRegion((hi, math.log10(NORM_CEIL)))

    def band_ranges(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The (vanishing, exploding) bands' y-ranges in norm units (not log10)."""
        return tuple(  # type: ignore[return-value]
            tuple(10.0**v for v in band.getRegion())
            for band in (self.vanishing_band, self.exploding_band)
        )

    def set_layers(self, data: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        for name, (x, y) in data.items():
            if name not in self.curves:
                self.curves[name] = _curve(self.plotItem, series_colour(len(self.curves)), name)
            self.curves[name].setData(x, y)
        for name in [n for n in self.curves if n not in data]:
            self.plotItem.removeItem(self.curves.pop(name))
            self.legend.removeItem(name)


def heat_colormap() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def diverging_colormap() -> pg.ColorMap:
    return pg.ColorMap([0.0, 0.5, 1.0], [QColor("#2563eb"), QColor("#ffffff"), QColor("#e16f24")])


class GradientHeatmap(_Plot):
    """Layers (rows) by reports (columns, the newest ``HEATMAP_WIDTH``), colour = log10 of the
    gradient norm; y tick labels are the layer names."""

    def __init__(self, parent=None):
        super().__init__("Gradient norms by layer (log10)", "step", "", parent)
        self.legend.hide()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(heat_colormap())
        self.plotItem.addItem(self.image)
        self.plotItem.invertY(True)
        self.plotItem.showGrid(x=False, y=False)
        self.layers: list[str] = []
        self.colorbar = pg.ColorBarItem(colorMap=heat_colormap(), interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=self.plotItem)

    def set_image(self, layers: Sequence[str], steps: np.ndarray, log_norms: np.ndarray) -> None:
        """``log_norms``: shape ``(len(layers), len(steps))``, NaN where a layer had none."""
        self.layers = list(layers)
        if log_norms.size == 0:
            self.image.clear()
            return
        finite = log_norms[np.isfinite(log_norms)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        img = np.where(np.isfinite(log_norms), log_norms, lo).astype(np.float32)
        self.image.setImage(img, autoLevels=False, levels=(lo, hi))
        self.colorbar.setLevels((lo, hi))
        x0 = float(steps[0])
        width = max(float(steps[-1]) - x0, 1.0)
        self.image.setRect(QRectF(x0, 0.0, width, float(len(layers))))
        self.plotItem.getAxis("left").setTicks(
            [[(i + 0.5, name) for i, name in enumerate(layers)], []]
        )


class HistogramPlot(_Plot):
    """A :class:`Histogram` as a filled step plot."""

    def __init__(self, title: str, colour: QColor = theme.ACCENT, parent=None):
        super().__init__(title, "value", "count", parent)
        self.legend.hide()
        self.base_title = title
        self.curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pen(colour),
            brush=pg.mkBrush(tint(colour, 70)),
            antialias=False,
        )
        self.plotItem.addItem(self.curve)

    def set_histogram(self, histogram: Histogram | None, layer: str | None = None) -> None:
        title = f"{self.base_title}: {layer}" if layer else self.base_title
        self.plotItem.setTitle(title, color=theme.TEXT.name(), size="10pt")
        if histogram is None or not histogram.counts:
            self.curve.setData([], [])
            return
        self.curve.setData(np.asarray(histogram.edges, float), np.asarray(histogram.counts, float))


class DecisionBoundary(_Plot):
    """The model's prediction on a 2-D grid (diverging colour map for two classes, class tints
    for more) with the data points coloured by class; for 1-D regression, predictions against
    x as a line over the data."""

    def __init__(self, parent=None):
        super().__init__("Decision boundary", "x₁", "x₂", parent)
        self.legend.hide()
        self.plotItem.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-5)
        self.plotItem.addItem(self.image)
        self.scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen("w", width=1))
        self.plotItem.addItem(self.scatter)
        self.prediction = _curve(self.plotItem, theme.ACCENT, "prediction")
        self.points: tuple[np.ndarray, np.ndarray] | None = None
        self.classes = 2

    def set_points(self, points: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.points = None
        self.scatter.clear()
        self.image.clear()
        self.prediction.setData([], [])
        if points is None:
            return
        x, labels = np.asarray(points[0], float), np.asarray(points[1])
        self.points = (x, labels)
        if x.ndim == 2 and x.shape[1] >= 2:
            self.plotItem.setLabels(bottom="x₁", left="x₂")
            classes = labels.astype(int).ravel()
            self.classes = max(2, int(classes.max()) + 1) if classes.size else 2
            brushes = [pg.mkBrush(self._class_colour(c)) for c in classes]
            self.scatter.setData(x[:, 0], x[:, 1], brush=brushes)
        else:  # regression on one input: targets against x
            self.plotItem.setLabels(bottom="x", left="y")
            self.scatter.setData(
                x.reshape(len(x), -1)[:, 0],
                labels.astype(float).ravel(),
                brush=pg.mkBrush(tint(theme.MUTED, 160)),
            )

    def _class_colour(self, c: int) -> QColor:
        if self.classes == 2:
            return QColor("#1d4ed8") if c == 0 else QColor("#c2410c")
        return series_colour(c)

    def set_grid(self, grid_x: Sequence[float], grid_y: Sequence[float], grid: Any) -> None:
        if grid is None or not len(grid_x):
            return
        values = np.asarray(grid, dtype=np.float32)
        if values.ndim == 1 or not len(grid_y):
            self.image.clear()
            self.prediction.setData(np.asarray(grid_x, float), values.ravel()[: len(grid_x)])
            return
        x0, x1, y0, y1 = grid_x[0], grid_x[-1], grid_y[0], grid_y[-1]
        if self.classes == 2 and float(np.nanmax(values)) <= 1.0:
            self.image.setColorMap(diverging_colormap())
            levels = (0.0, 1.0)
        else:
            k = max(self.classes, int(np.nanmax(values)) + 1)
            colours = [tint(series_colour(i), 255).lighter(170) for i in range(k)]
            self.image.setColorMap(pg.ColorMap(np.linspace(0, 1, k), colours))
            levels = (0.0, float(k - 1))
        self.image.setImage(values, autoLevels=False, levels=levels)
        dx = (x1 - x0) / max(len(grid_x) - 1, 1)
        dy = (y1 - y0) / max(len(grid_y) - 1, 1)
        self.image.setRect(QRectF(x0 - dx / 2, y0 - dy / 2, x1 - x0 + dx, y1 - y0 + dy))


class ConfusionMatrixView(QTableWidget):
    """Counts, rows = true class, columns = predicted class, cells shaded by the share of
    their row."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setStyleSheet("QTableWidget { background: white; gridline-color: #d0d7de; }")
        self.counts = np.zeros((0, 0), dtype=np.int64)

    def set_matrix(self, matrix: Any, labels: Sequence[str] | None = None) -> None:
        counts = np.asarray(matrix if matrix is not None else [], dtype=np.int64)
        if counts.ndim != 2:
            counts = np.zeros((0, 0), dtype=np.int64)
        self.counts = counts
        k = counts.shape[0]
        names = list(labels) if labels and len(labels) == k else [str(i) for i in range(k)]
        self.setRowCount(k)
        self.setColumnCount(counts.shape[1] if k else 0)
        self.setVerticalHeaderLabels([f"true {n}" for n in names])
        self.setHorizontalHeaderLabels([f"pred {n}" for n in names[: counts.shape[1]]])
        totals = counts.sum(axis=1, keepdims=True).clip(min=1)
        for i in range(k):
            for j in range(counts.shape[1]):
                item = QTableWidgetItem(str(int(counts[i, j])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = counts[i, j] / totals[i, 0]
                base = theme.HEALTHY if i == j else theme.ERROR
                item.setBackground(QBrush(tint(base, int(20 + 160 * share) if counts[i, j] else 0)))
                self.setItem(i, j, item)

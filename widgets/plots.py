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
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from builder.training.config import HealthThresholds
from builder.training.records import Histogram
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
GRID = QColor("#eceff2")  # grid lines, opaque


def series_colour(i: int) -> QColor:
    return SERIES[i % len(SERIES)]


def tint(colour: QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def on_white(colour: QColor, alpha: int) -> QColor:
    """``colour`` at opacity ``alpha`` (0-255) over white, as an opaque colour.

    The plots draw on white, and blending is slow in Qt's raster engine (a few ms per
    repaint for the grid lines and the shaded bands alone), so fills and lines that would
    only be drawn over white are drawn opaque in the colour they would have had.
    """
    a = alpha / 255
    return QColor(*(round(255 * (1 - a) + channel * a) for channel in colour.getRgb()[:3]))


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


def finite_points(
    x: np.ndarray, y: np.ndarray, *, positive: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The points whose x and y are finite (and y > 0 with ``positive``, for a log axis).

    Curves drawn with markers get only these: their scatter item computes its bounds with
    ``nanmin``, which warns "All-NaN slice encountered" on all-NaN data (a run without a
    validation split has no validation loss, a log axis maps 0 to NaN).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if positive:
        keep &= y > 0
    if keep.all():
        return x, y
    return x[keep], y[keep]


def _style(plot: pg.PlotItem, title: str, x: str = "", y: str = "") -> None:
    plot.setTitle(title, color=theme.TEXT.name(), size="10pt")
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.BORDER, width=1))
        axis.setTextPen(pg.mkPen(theme.MUTED))
        # Ticks say the values themselves: no "(x0.001)" scaling in the axis label, which on
        # a log axis would even read as a different norm.
        axis.enableAutoSIPrefix(False)
    if x:
        plot.setLabel("bottom", x, color=theme.MUTED.name())
    if y:
        plot.setLabel("left", y, color=theme.MUTED.name())
    plot.setMenuEnabled(False)


class Grid(pg.GraphicsObject):
    """Grid lines at the axes' major ticks, inside the view and behind the data.

    pyqtgraph's own grid (``showGrid``) is drawn by the axes above the data with
    translucent lines, which costs a few ms per repaint in Qt's raster engine; these are
    opaque (see :func:`on_white`) and few.
    """

    def __init__(self, plot: pg.PlotItem):
        super().__init__()
        self.plot = plot
        self.setZValue(-5)  # above the shaded bands (-10), below every curve
        self._pen = pen(GRID)
        self._key: tuple = ()
        self._lines: tuple[list[float], list[float]] = ([], [])
        self._path = QPainterPath()
        self._path_key: tuple = ()
        plot.addItem(self, ignoreBounds=True)
        plot.vb.sigRangeChanged.connect(self._moved)
        plot.vb.sigResized.connect(self._moved)

    def _moved(self, *_args: Any) -> None:
        self.prepareGeometryChange()
        self.update()

    def boundingRect(self) -> QRectF:
        vb = self.getViewBox()
        return QRectF() if vb is None else vb.viewRect()

    def lines(self) -> tuple[list[float], list[float]]:
        """The x and y (view coordinates, log10 on a log axis) of the grid lines."""
        vb = self.getViewBox()
        if vb is None:
            return [], []
        rect = vb.viewRect()
        key = (rect.getRect(), vb.width(), vb.height(), tuple(vb.state["logMode"]))
        if key != self._key:  # tick values cost more than the lines: once per view change
            xs = self._ticks("bottom", rect.left(), rect.right(), vb.width())
            ys = self._ticks("left", rect.top(), rect.bottom(), vb.height())
            self._key, self._lines = key, (xs, ys)
        return self._lines

    def _ticks(self, axis: str, lo: float, hi: float, size: float) -> list[float]:
        if not (size > 0 and math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            return []
        levels = self.plot.getAxis(axis).tickValues(lo, hi, size)
        values: list[float] = []
        for _spacing, ticks in levels:
            values += [float(v) for v in ticks if lo <= v <= hi]
            if len(values) >= 2:  # the major ticks, or the minor ones of a short log range
                break
        return values

    def paint(self, p: Any, *_args: Any) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        xs, ys = self.lines()
        if self._path_key != self._key:  # one path per view, drawn in one call
            rect = vb.viewRect()
            path = QPainterPath()
            for x in xs:
                path.moveTo(x, rect.top())
                path.lineTo(x, rect.bottom())
            for y in ys:
                path.moveTo(rect.left(), y)
                path.lineTo(rect.right(), y)
            self._path, self._path_key = path, self._key
        p.setPen(self._pen)
        p.drawPath(self._path)


LEGEND_COLUMNS = 3  # at most, for plots of many layers
MARKER_LIMIT = 40  # a per-epoch curve with more points is drawn as a line alone


def set_marked_data(
    item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray, symbol: str, limit: int = MARKER_LIMIT
) -> None:
    """``setData`` for a curve with markers: the markers go once there are more than
    ``limit`` points (so many would merge into a thick line hiding the curves behind)."""
    wanted = symbol if len(x) <= limit else None
    if item.opts["symbol"] != wanted:
        item.setSymbol(wanted)
    item.setData(x, y)


def _curve(
    plot: pg.PlotItem,
    colour: QColor,
    name: str | None = None,
    *,
    symbol: str | None = None,
    style: Qt.PenStyle = Qt.PenStyle.SolidLine,
) -> pg.PlotDataItem:
    item = pg.PlotDataItem(name=name, pen=pen(colour, style), antialias=False, connect="finite")
    # the markers' look, for whenever the curve gets markers (see set_marked_data)
    item.setSymbolSize(5)
    item.setSymbolPen(pen(colour))
    item.setSymbolBrush(pg.mkBrush(colour))
    if symbol:
        item.setSymbol(symbol)
    plot.addItem(item)
    # after addItem, which imposes the PlotItem's own (off) downsampling and clipping
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


class LogAxis(pg.AxisItem):
    """On a log scale, ticks at the powers of ten, and where a range holds fewer than two,
    at 2 and 5 times them too, then at every multiple 1-9, then (a range narrower than
    that) at round values with as many digits as they need. pyqtgraph labels every multiple
    1-9 of a short range, so that the labels run into each other, and a narrow one not at
    all. Linear scales are pyqtgraph's."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 (Qt naming)
        ticks = [(spacing, t) for spacing, t in stdTicks if spacing >= 1.0]
        if len(ticks) >= 3 or not (maxVal > minVal):
            return ticks
        have = {round(float(v), 9) for _, t in ticks for v in t if minVal <= v <= maxVal}
        values: list[float] = []
        for multiples in ((1,), (1, 2, 5), tuple(range(1, 10))):
            values = sorted(
                {
                    v + math.log10(m)
                    for v in range(math.floor(minVal), math.ceil(maxVal))
                    for m in multiples
                    if minVal <= v + math.log10(m) <= maxVal
                }
            )
            if len(have | {round(v, 9) for v in values}) >= 2:
                break
        else:
            values = _round_values(10.0**minVal, 10.0**maxVal)
        minor = [v for v in values if round(v, 9) not in have]
        if minor:
            ticks.append((None, minor))
        return ticks

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (Qt naming)
        numbers = [10.0 ** float(v) * scale for v in values]
        if all(float(f"{x:.1g}") == float(f"{x:.6g}") for x in numbers):
            return super().logTickStrings(values, scale, spacing)  # 1-digit: pyqtgraph's
        return [f"{x:.4g}" for x in numbers]


def _round_values(lo: float, hi: float) -> list[float]:
    """log10 of three to six round numbers between ``lo`` and ``hi`` (both > 0)."""
    step = 10.0 ** math.floor(math.log10((hi - lo) / 3))
    for factor in (5, 2, 1):
        if (hi - lo) / (step * factor) >= 3:
            step *= factor
            break
    first = math.ceil(lo / step)
    return [math.log10(k * step) for k in range(first, first + 7) if lo <= k * step <= hi and k > 0]


class StickyViewBox(pg.ViewBox):
    """A view whose auto-range follows live data without moving at every redraw.

    pyqtgraph fits the view to the data whenever the data changes: while a run grows its
    curves that is every redraw, and each new range re-lays both axes (tick values, labels,
    grid) and, set during the paint, asks for a second paint. Here an axis keeps its range
    while the data stays inside it and fills at least :attr:`FILL` of it; when the data
    leaves it, the new range leaves room to grow (:attr:`GROW` of the data's span on the
    side that was left, half on each when both were: the step axis grows far, the value
    axis a little). With
    ``hysteresis`` off (a full refresh, the end of a run) it fits exactly, as pyqtgraph
    does. :meth:`settle` applies the range at once, so the next paint is the only one.
    """

    FILL = 0.6
    GROW = (0.5, 0.1)  # x, y

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.hysteresis = True

    def settle(self, hysteresis: bool = True) -> None:
        """Fit the range to the data now (not during the next paint)."""
        self.hysteresis = hysteresis
        self.updateAutoRange()

    def updateAutoRange(self) -> None:  # noqa: N802 (pyqtgraph's name)
        if self._updatingRange:
            return
        self._updatingRange = True
        try:
            auto = self.state["autoRange"]
            if not any(auto):
                return
            bounds = self.childrenBounds()
            current = self.viewRange()
            args: dict[str, Any] = {}
            for ax, key in ((0, "xRange"), (1, "yRange")):
                if auto[ax] is False or bounds[ax] is None:
                    continue
                lo, hi = (float(v) for v in bounds[ax])
                if not (math.isfinite(lo) and math.isfinite(hi)):
                    continue
                span = hi - lo
                pad = span * self.suggestPadding(ax)
                want = [lo - pad, hi + pad]
                if span == 0:  # one value: pyqtgraph's setRange widens it
                    want = [lo, hi]
                clo, chi = current[ax]
                if self.hysteresis and span == 0 and clo < lo < chi:
                    continue
                if self.hysteresis and span > 0:
                    # the data itself (not its padding, which follows the view's scale)
                    above, below = hi > chi, lo < clo
                    if not (above or below) and span >= self.FILL * (chi - clo):
                        continue  # the data still fits well: no new range, no re-layout
                    grow = self.GROW[ax] * span / (2 if above and below else 1)
                    if above:
                        want[1] += grow
                    if below:
                        want[0] -= grow
                elif [clo, chi] == want:
                    continue
                args[key] = want
            if args:
                self.setRange(padding=0.0, disableAutoRange=False, **args)
        finally:
            self._autoRangeNeedsUpdate = False
            self._updatingRange = False


class _Plot(pg.PlotWidget):
    def __init__(self, title: str, x: str = "", y: str = "", parent=None, sticky: bool = False):
        super().__init__(
            parent=parent,
            background="w",
            axisItems={"left": LogAxis("left")},
            viewBox=StickyViewBox() if sticky else None,
        )
        self.setAntialiasing(False)
        _style(self.getPlotItem(), title, x, y)
        self.grid = Grid(self.getPlotItem())
        self.legend = self.getPlotItem().addLegend(
            offset=(-8, 8),
            labelTextSize="8pt",
            labelTextColor=theme.MUTED,
            verSpacing=-6,
            brush=pg.mkBrush(255, 255, 255, 210),
            pen=pg.mkPen(theme.FRAME),
        )
        self.legend_wanted = True
        self.title = title
        self.painted = 0.0  # CPU seconds of the GUI thread spent in paintEvent, ever
        self.plotItem.vb.sigResized.connect(self.fit_legend)

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        start = time.thread_time()
        try:
            super().paintEvent(event)
        finally:  # what painting this plot has cost the GUI thread (the dashboard's live rate)
            self.painted += time.thread_time() - start

    def settle(self, live: bool = False) -> None:
        """Apply the view range for the new data now, so that it is painted once: with
        hysteresis while a run is live (see :class:`StickyViewBox`), exactly otherwise."""
        vb = self.plotItem.vb
        if isinstance(vb, StickyViewBox):
            vb.settle(hysteresis=live)

    def hide_legend(self) -> None:
        self.legend_wanted = False
        self.legend.hide()

    def reset_view(self) -> None:
        """The view of a new plot (another project was opened): pyqtgraph's first range,
        following the next data again. Subclasses also drop what names the old data."""
        vb = self.plotItem.vb
        vb.setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0), padding=0.0)
        vb.enableAutoRange()
        self.fit_legend()

    def fit_legend(self, *_args: Any) -> None:
        """Lay the legend out in as few columns as leave most of the view free, and hide it
        where none does (in a small plot it would cover the curves it names)."""
        if not self.legend_wanted:
            return
        vb, legend = self.plotItem.vb, self.legend
        if not legend.items or vb.height() <= 0:
            legend.setVisible(False)
            return
        for columns in range(1, LEGEND_COLUMNS + 1):
            if legend.columnCount != columns:
                legend.setColumnCount(columns)
            box = legend.boundingRect()  # (LegendItem.size is not Qt's size())
            if box.width() > 0.7 * vb.width():
                break  # wider only gets worse
            if box.height() <= 0.5 * vb.height():
                legend.setVisible(True)
                return
        legend.setVisible(False)

    def set_title(self, title: str) -> None:
        """Change the title (a no-op when it is the same: setting it lays the plot out)."""
        if title != self.title:
            self.title = title
            self.plotItem.setTitle(title, color=theme.TEXT.name(), size="10pt")


class LossPlot(_Plot):
    """Per-step train loss (thin) with its exponential moving average, per-epoch train and
    validation loss (markers + lines), optional log-scale y, and dashed curves of another run
    for comparison. The legend lists only the curves that have something to show."""

    def __init__(self, parent=None):
        super().__init__("Loss", "step", "loss", parent, sticky=True)
        self.smoothing = 0.6
        self.step_curve = _curve(self.plotItem, STEP_RAW, "train (step)")
        self.smooth_curve = _curve(self.plotItem, TRAIN, "train (smoothed)")
        self.epoch_train = _curve(self.plotItem, theme.TEXT, "train (epoch)", symbol="o")
        self.epoch_val = _curve(self.plotItem, VAL, "validation", symbol="s")
        dash = Qt.PenStyle.DashLine
        self.other_smooth = _curve(self.plotItem, TRAIN, None, style=dash)
        self.other_val = _curve(self.plotItem, VAL, None, style=dash)
        self._steps: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._epochs: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.empty(0),
            np.empty(0),
            np.empty(0),
        )
        self._other_name: str | None = None
        self._other_steps: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._other_epochs: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._legend_items: list[pg.PlotDataItem] = []
        self._sync_legend()

    def set_smoothing(self, value: float) -> None:
        self.smoothing = min(0.99, max(0.0, float(value)))
        self._draw_smooth()
        self._draw_other()

    def set_log_y(self, on: bool) -> None:
        self.plotItem.setLogMode(y=bool(on))
        self._draw_epochs()  # markers at y <= 0 have no place on a log axis

    @property
    def log_y(self) -> bool:
        return bool(self.plotItem.ctrl.logYCheck.isChecked())

    def set_steps(self, x: np.ndarray, y: np.ndarray) -> None:
        self._steps = (x, y)
        self.step_curve.setData(x, y)
        self._draw_smooth()

    def set_epochs(self, x: np.ndarray, train: np.ndarray, val: np.ndarray) -> None:
        self._epochs = (x, train, val)
        self._draw_epochs()

    def set_other(
        self,
        name: str | None,
        steps: tuple[np.ndarray, np.ndarray] | None = None,
        epochs: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Show another run's smoothed loss and validation loss dashed (``name`` None: hide)."""
        empty = (np.empty(0), np.empty(0))
        if name is None and self._other_name is None:
            return  # nothing shown, nothing to hide
        self._other_name = name
        if name is None:
            self._other_steps = self._other_epochs = empty
        else:
            self.other_smooth.opts["name"] = f"{name} (smoothed)"
            self.other_val.opts["name"] = f"{name} (validation)"
            self._other_steps = steps if steps is not None else empty
            self._other_epochs = epochs if epochs is not None else empty
        self._draw_other()

    def _draw_epochs(self) -> None:
        log = self.log_y
        x, train, val = self._epochs
        set_marked_data(self.epoch_train, *finite_points(x, train, positive=log), "o")
        set_marked_data(self.epoch_val, *finite_points(x, val, positive=log), "s")
        self._sync_legend()

    def _draw_smooth(self) -> None:
        x, y = self._steps
        self.smooth_curve.setData(x, ema(y, self.smoothing))
        self._sync_legend()

    def _draw_other(self) -> None:
        ox, oy = self._other_steps
        self.other_smooth.setData(ox, ema(oy, self.smoothing))
        ex, ev = self._other_epochs
        # a line without markers, but NaN (no validation split) would leave nothing to see
        self.other_val.setData(*finite_points(ex, ev))
        self._sync_legend()

    def _sync_legend(self) -> None:
        """List the curves that hold points, in a fixed order."""
        items = [
            item
            for item in (
                self.step_curve,
                self.smooth_curve,
                self.epoch_train,
                self.epoch_val,
                self.other_smooth,
                self.other_val,
            )
            if item.name() is not None and _has_points(item)
        ]
        if items == self._legend_items:
            return
        self.legend.clear()
        for item in items:
            self.legend.addItem(item, item.name())
        self._legend_items = items
        self.fit_legend()


def _has_points(item: pg.PlotDataItem) -> bool:
    x, _ = item.getOriginalDataset()
    return x is not None and len(x) > 0


METRIC_ORDER = ("accuracy", "f1", "precision", "recall", "mse", "mae", "rmse", "r2")
METRIC_SHOWN = {"accuracy", "f1", "mse", "mae"}


class MetricsPlot(_Plot):
    """Per-epoch metrics: accuracy / F1 for classification, MSE / MAE for regression."""

    def __init__(self, parent=None):
        super().__init__("Metrics (validation)", "step", "", parent, sticky=True)
        # accuracy and F1 rise towards the top right: the legend goes bottom right
        self.legend.setOffset((-8, -8))
        self.curves: dict[str, pg.PlotDataItem] = {}

    def reset_view(self) -> None:
        for name, curve in self.curves.items():  # the old run's metrics leave the legend
            self.plotItem.removeItem(curve)
            self.legend.removeItem(name)
        self.curves.clear()
        super().reset_view()

    def set_split(self, split: str) -> None:
        """Name the data the metrics were measured on in the title."""
        self.set_title(f"Metrics ({split})")

    def set_metrics(self, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """``series``: metric name -> (steps, values); a metric may be missing from some
        epochs, so each has its own steps."""
        for name in [m for m in METRIC_ORDER if m in series and m in METRIC_SHOWN]:
            if name not in self.curves:
                self.curves[name] = _curve(
                    self.plotItem, series_colour(len(self.curves)), name, symbol="o"
                )
                self.fit_legend()
            set_marked_data(self.curves[name], *finite_points(*series[name]), "o")
        for name, curve in self.curves.items():
            if name not in series:
                curve.setData([], [])


class GradientPlot(_Plot):
    """One line per layer: its gradient L2 norm against the step, on a log y axis, over the
    shaded vanishing (below ``vanishing``) and exploding (above ``exploding``) regions."""

    def __init__(self, parent=None):
        super().__init__("Gradient norms", "step", "L2 norm", parent, sticky=True)
        self.plotItem.setLogMode(y=True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.vanishing_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(on_white(theme.VANISHING, 28)),
            pen=pen(on_white(theme.VANISHING, 90)),
        )
        self.exploding_band = pg.LinearRegionItem(
            orientation="horizontal",
            movable=False,
            brush=pg.mkBrush(on_white(theme.EXPLODING, 28)),
            pen=pen(on_white(theme.EXPLODING, 90)),
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
                self.fit_legend()
            # a single report is a point, which a line alone would not show
            set_marked_data(self.curves[name], x, y, "o", limit=1)
        for name in [n for n in self.curves if n not in data]:
            self.plotItem.removeItem(self.curves.pop(name))
            self.legend.removeItem(name)
            self.fit_legend()


def heat_colormap() -> pg.ColorMap:
    return pg.colormap.get("viridis")


def diverging_colormap() -> pg.ColorMap:
    return pg.ColorMap([0.0, 0.5, 1.0], [QColor("#2563eb"), QColor("#ffffff"), QColor("#e16f24")])


class GradientHeatmap(_Plot):
    """Layers (rows) by reports (columns, the newest ``HEATMAP_WIDTH``), colour = log10 of the
    gradient norm; y tick labels are the layer names."""

    def __init__(self, parent=None):
        super().__init__("Gradient norms by layer (log10)", "step", "", parent)
        self.hide_legend()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(heat_colormap())
        self.plotItem.addItem(self.image)
        self.plotItem.invertY(True)
        self.grid.setVisible(False)
        self.layers: list[str] = []
        self.colorbar = pg.ColorBarItem(colorMap=heat_colormap(), interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=self.plotItem)

    def reset_view(self) -> None:
        self.layers = []
        self.image.clear()
        self.plotItem.getAxis("left").setTicks(None)  # the old network's layer names
        self.colorbar.setLevels((0.0, 1.0))
        super().reset_view()

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
        # one column per report, centred on its step
        n = len(steps)
        gap = (float(steps[-1]) - float(steps[0])) / (n - 1) if n > 1 else 1.0
        gap = max(gap, 1e-9)
        x0 = float(steps[0]) - gap / 2
        self.image.setRect(QRectF(x0, 0.0, gap * n, float(len(layers))))
        self.plotItem.getAxis("left").setTicks(
            [[(i + 0.5, name) for i, name in enumerate(layers)], []]
        )


class HistogramPlot(_Plot):
    """A :class:`Histogram` as a filled step plot."""

    def __init__(self, title: str, colour: QColor = theme.ACCENT, parent=None):
        super().__init__(title, "value", "count", parent)
        self.hide_legend()
        self.base_title = title
        self.curve = pg.PlotDataItem(
            stepMode="center",
            fillLevel=0,
            pen=pen(colour),
            brush=pg.mkBrush(on_white(colour, 70)),
            antialias=False,
        )
        self.plotItem.addItem(self.curve)

    def set_histogram(self, histogram: Histogram | None, layer: str | None = None) -> None:
        self.set_title(f"{self.base_title}: {layer}" if layer else self.base_title)
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
        self.hide_legend()
        self.grid.setVisible(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-5)
        self.plotItem.addItem(self.image)
        self.scatter = pg.ScatterPlotItem(size=6, pen=pg.mkPen("w", width=1))
        self.plotItem.addItem(self.scatter)
        # the points the prediction gets wrong, ringed (their class colour shows through)
        self.wrong = pg.ScatterPlotItem(size=12, pen=pg.mkPen(theme.TEXT, width=1.6), brush=None)
        self.plotItem.addItem(self.wrong)
        self.misclassified = 0
        self.prediction = _curve(self.plotItem, theme.ACCENT, "prediction")
        self.points: tuple[np.ndarray, np.ndarray] | None = None
        self.classes = 2

    def set_points(self, points: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.points = None
        self.scatter.clear()
        self._ring(None)
        self.image.clear()
        self.prediction.setData([], [])
        if points is None:
            return
        x, labels = np.asarray(points[0], float), np.asarray(points[1])
        rows = x.reshape(len(x), -1)
        keep = np.isfinite(rows).all(axis=1)
        if labels.dtype.kind == "f":
            keep &= np.isfinite(labels.reshape(len(labels), -1)).all(axis=1)
        if not keep.any():
            return  # nothing drawable (the scatter would warn on all-NaN data)
        x, labels = x[keep], labels[keep]
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

    def reset_view(self) -> None:
        self.set_points(None)
        self.plotItem.setLabels(bottom="x₁", left="x₂")
        super().reset_view()

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
        if not np.isfinite(values).any():  # a diverged model predicts NaN everywhere
            self.image.clear()
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
        self._ring((values, x0, y0, dx, dy))

    def _ring(self, grid: tuple[np.ndarray, float, float, float, float] | None) -> None:
        """Ring the class points whose grid cell predicts another class (the grid is the
        prediction: a point is read at its nearest cell), and say how many in the title."""
        wrong = np.zeros(0, dtype=bool)
        if grid is not None and self.points is not None and self.points[0].ndim == 2:
            values, x0, y0, dx, dy = grid
            x, labels = self.points
            if x.shape[1] >= 2 and labels.dtype.kind in "iub":
                cols = np.clip(np.rint((x[:, 0] - x0) / (dx or 1)), 0, values.shape[1] - 1)
                rows = np.clip(np.rint((x[:, 1] - y0) / (dy or 1)), 0, values.shape[0] - 1)
                at = values[rows.astype(int), cols.astype(int)]
                predicted = (at >= 0.5) if self.classes == 2 else np.rint(at)
                wrong = predicted.astype(int) != labels.astype(int).ravel()
        if wrong.any():
            x = self.points[0]
            self.wrong.setData(x[wrong, 0], x[wrong, 1])
        else:
            self.wrong.clear()
        count = int(wrong.sum())
        if count != self.misclassified:
            self.misclassified = count
            words = f" · {count} misclassified (ringed)" if count else ""
            self.plotItem.setTitle(self.title + words, color=theme.TEXT.name(), size="10pt")


class ConfusionMatrixView(QTableWidget):
    """Counts, rows = true class, columns = predicted class (headers: the class names),
    cells shaded by the share of their row. Cells share the space they get, up to ``CELL``:
    a 2 x 2 matrix does not fill a whole tab, ten classes still fit a small one."""

    CELL = (96, 48)  # largest cell: width, height

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(22)
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
        self.setVerticalHeaderLabels(names)
        self.setHorizontalHeaderLabels(names[: counts.shape[1]])
        totals = counts.sum(axis=1, keepdims=True).clip(min=1)
        for i in range(k):
            for j in range(counts.shape[1]):
                item = QTableWidgetItem(str(int(counts[i, j])))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                share = counts[i, j] / totals[i, 0]
                base = theme.HEALTHY if i == j else theme.ERROR
                item.setBackground(QBrush(tint(base, int(20 + 160 * share) if counts[i, j] else 0)))
                self.setItem(i, j, item)
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt)
        """Cells of ``CELL`` size: the layout gives the table this much where it can."""
        rows, cols = self.rowCount(), self.columnCount()
        if not rows or not cols:
            return super().sizeHint()
        frame = 2 * self.frameWidth() + 2
        return QSize(
            self.verticalHeader().sizeHint().width() + cols * self.CELL[0] + frame,
            self.horizontalHeader().sizeHint().height() + rows * self.CELL[1] + frame,
        )

"""Chart views: named series as curves, points coloured by class, bars against a
threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QWidget

from builder.training.procedures.spec import View
from widgets import theme
from widgets.plots import (
    STEP_RAW,
    _Plot,
    ema,
    finite_points,
    on_white,
    pen,
    series_colour,
    set_marked_data,
)
from widgets.views.base import ViewWidget


class CurvesView(ViewWidget):
    """Named series against the step: each step's value (a light line) and its moving
    average (smoothed like the loss plot), and the per-epoch values (markers).

    Payload: ``steps`` and ``epochs`` (name -> (steps, values)), ``split`` (what the epoch
    values were measured on)."""

    def __init__(self, view: View, parent: QWidget | None = None):
        self.smoothing = 0.6
        self.log_y = False
        self._payload: Mapping[str, Any] = {}
        super().__init__(view, parent)
        self.raw: dict[str, pg.PlotDataItem] = {}
        self.smooth: dict[str, pg.PlotDataItem] = {}
        self.epoch: dict[str, pg.PlotDataItem] = {}
        for i, name in enumerate(view.series):
            colour = series_colour(i)
            light = STEP_RAW if i == 0 else on_white(colour, 90)
            self.raw[name] = self._curve(light, None)
            self.smooth[name] = self._curve(colour, view.label(name))
            self.epoch[name] = self._curve(colour, None, Qt.PenStyle.DashLine)
            self.epoch[name].setSymbolBrush(pg.mkBrush("w"))
        self._legend: list[pg.PlotDataItem] = []

    def _make_plot(self) -> _Plot:
        return _Plot(self.view.title, "step", "", sticky=True)

    def _curve(self, colour: QColor, name: str | None, style=Qt.PenStyle.SolidLine):
        item = pg.PlotDataItem(name=name, pen=pen(colour, style), antialias=False, connect="finite")
        item.setSymbolSize(5)
        item.setSymbolPen(pen(colour))
        item.setSymbolBrush(pg.mkBrush(colour))
        self.plot.plotItem.addItem(item)
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        return item

    def draw(self, payload: Mapping[str, Any]) -> None:
        self._payload = payload
        steps, epochs = payload.get("steps", {}), payload.get("epochs", {})
        when = "validation" if payload.get("split", "validation") == "validation" else "epoch"
        log = self.log_y
        for name in self.view.series:
            x, y = steps.get(name, (np.empty(0), np.empty(0)))
            x, y = np.asarray(x, float), np.asarray(y, float)
            smooth = ema(y, self.smoothing)
            self.raw[name].setData(*finite_points(x, y, positive=log) if log else (x, y))
            self.raw[name].setVisible(self.smoothing > 0)  # else the smoothed line is it
            self.smooth[name].setData(
                *finite_points(x, smooth, positive=log) if log else (x, smooth)
            )
            ex, ev = epochs.get(name, (np.empty(0), np.empty(0)))
            self.epoch[name].opts["name"] = f"{self.view.label(name)} ({when})"
            set_marked_data(self.epoch[name], *finite_points(ex, ev, positive=log), "o")
        self._sync_legend()

    def _sync_legend(self) -> None:
        items = [
            item
            for name in self.view.series
            for item in (self.smooth[name], self.epoch[name])
            if item.getOriginalDataset()[0] is not None and len(item.getOriginalDataset()[0])
        ]
        if items == self._legend and all(
            label.text == item.name() for item, (_, label) in zip(items, self.plot.legend.items)
        ):
            return
        self.plot.legend.clear()
        for item in items:
            self.plot.legend.addItem(item, item.name())
        self._legend = items
        self.plot.fit_legend()

    def set_smoothing(self, value: float) -> None:
        self.smoothing = min(0.99, max(0.0, float(value)))
        if self._payload:
            self.draw(self._payload)

    def set_log_y(self, on: bool) -> None:
        self.log_y = bool(on)
        self.plot.plotItem.setLogMode(y=self.log_y)
        if self._payload:
            self.draw(self._payload)

    def reset(self) -> None:
        self._payload = {}
        for items in (self.raw, self.smooth, self.epoch):
            for item in items.values():
                item.setData([], [])
        self._sync_legend()
        super().reset()


class ScatterView(ViewWidget):
    """Points coloured by their class, with the classes named under the plot, and the
    payload's note (what the axes are).

    Payload: ``points`` (N, 2), ``labels`` (N,) or None, ``axis_labels``, ``note``;
    optionally ``class_names`` (the labels' names), ``equal_axes`` (both axes span the same
    range: points of the plane) and ``mesh`` ((rows, cols): the points, in row
    order, are a grid drawn with its lines, e.g. a GAN generator's deformed latent grid)."""

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        self.mesh = pg.PlotDataItem(pen=pg.mkPen(theme.ACCENT, width=1))
        self.plot.plotItem.addItem(self.mesh)
        self.items: dict[int, pg.ScatterPlotItem] = {}
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.hide()
        self._layout.insertWidget(1, self.legend)

    def _item(self, label: int) -> pg.ScatterPlotItem:
        item = self.items.get(label)
        if item is None:
            colour = theme.ACCENT if label < 0 else series_colour(label)
            item = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(colour))
            self.plot.plotItem.addItem(item)
            self.items[label] = item
        return item

    def draw(self, payload: Mapping[str, Any]) -> None:
        points = np.asarray(payload["points"], dtype=float).reshape(-1, 2)
        labels = payload.get("labels")
        labels = None if labels is None else np.asarray(labels).astype(np.int64).ravel()
        keep = np.isfinite(points).all(axis=1)
        if labels is not None and len(labels) != len(points):
            labels = None
        points = points[keep]
        labels = labels[keep] if labels is not None else np.full(len(points), -1, np.int64)
        # "mesh_only": classes of points drawn only as the mesh's lines (an RBF width's circle)
        lines_only = {int(c) for c in payload.get("mesh_only", ())}
        classes = sorted(int(c) for c in np.unique(labels) if int(c) not in lines_only)
        for label, item in self.items.items():
            if label not in classes:
                item.clear()
        for c in classes:
            chosen = points[labels == c]
            self._item(c).setData(chosen[:, 0], chosen[:, 1])
        names = payload.get("class_names") or self.class_names
        if classes and classes[0] >= 0:
            entries = [
                f'<span style="color:{series_colour(c).name()}">●</span>&nbsp;'
                f"{names[c] if names and c < len(names) else c}"
                for c in classes
            ]
            self.legend.setText("&nbsp;&nbsp; ".join(entries))
            self.legend.show()
        else:
            self.legend.hide()
        axes = payload.get("axis_labels") or ("", "")
        self.plot.plotItem.setLabels(bottom=axes[0], left=axes[1])
        if payload.get("equal_axes") and len(points):  # the same span on both axes
            lo, hi = points.min(axis=0), points.max(axis=0)
            half = max(float((hi - lo).max()) / 2, 1e-6) * 1.08
            mid = (lo + hi) / 2
            self.plot.plotItem.vb.setRange(
                xRange=(mid[0] - half, mid[0] + half),
                yRange=(mid[1] - half, mid[1] + half),
                padding=0,
            )
        else:
            self.plot.plotItem.vb.enableAutoRange()
        self._draw_mesh(np.asarray(payload["points"], dtype=float), payload.get("mesh"))
        self.set_note(str(payload.get("note") or ""))

    def _draw_mesh(self, points: np.ndarray, mesh: Any) -> None:
        """The grid's rows and columns as lines (broken where a point is not finite):
        ``mesh`` is ``(rows, cols)`` (every point, a grid in row order) or ``{"offset": k,
        "edges": (E, 2)}`` (a line between points ``k + a`` and ``k + b`` for each edge: a
        SOM's neighbouring units)."""
        if not mesh:
            self.mesh.clear()
            return
        if isinstance(mesh, Mapping):
            edges = np.asarray(mesh["edges"], dtype=np.int64).reshape(-1, 2) + int(mesh["offset"])
            ends = points.reshape(-1, 2)[edges]  # (E, 2 ends, xy)
            gap = np.full((len(ends), 1, 2), np.nan)
            line = np.concatenate([ends, gap], axis=1).reshape(-1, 2)
            self.mesh.setData(line[:, 0], line[:, 1], connect="finite")
            return
        rows, cols = (int(v) for v in mesh)
        grid = points.reshape(rows, cols, 2)
        lines = [*grid, *grid.transpose(1, 0, 2)]
        xs = np.concatenate([np.append(line[:, 0], np.nan) for line in lines])
        ys = np.concatenate([np.append(line[:, 1], np.nan) for line in lines])
        self.mesh.setData(xs, ys, connect="finite")

    def point_count(self) -> int:
        return sum(len(item.data) for item in self.items.values())

    def reset(self) -> None:
        for item in self.items.values():
            item.clear()
        self.mesh.clear()
        self.legend.hide()
        super().reset()


class BarsView(ViewWidget):
    """One bar per entry (a latent dimension's KL), those above the threshold line in the
    accent colour; the count above it under the plot, and the payload's warning in red.

    Payload: ``values`` (D,), ``labels`` (D names), ``threshold``, ``warning``."""

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.plot.plotItem.addItem(self.bars)
        self.line = pg.InfiniteLine(
            angle=0, movable=False, pen=pen(theme.ERROR, Qt.PenStyle.DashLine)
        )
        self.line.hide()
        self.plot.plotItem.addItem(self.line)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.ERROR.name()}; font-weight: 600;")
        self.warning.hide()
        self._layout.addWidget(self.warning)

    def draw(self, payload: Mapping[str, Any]) -> None:
        values = np.nan_to_num(np.asarray(payload["values"], dtype=float).ravel())
        d = len(values)
        labels = list(payload.get("labels") or [str(i) for i in range(d)])
        threshold = payload.get("threshold")
        above = values > threshold if threshold is not None else np.ones(d, bool)
        brushes = [pg.mkBrush(theme.ACCENT if a else on_white(theme.MUTED, 110)) for a in above]
        self.bars.setOpts(
            x=np.arange(d), height=values, width=0.7, brushes=brushes, pens=[None] * d
        )
        step = max(1, math.ceil(d / 16))
        ticks = [(i, labels[i]) for i in range(0, d, step)]
        self.plot.plotItem.getAxis("bottom").setTicks([ticks, []])
        if threshold is not None:
            self.line.setValue(float(threshold))
            self.line.show()
            self.set_note(f"{int(above.sum())} of {d} above the dashed line ({float(threshold):g})")
        else:
            self.line.hide()
            self.set_note("")
        warning = str(payload.get("warning") or "")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        top = max(float(values.max()) if d else 0.0, float(threshold or 0.0))
        self.plot.plotItem.vb.setRange(
            xRange=(-0.6, max(d, 1) - 0.4), yRange=(0.0, top * 1.08 or 1.0), padding=0.0
        )

    def heights(self) -> np.ndarray:
        return np.asarray(self.bars.opts["height"], dtype=float)

    def reset(self) -> None:
        self.bars.setOpts(x=[], height=[], brushes=None, pens=None)
        self.line.hide()
        self.warning.hide()
        self.plot.plotItem.getAxis("bottom").setTicks(None)
        super().reset()

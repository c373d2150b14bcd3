"""Image views: rows of fixed samples (images tiled, or curves for vectors), image grids
(decoded latent grid, samples from the prior) and 2-D maps of values. Images are drawn with
square pixels, nearest-neighbour (pyqtgraph's ImageItem, no smoothing), tiled with a
one-pixel gap."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import QLabel, QWidget

from builder.training.procedures.spec import View
from widgets import theme
from widgets.plots import (
    _Plot,
    heat_colormap,
    on_white,
    pen,
    series_colour,
)
from widgets.views.base import ViewWidget

GAP = (255, 255, 255)  # between tiled images: the plots' white


def pixels(samples: Any, value_range: Sequence[float] | None = None) -> np.ndarray:
    """Samples ``(N, H, W)`` or ``(N, C, H, W)`` as ``(N, H, W, 3)`` uint8: grey for one
    channel (the first of other than three), colour for three, ``value_range`` -> 0..255."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 4:
        a = a.transpose(0, 2, 3, 1) if a.shape[1] == 3 else a[:, 0]
    if a.ndim == 2:  # vectors: one row of pixels each
        a = a[:, None, :]
    if a.ndim == 3:
        a = a[..., None]
    finite = a[np.isfinite(a)]
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
    else:
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    scaled = np.nan_to_num((a - lo) / span, nan=0.0, posinf=1.0, neginf=0.0)
    u8 = (np.clip(scaled, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return np.repeat(u8, 3, axis=-1) if u8.shape[-1] == 1 else u8


def tile(images: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """``(N, H, W, 3)`` images in rows of ``cols``, ``gap`` pixels apart: one RGB mosaic."""
    n, h, w = images.shape[:3]
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    out = np.empty((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), dtype=np.uint8)
    out[:] = GAP
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return out


def _spread(n: int, most: int = 5) -> list[int]:
    """At most ``most`` indices spread evenly and symmetrically over ``range(n)``, the first
    and last included (tick positions over a grid's columns)."""
    if n <= most:
        return list(range(n))
    k = most if n % 2 else most - 1  # an even count for an even n: no middle column
    half = [int(i * (n - 1) / (k - 1) + 0.5) for i in range((k + 1) // 2)]
    return sorted(set(half) | {n - 1 - i for i in half})


class _ImagePlot(_Plot):
    """One RGB mosaic (an ImageItem): square pixels, nearest-neighbour, row 0 on top."""

    def __init__(self, title: str):
        super().__init__(title)
        self.hide_legend()
        self.grid.setVisible(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plotItem.addItem(self.image)
        self.plotItem.invertY(True)
        self.plotItem.vb.setAspectLocked(True)
        for name in ("left", "bottom"):
            self.plotItem.getAxis(name).setStyle(tickLength=0)
        self._shape: tuple[int, ...] | None = None

    def set_mosaic(self, rgb: np.ndarray) -> None:
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        if rgb.shape != self._shape:  # a new layout: fit it (not at every probe)
            self._shape = rgb.shape
            self.plotItem.vb.autoRange(padding=0.01)

    def clear_image(self) -> None:
        self.image.clear()
        self._shape = None

    def set_ticks(self, axis: str, ticks: list[tuple[float, str]] | None) -> None:
        """Ticks at image positions; the left axis made as wide as its labels at once
        (pyqtgraph would widen it only at the paint after the first, cutting them off)."""
        item = self.plotItem.getAxis(axis)
        item.setTicks(None if ticks is None else [ticks, []])
        if axis == "left":
            metrics = QFontMetrics(item.style["tickFont"] or item.font())
            widest = max((metrics.horizontalAdvance(t) for _, t in ticks or ()), default=0)
            if widest and item.label.isVisible():
                widest += metrics.height() + 6  # the axis' name beside its labels
            item.setWidth(widest + 10 if widest else None)


class SamplesView(ViewWidget):
    """Rows of the same fixed samples (input / noisy input / output): images tiled in a grid
    with the rows named on the left, or for vectors each row's values as a curve, the
    samples side by side.

    Payload: ``samples`` (R, N, *sample_shape), ``rows`` (R names), ``value_range``."""

    wide = True

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        self.images = self.plot
        self.images.plotItem.hideAxis("bottom")
        self.vectors = _Plot(view.title, "sample", "value")
        self.vectors.hide_legend()  # named under the plot: a legend would cover a sample
        self.vectors.hide()
        self._layout.insertWidget(1, self.vectors, 1)
        self.curves: list[pg.PlotDataItem] = []
        self.rows = QLabel()  # the vectors' rows, by colour
        self.rows.setTextFormat(Qt.TextFormat.RichText)
        self.rows.hide()
        self._layout.insertWidget(2, self.rows)

    def _make_plot(self) -> _Plot:
        return _ImagePlot(self.view.title)

    def draw(self, payload: Mapping[str, Any]) -> None:
        samples = np.asarray(payload["samples"], dtype=np.float32)
        names = list(payload.get("rows") or [f"row {i + 1}" for i in range(samples.shape[0])])
        if samples.ndim == 3:
            self._draw_vectors(samples, names)
        else:
            self._draw_images(samples, names, payload.get("value_range"))

    def _draw_images(self, samples: np.ndarray, names: list[str], value_range: Any) -> None:
        self.vectors.hide()
        self.rows.hide()
        self.images.show()
        r, n = samples.shape[:2]
        tiles = pixels(samples.reshape(r * n, *samples.shape[2:]), value_range)
        self.images.set_mosaic(tile(tiles, n))
        h = tiles.shape[1]
        self.images.set_ticks("left", [(i * (h + 1) + h / 2, names[i]) for i in range(r)])

    def _draw_vectors(self, samples: np.ndarray, names: list[str]) -> None:
        self.images.hide()
        self.vectors.show()
        r, n, d = samples.shape
        gap = max(2, d // 6)
        x = (np.arange(n)[:, None] * (d + gap) + np.arange(d)[None, :]).astype(float)
        xs = np.concatenate([x, np.full((n, 1), np.nan)], axis=1).ravel()
        colours = [theme.TEXT, on_white(theme.MUTED, 110), QColor("#e16f24")]
        if r == 2:
            colours = [theme.TEXT, QColor("#e16f24")]
        while len(self.curves) < r:
            item = pg.PlotDataItem(antialias=False, connect="finite")
            self.vectors.plotItem.addItem(item)
            self.curves.append(item)
        entries = []
        for i, item in enumerate(self.curves):
            if i >= r:
                item.setData([], [])
                continue
            ys = np.concatenate([samples[i], np.full((n, 1), np.nan)], axis=1).ravel()
            colour = colours[i % len(colours)]
            item.setPen(pen(colour))
            item.setData(xs, ys)
            entries.append(f'<span style="color:{colour.name()}">━━</span>&nbsp;{names[i]}')
        self.rows.setText("&nbsp;&nbsp;&nbsp; ".join(entries))
        self.rows.show()
        centres = [(k * (d + gap) + (d - 1) / 2, str(k + 1)) for k in range(n)]
        self.vectors.plotItem.getAxis("bottom").setTicks([centres, []])

    def reset(self) -> None:
        self.images.clear_image()
        self.images.set_ticks("left", None)
        for item in self.curves:
            item.setData([], [])
        self.rows.hide()
        self.vectors.hide()
        self.images.show()
        self.vectors.reset_view()
        super().reset()

    @property
    def painted(self) -> float:
        return self.images.painted + self.vectors.painted


class ImageGridView(ViewWidget):
    """Images in a grid (decoded latent grid, samples from the prior); with ``axis``, the
    latent values along the grid's columns (z₁, growing rightwards) and rows (z₂, growing
    upwards) as ticks.

    Payload: ``images`` (N, *sample_shape), ``cols``, ``value_range``, ``axis`` (optional)."""

    def _make_plot(self) -> _Plot:
        return _ImagePlot(self.view.title)

    def draw(self, payload: Mapping[str, Any]) -> None:
        images = np.asarray(payload["images"], dtype=np.float32)
        n = images.shape[0]
        cols = int(payload.get("cols") or math.ceil(math.sqrt(n)))
        tiles = pixels(images, payload.get("value_range"))
        plot: _ImagePlot = self.plot  # type: ignore[assignment]
        plot.set_mosaic(tile(tiles, cols))
        axis = payload.get("axis")
        item = plot.plotItem
        if axis:
            h, w = tiles.shape[1:3]
            values = list(axis)
            rows = math.ceil(n / cols)
            xs = [
                (i * (w + 1) + w / 2, f"{values[i]:.1f}") for i in _spread(min(cols, len(values)))
            ]
            # the first row holds the largest z₂ (it grows upwards)
            ys = [
                (i * (h + 1) + h / 2, f"{values[len(values) - 1 - i]:.1f}")
                for i in _spread(min(rows, len(values)))
            ]
            item.setLabels(bottom="z₁", left="z₂")
            item.showAxis("bottom")
            item.showAxis("left")
            plot.set_ticks("bottom", xs)
            plot.set_ticks("left", ys)
        else:
            item.hideAxis("bottom")
            item.hideAxis("left")

    def reset(self) -> None:
        self.plot.clear_image()  # type: ignore[attr-defined]
        super().reset()


class MapView(ViewWidget):
    """A 2-D array of values in colour with its colour bar (heatmap, a map on a grid).

    Payload: ``values`` (H, W), ``value_range`` (optional); optionally ``extent``
    (x0, x1, y0, y1: the map covers this part of the plane, row 0 at the top, y0 < y1; the
    axes then show its coordinates), and ``points`` (N, 2) with ``labels`` (N,) drawn over
    it (a GAN's real and generated points over its discriminator's verdict)."""

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        item = self.plot.plotItem
        self.plot.grid.setVisible(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(heat_colormap())
        item.addItem(self.image)
        item.invertY(True)
        item.vb.setAspectLocked(True)
        self.colorbar = pg.ColorBarItem(colorMap=heat_colormap(), interactive=False, width=12)
        self.colorbar.setImageItem(self.image, insert_in=item)
        self.dots: list[pg.ScatterPlotItem] = []

    def draw(self, payload: Mapping[str, Any]) -> None:
        values = np.asarray(payload["values"], dtype=np.float32)
        values = values.reshape(values.shape[0], -1) if values.ndim != 2 else values
        finite = values[np.isfinite(values)]
        lo, hi = payload.get("value_range") or (
            (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        )
        if hi <= lo:
            hi = lo + 1.0
        extent = payload.get("extent")
        item = self.plot.plotItem
        if extent is not None:  # the plane's coordinates, y growing upwards
            x0, x1, y0, y1 = (float(v) for v in extent)
            values = values[::-1]
            item.invertY(False)
            item.vb.setAspectLocked(False)  # the axes' ranges say the plane's proportions
        self.image.setImage(np.nan_to_num(values, nan=lo), autoLevels=False, levels=(lo, hi))
        if extent is not None:
            self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.colorbar.setLevels((lo, hi))
        self._draw_points(payload.get("points"), payload.get("labels"))

    def _draw_points(self, points: Any, labels: Any) -> None:
        for dots in self.dots:
            dots.clear()
        if points is None:
            return
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        labels = np.zeros(len(points), np.int64) if labels is None else np.asarray(labels)
        for c in sorted(int(c) for c in np.unique(labels)):
            while len(self.dots) <= c:
                colour = series_colour(len(self.dots))
                dots = pg.ScatterPlotItem(size=4, pen=pg.mkPen("w", width=0.5), brush=colour)
                self.plot.plotItem.addItem(dots)
                self.dots.append(dots)
            chosen = points[labels == c]
            self.dots[c].setData(chosen[:, 0], chosen[:, 1])

    def reset(self) -> None:
        self.image.clear()
        for dots in self.dots:
            dots.clear()
        super().reset()

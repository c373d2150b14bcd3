"""The canvas of a self-organizing map's view (widgets.views.som_map): the map(s) drawn by
QPainter, a title over them, the key beside them and a line under them.

Drawn for a live redraw about once a second (maps up to 30 x 30, 64 planes): every map is
rasterised once per layout and size into an image of cell indices
(:func:`~widgets.views.som_layout.rasterise`), and a redraw is a colour lookup per pixel
(numpy) into one image per map; a paint draws these images 1:1 (crisp at any size) with the
marker and the selection over them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QMouseEvent,
    QPainter,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from widgets import theme
from widgets.views.som_layout import MapLayout, grout_image, pie_pixels, polygon, rasterise
from widgets.views.som_scale import (
    WHITE,
    ColourBar,
    bar_ticks,
    key_width,
    luminance,
    paint_bar,
    paint_legend,
    rgbx,
)

GROUT_FROM = 9.0  # device pixels across a cell from which cells are drawn a white line apart
TITLE_PT, SMALL_PT = 10.0, 8.0


def _font(points: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


@dataclass
class Content:
    """What the canvas draws: ``colours`` (maps, units, 4) over ``layout``; per map a
    ``names`` entry (planes); one colour bar or a legend; texts in the cells (one map);
    pies per unit; the marker."""

    layout: MapLayout
    colours: np.ndarray
    names: list[str] = field(default_factory=list)
    ranges: list[str] = field(default_factory=list)  # each plane's range, beside its name
    bar: ColourBar | None = None
    legend: list[tuple[QColor, str]] = field(default_factory=list)
    texts: list[str] | None = None
    pies: np.ndarray | None = None  # (units, classes) shares
    pie_colours: list[QColor] = field(default_factory=list)
    marker: tuple[int, float] | None = None


class MapCanvas(QWidget):
    """The map(s) drawn by QPainter, a title over them and a colour bar or a legend on the
    right. ``clicked(map, unit)`` (unit -1: no unit there) and ``hovered(map, unit, global
    position)`` say where the pointer is."""

    clicked = Signal(int, int)
    hovered = Signal(int, int, QPoint)

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.content: Content | None = None
        self.selected: int | None = None
        self.painted = 0.0  # CPU seconds spent painting, ever (the dashboard's live rate)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 100)
        self.setAutoFillBackground(False)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._title_font = _font(TITLE_PT)
        self._small = _font(SMALL_PT)
        self._geometry_key: tuple = ()
        self.rects: list[QRect] = []  # each map's rectangle (widget pixels)
        self.scale = 1.0  # widget pixels per grid unit
        self.dpr = 1.0
        self._index: np.ndarray | None = None  # (H, W) the cell under each device pixel, -1 none
        self._lookup: np.ndarray | None = None  # the same, none -> units (the background)
        self._lookup_units = -1
        self._pie_cache: tuple[Any, tuple[np.ndarray, ...]] | None = None
        self._grout: QImage | None = None
        self._images: list[QImage] = []
        self._images_stale = True
        self._title_rect = QRect()
        self._title_text = ""
        self._side = QRect()  # the colour bar's or the legend's area
        self._name_h = 0
        self.status = ""  # the line under the map: the unit under the pointer, or the selected
        self._status_rect = QRect()
        self._shown_names: list[str] = []

    # -- the dashboard's plot protocol ------------------------------------------------------

    def reset_view(self) -> None:
        self.clear()

    def settle(self, live: bool = False) -> None:
        """Nothing to settle: a map's range is its grid."""

    def clear(self) -> None:
        self.content = None
        self.selected = None
        self.status = ""
        self._images = []
        self._images_stale = True
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt)
        return QSize(420, 320)

    # -- content ------------------------------------------------------------------------------

    def set_content(self, content: Content) -> None:
        self.content = content
        self._images_stale = True
        self.update()

    def set_status(self, text: str) -> None:
        if text != self.status:
            self.status = text
            self.update(self._status_rect)

    def set_selected(self, unit: int | None) -> None:
        if unit != self.selected:
            self.selected = unit
            self.update()

    # -- geometry -----------------------------------------------------------------------------

    def layout_maps(self) -> None:
        """Lay the maps out for the widget's size (once per size and layout of content):
        their rectangles, the scale and the image of cell indices."""
        c = self.content
        w, h = self.width(), self.height()
        dpr = self.devicePixelRatioF() or 1.0
        key = (
            w,
            h,
            dpr,
            None if c is None else (c.layout.key, len(c.colours), bool(c.names), self.title),
            None if c is None else key_width(c.bar, c.legend, self._small),  # its width
        )
        if key == self._geometry_key:
            return
        self._geometry_key = key
        self.dpr = dpr
        self._images_stale = True
        metrics = QFontMetrics(self._title_font)
        margin = 6
        top = 4
        title_rect = metrics.boundingRect(
            QRect(margin, 0, max(10, w - 2 * margin), 1000),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap),
            self.title,
        )
        lines = max(1, round(title_rect.height() / max(1, metrics.lineSpacing())))
        shown = min(lines, 2)
        self._title_text = self.title
        if lines > 2:  # at most two lines, the rest elided
            self._title_text = self._elide_lines(self.title, metrics, w - 2 * margin, 2)
        th = shown * metrics.lineSpacing() if self.title else 0
        self._title_rect = QRect(margin, top, w - 2 * margin, th)
        self.rects = []
        self._index = None
        self._grout = None
        if c is None:
            return
        lay = c.layout
        side = key[-1]
        gap_side = 12 if side else 0
        status_h = QFontMetrics(self._small).height() + 4
        self._status_rect = QRect(margin, h - status_h - 2, w - 2 * margin, status_h)
        area = QRect(
            margin,
            top + th + 6,
            w - 2 * margin - side - gap_side,
            h - top - th - 6 - margin - status_h,
        )
        n = len(c.colours)
        small = QFontMetrics(self._small)
        if n == 1 and not c.names:
            scale = min(area.width() / lay.width, area.height() / lay.height)
            grid_cols, grid_rows, gap, name_h = 1, 1, 0, 0
        else:
            name_h = small.height() + 2
            gap = 6 if n <= 16 else 3
            # a name over each plane where it is readable: in full, or its last word ("0,3"
            # of "pixel 0,3") where the full names do not fit; else only in the tooltip
            full = max((small.horizontalAdvance(t) for t in c.names), default=0)
            tails = [t.split()[-1] if t.split() else t for t in c.names]
            tail = max((small.horizontalAdvance(t) for t in tails), default=0)
            readable = min(full, tail) + 4

            def fit(cols: int) -> tuple[float, int]:
                rows = math.ceil(n / cols)
                for nh in (name_h, 0):
                    s = min(
                        (area.width() - (cols - 1) * gap) / cols / lay.width,
                        (area.height() - (rows - 1) * gap - rows * nh) / rows / lay.height,
                    )
                    if not nh or s * lay.width >= readable:
                        return s * (1.0 if nh else 1 / 1.35), nh  # names are worth some size
                return 0.0, 0

            best = (0.0, 1, 0)
            for cols in range(1, n + 1):
                if cols > 1 and math.ceil(n / (cols - 1)) == math.ceil(n / cols):
                    continue  # the same rows with a column less
                worth, nh = fit(cols)
                if worth > best[0]:
                    best = (worth, cols, nh)
            side_k = math.isqrt(n)
            if side_k * side_k == n and side_k > 1:  # 64 pixels' planes: 8 x 8, as the image
                worth, nh = fit(side_k)
                if worth >= 0.7 * best[0]:
                    best = (worth, side_k, nh)
            _, grid_cols, name_h = best
            grid_rows = math.ceil(n / grid_cols)
            rows_free = area.height() - (grid_rows - 1) * gap - grid_rows * name_h
            scale = min(
                (area.width() - (grid_cols - 1) * gap) / grid_cols / lay.width,
                rows_free / grid_rows / lay.height,
            )
            self._shown_names = c.names if scale * lay.width >= full + 4 else tails
        scale = max(scale, 0.5)
        self.scale = scale
        self._name_h = name_h
        mw, mh = lay.width * scale, lay.height * scale
        mw_dev, mh_dev = max(1, int(mw * dpr)), max(1, int(mh * dpr))
        mw, mh = mw_dev / dpr, mh_dev / dpr
        total_w = grid_cols * mw + (grid_cols - 1) * gap
        total_h = grid_rows * (mh + name_h) + (grid_rows - 1) * gap
        group_w = total_w + (gap_side + side if side else 0)
        x0 = margin + max(0.0, (w - 2 * margin - group_w) / 2)
        y0 = area.top() + max(0.0, (area.height() - total_h) / 2)
        for k in range(n):
            r, q = divmod(k, grid_cols)
            x = x0 + q * (mw + gap)
            y = y0 + r * (mh + name_h + gap) + name_h
            self.rects.append(QRect(round(x), round(y), round(mw), round(mh)))
        bar_top = round(y0 + name_h)
        bar_h = round(max(total_h - name_h, 40))
        self._side = QRect(round(x0 + total_w + gap_side), bar_top, side, bar_h)
        self._index = rasterise(lay, mw_dev, mh_dev, scale * dpr)
        self._lookup = None
        if scale * dpr * 2 * lay.inradius >= GROUT_FROM:
            self._grout = grout_image(lay, mw_dev, mh_dev, scale * dpr, self.dpr)

    # -- images -------------------------------------------------------------------------------

    def _build_images(self) -> None:
        c = self.content
        self._images = []
        self._images_stale = False
        if c is None or self._index is None:
            return
        idx = self._index
        n, units = c.colours.shape[:2]
        table = np.empty((n, units + 1, 4), np.uint8)
        table[:, :units] = c.colours
        table[:, units] = 255  # no unit: the background, white
        words = table.view(np.uint32)[..., 0]  # (n, units + 1): a pixel's four bytes as one
        lookup = self._lookup
        if lookup is None or self._lookup_units != units:
            lookup = self._lookup = np.where(idx >= 0, idx, units).astype(np.intp)
            self._lookup_units = units
        h, w = idx.shape
        s = self.scale * self.dpr
        for k in range(n):
            rgb = np.take(words[k], lookup)  # (H, W) RGBX words: one lookup per pixel
            if k == 0 and c.pies is not None:
                self._pies(rgb.view(np.uint8).reshape(h, w, 4), c, s)
            image = QImage(rgb.data, w, h, 4 * w, QImage.Format.Format_RGBX8888).copy()
            if k == 0 and c.texts is not None:
                self._decorate(image, c, s)
            image.setDevicePixelRatio(self.dpr)
            self._images.append(image)

    def _pie_geometry(self, c: Content, s: float, radius: float) -> tuple[np.ndarray, ...]:
        """The pixels of a map within ``radius`` of their unit's centre, in the order of
        their unit and then their angle: where they are (flat), their unit, the distance,
        and the unit plus the angle (clockwise from the top, 0..1); once per layout and
        size."""
        key = (self._geometry_key, c.layout.key, radius)
        if self._pie_cache is not None and self._pie_cache[0] == key:
            return self._pie_cache[1]
        got = pie_pixels(self._index, c.layout, s, radius)
        self._pie_cache = (key, got)
        return got

    def _pies(self, rgb: np.ndarray, c: Content, s: float) -> None:
        """A pie of its classes' shares in each unit's cell, drawn into ``rgb`` (H, W, 4)
        with numpy (a QPainter pie per class and unit costs ~0.1 s for a 30 x 30 map):
        wedges clockwise from the top, white lines between them, the rim antialiased."""
        lay = c.layout
        radius = lay.inradius * s * 0.8
        if radius < 3 or self._index is None:
            return
        flat, units, dist, turn = self._pie_geometry(c, s, radius)
        if not len(flat):
            return
        shares = np.clip(np.nan_to_num(np.asarray(c.pies, np.float64)), 0.0, None)
        total = shares.sum(axis=1, keepdims=True)
        k = shares.shape[1]
        # every unit's wedge ends, unit u's moved to u + end: sorted, as the pixels are; a
        # pixel's wedge is how many ends lie before it (one pass, no search per pixel)
        cum = np.cumsum(shares / np.where(total > 0, total, 1.0), axis=1)
        ends = (cum + np.arange(len(cum))[:, None]).ravel()
        first = np.searchsorted(turn, ends, side="left")
        at = np.cumsum(np.bincount(first, minlength=len(turn) + 1)[:-1])
        at = np.minimum(at, units * k + k - 1)
        wedge = at - units * k
        words = np.array(
            [rgbx(c.pie_colours[q % len(c.pie_colours)]) for q in range(k)], np.uint8
        ).view(np.uint32)[:, 0]
        pixels = rgb.view(np.uint32).reshape(-1)
        drawn = total[units, 0] > 0
        # white lines between wedges (none in a pie of one class), about a pixel wide
        start = np.where(wedge > 0, ends[np.maximum(at - 1, 0)], units)
        apart = np.minimum(turn - start, ends[at] - turn) * (2 * np.pi) * dist
        whole = shares.max(axis=1) >= 0.999 * total[:, 0]
        white = np.clip(1.2 - apart, 0.0, 1.0) * ~whole[units] * (dist > 1.0)
        if radius < 8:  # small pies: lines would eat their wedges
            white[:] = 0.0
        cover = np.clip(radius + 0.5 - dist, 0.0, 1.0)  # the rim: the pixel's share inside
        plain = drawn & (white == 0) & (cover >= 1)
        pixels[flat[plain]] = words[wedge[plain]]
        mix = drawn & ~plain
        if mix.any():  # blended: the rim and the lines, a few pixels
            colour = words[wedge[mix]].view(np.uint8).reshape(-1, 4).astype(np.float32)
            colour += (255.0 - colour) * white[mix, None].astype(np.float32)
            under = pixels[flat[mix]].view(np.uint8).reshape(-1, 4).astype(np.float32)
            mixed = under + (colour - under) * cover[mix, None].astype(np.float32)
            pixels[flat[mix]] = (mixed + 0.5).astype(np.uint8).view(np.uint32)[:, 0]

    def _decorate(self, image: QImage, c: Content, s: float) -> None:
        """The values in the cells of a single map (drawn into its image)."""
        lay = c.layout
        x0, y0 = lay.bounds[:2]
        centres = (lay.centers - (x0, y0)) * s
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        r_in = lay.inradius * s
        if c.texts is not None and r_in >= 10 * self.dpr:  # readable: 8 pixels high at least
            font = QFont(self._small)
            font.setPixelSize(max(round(8 * self.dpr), min(round(13 * self.dpr), int(r_in * 0.7))))
            painter.setFont(font)
            metrics = QFontMetrics(font)
            widest = max((metrics.horizontalAdvance(t) for t in c.texts), default=0)
            if widest <= 1.7 * r_in and metrics.height() <= 1.5 * r_in:
                colours = c.colours[0]
                dark, light = QColor(theme.TEXT), WHITE
                for u, text in enumerate(c.texts):
                    cx, cy = centres[u]
                    painter.setPen(dark if luminance(colours[u]) > 140 else light)
                    box = QRectF(cx - r_in, cy - r_in, 2 * r_in, 2 * r_in)
                    painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.end()

    # -- painting -----------------------------------------------------------------------------

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        import time

        start = time.thread_time()
        try:
            self._paint()
        finally:
            self.painted += time.thread_time() - start

    def _paint(self) -> None:
        self.layout_maps()
        if self._images_stale:
            self._build_images()
        p = QPainter(self)
        p.fillRect(self.rect(), WHITE)
        if self.title:
            p.setFont(self._title_font)
            p.setPen(theme.TEXT)
            p.drawText(
                self._title_rect,
                int(
                    Qt.AlignmentFlag.AlignHCenter
                    | Qt.AlignmentFlag.AlignTop
                    | Qt.TextFlag.TextWordWrap
                ),
                self._title_text,
            )
        c = self.content
        if c is None or not self.rects:
            p.end()
            return
        for k, rect in enumerate(self.rects):
            if k < len(self._images):
                p.drawImage(rect.topLeft(), self._images[k])
            if self._grout is not None:
                p.drawImage(rect.topLeft(), self._grout)
        if c.names and self._name_h:
            self._paint_names(p, c)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for rect in self.rects:
            self._paint_marks(p, c, rect)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if c.bar is not None:
            paint_bar(p, c.bar, self._side, self._small)
        elif c.legend:
            paint_legend(p, c.legend, self._side, self._small)
        if self.status:
            p.setFont(self._small)
            p.setPen(theme.MUTED)
            metrics = QFontMetrics(self._small)
            rect = self._status_rect
            text = metrics.elidedText(self.status, Qt.TextElideMode.ElideRight, rect.width())
            p.drawText(
                rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter), text
            )
        p.end()

    def _paint_names(self, p: QPainter, c: Content) -> None:
        p.setFont(self._small)
        metrics = QFontMetrics(self._small)
        for k, rect in enumerate(self.rects):
            if k >= len(c.names):
                break
            box = QRect(rect.left(), rect.top() - self._name_h, rect.width(), self._name_h - 1)
            name = self._shown_names[k] if k < len(self._shown_names) else c.names[k]
            extra = c.ranges[k] if k < len(c.ranges) else ""
            if extra and metrics.horizontalAdvance(f"{name}  {extra}") <= rect.width():
                p.setPen(theme.TEXT)
                name_w = metrics.horizontalAdvance(name + "  ")
                whole = metrics.horizontalAdvance(f"{name}  {extra}")
                left = box.left() + (box.width() - whole) // 2
                p.drawText(
                    QRect(left, box.top(), name_w, box.height()),
                    int(Qt.AlignmentFlag.AlignBottom),
                    name,
                )
                p.setPen(theme.MUTED)
                p.drawText(
                    QRect(left + name_w, box.top(), whole - name_w + 2, box.height()),
                    int(Qt.AlignmentFlag.AlignBottom),
                    extra,
                )
                continue
            p.setPen(theme.TEXT)
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, rect.width())
            p.drawText(box, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom), text)

    def cell_polygon(self, unit: int, rect: QRect) -> QPolygonF:
        """The unit's cell in widget pixels, on the map drawn in ``rect``."""
        return polygon(self.content.layout, unit, self.scale, QPointF(rect.topLeft()))

    def cell_centre(self, unit: int, map_index: int = 0) -> QPointF:
        """Where ``unit``'s centre is drawn on map ``map_index``, in widget pixels."""
        self.layout_maps()
        lay = self.content.layout
        rect = self.rects[map_index]
        x0, y0 = lay.bounds[:2]
        cx, cy = lay.centers[unit]
        return QPointF(rect.left() + (cx - x0) * self.scale, rect.top() + (cy - y0) * self.scale)

    def _paint_marks(self, p: QPainter, c: Content, rect: QRect) -> None:
        lay = c.layout
        small = len(self.rects) > 1 and self.scale * lay.inradius * 2 < 10
        if c.marker is not None and 0 <= c.marker[0] < lay.units:
            unit, radius = c.marker
            poly = self.cell_polygon(unit, rect)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(WHITE, 1.0 if small else 3.2))
            p.drawPolygon(poly)
            p.setPen(QPen(theme.TEXT, 1.0 if small else 1.6))
            if not small:
                p.drawPolygon(poly)
            if radius > 0 and len(self.rects) <= 16:  # many planes: the winner alone
                centre = self.cell_centre(unit, self.rects.index(rect))
                r = radius * self.scale
                p.save()
                p.setClipRect(rect.adjusted(-2, -2, 2, 2))
                p.setPen(QPen(QColor(0, 0, 0, 110), 3.0))
                p.drawEllipse(centre, r, r)
                ring = QPen(WHITE, 1.6, Qt.PenStyle.DashLine)
                ring.setDashPattern([4.0, 3.0])
                p.setPen(ring)
                p.drawEllipse(centre, r, r)
                p.restore()
        if self.selected is not None and 0 <= self.selected < lay.units:
            poly = self.cell_polygon(self.selected, rect)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(WHITE, 1.0 if small else 4.0))
            p.drawPolygon(poly)
            p.setPen(QPen(theme.ACCENT, 1.0 if small else 2.2))
            p.drawPolygon(poly)

    _bar_ticks = staticmethod(bar_ticks)  # the colour bar's ticks (tests read them)

    @staticmethod
    def _elide_lines(text: str, metrics: QFontMetrics, width: int, lines: int) -> str:
        words, out, line = text.split(), [], ""
        for word in words:
            trial = f"{line} {word}".strip()
            if metrics.horizontalAdvance(trial) <= width or not line:
                line = trial
                continue
            out.append(line)
            line = word
            if len(out) == lines - 1:
                rest = " ".join([line, *words[words.index(word) + 1 :]])
                out.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
                return "\n".join(out)
        out.append(line)
        return "\n".join(out[:lines])

    # -- the pointer ----------------------------------------------------------------------------

    def unit_at(self, pos: QPoint | QPointF) -> tuple[int, int]:
        """(map, unit) under a widget position; unit -1 where there is none."""
        self.layout_maps()
        if self.content is None or self._index is None:
            return -1, -1
        x, y = float(pos.x()), float(pos.y())
        for k, rect in enumerate(self.rects):
            if (
                rect.left() <= x < rect.left() + rect.width()
                and rect.top() <= y < rect.top() + rect.height()
            ):
                h, w = self._index.shape
                col = min(w - 1, max(0, int((x - rect.left()) * self.dpr)))
                row = min(h - 1, max(0, int((y - rect.top()) * self.dpr)))
                return k, int(self._index[row, col])
        return -1, -1

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if event.button() == Qt.MouseButton.LeftButton:
            k, unit = self.unit_at(event.position())
            self.clicked.emit(k, unit)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        k, unit = self.unit_at(event.position())
        self.hovered.emit(k, unit, event.globalPosition().toPoint())
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        self.hovered.emit(-1, -1, QPoint())
        super().leaveEvent(event)

    # -- what is drawn (for tests) --------------------------------------------------------------

    def cell_count(self) -> int:
        """How many of the map's cells have pixels on screen."""
        self.layout_maps()
        if self._index is None:
            return 0
        return int(np.unique(self._index[self._index >= 0]).size)


__all__ = ["Content", "MapCanvas"]
